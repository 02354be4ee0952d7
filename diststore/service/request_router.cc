#include "diststore/service/request_router.h"

#include <glog/logging.h>

#include "locator/membership/member_table.h"

namespace thrifty::diststore {

using membership::MemberName;

RequestRouter::RequestRouter(ClusterView& cluster, OwnerStore& owner, PeerClient& peers,
                             MovingKeys& moving, rpc::FanOut& fan_out, const StoreLimits& limits,
                             StoreCounters& counters)
    : cluster_(cluster),
      owner_(owner),
      peers_(peers),
      moving_(moving),
      fan_out_(fan_out),
      limits_(limits),
      counters_(counters),
      self_name_(cluster.self_name()) {}

template <typename Fn>
auto RequestRouter::routed(Fn&& fn)
    -> decltype(fn(std::declval<const locator::ClusterSnapshot&>(),
                   std::declval<const locator::Ring&>())) {
  const auto snapshot = cluster_.snapshot();
  const auto& ring = moving_.routing_ring(*snapshot);
  if (ring->empty()) ThrowStoreError("no node in the ring");
  try {
    return fn(*snapshot, *ring);
  } catch (const wire::StoreError&) {
    // An owner failed while the ring changed under the request (it left or died, and this node
    // heard of it meanwhile): route the request once more, on the new snapshot.
    const auto now = cluster_.snapshot();
    const auto& now_ring = moving_.routing_ring(*now);
    if (now_ring->empty() || now_ring->signature() == ring->signature()) throw;
    ++counters_.rerouted;
    return fn(*now, *now_ring);
  }
}

std::string RequestRouter::describe_failure(const locator::wire::Location& owner,
                                            const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const wire::StoreError& e) {
    return e.message;  // the owner's own answer, already worded for the client
  } catch (const std::exception& e) {
    return cluster_.owner_unreachable(owner, e);
  }
}

// ---- reads ----

std::string RequestRouter::get(const std::string& key) {
  CheckKey(limits_, key);
  ++counters_.gets;
  return routed([&](const locator::ClusterSnapshot& snapshot, const locator::Ring& ring) {
    return get_on(snapshot, ring, key);
  });
}

std::string RequestRouter::get_on(const locator::ClusterSnapshot& snapshot,
                                  const locator::Ring& ring, const std::string& key) {
  const locator::wire::Location& owner = ring.owner(key);
  std::optional<storage::Record> record;
  if (MemberName(owner) == self_name_) {
    record = owner_.read(snapshot, {key}, true)[0];
  } else {
    ++counters_.forwarded;
    std::vector<wire::Record> records;
    try {
      records = peers_.owner_get(owner, {key}, true);
    } catch (...) {
      ++counters_.errors;
      ThrowStoreError(describe_failure(owner, std::current_exception()));
    }
    if (!records.empty()) record = FromRpc(records.front());
  }
  if (!record || record->tombstone) {
    ++counters_.not_found;
    wire::NotFound missing;
    missing.key = key;
    throw missing;
  }
  return std::move(record->value);
}

std::map<std::string, std::string> RequestRouter::multi_get(const std::vector<std::string>& keys) {
  CheckBatch(limits_, keys.size());
  for (const auto& key : keys) CheckKey(limits_, key);
  counters_.gets += static_cast<int64_t>(keys.size());
  return routed([&](const locator::ClusterSnapshot& snapshot, const locator::Ring& ring) {
    return multi_get_on(snapshot, ring, keys);
  });
}

std::map<std::string, std::string> RequestRouter::multi_get_on(
    const locator::ClusterSnapshot& snapshot, const locator::Ring& ring,
    const std::vector<std::string>& keys) {
  auto groups = GroupByOwner(ring, keys, [](const std::string& key) { return key; });
  std::map<std::string, std::string> out;
  std::vector<std::pair<locator::wire::Location, std::function<std::vector<wire::Record>()>>>
      remote;
  for (auto& entry : groups) {  // (C++17: a lambda cannot capture a structured binding)
    if (entry.first == self_name_) continue;
    const OwnerGroup<std::string>* group = &entry.second;
    ++counters_.forwarded;
    remote.emplace_back(group->owner, [this, group] {
      return peers_.owner_get(group->owner, group->items, true);
    });
  }
  std::function<void()> local;
  if (auto mine = groups.find(self_name_); mine != groups.end()) {
    local = [&, keys_here = &mine->second.items] {
      auto found = owner_.read(snapshot, *keys_here, true);
      for (size_t i = 0; i < found.size(); ++i) {
        if (found[i] && !found[i]->tombstone) out[(*keys_here)[i]] = found[i]->value;
      }
    };
  }
  auto outcomes = ScatterCalls(fan_out_, std::move(remote), local);
  std::optional<std::string> failure;
  for (auto& outcome : outcomes) {
    if (outcome.error) {
      const std::string why = describe_failure(outcome.peer, outcome.error);
      if (!failure) failure = why;
      continue;
    }
    for (const auto& r : *outcome.result) {
      if (!r.tombstone) out[r.key] = r.value;
    }
  }
  if (failure) {
    ++counters_.errors;
    ThrowStoreError("multi_get: " + *failure);
  }
  counters_.not_found += static_cast<int64_t>(keys.size() - out.size());
  return out;
}

// ---- writes ----

void RequestRouter::put(const std::string& key, const std::string& value) {
  CheckKey(limits_, key);
  CheckValue(limits_, key, value);
  ++counters_.puts;
  wire::Record r;
  r.key = key;
  r.value = value;
  r.version = 0;  // stamped by the owner
  routed([&](const locator::ClusterSnapshot& snapshot, const locator::Ring& ring) {
    write_on(snapshot, ring, {r});
  });
}

void RequestRouter::erase(const std::string& key) {
  CheckKey(limits_, key);
  ++counters_.erases;
  wire::Record r;
  r.key = key;
  r.tombstone = true;
  r.version = 0;
  routed([&](const locator::ClusterSnapshot& snapshot, const locator::Ring& ring) {
    write_on(snapshot, ring, {r});
  });
}

void RequestRouter::multi_put(const std::vector<wire::Entry>& entries) {
  CheckBatch(limits_, entries.size());
  std::vector<wire::Record> records;
  records.reserve(entries.size());
  for (const auto& e : entries) {
    CheckKey(limits_, e.key);
    CheckValue(limits_, e.key, e.value);
    wire::Record r;
    r.key = e.key;
    r.value = e.value;
    r.version = 0;  // stamped by the owner
    records.push_back(std::move(r));
  }
  counters_.puts += static_cast<int64_t>(entries.size());
  routed([&](const locator::ClusterSnapshot& snapshot, const locator::Ring& ring) {
    write_on(snapshot, ring, records);
  });
}

void RequestRouter::write_on(const locator::ClusterSnapshot& snapshot, const locator::Ring& ring,
                             const std::vector<wire::Record>& records) {
  auto groups = GroupByOwner(ring, records, [](const wire::Record& r) { return r.key; });
  std::vector<std::pair<locator::wire::Location, std::function<bool()>>> remote;
  for (auto& entry : groups) {
    if (entry.first == self_name_) continue;
    const OwnerGroup<wire::Record>* group = &entry.second;
    ++counters_.forwarded;
    remote.emplace_back(group->owner, [this, group] {
      peers_.owner_put(group->owner, group->items);
      return true;
    });
  }
  std::function<void()> local;
  if (auto mine = groups.find(self_name_); mine != groups.end()) {
    local = [&, records_here = &mine->second.items] { owner_.write(snapshot, *records_here); };
  }
  // Our own share's StoreError (a refused version, a storage failure) comes out of
  // ScatterCalls only after every remote call finished.
  auto outcomes = ScatterCalls(fan_out_, std::move(remote), local);
  for (auto& outcome : outcomes) {
    if (!outcome.error) continue;
    ++counters_.errors;
    std::string why = describe_failure(outcome.peer, outcome.error);
    if (groups.size() > 1) why += "; keys of other owners were written";
    ThrowStoreError(why);
  }
}

}  // namespace thrifty::diststore
