#include "locator/placement/ketama.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

#include "locator/hash/md5.h"
#include "locator/placement/node_spec.h"

namespace thrifty::placement {
namespace {

constexpr uint32_t kPointsPerServer = 160;  // MEMCACHED_POINTS_PER_SERVER_KETAMA
constexpr uint32_t kPointsPerHash = 4;      // one per 32-bit word of an MD5 digest
constexpr uint16_t kMemcachedDefaultPort = 11211;
constexpr double kMaxWeight = 4294967295.0;

// libmemcached's update_continuum computes
//   floor((float)(pct * 160 / 4 * (float)live_servers + 0.0000000001F)) * 4
// with pct = (float)weight / (float)total_weight, all in float. Each step is its own statement
// so that every intermediate is rounded to float, as there, whatever the compiler's contraction
// or excess-precision settings: the result must match bit for bit.
uint32_t PointsFor(double weight, double total_weight, size_t live_servers) {
  const float pct = static_cast<float>(weight) / static_cast<float>(total_weight);
  float x = pct * static_cast<float>(kPointsPerServer);
  x = x / static_cast<float>(kPointsPerHash);
  x = x * static_cast<float>(live_servers);
  x = x + 0.0000000001F;
  return static_cast<uint32_t>(std::floor(static_cast<double>(x)) * kPointsPerHash);
}

// Slot table size: about four buckets per point leaves a point in under a quarter of them, so
// three lookups in four need no search. Capped at 2^18 slots (1 MiB) so that the table stays in
// a core's L2 cache: beyond ~65,000 points (400 nodes) buckets get fewer per point instead.
int SlotBits(size_t points) {
  int bits = 1;
  while (bits < 18 && (size_t{1} << bits) < 4 * points) ++bits;
  return bits;
}

}  // namespace

KetamaPlacement::KetamaPlacement() : Placement("ketama") {}

KetamaPlacement::KetamaPlacement(const KetamaPlacement& other) : Placement(other) {
  // The source is only read (clone() is const); its continuum, once published, is immutable.
  if (other.built_.load(std::memory_order_acquire)) {
    continuum_ = other.continuum_;
    built_.store(true, std::memory_order_release);
  }
}

std::unique_ptr<Placement> KetamaPlacement::clone() const {
  return std::unique_ptr<Placement>(new KetamaPlacement(*this));
}

void KetamaPlacement::nodes_changed() {
  built_.store(false, std::memory_order_relaxed);
  continuum_ = Continuum();
}

void KetamaPlacement::check_weight(std::string_view node, double weight) const {
  // libmemcached's weights are uint32_t; larger ones would also overflow the float formula.
  if (weight > kMaxWeight) {
    throw PlacementError("bad weight " + std::to_string(weight) + " for node '" +
                         std::string(node) + "': ketama takes weights up to 4294967295");
  }
}

void KetamaPlacement::prepare() const { continuum(); }

const KetamaPlacement::Continuum& KetamaPlacement::continuum() const {
  if (!built_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(build_mu_);
    if (!built_.load(std::memory_order_relaxed)) {
      continuum_ = Build();
      built_.store(true, std::memory_order_release);
    }
  }
  return continuum_;
}

KetamaPlacement::Continuum KetamaPlacement::Build() const {
  Continuum c;
  const size_t n = size();
  double total_weight = 0;
  for (double w : weights()) total_weight += w;

  c.points_of.resize(n);
  size_t total_points = 0;
  for (size_t i = 0; i < n; ++i) {
    c.points_of[i] = PointsFor(weights()[i], total_weight, n);
    total_points += c.points_of[i];
  }

  // value << 32 | position: sorting these orders points by value, then by server position,
  // as libmemcached's continuum_item_cmp does.
  std::vector<uint64_t> packed;
  packed.reserve(total_points);
  std::string point;
  for (size_t i = 0; i < n; ++i) {
    const HostPort address = ParseHostPort(nodes()[i]);
    std::string prefix = address.host;
    if (address.port != kMemcachedDefaultPort) prefix += ":" + std::to_string(address.port);
    prefix += '-';
    for (uint32_t j = 0; j < c.points_of[i] / kPointsPerHash; ++j) {
      char digits[16];
      const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), j);
      (void)ec;  // a uint32_t always fits in 16 characters
      point.assign(prefix).append(digits, end);
      const hash::Md5Digest digest = hash::Md5(point);
      for (int word = 0; word < static_cast<int>(kPointsPerHash); ++word) {
        packed.push_back(uint64_t{hash::Md5Word(digest, word)} << 32 | i);
      }
    }
  }
  std::sort(packed.begin(), packed.end());

  c.points.resize(packed.size());
  c.owners.resize(packed.size());
  for (size_t i = 0; i < packed.size(); ++i) {
    c.points[i] = static_cast<uint32_t>(packed[i] >> 32);
    c.owners[i] = static_cast<uint32_t>(packed[i]);
  }

  const int bits = SlotBits(c.points.size());
  c.shift = 32 - bits;
  const size_t slot_count = size_t{1} << bits;
  c.slots.resize(slot_count);
  const size_t total = c.points.size();
  size_t first = 0;  // first point >= the bucket's start
  size_t after = 0;  // first point past the bucket's end
  for (size_t b = 0; b < slot_count; ++b) {
    while (first < total && c.points[first] < (uint64_t{b} << c.shift)) ++first;
    after = std::max(after, first);
    while (after < total && c.points[after] < (uint64_t{b + 1} << c.shift)) ++after;
    // The bucket's hashes go to its own points or to the first point after it.
    const uint32_t next_owner = total == 0 ? 0 : c.owners[after == total ? 0 : after];
    bool direct = true;
    for (size_t q = first; q < after && direct; ++q) direct = c.owners[q] == next_owner;
    c.slots[b] = direct ? (kDirect | next_owner) : static_cast<uint32_t>(first);
  }
  return c;
}

uint32_t KetamaPlacement::KeyHash(std::string_view key) { return hash::Md5FirstWord(key); }

size_t KetamaPlacement::Position(const Continuum& c, uint32_t key_hash) {
  const uint32_t slot = c.slots[key_hash >> c.shift];
  const uint32_t* points = c.points.data();
  const size_t total = c.points.size();
  size_t pos;
  if (slot & kDirect) {  // the slot names a node, not a point
    pos = static_cast<size_t>(std::lower_bound(points, points + total, key_hash) - points);
  } else {
    for (pos = slot; pos < total && points[pos] < key_hash;) ++pos;
  }
  return pos == total ? 0 : pos;  // past the largest point: wrap to the smallest
}

size_t KetamaPlacement::locate(std::string_view key) const {
  if (size() == 1) return 0;  // libmemcached skips hashing too
  const Continuum& c = continuum();
  if (c.points.empty()) return 0;
  const uint32_t key_hash = KeyHash(key);
  const uint32_t slot = c.slots[key_hash >> c.shift];
  if (slot & kDirect) return slot & ~kDirect;
  return c.owners[Position(c, key_hash)];
}

void KetamaPlacement::collect(std::string_view key, size_t n, std::vector<size_t>* out) const {
  const Continuum& c = continuum();
  std::vector<bool> seen(size(), false);
  if (!c.points.empty()) {
    const size_t start = size() == 1 ? 0 : Position(c, KeyHash(key));
    const size_t total = c.points.size();
    for (size_t step = 0; step < total && out->size() < n; ++step) {
      const size_t pos = start + step < total ? start + step : start + step - total;
      const uint32_t node = c.owners[pos];
      if (!seen[node]) {
        seen[node] = true;
        out->push_back(node);
      }
    }
  }
  // Nodes without points come last, in the order they were added.
  for (size_t i = 0; i < size() && out->size() < n; ++i) {
    if (!seen[i]) out->push_back(i);
  }
}

uint32_t KetamaPlacement::points_of(size_t index) const { return continuum().points_of.at(index); }

size_t KetamaPlacement::continuum_size() const { return continuum().points.size(); }

std::vector<std::pair<uint32_t, size_t>> KetamaPlacement::points() const {
  const Continuum& c = continuum();
  std::vector<std::pair<uint32_t, size_t>> out;
  out.reserve(c.points.size());
  for (size_t i = 0; i < c.points.size(); ++i) out.emplace_back(c.points[i], c.owners[i]);
  return out;
}

}  // namespace thrifty::placement
