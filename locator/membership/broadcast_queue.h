// BroadcastQueue: membership news waiting to be piggybacked on gossip packets.
//
// One pending update per member: news about a member replaces the older news about it (what
// is superseded need not spread). Each update is sent up to `limit` times (the detector
// passes RetransmitLimit(retransmit_mult, N)); the least-sent go first, so fresh news spreads
// before repeats of old news, and among equals the newest goes first.
//
// Not thread-safe: used on the detector's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "gossip_types.h"

namespace thrifty::membership {

class BroadcastQueue {
 public:
  // Queues `update`, whose encoded size is `size` bytes (GossipCodec::update_size). It
  // replaces the pending update about the same member unless that one is strictly newer
  // (higher incarnation, or the same with a later state); a replacement starts with zero
  // transmissions. Returns false if it was dropped as older.
  bool enqueue(wire::MemberUpdate update, size_t size);

  // Updates for one packet: fewest transmissions first, newest first among equals, skipping
  // those that do not fit the remaining `budget` bytes. Each one taken counts one
  // transmission; those taken `limit` times leave the queue.
  std::vector<wire::MemberUpdate> take(size_t budget, int limit);

  // The pending update about `name` ("host:port"), if any.
  const wire::MemberUpdate* pending(const std::string& name) const;
  // Transmissions so far of the pending update about `name`, or -1.
  int transmits(const std::string& name) const;

  size_t size() const { return by_name_.size(); }
  bool empty() const { return by_name_.empty(); }

 private:
  struct Item {
    std::string name;
    wire::MemberUpdate update;
    size_t size = 0;
    int transmits = 0;
  };
  // (transmits ascending, id descending): the next to send first.
  struct Order {
    bool operator()(const std::pair<int, uint64_t>& a, const std::pair<int, uint64_t>& b) const {
      return a.first != b.first ? a.first < b.first : a.second > b.second;
    }
  };

  void erase(uint64_t id);

  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Item> items_;
  std::unordered_map<std::string, uint64_t> by_name_;
  std::set<std::pair<int, uint64_t>, Order> order_;
};

}  // namespace thrifty::membership
