#include "locator/service/cluster_snapshot.h"

#include "locator/membership/member_table.h"
#include "locator/service/zone.h"

namespace thrifty::locator {

std::shared_ptr<const ClusterSnapshot> ClusterSnapshot::Build(
    uint64_t generation, std::vector<Member> members, const std::string& self_name,
    const std::string& placement, const std::shared_ptr<const ClusterSnapshot>& previous) {
  std::vector<Member> in_ring, without_self, with_dead;
  std::set<std::string> dead;
  std::map<std::string, std::string> zones;
  for (const Member& m : members) {
    const std::string name = membership::MemberName(m.location);
    if (std::string zone = MemberZone(m); !zone.empty()) zones[name] = std::move(zone);
    if (m.state == wire::MemberState::LEFT) continue;
    with_dead.push_back(m);
    if (m.state == wire::MemberState::DEAD) {
      dead.insert(name);
      continue;
    }
    in_ring.push_back(m);
    if (name != self_name) without_self.push_back(m);
  }
  std::shared_ptr<ClusterSnapshot> s(new ClusterSnapshot());
  s->generation_ = generation;
  s->members_ = std::move(members);
  s->self_name_ = self_name;
  s->ring_ = std::make_shared<const Ring>(in_ring, placement);
  if (previous && previous->ring_->signature() == s->ring_->signature()) {
    s->ring_ = previous->ring_;  // the same placement: share it
    s->previous_ring_ = previous->previous_ring_;
  } else {
    s->previous_ring_ = previous ? previous->ring_ : s->ring_;
  }
  s->without_self_ = std::make_shared<const Ring>(without_self, placement);
  if (!dead.empty()) s->with_dead_ = std::make_shared<const Ring>(with_dead, placement);
  s->dead_ = std::move(dead);
  // A node of the previous ring that is no member any more keeps the zone it had, so its
  // keys' former replica sets are computed as they were.
  if (previous) {
    std::set<std::string> names;
    for (const Member& m : s->members_) names.insert(membership::MemberName(m.location));
    for (const auto& [name, weight] : s->previous_ring_->signature()) {
      if (names.count(name) != 0) continue;
      if (const std::string& zone = previous->zone_of(name); !zone.empty()) zones[name] = zone;
    }
  }
  s->zones_ = std::move(zones);
  return s;
}

bool ClusterSnapshot::ring_differs(const ClusterSnapshot& other) const {
  if (ring_->signature() != other.ring_->signature()) return true;
  for (const auto& [name, weight] : ring_->signature()) {
    if (zone_of(name) != other.zone_of(name)) return true;
  }
  return false;
}

const std::string& ClusterSnapshot::zone_of(const std::string& name) const {
  static const std::string kNoZone;
  const auto it = zones_.find(name);
  return it == zones_.end() ? kNoZone : it->second;
}

}  // namespace thrifty::locator
