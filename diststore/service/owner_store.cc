#include "diststore/service/owner_store.h"

#include <future>
#include <map>

#include <glog/logging.h>

#include "diststore/service/replica_set.h"
#include "diststore/service/scatter.h"
#include "diststore/service/tombstone_gc.h"
#include "locator/membership/member_table.h"

namespace thrifty::diststore {

using membership::MemberName;
using storage::HybridLogicalClock;

wire::Record ToRpc(const std::string& key, const storage::Record& record) {
  wire::Record out;
  out.key = key;
  out.value = record.value;
  out.version = record.version;
  out.tombstone = record.tombstone;
  return out;
}

std::vector<wire::Record> ToRpc(const std::vector<std::string>& keys,
                                const std::vector<std::optional<storage::Record>>& found) {
  std::vector<wire::Record> out;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (found[i]) out.push_back(ToRpc(keys[i], *found[i]));
  }
  return out;
}

storage::Record FromRpc(const wire::Record& record) {
  return storage::Record{record.value, record.version, record.tombstone};
}

OwnerStore::OwnerStore(ClusterView& cluster, storage::Engine& engine, PeerClient& peers,
                       MovingKeys& moving, const StoreLimits& limits,
                       const ReplicationOptions& replication, StoreCounters& counters)
    : cluster_(cluster),
      engine_(engine),
      peers_(peers),
      moving_(moving),
      limits_(limits),
      replication_(replication),
      counters_(counters),
      clock_(limits.max_clock_drift_ms),
      self_name_(cluster.self_name()) {}

void OwnerStore::storage_failed(const std::exception& e) const {
  ++counters_.errors;
  ThrowStoreError(std::string("storage failure on ") + self_name_ + ": " + e.what());
}

// ---- reads ----

OwnerStore::Found OwnerStore::read_here(const std::vector<std::string>& keys) {
  try {
    return engine_.multi_get(keys);
  } catch (const std::exception& e) {
    storage_failed(e);
  }
}

std::set<std::string> OwnerStore::merge_newer_from(
    const HolderAsks& asks, const std::vector<std::string>& keys,
    std::vector<CallOutcome<std::vector<wire::Record>>>& outcomes, Found& found) {
  std::set<std::string> failed;
  size_t c = 0;
  for (const auto& [name, indexes] : asks.keys_of) {
    auto& outcome = outcomes[c++];
    if (outcome.error) {
      try {
        std::rethrow_exception(outcome.error);
      } catch (const std::exception& e) {
        LOG_EVERY_T(WARNING, 1) << "read of " << indexes.size() << " keys on " << name
                                << " failed: " << e.what();
      } catch (...) {
      }
      failed.insert(name);
      continue;  // the holder may have left; what we have is the best answer
    }
    std::map<std::string, storage::Record> theirs;
    for (auto& r : *outcome.result) theirs.emplace(r.key, FromRpc(r));
    for (size_t i : indexes) {
      auto it = theirs.find(keys[i]);
      if (it != theirs.end() && (!found[i] || storage::Supersedes(it->second, *found[i]))) {
        found[i] = std::move(it->second);
      }
    }
  }
  return failed;
}

void OwnerStore::check_owners_answered(const locator::ClusterSnapshot& snapshot,
                                       const std::vector<std::string>& keys,
                                       const std::vector<std::optional<storage::Record>>& found,
                                       const HolderAsks& asks,
                                       const std::set<std::string>& failed) const {
  if (failed.empty()) return;
  const auto& routing = moving_.routing_ring(snapshot);
  size_t unavailable = 0;
  std::string first_key, first_owner;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (found[i] || routing->empty()) continue;
    const std::string owner = MemberName(routing->owner(keys[i]));
    if (asks.owners.count(owner) == 0 || failed.count(owner) == 0) continue;
    if (unavailable++ == 0) {
      first_key = keys[i];
      first_owner = owner;
    }
  }
  if (unavailable == 0) return;
  ++counters_.errors;
  cluster_.report_failure(asks.holders.at(first_owner));
  ThrowStoreError("key '" + first_key + "'" +
                  (unavailable > 1 ? " (and " + std::to_string(unavailable - 1) + " more)" : "") +
                  " belongs to " + first_owner +
                  ", which did not answer: unavailable until it does (or the cluster declares it "
                  "dead)");
}

void OwnerStore::read_async(std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                            std::shared_ptr<const std::vector<std::string>> keys, bool fallback,
                            rpc::OutcomeHandler<Found> done) {
  // With replicas, the coordinator asks R of them and the previous holders (ReplicaReader).
  if (!fallback || replication_.replicas > 1) {
    return done(rpc::OutcomeOf<Found>([&] { return read_here(*keys); }));
  }
  read_as_of_async(snapshot, keys, [this, snapshot, keys,
                                      done = std::move(done)](rpc::Outcome<Found> first) mutable {
    if (first.error) return done(std::move(first));
    // The ring may have changed since `snapshot` was taken, and a key this read missed moved
    // meanwhile: its handoff to a node `snapshot` does not know was acknowledged and the copy
    // here deleted while the read was under way (handoff starts only once this node published
    // the new ring). Look for what is missing once more, as of the current ring.
    auto found = std::make_shared<Found>(std::move(*first.value));
    std::vector<size_t> missing;
    for (size_t i = 0; i < keys->size(); ++i) {
      if (!(*found)[i]) missing.push_back(i);
    }
    if (missing.empty()) return done(rpc::Outcome<Found>{std::move(*found), nullptr});
    auto now = cluster_.snapshot();
    if (now->ring()->signature() == snapshot->ring()->signature()) {
      return done(rpc::Outcome<Found>{std::move(*found), nullptr});
    }
    ++counters_.rerouted;
    auto again = std::make_shared<std::vector<std::string>>();
    again->reserve(missing.size());
    for (size_t i : missing) again->push_back((*keys)[i]);
    read_as_of_async(std::move(now), std::move(again),
                     [found, missing, done = std::move(done)](rpc::Outcome<Found> second) mutable {
                       if (second.error) return done(std::move(second));
                       for (size_t j = 0; j < missing.size(); ++j) {
                         (*found)[missing[j]] = std::move((*second.value)[j]);
                       }
                       done(rpc::Outcome<Found>{std::move(*found), nullptr});
                     });
  });
}

OwnerStore::Found OwnerStore::read(std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                                   const std::vector<std::string>& keys, bool fallback) {
  return rpc::AwaitOutcome<Found>([&](rpc::OutcomeHandler<Found> done) {
    read_async(std::move(snapshot), std::make_shared<const std::vector<std::string>>(keys),
               fallback, std::move(done));
  });
}

void OwnerStore::read_as_of_async(std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                                  std::shared_ptr<const std::vector<std::string>> keys,
                                  rpc::OutcomeHandler<Found> done) {
  struct Read {
    Found found;
    HolderAsks asks;
  };
  auto read = std::make_shared<Read>();
  const auto planned = rpc::OutcomeOf<bool>([&] {
    read->found = read_here(*keys);
    read->asks = moving_.plan(*snapshot, *keys, read->found);
    counters_.forwarded += static_cast<int64_t>(read->asks.owners.size());
    counters_.fallback_reads += static_cast<int64_t>(read->asks.fallback_asks);
    if (read->asks.empty()) check_unavailable(*snapshot, *keys, read->found);
    return true;
  });
  if (planned.error) return done(rpc::Outcome<Found>{std::nullopt, planned.error});
  if (read->asks.empty()) return done(rpc::Outcome<Found>{std::move(read->found), nullptr});
  // Every holder at once: the slowest one, not their sum, bounds the read.
  std::vector<std::pair<locator::wire::Location, StartCall<std::vector<wire::Record>>>> calls;
  for (const auto& [name, indexes] : read->asks.keys_of) {
    const locator::wire::Location holder = read->asks.holders.at(name);
    std::vector<std::string> batch;
    batch.reserve(indexes.size());
    for (size_t i : indexes) batch.push_back((*keys)[i]);
    calls.emplace_back(holder, [this, holder, batch = std::move(batch)](auto answered) {
      peers_.owner_get_async(holder, batch, false, std::move(answered));
    });
  }
  StartScatterCalls<std::vector<wire::Record>>(
      std::move(calls), [this, read, snapshot, keys, done = std::move(done)](auto outcomes) {
        done(rpc::OutcomeOf<Found>([&] {
          Found& found = read->found;
          const std::set<std::string> failed = merge_newer_from(read->asks, *keys, outcomes, found);
          // A handoff may have delivered a key between our read and the holder's (the holder
          // deletes only after we acknowledged it), so the holder no longer has it and our
          // first read had an older copy or none: read once more what we asked about, and keep
          // the newer.
          std::vector<size_t> again;
          std::vector<std::string> again_keys;
          for (size_t i = 0; i < keys->size(); ++i) {
            if (!read->asks.asked[i]) continue;
            again.push_back(i);
            again_keys.push_back((*keys)[i]);
          }
          auto now_here = read_here(again_keys);
          for (size_t j = 0; j < again.size(); ++j) {
            auto& mine = found[again[j]];
            if (now_here[j] && (!mine || storage::Supersedes(*now_here[j], *mine))) {
              mine = now_here[j];
            }
          }
          check_owners_answered(*snapshot, *keys, found, read->asks, failed);
          check_unavailable(*snapshot, *keys, found);
          return std::move(found);
        }));
      });
}

void OwnerStore::check_unavailable(const locator::ClusterSnapshot& snapshot,
                                   const std::vector<std::string>& keys,
                                   const std::vector<std::optional<storage::Record>>& found) const {
  const auto& with_dead = snapshot.ring_with_dead();
  if (!with_dead) return;
  size_t unavailable = 0;
  std::string first_key, first_owner;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (found[i]) continue;
    const std::string owner = MemberName(with_dead->owner(keys[i]));
    if (snapshot.dead().count(owner) == 0) continue;
    if (unavailable++ == 0) {
      first_key = keys[i];
      first_owner = owner;
    }
  }
  if (unavailable == 0) return;
  ++counters_.errors;
  ThrowStoreError("key '" + first_key + "'" +
                  (unavailable > 1 ? " (and " + std::to_string(unavailable - 1) + " more)" : "") +
                  " is held by " + first_owner +
                  ", which is DEAD (unreachable): unavailable until it returns");
}

void OwnerStore::owner_get_async(std::vector<std::string> keys, bool fallback,
                                 rpc::OutcomeHandler<std::vector<wire::Record>> done) {
  const auto checked = rpc::OutcomeOf<bool>([&] {
    CheckBatch(limits_, keys.size());
    if (!fallback && rebuilding_.load()) {
      ThrowStoreError(self_name_ +
                      " is rebuilding its replicas (it started with a new host ID: a first join "
                      "or a wiped return): not a replica for reads until it took its ranges");
    }
    return true;
  });
  if (checked.error) return done({std::nullopt, checked.error});
  auto shared = std::make_shared<const std::vector<std::string>>(std::move(keys));
  read_async(cluster_.snapshot(), shared, fallback,
             [keys = shared, done = std::move(done)](rpc::Outcome<Found> found) {
               if (found.error) return done({std::nullopt, found.error});
               done({ToRpc(*keys, *found.value), nullptr});
             });
}

std::vector<wire::Record> OwnerStore::owner_get(const std::vector<std::string>& keys,
                                               bool fallback) {
  return rpc::AwaitOutcome<std::vector<wire::Record>>([&](auto done) {
    owner_get_async(keys, fallback, std::move(done));
  });
}

// ---- writes ----

void OwnerStore::write_local(std::vector<std::pair<std::string, storage::Record>> records) {
  try {
    engine_.merge_batch(records);
  } catch (const std::exception& e) {
    storage_failed(e);
  }
}

void OwnerStore::check_versions(const std::vector<wire::Record>& records,
                                const std::string& call) {
  for (const auto& r : records) {
    if (r.version == 0) continue;  // to be stamped here
    const auto admission = clock_.check(r.version);
    if (admission == HybridLogicalClock::Admission::ok) continue;
    ++counters_.versions_refused;
    std::string why;
    if (admission == HybridLogicalClock::Admission::out_of_range) {
      why = "is not a hybrid-logical-clock timestamp (must be in 1.." +
            std::to_string(HybridLogicalClock::kMaxTimestamp) + ")";
    } else {
      const int64_t ahead = HybridLogicalClock::physical_ms(r.version) - clock_.physical_now_ms();
      why = "is " + std::to_string(ahead) + " ms ahead of this node's clock (limit " +
            "--max-clock-drift-ms=" + std::to_string(clock_.max_offset_ms()) +
            "; is a clock wrong?)";
    }
    LOG_EVERY_T(WARNING, 1) << call << ": refused version " << r.version << " of key '"
                            << r.key << "': it " << why;
    ThrowStoreError(call + " refused on " + self_name_ + ": the version " +
                    std::to_string(r.version) + " of key '" + r.key + "' " + why +
                    "; nothing of the batch was written");
  }
}

void OwnerStore::owner_put(std::vector<wire::Record> records) {
  write(*cluster_.snapshot(), std::move(records));
}

void OwnerStore::owner_put_async(std::vector<wire::Record> records,
                                 rpc::OutcomeHandler<bool> done) {
  write_async(*cluster_.snapshot(), std::move(records), std::move(done));
}

void OwnerStore::write(const locator::ClusterSnapshot& snapshot, std::vector<wire::Record> records) {
  rpc::AwaitOutcome<bool>([&](rpc::OutcomeHandler<bool> done) {
    write_async(snapshot, std::move(records), std::move(done));
  });
}

void OwnerStore::write_async(const locator::ClusterSnapshot& snapshot,
                             std::vector<wire::Record> records, rpc::OutcomeHandler<bool> done) {
  std::map<std::string, std::vector<wire::Record>> elsewhere;
  std::map<std::string, locator::wire::Location> owners;
  const auto stored = rpc::OutcomeOf<bool>([&] {
    CheckBatch(limits_, records.size());
    check_versions(records, "owner_put");
    // From the routing decision until the records are stored: a drain waits for us.
    const auto hold = moving_.hold_routing();
    write_mine(snapshot, records, &elsewhere, &owners);
    return true;
  });
  if (stored.error || elsewhere.empty()) return done(stored);
  // The sender thought we own these; our newer view says otherwise. Hand them on (merge only,
  // the receiver never forwards a handoff): one extra hop at most.
  std::vector<std::pair<locator::wire::Location, StartCall<wire::HandoffAck>>> calls;
  for (auto& [name, batch] : elsewhere) {
    const locator::wire::Location& owner = owners[name];
    ++counters_.forwarded;
    calls.emplace_back(owner, [this, owner, batch = std::move(batch)](auto answered) mutable {
      peers_.handoff_async(owner, std::move(batch), cluster_.self(), std::move(answered));
    });
  }
  StartScatterCalls<wire::HandoffAck>(
      std::move(calls), [this, done = std::move(done)](auto outcomes) {
        for (auto& outcome : outcomes) {
          if (!outcome.error) continue;
          std::exception_ptr error = outcome.error;  // the owner's StoreError as it is
          try {
            std::rethrow_exception(outcome.error);
          } catch (const wire::StoreError&) {
          } catch (const std::exception& e) {
            ++counters_.errors;
            error = StoreErrorOf(cluster_.owner_unreachable(outcome.peer, e));
          } catch (...) {
          }
          return done(rpc::Outcome<bool>{std::nullopt, error});
        }
        done(rpc::Outcome<bool>{true, nullptr});
      });
}

void OwnerStore::write_mine(const locator::ClusterSnapshot& snapshot,
                            std::vector<wire::Record>& records,
                            std::map<std::string, std::vector<wire::Record>>* elsewhere,
                            std::map<std::string, locator::wire::Location>* owners) {
  const auto& ring = moving_.routing_ring(snapshot);
  std::optional<ReplicaPlacement> replicas;
  if (replication_.replicas > 1) {
    replicas.emplace(snapshot, static_cast<size_t>(replication_.replicas), moving_.draining());
  }
  std::vector<std::pair<std::string, storage::Record>> mine;
  for (auto& r : records) {
    CheckKey(limits_, r.key);
    if (!r.tombstone) CheckValue(limits_, r.key, r.value);
    if (r.version < 0) {
      ThrowStoreError("owner_put: negative version for key '" + r.key + "'; nothing stored");
    }
    if (r.version == 0) {
      r.version = clock_.now();
    } else {
      clock_.observe(r.version);
    }
    if (replicas) {
      const ReplicaSet set = replicas->of(r.key);
      if (!set.names.empty() && !set.contains(self_name_)) {
        // Not a replica in this node's view: to every live replica it names.
        for (size_t i = 0; i < set.size(); ++i) {
          if (!set.alive[i]) continue;
          owners->emplace(set.names[i], set.replicas[i]);
          (*elsewhere)[set.names[i]].push_back(r);
        }
        continue;
      }
    } else if (!ring->empty()) {
      const locator::wire::Location& owner = ring->owner(r.key);
      const std::string name = MemberName(owner);
      if (name != self_name_) {
        owners->emplace(name, owner);
        (*elsewhere)[name].push_back(std::move(r));
        continue;
      }
    }
    mine.emplace_back(r.key, FromRpc(r));
  }
  if (!mine.empty()) write_local(std::move(mine));
}

wire::HandoffAck OwnerStore::handoff(const std::vector<wire::Record>& records,
                                    const locator::wire::Location& sender) {
  CheckBatch(limits_, records.size());
  check_versions(records, "handoff from " + rpc::ToString(sender));
  const auto hold = moving_.hold_routing();  // a drain waits for the merge below
  if (moving_.draining()) {
    // Merged here, the records would leave with this node: the sender keeps them and sends
    // them to their owner once it hears of this node's leave.
    ThrowStoreError("handoff refused on " + self_name_ +
                    ": this node is leaving the cluster; the records stay with " +
                    rpc::ToString(sender) + " until it routes them to their next owner");
  }
  moving_.note_handoff_received();
  std::vector<std::pair<std::string, storage::Record>> batch;
  batch.reserve(records.size());
  // With replicas, a record older than gc-grace may be one whose newer tombstone was purged:
  // merged, it would bring the deleted key back. Anti-entropy restores any such record that
  // is still live on a replica (tombstone_gc.h).
  const bool drop_old = replication_.replicas > 1;
  const int64_t now_ms = clock_.physical_now_ms();
  int64_t dropped = 0;
  for (const auto& r : records) {
    CheckKey(limits_, r.key);
    if (r.version <= 0) {
      ThrowStoreError("handoff from " + rpc::ToString(sender) +
                      ": record without a version for key '" + r.key + "'");
    }
    clock_.observe(r.version);
    if (drop_old && OlderThanGrace(r.version, now_ms, replication_.gc_grace_ms)) {
      ++dropped;
      continue;
    }
    batch.emplace_back(r.key, FromRpc(r));
  }
  if (dropped > 0) {
    counters_.handoff_dropped_gc_grace += dropped;
    LOG_EVERY_T(INFO, 10) << "handoff from " << rpc::ToString(sender) << ": dropped " << dropped
                          << " records older than --gc-grace-s ("
                          << replication_.gc_grace_ms / 1000 << " s)";
  }
  size_t applied = 0;
  try {
    applied = engine_.merge_batch(batch);
  } catch (const std::exception& e) {
    storage_failed(e);
  }
  counters_.handoff_records_in += static_cast<int64_t>(records.size());
  wire::HandoffAck ack;
  ack.applied = static_cast<int64_t>(applied);
  ack.skipped = static_cast<int64_t>(records.size() - applied);  // dropped ones too
  return ack;
}

}  // namespace thrifty::diststore
