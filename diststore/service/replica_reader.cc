#include "diststore/service/replica_reader.h"

#include <map>

#include <glog/logging.h>

#include "diststore/service/quorum_call.h"
#include "diststore/service/replica_set.h"
#include "diststore/service/scatter.h"

namespace thrifty::diststore {

ReplicaReader::ReplicaReader(ReplicaPaths paths)
    : paths_(paths),
      self_name_(paths.cluster.self_name()) {}

namespace {

// The keys one node is asked for, their positions, and whether its answers count toward R
// (a replica) or only toward the newest (a previous holder while keys move).
struct ReadShare {
  locator::wire::Location node;
  std::vector<std::string> keys;
  std::vector<size_t> indexes;
  std::vector<bool> counts;
  bool previous_holder = false;  // asked for some key only because keys move
};

}  // namespace

std::vector<std::optional<storage::Record>> ReplicaReader::read(
    const locator::ClusterSnapshot& snapshot, const std::vector<std::string>& keys,
    Consistency level) {
  const ReplicaPlacement placement(snapshot, static_cast<size_t>(paths_.options.replicas),
                                   paths_.moving.draining());
  const size_t required = RequiredReplies(level, placement.effective_n());
  const std::string what = "read at " + ConsistencyName(level);
  const bool moving = paths_.moving.fallback_open();

  std::map<std::string, ReadShare> shares;
  auto ask = [&](const std::string& name, const locator::wire::Location& node, size_t i, bool counts) {
    ReadShare& share = shares[name];
    share.node = node;
    if (!share.indexes.empty() && share.indexes.back() == i) return;  // already asked
    share.keys.push_back(keys[i]);
    share.indexes.push_back(i);
    share.counts.push_back(counts);
    if (!counts) share.previous_holder = true;
  };
  for (size_t i = 0; i < keys.size(); ++i) {
    const ReplicaSet set = placement.of(keys[i]);
    const size_t alive = set.alive_count();
    if (alive < required) {
      ++paths_.counters.unavailable;
      ThrowUnavailable(what + " of key '" + keys[i] + "'", required, alive);
    }
    for (size_t r = 0; r < set.size(); ++r) {
      if (set.alive[r]) ask(set.names[r], set.replicas[r], i, true);
    }
    if (!moving) continue;
    const ReplicaSet before = placement.previous_of(keys[i]);
    for (size_t r = 0; r < before.size(); ++r) {
      if (set.contains(before.names[r]) || snapshot.dead().count(before.names[r])) continue;
      ask(before.names[r], before.replicas[r], i, false);
      ++paths_.counters.fallback_reads;
    }
  }

  // Replies so far per key: toward R, and the newest record with who had it.
  std::vector<size_t> answered(keys.size(), 0);
  std::vector<std::optional<storage::Record>> newest(keys.size());
  std::vector<const ReadShare*> remote;
  std::vector<std::pair<locator::wire::Location, std::function<std::vector<wire::Record>()>>> calls;
  const ReadShare* local_share = nullptr;
  for (auto& [name, share] : shares) {
    if (name == self_name_) {
      local_share = &share;
      continue;
    }
    remote.push_back(&share);
    ++paths_.counters.forwarded;
    calls.emplace_back(share.node, [peers = &paths_.peers, cluster = &paths_.cluster, node = share.node,
                                    batch = share.keys] {
      try {
        return peers->owner_get(node, batch, false);
      } catch (const wire::StoreError&) {
        throw;
      } catch (...) {
        cluster->report_failure(node);
        throw;
      }
    });
  }
  // Per key, what each node that answered holds (nullopt: nothing), to repair the stale.
  struct Seen {
    const ReadShare* share;
    std::optional<storage::Record> record;
  };
  std::vector<std::vector<Seen>> seen(keys.size());
  auto take = [&](const ReadShare& share, std::map<std::string, storage::Record> records) {
    for (size_t j = 0; j < share.keys.size(); ++j) {
      const size_t i = share.indexes[j];
      std::optional<storage::Record> record;
      if (auto it = records.find(share.keys[j]); it != records.end()) record = it->second;
      if (record && (!newest[i] || storage::Supersedes(*record, *newest[i]))) newest[i] = record;
      if (!share.counts[j]) continue;  // a previous holder: not repaired, not counted
      ++answered[i];
      seen[i].push_back(Seen{&share, std::move(record)});
    }
  };
  std::string failure;  // the first reason a node did not answer
  std::function<void()> local;
  if (local_share) {
    local = [&] {
      if (paths_.owner.rebuilding()) {
        // This node started with a new host ID and has not taken its ranges yet: its
        // "nothing" is no answer (OwnerStore::set_rebuilding).
        failure = self_name_ + " is rebuilding its replicas";
        return;
      }
      std::vector<std::optional<storage::Record>> found;
      try {
        found = paths_.owner.read(snapshot, local_share->keys, false);
      } catch (const wire::StoreError& e) {
        failure = e.message;  // this node's engine failed: the other replicas may suffice
        return;
      }
      std::map<std::string, storage::Record> records;
      for (size_t j = 0; j < found.size(); ++j) {
        if (found[j]) records.emplace(local_share->keys[j], *found[j]);
      }
      take(*local_share, std::move(records));
    };
  }
  auto enough = [&](const std::vector<ReplicaReply<std::vector<wire::Record>>>& replies) {
    std::vector<size_t> got = answered, possible = answered;
    for (size_t c = 0; c < replies.size(); ++c) {
      const bool ok = replies[c].done && replies[c].result;
      const bool open = !replies[c].done;
      const ReadShare& share = *remote[c];
      for (size_t j = 0; j < share.indexes.size(); ++j) {
        if (!share.counts[j]) continue;
        if (ok) ++got[share.indexes[j]];
        if (ok || open) ++possible[share.indexes[j]];
      }
    }
    bool all = true;
    for (size_t i = 0; i < got.size(); ++i) {
      if (possible[i] < required) return true;
      if (got[i] < required) all = false;
    }
    // While keys move, the previous holders are waited for too (they may hold the newest);
    // a slow replica beyond R is not.
    if (all && moving) {
      for (size_t c = 0; c < replies.size(); ++c) {
        if (!replies[c].done && remote[c]->previous_holder) return false;
      }
    }
    return all;
  };
  auto replies = QuorumCall<std::vector<wire::Record>>(paths_.pool, std::move(calls), local, enough);
  for (size_t c = 0; c < replies.size(); ++c) {
    if (!replies[c].done) continue;
    if (replies[c].result) {
      std::map<std::string, storage::Record> records;
      for (auto& r : *replies[c].result) records.emplace(r.key, FromRpc(r));
      take(*remote[c], std::move(records));
      continue;
    }
    if (failure.empty()) {
      failure = replies[c].refused ? replies[c].error
                                   : rpc::ToString(replies[c].peer) + " did not answer (" +
                                         replies[c].error + ")";
    }
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    if (answered[i] >= required) continue;
    ++paths_.counters.errors;
    ThrowStoreError(what + " of key '" + keys[i] + "': " + std::to_string(answered[i]) + " of " +
                    std::to_string(required) + " replicas answered" +
                    (failure.empty() ? "" : " (" + failure + ")"));
  }

  // Read repair: the newest to every node that answered with less.
  if (paths_.options.read_repair) {
    std::map<const ReadShare*, std::vector<wire::Record>> repairs;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!newest[i]) continue;
      for (const Seen& s : seen[i]) {
        if (s.record && !storage::Supersedes(*newest[i], *s.record)) continue;
        repairs[s.share].push_back(ToRpc(keys[i], *newest[i]));
      }
    }
    std::vector<std::pair<locator::wire::Location, std::function<bool()>>> repair_calls;
    for (auto& [share, records] : repairs) {
      paths_.counters.read_repairs += static_cast<int64_t>(records.size());
      if (share == local_share) {
        try {
          paths_.owner.write(snapshot, records);
        } catch (const std::exception& e) {
          LOG_EVERY_T(WARNING, 1) << "read repair on this node failed: " << e.what();
        }
        continue;
      }
      repair_calls.emplace_back(share->node, [peers = &paths_.peers, node = share->node,
                                              batch = std::move(records)] {
        peers->owner_put(node, batch, wire::Consistency::ONE);
        return true;
      });
    }
    if (level == wire::Consistency::ONE) {
      for (auto& call : repair_calls) {
        paths_.pool.submit([node = call.first, fn = std::move(call.second)] {
          try {
            fn();
          } catch (const std::exception& e) {
            LOG_EVERY_T(WARNING, 1) << "read repair on " << rpc::ToString(node)
                                    << " failed: " << e.what();
          }
        });
      }
    } else {
      for (auto& outcome : ScatterCalls<bool>(paths_.pool, std::move(repair_calls), nullptr)) {
        if (!outcome.error) continue;
        try {
          std::rethrow_exception(outcome.error);
        } catch (const std::exception& e) {
          LOG_EVERY_T(WARNING, 1) << "read repair on " << rpc::ToString(outcome.peer)
                                  << " failed: " << e.what();
        }
      }
    }
  }
  return newest;
}

}  // namespace thrifty::diststore
