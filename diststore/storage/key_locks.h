// KeyLocks: a fixed set of mutexes (stripes) chosen by key hash, so that a read-compare-write
// of one key is atomic against every other writer of that key while writers of different keys
// rarely wait for each other. Two keys may share a stripe; that only costs some waiting.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

namespace thrifty::storage {

class KeyLocks {
 public:
  // Requires stripes > 0.
  explicit KeyLocks(size_t stripes);

  KeyLocks(const KeyLocks&) = delete;
  KeyLocks& operator=(const KeyLocks&) = delete;

  size_t stripe_of(std::string_view key) const;

  // Holds the stripe of `key` until the returned lock is destroyed.
  std::unique_lock<std::mutex> lock(std::string_view key);

  // Holds the stripes of all `keys`, each taken once, in ascending stripe order: every caller
  // that locks several stripes takes them in the same order, so none can deadlock another.
  // A caller that holds one of these must not ask for more.
  std::vector<std::unique_lock<std::mutex>> lock_all(const std::vector<std::string_view>& keys);

 private:
  // One cache line each, so that threads on neighbouring stripes do not slow each other.
  struct alignas(64) Stripe {
    std::mutex mu;
  };

  const size_t count_;
  std::unique_ptr<Stripe[]> stripes_;
};

}  // namespace thrifty::storage
