// Ring: an immutable snapshot of who owns which key, built from the members in the ring.
//
// A node rebuilds its Ring whenever the set of ring members (ALIVE and SUSPECT) or their
// weights change, and swaps it in whole; readers hold a shared_ptr<const Ring> and never lock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "locator/placement/placement.h"
#include "locator_types.h"

namespace thrifty::locator {

using wire::Location;
using wire::Member;

// Metadata key holding a member's ring weight as decimal text ("1", "2.5"); 1 when absent.
inline constexpr const char* kWeightKey = "weight";

// The member's weight; 1 when absent or not a positive finite decimal number.
double MemberWeight(const Member& member);

// Empty when `member`'s weight metadata is absent, or a positive decimal number the placement
// `placement_spec` can take; otherwise says what is wrong with it, quoting the value.
std::string WeightProblem(const Member& member, const std::string& placement_spec);

class Ring {
 public:
  // `placement_spec`: "ketama" (default), "rendezvous/HASH", "jump/HASH", "modulo/HASH".
  // Throws placement::PlacementError for an unknown spec. A member whose weight the placement
  // refuses (see WeightProblem; joins check it, gossip may still carry one) is placed with
  // weight 1, the same on every node, and logged.
  Ring(const std::vector<Member>& members, const std::string& placement_spec);

  // The key's owner. Throws placement::PlacementError when the ring is empty.
  const Location& owner(std::string_view key) const;
  // min(n, size()) distinct nodes in preference order; empty ring: throws PlacementError.
  std::vector<Location> preference_list(std::string_view key, size_t n) const;

  bool contains(const std::string& name) const { return locations_.count(name) != 0; }
  size_t size() const { return locations_.size(); }
  bool empty() const { return locations_.empty(); }
  // Nodes by name, with weights: two rings with equal signatures place every key alike.
  const std::map<std::string, double>& signature() const { return weights_; }
  std::vector<Location> nodes() const;
  const std::string& placement_spec() const { return spec_; }
  // The placement itself (its nodes() are the members' "host:port" names).
  const placement::Placement& placement() const { return *placement_; }

 private:
  std::string spec_;
  std::unique_ptr<placement::Placement> placement_;
  std::vector<Location> by_index_;  // parallel to placement_->nodes()
  std::map<std::string, Location> locations_;
  std::map<std::string, double> weights_;
};

}  // namespace thrifty::locator
