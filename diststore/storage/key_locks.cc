#include "diststore/storage/key_locks.h"

#include <algorithm>
#include <functional>
#include <stdexcept>

namespace thrifty::storage {

namespace {

size_t RequirePositive(size_t stripes) {
  if (stripes == 0) throw std::invalid_argument("KeyLocks needs at least one stripe");
  return stripes;
}

}  // namespace

KeyLocks::KeyLocks(size_t stripes)
    : count_(RequirePositive(stripes)), stripes_(new Stripe[count_]) {}

size_t KeyLocks::stripe_of(std::string_view key) const {
  return std::hash<std::string_view>{}(key) % count_;
}

std::unique_lock<std::mutex> KeyLocks::lock(std::string_view key) {
  return std::unique_lock<std::mutex>(stripes_[stripe_of(key)].mu);
}

std::vector<std::unique_lock<std::mutex>> KeyLocks::lock_all(
    const std::vector<std::string_view>& keys) {
  std::vector<size_t> order;
  order.reserve(keys.size());
  for (std::string_view key : keys) order.push_back(stripe_of(key));
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  std::vector<std::unique_lock<std::mutex>> held;
  held.reserve(order.size());
  for (size_t s : order) held.emplace_back(stripes_[s].mu);
  return held;
}

}  // namespace thrifty::storage
