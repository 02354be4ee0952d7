// RequestRouter: client requests on one copy of each key (reads and writes forwarded to the
// key's owner with asynchronous calls, rerouted once after a ring change), the entry points
// that send replicated requests to the ReplicaReader or the leaders
// (request_router_leaders.cc), and the waiting forms over them.
#include "diststore/service/request_router.h"

#include <boost/asio/post.hpp>
#include <glog/logging.h>

#include "diststore/service/replica_paths.h"
#include "locator/membership/member_table.h"

namespace thrifty::diststore {

using membership::MemberName;

namespace {

template <class Result>
rpc::Outcome<Result> Failed(std::exception_ptr error) {
  rpc::Outcome<Result> outcome;
  outcome.error = std::move(error);
  return outcome;
}

template <class Result>
rpc::Outcome<Result> Succeeded(Result value) {
  rpc::Outcome<Result> outcome;
  outcome.value.emplace(std::move(value));
  return outcome;
}

std::exception_ptr NotFoundOf(const std::string& key) {
  wire::NotFound missing;
  missing.key = key;
  return std::make_exception_ptr(missing);
}

// The first of `outcomes` that failed, or null.
template <class Result>
const CallOutcome<Result>* FirstFailure(const std::vector<CallOutcome<Result>>& outcomes) {
  for (const auto& outcome : outcomes) {
    if (outcome.error) return &outcome;
  }
  return nullptr;
}

}  // namespace

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

std::shared_ptr<const locator::ClusterSnapshot> RequestRouter::reroute(
    const locator::ClusterSnapshot& before, bool rerouted) {
  if (rerouted) return nullptr;
  auto now = cluster_.snapshot();
  const auto& now_ring = moving_.routing_ring(*now);
  if (now_ring->empty() || now_ring->signature() == moving_.routing_ring(before)->signature()) {
    return nullptr;
  }
  ++counters_.rerouted;
  return now;
}

void RequestRouter::run_rerouted(std::function<void()> retry) {
  boost::asio::post(fan_out_.executor(), std::move(retry));
}

// ---- the waiting forms ----

std::string RequestRouter::get(const std::string& key, Consistency level) {
  return rpc::AwaitOutcome<std::string>(
      [&](rpc::OutcomeHandler<std::string> done) { get_async(key, level, std::move(done)); });
}

void RequestRouter::put(const std::string& key, const std::string& value, Consistency level) {
  rpc::AwaitOutcome<bool>(
      [&](rpc::OutcomeHandler<bool> done) { put_async(key, value, level, std::move(done)); });
}

void RequestRouter::erase(const std::string& key, Consistency level) {
  rpc::AwaitOutcome<bool>(
      [&](rpc::OutcomeHandler<bool> done) { erase_async(key, level, std::move(done)); });
}

std::map<std::string, std::string> RequestRouter::multi_get(const std::vector<std::string>& keys,
                                                            Consistency level) {
  return rpc::AwaitOutcome<Found>(
      [&](rpc::OutcomeHandler<Found> done) { multi_get_async(keys, level, std::move(done)); });
}

void RequestRouter::multi_put(const std::vector<wire::Entry>& entries, Consistency level) {
  rpc::AwaitOutcome<bool>([&](rpc::OutcomeHandler<bool> done) {
    multi_put_async(entries, level, std::move(done));
  });
}

void RequestRouter::owner_put(std::vector<wire::Record> records, Consistency level) {
  rpc::AwaitOutcome<bool>([&](rpc::OutcomeHandler<bool> done) {
    owner_put_async(std::move(records), level, std::move(done));
  });
}

// ---- reads ----

void RequestRouter::get_async(std::string key, Consistency level,
                              rpc::OutcomeHandler<std::string> done) {
  try {
    CheckKey(limits_, key);
  } catch (...) {
    return done(Failed<std::string>(std::current_exception()));
  }
  ++counters_.gets;
  if (replicated()) {
    reader_.read_async(
        *cluster_.snapshot(), {key}, Resolve(level, replication_.read),
        [this, key, done = std::move(done)](rpc::Outcome<ReplicaReader::Found> found) {
          if (found.error) return done(Failed<std::string>(found.error));
          auto& record = found.value->at(0);
          if (!record || record->tombstone) {
            ++counters_.not_found;
            return done(Failed<std::string>(NotFoundOf(key)));
          }
          done(Succeeded<std::string>(std::move(record->value)));
        });
    return;
  }
  get_async_on(std::move(key), cluster_.snapshot(), false, std::move(done));
}

void RequestRouter::get_async_on(std::string key,
                                 std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                                 bool rerouted, rpc::OutcomeHandler<std::string> done) {
  const auto& ring = moving_.routing_ring(*snapshot);
  if (ring->empty()) return done(Failed<std::string>(StoreErrorOf("no node in the ring")));
  const locator::wire::Location owner = ring->owner(key);
  if (MemberName(owner) == self_name_) {
    // Answered here, or (keys moving) once the previous holders answered, on a channel's loop.
    return owner_.read_async(
        snapshot, std::make_shared<const std::vector<std::string>>(1, key), true,
        [this, key, snapshot, rerouted,
         done = std::move(done)](rpc::Outcome<OwnerStore::Found> found) mutable {
          if (found.error) {
            if (IsRefusal(found.error)) {
              if (auto now = reroute(*snapshot, rerouted)) {
                return run_rerouted([this, key = std::move(key), now = std::move(now),
                                     done = std::move(done)]() mutable {
                  get_async_on(std::move(key), std::move(now), true, std::move(done));
                });
              }
            }
            return done(Failed<std::string>(found.error));
          }
          auto& record = found.value->at(0);
          if (!record || record->tombstone) {
            ++counters_.not_found;
            return done(Failed<std::string>(NotFoundOf(key)));
          }
          done(Succeeded<std::string>(std::move(record->value)));
        });
  }
  ++counters_.forwarded;
  peers_.owner_get_async(
      owner, {key}, true,
      [this, key, snapshot, owner, rerouted,
       done = std::move(done)](rpc::Outcome<std::vector<wire::Record>> answer) mutable {
        if (answer.error) {
          ++counters_.errors;
          const std::string why = describe_failure(owner, answer.error);
          if (auto now = reroute(*snapshot, rerouted)) {
            return run_rerouted([this, key = std::move(key), now = std::move(now),
                                 done = std::move(done)]() mutable {
              get_async_on(std::move(key), std::move(now), true, std::move(done));
            });
          }
          return done(Failed<std::string>(StoreErrorOf(why)));
        }
        const std::vector<wire::Record>& records = *answer.value;
        if (records.empty() || records.front().tombstone) {
          ++counters_.not_found;
          return done(Failed<std::string>(NotFoundOf(key)));
        }
        done(Succeeded<std::string>(records.front().value));
      });
}

void RequestRouter::multi_get_async(std::vector<std::string> keys, Consistency level,
                                    rpc::OutcomeHandler<Found> done) {
  try {
    CheckBatch(limits_, keys.size());
    for (const auto& key : keys) CheckKey(limits_, key);
  } catch (...) {
    return done(Failed<Found>(std::current_exception()));
  }
  counters_.gets += static_cast<int64_t>(keys.size());
  auto shared_keys = std::make_shared<const std::vector<std::string>>(std::move(keys));
  if (replicated()) {
    reader_.read_async(
        *cluster_.snapshot(), *shared_keys, Resolve(level, replication_.read),
        [this, keys = shared_keys, done = std::move(done)](rpc::Outcome<ReplicaReader::Found> found) {
          if (found.error) return done(Failed<Found>(found.error));
          Found out;
          for (size_t i = 0; i < keys->size(); ++i) {
            auto& record = found.value->at(i);
            if (record && !record->tombstone) out[(*keys)[i]] = std::move(record->value);
          }
          counters_.not_found += static_cast<int64_t>(keys->size() - out.size());
          done(Succeeded<Found>(std::move(out)));
        });
    return;
  }
  multi_get_async_on(std::move(shared_keys), cluster_.snapshot(), false, std::move(done));
}

void RequestRouter::multi_get_async_on(std::shared_ptr<const std::vector<std::string>> keys,
                                       std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                                       bool rerouted, rpc::OutcomeHandler<Found> done) {
  const auto& ring = moving_.routing_ring(*snapshot);
  if (ring->empty()) return done(Failed<Found>(StoreErrorOf("no node in the ring")));
  auto groups = GroupByOwner(*ring, *keys, [](const std::string& key) { return key; });
  // The remote owners' calls first, then this node's share, read here: one outcome each.
  std::vector<std::pair<locator::wire::Location, StartCall<std::vector<wire::Record>>>> calls;
  const OwnerGroup<std::string>* mine = nullptr;
  for (auto& entry : groups) {  // (C++17: a lambda cannot capture a structured binding)
    if (entry.first == self_name_) {
      mine = &entry.second;
      continue;
    }
    const OwnerGroup<std::string>* group = &entry.second;
    ++counters_.forwarded;
    calls.emplace_back(group->owner, [this, group](auto answered) {
      peers_.owner_get_async(group->owner, group->items, true, std::move(answered));
    });
  }
  const size_t local = mine ? calls.size() : SIZE_MAX;
  if (mine) {
    calls.emplace_back(mine->owner, [this, mine, &snapshot](auto answered) {
      auto items = std::make_shared<const std::vector<std::string>>(mine->items);
      owner_.read_async(snapshot, items, true,
                        [items, answered = std::move(answered)](rpc::Outcome<OwnerStore::Found> found) {
                          if (found.error) return answered({std::nullopt, found.error});
                          answered({ToRpc(*items, *found.value), nullptr});
                        });
    });
  }
  StartScatterCalls<std::vector<wire::Record>>(
      std::move(calls), [this, keys, snapshot, rerouted, local,
                         done = std::move(done)](auto outcomes) mutable {
        const auto* failed = FirstFailure(outcomes);
        if (failed) {
          // This node's own failure comes first (its StoreError as it is); an owner's is
          // worded for the client and counted.
          std::exception_ptr error;
          if (local != SIZE_MAX && outcomes[local].error) {
            error = outcomes[local].error;
          } else {
            ++counters_.errors;
            error = StoreErrorOf("multi_get: " + describe_failure(failed->peer, failed->error));
          }
          if (IsRefusal(error)) {
            if (auto now = reroute(*snapshot, rerouted)) {
              return run_rerouted([this, keys = std::move(keys), now = std::move(now),
                                   done = std::move(done)]() mutable {
                multi_get_async_on(std::move(keys), std::move(now), true, std::move(done));
              });
            }
          }
          return done(Failed<Found>(std::move(error)));
        }
        Found out;
        for (auto& outcome : outcomes) {
          for (auto& r : *outcome.result) {
            if (!r.tombstone) out[r.key] = std::move(r.value);
          }
        }
        counters_.not_found += static_cast<int64_t>(keys->size() - out.size());
        done(Succeeded<Found>(std::move(out)));
      });
}

// ---- writes ----

void RequestRouter::put_async(std::string key, std::string value, Consistency level,
                              rpc::OutcomeHandler<bool> done) {
  try {
    CheckKey(limits_, key);
    CheckValue(limits_, key, value);
  } catch (...) {
    return done(Failed<bool>(std::current_exception()));
  }
  ++counters_.puts;
  std::vector<wire::Record> records(1);
  records[0].key = std::move(key);
  records[0].value = std::move(value);
  records[0].version = 0;  // stamped by the owner (the leader, with replicas)
  if (replicated()) {
    return write_via_leaders(cluster_.snapshot(), std::move(records),
                             Resolve(level, replication_.write), {}, std::move(done));
  }
  write_async_on(std::make_shared<const std::vector<wire::Record>>(std::move(records)),
                 cluster_.snapshot(), false, std::move(done));
}

void RequestRouter::erase_async(std::string key, Consistency level,
                                rpc::OutcomeHandler<bool> done) {
  try {
    CheckKey(limits_, key);
  } catch (...) {
    return done(Failed<bool>(std::current_exception()));
  }
  ++counters_.erases;
  std::vector<wire::Record> records(1);
  records[0].key = std::move(key);
  records[0].tombstone = true;
  records[0].version = 0;
  if (replicated()) {
    return write_via_leaders(cluster_.snapshot(), std::move(records),
                             Resolve(level, replication_.write), {}, std::move(done));
  }
  write_async_on(std::make_shared<const std::vector<wire::Record>>(std::move(records)),
                 cluster_.snapshot(), false, std::move(done));
}

void RequestRouter::multi_put_async(std::vector<wire::Entry> entries, Consistency level,
                                    rpc::OutcomeHandler<bool> done) {
  std::vector<wire::Record> records;
  try {
    CheckBatch(limits_, entries.size());
    for (const auto& e : entries) {
      CheckKey(limits_, e.key);
      CheckValue(limits_, e.key, e.value);
    }
  } catch (...) {
    return done(Failed<bool>(std::current_exception()));
  }
  records.resize(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    records[i].key = std::move(entries[i].key);
    records[i].value = std::move(entries[i].value);
    records[i].version = 0;  // stamped by the owner
  }
  counters_.puts += static_cast<int64_t>(records.size());
  if (replicated()) {
    return write_via_leaders(cluster_.snapshot(), std::move(records),
                             Resolve(level, replication_.write), {}, std::move(done));
  }
  write_async_on(std::make_shared<const std::vector<wire::Record>>(std::move(records)),
                 cluster_.snapshot(), false, std::move(done));
}

void RequestRouter::write_async_on(std::shared_ptr<const std::vector<wire::Record>> records,
                                   std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                                   bool rerouted, rpc::OutcomeHandler<bool> done) {
  const auto& ring = moving_.routing_ring(*snapshot);
  if (ring->empty()) return done(Failed<bool>(StoreErrorOf("no node in the ring")));
  auto groups = GroupByOwner(*ring, *records, [](const wire::Record& r) { return r.key; });
  std::vector<std::pair<locator::wire::Location, StartCall<bool>>> calls;
  const OwnerGroup<wire::Record>* mine = nullptr;
  for (auto& entry : groups) {
    if (entry.first == self_name_) {
      mine = &entry.second;
      continue;
    }
    OwnerGroup<wire::Record>* group = &entry.second;
    ++counters_.forwarded;
    // Applying a write once more after a failure is safe: the owner stamps it again, later.
    calls.emplace_back(group->owner, [this, group](auto answered) {
      peers_.owner_put_async(group->owner, std::move(group->items), wire::Consistency::DEFAULT,
                             std::move(answered));
    });
  }
  const size_t local = mine ? calls.size() : SIZE_MAX;
  if (mine) {
    calls.emplace_back(mine->owner, [this, mine, &snapshot](auto answered) {
      owner_.write_async(*snapshot, mine->items, std::move(answered));
    });
  }
  StartScatterCalls<bool>(
      std::move(calls), [this, records, snapshot, rerouted, local, several = groups.size() > 1,
                         done = std::move(done)](auto outcomes) mutable {
        const auto* failed = FirstFailure(outcomes);
        if (!failed) return done(Succeeded<bool>(true));
        // This node's own failure comes first (a refused version, a storage failure: its
        // StoreError as it is); an owner's is worded for the client and counted.
        std::exception_ptr error;
        if (local != SIZE_MAX && outcomes[local].error) {
          error = outcomes[local].error;
        } else {
          ++counters_.errors;
          std::string why = describe_failure(failed->peer, failed->error);
          if (several) why += "; keys of other owners were written";
          error = StoreErrorOf(why);
        }
        if (IsRefusal(error)) {
          if (auto now = reroute(*snapshot, rerouted)) {
            return run_rerouted([this, records = std::move(records), now = std::move(now),
                                 done = std::move(done)]() mutable {
              write_async_on(std::move(records), std::move(now), true, std::move(done));
            });
          }
        }
        done(Failed<bool>(std::move(error)));
      });
}

}  // namespace thrifty::diststore
