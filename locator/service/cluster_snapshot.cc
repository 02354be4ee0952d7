#include "locator/service/cluster_snapshot.h"

#include "locator/membership/member_table.h"

namespace thrifty::locator {

std::shared_ptr<const ClusterSnapshot> ClusterSnapshot::Build(
    uint64_t generation, std::vector<Member> members, const std::string& self_name,
    const std::string& placement, const std::shared_ptr<const ClusterSnapshot>& previous) {
  std::vector<Member> in_ring, without_self, with_dead;
  std::set<std::string> dead;
  for (const Member& m : members) {
    const std::string name = membership::MemberName(m.location);
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
  return s;
}

}  // namespace thrifty::locator
