// ClusterSnapshot: everything a request needs to know about the cluster, as of one membership
// generation, in one immutable object.
//
// A node publishes one snapshot per generation of its member table (LocatorNode::snapshot());
// a request takes one snapshot when it starts and routes by it alone, so every decision it
// makes (owner, previous owner, owner without this node, DEAD owners) agrees with the others.
// Snapshots are never mutated after Build() and are shared read-only across threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "locator/service/ring.h"
#include "locator_types.h"

namespace thrifty::locator {

class ClusterSnapshot {
 public:
  // Builds the snapshot of `members` (every member, any state) at `generation` for the node
  // named `self_name`. `previous` is the snapshot published before (null for the first): its
  // ring becomes this one's previous_ring() if the ring changed, otherwise its previous_ring()
  // carries over. Throws placement::PlacementError for an unknown placement.
  static std::shared_ptr<const ClusterSnapshot> Build(
      uint64_t generation, std::vector<Member> members, const std::string& self_name,
      const std::string& placement, const std::shared_ptr<const ClusterSnapshot>& previous);

  // The member table generation this snapshot was built from.
  uint64_t generation() const { return generation_; }
  const std::vector<Member>& members() const { return members_; }
  const std::string& self_name() const { return self_name_; }

  // ALIVE and SUSPECT members, this node included.
  const std::shared_ptr<const Ring>& ring() const { return ring_; }
  // The ring before the latest change of ring() (equal to ring() until the first change).
  const std::shared_ptr<const Ring>& previous_ring() const { return previous_ring_; }
  // ring() without this node: where a key this node lacks may be while keys move, and where
  // keys go when it drains before leaving.
  const std::shared_ptr<const Ring>& ring_without_self() const { return without_self_; }
  // ring() with the DEAD members put back (null when none is DEAD): who held a key that is
  // now unavailable.
  const std::shared_ptr<const Ring>& ring_with_dead() const { return with_dead_; }
  // Names of the DEAD members.
  const std::set<std::string>& dead() const { return dead_; }
  // The zone of the member named `name` ("host:port"; locator/service/zone.h): its "zone"
  // metadata, "" for a member without one. Members of every state keep their zone (a DEAD one
  // too); a node of previous_ring() that is no member any more keeps the zone it had then.
  const std::string& zone_of(const std::string& name) const;
  // True when some member (of any state) names a zone.
  bool has_zones() const { return !zones_.empty(); }
  // True if the ring differs from the one of `other` (a different placement of some key): other
  // nodes or weights, or a ring node in another zone (zones move replicas).
  bool ring_differs(const ClusterSnapshot& other) const;
  // True if the ring or the ring with DEAD members differs from `other`'s: a DEAD member that
  // is removed for good (LEFT) changes only the latter, and moves replica ranges all the same.
  bool placement_differs(const ClusterSnapshot& other) const {
    const auto& mine = with_dead_ ? with_dead_ : ring_;
    const auto& theirs = other.with_dead_ ? other.with_dead_ : other.ring_;
    return ring_differs(other) || mine->signature() != theirs->signature();
  }

 private:
  ClusterSnapshot() = default;

  uint64_t generation_ = 0;
  std::vector<Member> members_;
  std::string self_name_;
  std::shared_ptr<const Ring> ring_, previous_ring_, without_self_, with_dead_;
  std::set<std::string> dead_;
  std::map<std::string, std::string> zones_;  // name -> zone, members with a zone only
};

}  // namespace thrifty::locator
