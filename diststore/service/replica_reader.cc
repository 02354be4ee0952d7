#include "diststore/service/replica_reader.h"

#include <map>
#include <stdexcept>

#include <glog/logging.h>

#include "diststore/service/replica_set.h"

namespace thrifty::diststore {

namespace {

// The keys one node is asked for, their positions, and whether its answers count toward R
// (a replica) or only toward the newest (a previous holder while keys move).
struct ReadShare {
  locator::wire::Location node;
  std::vector<std::string> keys;
  std::vector<size_t> indexes;
  std::vector<bool> counts;
  bool previous_holder = false;  // asked for some key only because keys move
  bool first = false;            // asked at once (else only on a speculative retry)
};

// What one node that answered holds of a key (nullopt: nothing), to repair the stale.
struct Seen {
  const ReadShare* share;
  std::optional<storage::Record> record;
};

}  // namespace

// One read, shared by its calls' completions.
struct ReplicaReader::Request {
  std::vector<std::string> keys;
  Consistency level;
  size_t required = 0;
  std::string what;
  bool moving = false;
  std::vector<ReadShare> remote;    // in call order; not resized once calls start
  std::optional<ReadShare> local;   // this node's share
  // Replies so far per key: toward R, and the newest record with who had it.
  std::vector<size_t> answered;
  Found newest;
  std::vector<std::vector<Seen>> seen;
  std::string failure;  // the first reason a node did not answer
  rpc::OutcomeHandler<Found> done;

  void take(const ReadShare& share, const std::map<std::string, storage::Record>& records) {
    for (size_t j = 0; j < share.keys.size(); ++j) {
      const size_t i = share.indexes[j];
      std::optional<storage::Record> record;
      if (auto it = records.find(share.keys[j]); it != records.end()) record = it->second;
      if (record && (!newest[i] || storage::Supersedes(*record, *newest[i]))) newest[i] = record;
      if (!share.counts[j]) continue;  // a previous holder: not repaired, not counted
      ++answered[i];
      seen[i].push_back(Seen{&share, std::move(record)});
    }
  }

  bool enough(const std::vector<ReplicaReply<std::vector<wire::Record>>>& replies) const {
    std::vector<size_t> got = answered, possible = answered;
    for (size_t c = 0; c < replies.size(); ++c) {
      const bool ok = replies[c].done && replies[c].result;
      const bool open = !replies[c].done;  // running, or not asked yet
      const ReadShare& share = remote[c];
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
        if (!replies[c].done && remote[c].previous_holder) return false;
      }
    }
    return all;
  }
};

ReplicaReader::ReplicaReader(ReplicaPaths paths)
    : paths_(paths),
      self_name_(paths.cluster.self_name()) {}

ReplicaReader::~ReplicaReader() { life_.end(); }

ReplicaReader::Found ReplicaReader::read(const locator::ClusterSnapshot& snapshot,
                                         const std::vector<std::string>& keys,
                                         Consistency level) {
  return rpc::AwaitOutcome<Found>(
      [&](rpc::OutcomeHandler<Found> done) { read_async(snapshot, keys, level, std::move(done)); });
}

void ReplicaReader::read_async(const locator::ClusterSnapshot& snapshot,
                               const std::vector<std::string>& keys, Consistency level,
                               rpc::OutcomeHandler<Found> done) {
  auto request = std::make_shared<Request>();
  request->keys = keys;
  request->level = level;
  std::map<std::string, ReadShare> shares;
  try {
    const ReplicaPlacement placement(snapshot, static_cast<size_t>(paths_.options.replicas),
                                     paths_.moving.draining());
    request->required = RequiredReplies(level, placement.effective_n());
    request->what = "read at " + ConsistencyName(level);
    request->moving = paths_.moving.fallback_open();
    const size_t required = request->required;
    // With no speculative delay, or at ALL, every live replica is asked at once.
    const bool all_at_once =
        paths_.options.speculative_retry_ms <= 0 || level == wire::Consistency::ALL;

    auto ask = [&](const std::string& name, const locator::wire::Location& node, size_t i,
                   bool counts, bool first) {
      ReadShare& share = shares[name];
      share.node = node;
      share.first = share.first || first;
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
        ThrowUnavailable(request->what + " of key '" + keys[i] + "'", required, alive);
      }
      // R first: this node if it is a live replica (its answer costs no call), then the
      // others in ring order.
      size_t chosen = 0;
      for (size_t r = 0; r < set.size(); ++r) {
        if (set.alive[r] && set.names[r] == self_name_) {
          ask(set.names[r], set.replicas[r], i, true, true);
          ++chosen;
        }
      }
      for (size_t r = 0; r < set.size(); ++r) {
        if (!set.alive[r] || set.names[r] == self_name_) continue;
        ask(set.names[r], set.replicas[r], i, true, all_at_once || chosen < required);
        ++chosen;
      }
      if (!request->moving) continue;
      const ReplicaSet before = placement.previous_of(keys[i]);
      for (size_t r = 0; r < before.size(); ++r) {
        if (set.contains(before.names[r]) || snapshot.dead().count(before.names[r])) continue;
        ask(before.names[r], before.replicas[r], i, false, true);
        ++paths_.counters.fallback_reads;
      }
    }
  } catch (...) {
    return done(rpc::Outcome<Found>{std::nullopt, std::current_exception()});
  }
  request->answered.assign(keys.size(), 0);
  request->newest.resize(keys.size());
  request->seen.resize(keys.size());
  request->done = std::move(done);

  // The shares asked at once first, then the held-back ones; pointers into `remote` stay
  // valid from here on.
  for (bool first : {true, false}) {
    for (auto& [name, share] : shares) {
      if (name == self_name_) {
        if (first) request->local = std::move(share);
        continue;
      }
      if (share.first == first) request->remote.push_back(std::move(share));
    }
  }
  HeldBack held;
  held.first = 0;
  while (held.first < request->remote.size() && request->remote[held.first].first) ++held.first;
  held.delay_ms = paths_.options.speculative_retry_ms;
  held.timers = &paths_.pool;

  std::vector<std::pair<locator::wire::Location, StartReplicaCall<std::vector<wire::Record>>>> calls;
  for (const ReadShare& share : request->remote) {
    calls.emplace_back(share.node, [this, life = life_.watch(), node = share.node,
                                    batch = share.keys](auto done) {
      Lifetime::Hold hold(life);  // a held-back call may start late, from the timer
      if (!hold) {
        return done({std::nullopt, std::make_exception_ptr(std::runtime_error(
                                       "the node is stopping"))});
      }
      ++paths_.counters.forwarded;
      paths_.peers.owner_get_async(
          node, batch, false,
          AfterFailure<std::vector<wire::Record>>(
              paths_.pool, life, [this, node] { paths_.cluster.report_failure(node); },
              std::move(done)));
    });
  }
  std::function<bool()> local;
  if (request->local) {
    local = [&] {
      const ReadShare& share = *request->local;
      if (paths_.owner.rebuilding()) {
        // This node started with a new host ID and has not taken its ranges yet: its
        // "nothing" is no answer (OwnerStore::set_rebuilding).
        request->failure = self_name_ + " is rebuilding its replicas";
        return false;
      }
      std::vector<std::optional<storage::Record>> found;
      try {
        found = paths_.owner.read_here(share.keys);
      } catch (const wire::StoreError& e) {
        request->failure = e.message;  // this node's engine failed: the others may suffice
        return false;
      }
      std::map<std::string, storage::Record> records;
      for (size_t j = 0; j < found.size(); ++j) {
        if (found[j]) records.emplace(share.keys[j], *found[j]);
      }
      request->take(share, records);
      return true;
    };
  }
  StartQuorumCall<std::vector<wire::Record>>(
      std::move(calls), local,
      [request](const auto& replies) { return request->enough(replies); },
      [this, life = life_.watch(), request](auto replies) {
        Lifetime::Hold hold(life);
        if (hold) finish(request, replies);  // else the reader is gone: nobody to answer
      },
      held);
}

void ReplicaReader::finish(const std::shared_ptr<Request>& request,
                           const std::vector<ReplicaReply<std::vector<wire::Record>>>& replies) {
  for (size_t c = 0; c < replies.size(); ++c) {
    if (!replies[c].done) continue;
    if (replies[c].result) {
      std::map<std::string, storage::Record> records;
      for (auto& r : *replies[c].result) records.emplace(r.key, FromRpc(r));
      request->take(request->remote[c], records);
      continue;
    }
    if (request->failure.empty()) {
      request->failure = replies[c].refused ? replies[c].error
                                            : rpc::ToString(replies[c].peer) +
                                                  " did not answer (" + replies[c].error + ")";
    }
  }
  for (size_t i = 0; i < request->keys.size(); ++i) {
    if (request->answered[i] >= request->required) continue;
    ++paths_.counters.errors;
    std::exception_ptr error;
    try {
      ThrowStoreError(request->what + " of key '" + request->keys[i] + "': " +
                      std::to_string(request->answered[i]) + " of " +
                      std::to_string(request->required) + " replicas answered" +
                      (request->failure.empty() ? "" : " (" + request->failure + ")"));
    } catch (...) {
      error = std::current_exception();
    }
    request->done(rpc::Outcome<Found>{std::nullopt, error});
    return;
  }
  repair(request);
}

// Read repair: the newest to every node that answered with less; at QUORUM and ALL the read
// answers after the repairs, at ONE at once.
void ReplicaReader::repair(const std::shared_ptr<Request>& request) {
  std::map<const ReadShare*, std::vector<wire::Record>> repairs;
  if (paths_.options.read_repair) {
    for (size_t i = 0; i < request->keys.size(); ++i) {
      if (!request->newest[i]) continue;
      for (const Seen& s : request->seen[i]) {
        if (s.record && !storage::Supersedes(*request->newest[i], *s.record)) continue;
        repairs[s.share].push_back(ToRpc(request->keys[i], *request->newest[i]));
      }
    }
  }
  if (repairs.empty()) return request->done(rpc::Outcome<Found>{std::move(request->newest), nullptr});
  std::vector<std::pair<locator::wire::Location, StartReplicaCall<bool>>> calls;
  for (auto& [share, records] : repairs) {
    paths_.counters.read_repairs += static_cast<int64_t>(records.size());
    auto batch = std::make_shared<std::vector<wire::Record>>(std::move(records));
    if (request->local && share == &*request->local) {
      // This node's engine write may block: not on a channel loop.
      calls.emplace_back(paths_.cluster.self(), [this, life = life_.watch(), batch](auto done) {
        paths_.pool.submit([this, life, batch, done] {
          Lifetime::Hold hold(life);
          if (!hold) return done({std::nullopt, std::make_exception_ptr(std::runtime_error(
                                                    "the node is stopping"))});
          done(rpc::OutcomeOf<bool>([&] {
            paths_.owner.write(*paths_.cluster.snapshot(), *batch);
            return true;
          }));
        });
      });
      continue;
    }
    calls.emplace_back(share->node, [this, node = share->node, batch](auto done) {
      paths_.peers.owner_put_async(node, *batch, wire::Consistency::ONE, std::move(done));
    });
  }
  const bool answer_first = request->level == wire::Consistency::ONE;
  if (answer_first) request->done(rpc::Outcome<Found>{request->newest, nullptr});
  StartQuorumCall<bool>(
      std::move(calls), nullptr, [](const auto&) { return false; },  // every repair
      [request, answer_first](std::vector<ReplicaReply<bool>> replies) {
        for (const auto& reply : replies) {
          if (reply.result) continue;
          LOG_EVERY_T(WARNING, 1) << "read repair on " << rpc::ToString(reply.peer)
                                  << " failed: " << reply.error;
        }
        if (!answer_first) request->done(rpc::Outcome<Found>{std::move(request->newest), nullptr});
      });
}

}  // namespace thrifty::diststore
