// ReplicaSet: the nodes that keep a key, in preference order, and which of them are alive.
//
// A key's replicas are the first N distinct nodes of its preference list on the ring with
// DEAD members kept in (a DEAD replica stays a replica: it is skipped, not replaced, so a
// request needing more replicas than are alive fails at once with Unavailable). With zones
// (locator/service/zone.h; a node without one is in the zone ""), replicas go to distinct
// zones first, as Cassandra's NetworkTopologyStrategy does within one data centre: walk the
// preference list and take the first node of each zone not used yet until N are taken; with
// fewer zones than N, fill up with the nodes skipped, in preference order. A DEAD member keeps
// its zone. The set is kept in preference order, so the key's first node on the ring (its
// owner, where the ring-aware client sends it) is always its first replica. A node that is
// draining before a clean leave is left out of its own sets, so its keys' sets already name
// the nodes that keep them after it left. ReplicaPlacement computes the sets of one
// ClusterSnapshot, the same on every node that holds the same members; every path that needs
// a key's replicas (reads, writes, hints, handoff, anti-entropy ranges, storectl) asks it. It
// is immutable and thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "locator/service/cluster_snapshot.h"

namespace thrifty::diststore {

struct ReplicaSet {
  std::vector<locator::wire::Location> replicas;  // preference order; DEAD members included
  std::vector<std::string> names;       // "host:port" of each, parallel
  std::vector<bool> alive;              // parallel: not DEAD in the snapshot

  size_t size() const { return replicas.size(); }
  size_t alive_count() const;
  // The first alive replica (the one that stamps and leads a write), or -1 when none is.
  int leader() const;
  bool contains(const std::string& name) const;
};

class ReplicaPlacement {
 public:
  // `n` >= 1: the replication factor. `without_self`: leave this node out (it drains). The
  // snapshot must outlive this object.
  ReplicaPlacement(const locator::ClusterSnapshot& snapshot, size_t n, bool without_self);

  // The key's set on the snapshot's ring (DEAD members included). Empty when the ring is.
  ReplicaSet of(const std::string& key) const;
  // The key's set on the ring before the latest ring change (without DEAD members): where
  // its copies were before a join or a leave moved them.
  ReplicaSet previous_of(const std::string& key) const;
  // min(n, nodes in the ring): the N the consistency levels count against.
  size_t effective_n() const;
  // Where writes for the DEAD replicas of `set` (the key's, from of()) may be kept as hints
  // (a sloppy quorum's stand-ins): the live nodes of the key's preference list that are not in
  // the set, in preference order, at most one per DEAD replica. Without this node while it
  // drains.
  std::vector<locator::wire::Location> hint_holders_of(const std::string& key,
                                                      const ReplicaSet& set) const;

 private:
  ReplicaSet collect(const locator::Ring& ring, const std::string& key) const;

  const locator::ClusterSnapshot& snapshot_;
  const size_t n_;
  const bool without_self_;
  const locator::Ring& ring_;  // ring_with_dead() or ring()
};

}  // namespace thrifty::diststore
