#include "diststore/service/replica_set.h"

#include <algorithm>

#include "locator/membership/member_table.h"

namespace thrifty::diststore {

size_t ReplicaSet::alive_count() const {
  return static_cast<size_t>(std::count(alive.begin(), alive.end(), true));
}

int ReplicaSet::leader() const {
  for (size_t i = 0; i < alive.size(); ++i) {
    if (alive[i]) return static_cast<int>(i);
  }
  return -1;
}

bool ReplicaSet::contains(const std::string& name) const {
  return std::find(names.begin(), names.end(), name) != names.end();
}

ReplicaPlacement::ReplicaPlacement(const locator::ClusterSnapshot& snapshot, size_t n,
                                   bool without_self)
    : snapshot_(snapshot),
      n_(n),
      without_self_(without_self),
      ring_(snapshot.ring_with_dead() ? *snapshot.ring_with_dead() : *snapshot.ring()) {}

size_t ReplicaPlacement::effective_n() const {
  size_t nodes = ring_.size();
  if (without_self_ && ring_.contains(snapshot_.self_name()) && nodes > 1) --nodes;
  return std::min(n_, nodes);
}

ReplicaSet ReplicaPlacement::collect(const locator::Ring& ring, const std::string& key) const {
  ReplicaSet set;
  if (ring.empty()) return set;
  // One more than needed: the order without this node is this order without it (ketama walks
  // the same circle, rendezvous sorts the same scores).
  for (locator::wire::Location& location : ring.preference_list(key, n_ + (without_self_ ? 1 : 0))) {
    std::string name = membership::MemberName(location);
    if (without_self_ && name == snapshot_.self_name() && ring.size() > 1) continue;
    if (set.replicas.size() == n_) break;
    set.alive.push_back(snapshot_.dead().count(name) == 0);
    set.names.push_back(std::move(name));
    set.replicas.push_back(std::move(location));
  }
  return set;
}

ReplicaSet ReplicaPlacement::of(const std::string& key) const { return collect(ring_, key); }

ReplicaSet ReplicaPlacement::previous_of(const std::string& key) const {
  return collect(*snapshot_.previous_ring(), key);
}

}  // namespace thrifty::diststore
