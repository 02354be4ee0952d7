#include "diststore/service/request_router.h"

#include <glog/logging.h>

#include <thrift/transport/TTransportException.h>

#include "diststore/service/replica_set.h"
#include "locator/membership/member_table.h"

namespace thrifty::diststore {

using membership::MemberName;

RequestRouter::RequestRouter(ClusterView& cluster, OwnerStore& owner, PeerClient& peers,
                             MovingKeys& moving, ReplicaReader& reader, ReplicaWriter& writer,
                             rpc::FanOut& fan_out, const StoreLimits& limits,
                             const ReplicationOptions& replication, StoreCounters& counters)
    : cluster_(cluster),
      owner_(owner),
      peers_(peers),
      moving_(moving),
      reader_(reader),
      writer_(writer),
      fan_out_(fan_out),
      limits_(limits),
      replication_(replication),
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

std::string RequestRouter::get(const std::string& key, Consistency level) {
  CheckKey(limits_, key);
  ++counters_.gets;
  if (replicated()) {
    auto found = read_replicated({key}, level);
    if (!found[0] || found[0]->tombstone) {
      ++counters_.not_found;
      wire::NotFound missing;
      missing.key = key;
      throw missing;
    }
    return std::move(found[0]->value);
  }
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

std::map<std::string, std::string> RequestRouter::multi_get(const std::vector<std::string>& keys,
                                                            Consistency level) {
  CheckBatch(limits_, keys.size());
  for (const auto& key : keys) CheckKey(limits_, key);
  counters_.gets += static_cast<int64_t>(keys.size());
  if (replicated()) {
    auto found = read_replicated(keys, level);
    std::map<std::string, std::string> out;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (found[i] && !found[i]->tombstone) out[keys[i]] = std::move(found[i]->value);
    }
    counters_.not_found += static_cast<int64_t>(keys.size() - out.size());
    return out;
  }
  return routed([&](const locator::ClusterSnapshot& snapshot, const locator::Ring& ring) {
    return multi_get_on(snapshot, ring, keys);
  });
}

std::map<std::string, std::string> RequestRouter::multi_get_on(
    const locator::ClusterSnapshot& snapshot, const locator::Ring& ring,
    const std::vector<std::string>& keys) {
  auto groups = GroupByOwner(ring, keys, [](const std::string& key) { return key; });
  std::map<std::string, std::string> out;
  std::vector<std::pair<locator::wire::Location, StartCall<std::vector<wire::Record>>>> remote;
  for (auto& entry : groups) {  // (C++17: a lambda cannot capture a structured binding)
    if (entry.first == self_name_) continue;
    const OwnerGroup<std::string>* group = &entry.second;
    ++counters_.forwarded;
    remote.emplace_back(group->owner, [this, group](auto done) {
      peers_.owner_get_async(group->owner, group->items, true, std::move(done));
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
  auto outcomes = ScatterCalls(std::move(remote), local);
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

void RequestRouter::put(const std::string& key, const std::string& value, Consistency level) {
  CheckKey(limits_, key);
  CheckValue(limits_, key, value);
  ++counters_.puts;
  wire::Record r;
  r.key = key;
  r.value = value;
  r.version = 0;  // stamped by the owner
  if (replicated()) return write_replicated({r}, level);
  routed([&](const locator::ClusterSnapshot& snapshot, const locator::Ring& ring) {
    write_on(snapshot, ring, {r});
  });
}

void RequestRouter::erase(const std::string& key, Consistency level) {
  CheckKey(limits_, key);
  ++counters_.erases;
  wire::Record r;
  r.key = key;
  r.tombstone = true;
  r.version = 0;
  if (replicated()) return write_replicated({r}, level);
  routed([&](const locator::ClusterSnapshot& snapshot, const locator::Ring& ring) {
    write_on(snapshot, ring, {r});
  });
}

void RequestRouter::multi_put(const std::vector<wire::Entry>& entries, Consistency level) {
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
  if (replicated()) return write_replicated(records, level);
  routed([&](const locator::ClusterSnapshot& snapshot, const locator::Ring& ring) {
    write_on(snapshot, ring, records);
  });
}

void RequestRouter::write_on(const locator::ClusterSnapshot& snapshot, const locator::Ring& ring,
                             const std::vector<wire::Record>& records) {
  auto groups = GroupByOwner(ring, records, [](const wire::Record& r) { return r.key; });
  std::vector<std::pair<locator::wire::Location, StartCall<bool>>> remote;
  for (auto& entry : groups) {
    if (entry.first == self_name_) continue;
    const OwnerGroup<wire::Record>* group = &entry.second;
    ++counters_.forwarded;
    remote.emplace_back(group->owner, [this, group](auto done) {
      peers_.owner_put_async(group->owner, group->items, wire::Consistency::DEFAULT,
                             std::move(done));
    });
  }
  std::function<void()> local;
  if (auto mine = groups.find(self_name_); mine != groups.end()) {
    local = [&, records_here = &mine->second.items] { owner_.write(snapshot, *records_here); };
  }
  // Our own share's StoreError (a refused version, a storage failure) comes out of
  // ScatterCalls only after every remote call finished.
  auto outcomes = ScatterCalls(std::move(remote), local);
  for (auto& outcome : outcomes) {
    if (!outcome.error) continue;
    ++counters_.errors;
    std::string why = describe_failure(outcome.peer, outcome.error);
    if (groups.size() > 1) why += "; keys of other owners were written";
    ThrowStoreError(why);
  }
}

// ---- with replicas ----

std::vector<std::optional<storage::Record>> RequestRouter::read_replicated(
    const std::vector<std::string>& keys, Consistency level) {
  return reader_.read(*cluster_.snapshot(), keys, Resolve(level, replication_.read));
}

void RequestRouter::write_replicated(const std::vector<wire::Record>& records, Consistency level) {
  level = Resolve(level, replication_.write);
  rpc::AwaitOutcome<bool>([&](rpc::OutcomeHandler<bool> done) {
    write_via_leaders(cluster_.snapshot(), records, level, {}, std::move(done));
  });
}

void RequestRouter::write_via_leaders(std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                                      std::vector<wire::Record> records, Consistency level,
                                      std::set<std::string> unreachable,
                                      rpc::OutcomeHandler<bool> done) {
  const ReplicaPlacement placement(*snapshot, static_cast<size_t>(replication_.replicas),
                                   moving_.draining());
  const size_t required = RequiredReplies(level, placement.effective_n());
  // Each key's leader: its first live replica that has not failed this request yet.
  std::map<std::string, OwnerGroup<wire::Record>> by_leader;
  try {
    for (size_t i = 0; i < records.size(); ++i) {
      const ReplicaSet set = placement.of(records[i].key);
      int leader = -1;
      for (size_t r = 0; r < set.size() && leader < 0; ++r) {
        if (set.alive[r] && unreachable.count(set.names[r]) == 0) leader = static_cast<int>(r);
      }
      if (leader < 0 && unreachable.empty()) {  // none alive: nothing was sent
        ++counters_.unavailable;
        ThrowUnavailable("write at " + ConsistencyName(level) + " of key '" + records[i].key + "'",
                         required, 0);
      }
      if (leader < 0) {
        ++counters_.errors;
        ++counters_.timed_out;
        ThrowTimedOut("write at " + ConsistencyName(level) + " of key '" + records[i].key +
                          "': no live replica could be reached to lead it",
                      required, 0);
      }
      auto& group = by_leader[set.names[static_cast<size_t>(leader)]];
      group.owner = set.replicas[static_cast<size_t>(leader)];
      group.items.push_back(std::move(records[i]));
      group.indexes.push_back(i);
    }
  } catch (...) {
    return done(rpc::Outcome<bool>{std::nullopt, std::current_exception()});
  }
  std::vector<std::pair<locator::wire::Location, StartCall<bool>>> calls;
  for (auto& [name, group] : by_leader) {
    auto items = std::make_shared<std::vector<wire::Record>>(std::move(group.items));
    if (name == self_name_) {
      calls.emplace_back(group.owner, [this, snapshot, items, level](auto led) {
        writer_.lead_async(*snapshot, std::move(*items), level, std::move(led));
      });
      continue;
    }
    ++counters_.forwarded;
    calls.emplace_back(group.owner, [this, life = life_.watch(), snapshot, items, level,
                                     unreachable, leader = group.owner,
                                     required](auto led) {
      peers_.owner_put_async(leader, *items, level, [=](rpc::Outcome<bool> outcome) {
        if (outcome.value) return led(std::move(outcome));
        try {
          std::rethrow_exception(outcome.error);
        } catch (const wire::StoreError&) {
          return led(std::move(outcome));  // the leader's own answers, for the client
        } catch (const wire::Unavailable&) {
          return led(std::move(outcome));
        } catch (const wire::TimedOut&) {
          return led(std::move(outcome));
        } catch (...) {
        }
        // The call failed: reporting it may block (and the next leader's write starts from
        // there), so not on the channel's loop.
        Lifetime::Hold hold(life);
        if (!hold) return led(std::move(outcome));
        fan_out_.submit([=]() mutable {
          Lifetime::Hold still(life);
          if (!still) return led(std::move(outcome));
          try {
            std::rethrow_exception(outcome.error);
          } catch (const apache::thrift::transport::TTransportException& e) {
            // No connection to the leader, or it closed the connection (it crashed or
            // stopped) before answering: the next live replica leads. (A replica, not this
            // node: it has seen the key's versions, so its clock stamps above them.) Applying
            // an unacknowledged write once more is safe: it is the same write, stamped later.
            // A call that timed out is not sent again (the leader may be running it): the
            // client hears TimedOut.
            using apache::thrift::transport::TTransportException;
            if (e.getType() == TTransportException::NOT_OPEN ||
                e.getType() == TTransportException::END_OF_FILE) {
              cluster_.report_failure(leader);
              std::set<std::string> failed = unreachable;
              failed.insert(MemberName(leader));
              return write_via_leaders(snapshot, std::move(*items), level, std::move(failed),
                                       std::move(led));
            }
          } catch (...) {
          }
          led(rpc::Outcome<bool>{std::nullopt, rpc::OutcomeOf<bool>([&]() -> bool {
                                   std::string why;
                                   try {
                                     std::rethrow_exception(outcome.error);
                                   } catch (const std::exception& e) {
                                     why = cluster_.owner_unreachable(leader, e);
                                   } catch (...) {
                                     why = "unknown error";
                                   }
                                   ++counters_.errors;
                                   ++counters_.timed_out;
                                   ThrowTimedOut("write at " + ConsistencyName(level) +
                                                     " led by " + rpc::ToString(leader) + ": " +
                                                     why,
                                                 required, 0);
                                 }).error});
        });
      });
    });
  }
  // The first failure in leader order is the request's.
  StartScatterCalls<bool>(std::move(calls), [done = std::move(done)](auto outcomes) {
    for (auto& outcome : outcomes) {
      if (outcome.error) return done(rpc::Outcome<bool>{std::nullopt, outcome.error});
    }
    done(rpc::Outcome<bool>{true, nullptr});
  });
}

void RequestRouter::owner_put(std::vector<wire::Record> records, Consistency level) {
  if (!replicated()) return owner_.owner_put(std::move(records));
  std::vector<wire::Record> to_lead, copies;
  for (auto& r : records) (r.version == 0 ? to_lead : copies).push_back(std::move(r));
  if (!copies.empty()) owner_.owner_put(std::move(copies));
  if (!to_lead.empty()) {
    CheckBatch(limits_, to_lead.size());
    for (const auto& r : to_lead) {
      CheckKey(limits_, r.key);
      if (!r.tombstone) CheckValue(limits_, r.key, r.value);
    }
    writer_.lead(*cluster_.snapshot(), std::move(to_lead), Resolve(level, replication_.write));
  }
}

}  // namespace thrifty::diststore
