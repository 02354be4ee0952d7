#include "locator/placement/rendezvous.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace thrifty::placement {

RendezvousPlacement::RendezvousPlacement(std::shared_ptr<const hash::HashFunction> hash)
    : Placement("rendezvous/" + std::string(hash->name())), hash_(std::move(hash)) {}

std::unique_ptr<Placement> RendezvousPlacement::clone() const {
  return std::unique_ptr<Placement>(new RendezvousPlacement(*this));
}

double RendezvousPlacement::UnitInterval(uint64_t h) {
  // 52 bits plus one half is exact in a double, and so is the scaling: never 0, never 1.
  return (static_cast<double>(h >> 12) + 0.5) * 0x1p-52;
}

double RendezvousPlacement::Score(double weight, uint64_t h) {
  return -weight / std::log(UnitInterval(h));
}

void RendezvousPlacement::nodes_changed() {
  uniform_ = true;
  longest_node_ = 0;
  for (size_t i = 0; i < size(); ++i) {
    uniform_ = uniform_ && weights()[i] == weights()[0];
    longest_node_ = std::max(longest_node_, nodes()[i].size());
  }
}

bool RendezvousPlacement::Better(const Candidate& a, const Candidate& b) const {
  if (a.score != b.score) return a.score > b.score;
  if (a.h != b.h) return a.h > b.h;
  return nodes()[a.index] < nodes()[b.index];
}

template <typename Visit>
void RendezvousPlacement::ForEachCandidate(std::string_view key, Visit&& visit) const {
  // node ‖ key is assembled in one buffer: the key is copied once, each node over its front.
  constexpr size_t kStackBuffer = 256;
  char stack[kStackBuffer];
  std::string heap;
  char* buf = stack;
  const size_t capacity = longest_node_ + key.size();
  if (capacity > kStackBuffer) {
    heap.resize(capacity);
    buf = heap.data();
  }
  for (size_t i = 0; i < size(); ++i) {
    const std::string& node = nodes()[i];
    const size_t offset = longest_node_ - node.size();
    std::memcpy(buf + offset, node.data(), node.size());
    if (i == 0 && !key.empty()) std::memcpy(buf + longest_node_, key.data(), key.size());
    const uint64_t h = hash_->hash(std::string_view(buf + offset, node.size() + key.size()));
    visit(Candidate{uniform_ ? 0.0 : Score(weights()[i], h), h, i});
  }
}

size_t RendezvousPlacement::locate(std::string_view key) const {
  Candidate best{0, 0, 0};
  bool first = true;
  ForEachCandidate(key, [&](const Candidate& c) {
    if (first || Better(c, best)) best = c;
    first = false;
  });
  return best.index;
}

void RendezvousPlacement::collect(std::string_view key, size_t n, std::vector<size_t>* out) const {
  std::vector<Candidate> all;
  all.reserve(size());
  ForEachCandidate(key, [&](const Candidate& c) { all.push_back(c); });
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(),
                    [this](const Candidate& a, const Candidate& b) { return Better(a, b); });
  for (size_t i = 0; i < n; ++i) out->push_back(all[i].index);
}

}  // namespace thrifty::placement
