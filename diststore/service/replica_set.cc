#include "diststore/service/replica_set.h"

#include <algorithm>
#include <set>

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
  // Without zones the first N (one more while draining: the order without this node is this
  // order without it, as ketama walks the same circle and rendezvous sorts the same scores).
  // With zones the whole list: the last zone may come last.
  const size_t wanted = snapshot_.has_zones() ? ring.size() : n_ + (without_self_ ? 1 : 0);
  std::vector<locator::wire::Location> list;
  for (locator::wire::Location& location : ring.preference_list(key, wanted)) {
    if (without_self_ && ring.size() > 1 && membership::MemberName(location) == snapshot_.self_name()) {
      continue;
    }
    list.push_back(std::move(location));
  }
  std::vector<size_t> taken;  // positions in list
  if (!snapshot_.has_zones()) {
    for (size_t i = 0; i < list.size() && taken.size() < n_; ++i) taken.push_back(i);
  } else {
    std::set<std::string> zones_used;
    std::vector<size_t> skipped;
    for (size_t i = 0; i < list.size() && taken.size() < n_; ++i) {
      const std::string& zone = snapshot_.zone_of(membership::MemberName(list[i]));
      if (zones_used.insert(zone).second) {
        taken.push_back(i);
      } else {
        skipped.push_back(i);
      }
    }
    for (size_t i = 0; i < skipped.size() && taken.size() < n_; ++i) taken.push_back(skipped[i]);
    std::sort(taken.begin(), taken.end());  // preference order
  }
  for (size_t i : taken) {
    std::string name = membership::MemberName(list[i]);
    set.alive.push_back(snapshot_.dead().count(name) == 0);
    set.names.push_back(std::move(name));
    set.replicas.push_back(std::move(list[i]));
  }
  return set;
}

std::vector<locator::wire::Location> ReplicaPlacement::hint_holders_of(
    const std::string& key, const ReplicaSet& set) const {
  std::vector<locator::wire::Location> holders;
  const size_t dead = set.size() - set.alive_count();
  if (dead == 0 || ring_.empty()) return holders;
  for (locator::wire::Location& location : ring_.preference_list(key, ring_.size())) {
    if (holders.size() == dead) break;
    const std::string name = membership::MemberName(location);
    if (set.contains(name) || snapshot_.dead().count(name) != 0) continue;
    if (without_self_ && name == snapshot_.self_name()) continue;
    holders.push_back(std::move(location));
  }
  return holders;
}

ReplicaSet ReplicaPlacement::of(const std::string& key) const { return collect(ring_, key); }

ReplicaSet ReplicaPlacement::previous_of(const std::string& key) const {
  return collect(*snapshot_.previous_ring(), key);
}

}  // namespace thrifty::diststore
