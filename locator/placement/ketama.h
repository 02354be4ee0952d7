// KetamaPlacement: consistent hashing on an MD5 ring that maps every key exactly as
// libmemcached 1.1 does with MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA and
// MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, so thrifty can sit beside memcached-style clients.
//
// The continuum, as libmemcached builds it for servers s of weight w(s), N servers, W = sum w:
//  - s gets floor(w(s)/W * 160/4 * N + 1e-10) * 4 points, computed in single-precision float
//    step by step exactly as libmemcached does. Float rounding makes equal weights give 156
//    points instead of 160 for some N (25, 47, 50, 55, ...): then going from N to N+1 nodes
//    also moves a few keys between the old nodes. This is libmemcached's behaviour, kept.
//  - the points come from MD5("host:port-j") for j = 0, 1, ... ("host-j" when the port is
//    memcached's default 11211), four per digest: its 32-bit little-endian words.
//  - points sort by value, then by server position; a key goes to the first point >= the
//    little-endian first word of MD5(key), wrapping past the largest point to the smallest.
// Node positions are the order nodes were added (libmemcached's server list order, used to
// order equal points). libmemcached takes integer weights; other weights extend the same
// formula, up to libmemcached's largest weight, 2^32 - 1. A node with a tiny weight next to the
// others may get no point: it then owns no key and comes last in preference lists.
//
// Preference lists walk the continuum clockwise from the key's point, collecting distinct nodes.
//
// The continuum is rebuilt (MD5 of every point, then a sort) on the first lookup, or prepare(),
// after nodes change, so adding N nodes one by one costs one build, not N.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "locator/placement/placement.h"

namespace thrifty::placement {

class KetamaPlacement final : public Placement {
 public:
  KetamaPlacement();

  std::unique_ptr<Placement> clone() const override;
  void prepare() const override;

  // The number of continuum points node `index` (a position in nodes()) has. Requires
  // index < size().
  uint32_t points_of(size_t index) const;
  // The number of points on the continuum (the sum of points_of).
  size_t continuum_size() const;
  // The continuum, ascending: each point and its node's position in nodes(). A key whose hash
  // is h belongs to the first point >= h, or to the first point if h is above them all.
  std::vector<std::pair<uint32_t, size_t>> points() const;

  // The ketama hash of a key: the first 32-bit little-endian word of MD5(key).
  static uint32_t KeyHash(std::string_view key);

 private:
  struct Continuum {
    std::vector<uint32_t> points;  // sorted ascending
    std::vector<uint32_t> owners;  // owners[i]: node position of points[i]
    // The 32-bit hash space cut into 2^(32 - shift) equal buckets, a few per point. A bucket
    // whose keys all go to one node holds kDirect | that node, so most lookups end with one
    // load; any other bucket holds the index of the first point >= its start, where a short
    // scan finds the key's point.
    std::vector<uint32_t> slots;
    int shift = 31;
    std::vector<uint32_t> points_of;  // per node position
  };
  static constexpr uint32_t kDirect = uint32_t{1} << 31;

  KetamaPlacement(const KetamaPlacement& other);

  void nodes_changed() override;
  void check_weight(std::string_view node, double weight) const override;
  size_t locate(std::string_view key) const override;
  void collect(std::string_view key, size_t n, std::vector<size_t>* out) const override;

  const Continuum& continuum() const;
  Continuum Build() const;
  // Index into c.points of the point that owns `key_hash`. Requires c.points non-empty.
  static size_t Position(const Continuum& c, uint32_t key_hash);

  // Lazily built by the first const caller after a change; written under build_mu_, then
  // published by built_ (release) and never changed while built_ is true.
  mutable std::mutex build_mu_;
  mutable std::atomic<bool> built_{false};
  mutable Continuum continuum_;
};

}  // namespace thrifty::placement
