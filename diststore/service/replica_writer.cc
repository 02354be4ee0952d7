#include "diststore/service/replica_writer.h"

#include <map>
#include <memory>
#include <stdexcept>

#include <glog/logging.h>

#include "diststore/service/quorum_call.h"
#include "diststore/service/replica_set.h"
#include "locator/membership/member_table.h"

namespace thrifty::diststore {

using membership::MemberName;

ReplicaWriter::ReplicaWriter(ReplicaPaths paths, HintedHandoff* hints)
    : paths_(paths),
      hints_(hints),
      self_name_(paths.cluster.self_name()) {}

namespace {

// The records one replica is sent, and their positions in the request. A hint share goes to
// a hint holder instead (--hints-count-for-w), for the DEAD replica `hint_for`.
struct ReplicaShare {
  locator::wire::Location replica;
  std::vector<wire::Record> records;
  std::vector<size_t> indexes;
  std::string hint_for;  // name of the DEAD replica; empty: a replica's own share
  locator::wire::Location hint_target;
};

}  // namespace

ReplicaWriter::~ReplicaWriter() { life_.end(); }

void ReplicaWriter::lead(const locator::ClusterSnapshot& snapshot,
                         std::vector<wire::Record> records, Consistency level) {
  rpc::AwaitOutcome<bool>([&](rpc::OutcomeHandler<bool> done) {
    lead_async(snapshot, std::move(records), level, std::move(done));
  });
}

namespace {

// One led write after its calls started: what the quorum is counted from, and the outcome.
struct LeadState {
  std::vector<wire::Record> records;
  size_t required = 0;
  std::string what;
  std::vector<size_t> acks;            // this node's acknowledgements, per record
  std::vector<std::string> refusals;   // StoreError answers, in words (this node's)
  std::vector<std::vector<size_t>> call_indexes;  // per call: the records it carries
  rpc::OutcomeHandler<bool> done;

  // Per record: acknowledgements so far, and how many it can still get.
  void count(const std::vector<ReplicaReply<bool>>& replies, std::vector<size_t>* got,
             std::vector<size_t>* possible) const {
    *got = acks;
    *possible = acks;
    for (size_t c = 0; c < replies.size(); ++c) {
      const bool ok = replies[c].done && replies[c].result;
      const bool open = !replies[c].done;
      for (size_t i : call_indexes[c]) {
        if (ok) ++(*got)[i];
        if (ok || open) ++(*possible)[i];
      }
    }
  }
  // Every record has W acknowledgements, or one of them can no longer get them.
  bool decided(const std::vector<ReplicaReply<bool>>& replies) const {
    std::vector<size_t> got, possible;
    count(replies, &got, &possible);
    bool all = true;
    for (size_t i = 0; i < got.size(); ++i) {
      if (possible[i] < required) return true;  // decided: it fails
      if (got[i] < required) all = false;
    }
    return all;
  }
};

// Throws what a write that ended with `replies` failed with, if it failed.
void ThrowIfFailed(const LeadState& state, const std::vector<ReplicaReply<bool>>& replies,
                   StoreCounters& counters) {
  std::vector<size_t> got, possible;
  state.count(replies, &got, &possible);
  std::vector<std::string> refusals = state.refusals;
  bool unanswered = false;  // a call failed without an answer: it may have been applied
  for (size_t c = 0; c < replies.size(); ++c) {
    if (!replies[c].done) {
      unanswered = true;
      continue;
    }
    if (replies[c].result) continue;
    if (replies[c].refused) {
      refusals.push_back(rpc::ToString(replies[c].peer) + ": " + replies[c].error);
    } else {
      unanswered = true;
      LOG_EVERY_T(WARNING, 1) << "replica write to " << rpc::ToString(replies[c].peer)
                              << " failed: " << replies[c].error;
    }
  }
  for (size_t i = 0; i < state.records.size(); ++i) {
    if (got[i] >= state.required) continue;
    ++counters.errors;
    const std::string about = state.what + " of key '" + state.records[i].key + "'";
    if (got[i] == 0 && !unanswered && !refusals.empty()) {
      ThrowStoreError(about + " refused by every replica (" + refusals.front() + ")");
    }
    ++counters.timed_out;
    ThrowTimedOut(about + (refusals.empty() ? "" : " (" + refusals.front() + ")"),
                  state.required, got[i]);
  }
}

}  // namespace

void ReplicaWriter::lead_async(const locator::ClusterSnapshot& snapshot,
                               std::vector<wire::Record> records, Consistency level,
                               rpc::OutcomeHandler<bool> done) {
  if (records.empty()) return done(rpc::Outcome<bool>{true, nullptr});
  auto state = std::make_shared<LeadState>();
  std::map<std::string, ReplicaShare> shares;  // by replica name, or "holder\nDEAD replica"
  std::map<std::string, std::vector<wire::Record>> for_dead;  // replica name -> its hints
  try {
    const ReplicaPlacement placement(snapshot, static_cast<size_t>(paths_.options.replicas),
                                     paths_.moving.draining());
    const size_t n = placement.effective_n();
    state->required = RequiredReplies(level, n);
    state->what = "write at " + ConsistencyName(level);
    const size_t required = state->required;

    // Every key's set first: a request that cannot succeed sends nothing.
    const bool hints_count = hints_ && paths_.options.hints_count_for_w;
    for (size_t i = 0; i < records.size(); ++i) {
      const ReplicaSet set = placement.of(records[i].key);
      const size_t alive = set.alive_count();
      std::vector<locator::wire::Location> holders;
      if (hints_count && alive > 0 && alive < set.size()) {
        holders = placement.hint_holders_of(records[i].key, set);
      }
      if (alive == 0 || alive + holders.size() < required) {
        ++paths_.counters.unavailable;
        ThrowUnavailable(state->what + " of key '" + records[i].key + "'" +
                             (hints_count ? " (" + std::to_string(holders.size()) +
                                                " live hint holders count too)"
                                          : std::string()),
                         required, alive);
      }
      if (records[i].version != 0) {
        ThrowStoreError("a replicated write to lead must be unversioned (key '" +
                        records[i].key + "')");
      }
      records[i].version = paths_.owner.clock().now();
      size_t next_holder = 0;
      for (size_t r = 0; r < set.size(); ++r) {
        if (!set.alive[r]) {
          if (next_holder < holders.size()) {  // a stand-in keeps it, and its ack counts
            const locator::wire::Location& holder = holders[next_holder++];
            ReplicaShare& share = shares[MemberName(holder) + "\n" + set.names[r]];
            share.replica = holder;
            share.hint_for = set.names[r];
            share.hint_target = set.replicas[r];
            share.records.push_back(records[i]);
            share.indexes.push_back(i);
          } else if (hints_) {
            for_dead[set.names[r]].push_back(records[i]);
          }
          continue;
        }
        ReplicaShare& share = shares[set.names[r]];
        share.replica = set.replicas[r];
        share.records.push_back(records[i]);
        share.indexes.push_back(i);
      }
    }
    for (const auto& [name, hinted] : for_dead) {
      hints_->keep(HintedHandoff::HostIdOf(snapshot, name), name, hinted);
    }
  } catch (...) {
    return done(rpc::Outcome<bool>{std::nullopt, std::current_exception()});
  }
  state->acks.assign(records.size(), 0);
  state->records = std::move(records);
  state->done = std::move(done);

  std::vector<std::pair<locator::wire::Location, StartReplicaCall<bool>>> calls;
  const ReplicaShare* local_share = nullptr;
  for (auto& [name, share] : shares) {
    if (name == self_name_) {
      local_share = &share;
      continue;
    }
    state->call_indexes.push_back(share.indexes);
    ++paths_.counters.replica_writes;
    if (!share.hint_for.empty()) {
      // A hint holder. If it cannot keep the hint, this node keeps it (it does not count):
      // reporting the failure and keeping the hint may block, so on the pool, before the
      // failure counts.
      const std::string host_id = HintedHandoff::HostIdOf(snapshot, share.hint_for);
      auto batch = std::make_shared<const std::vector<wire::Record>>(std::move(share.records));
      calls.emplace_back(share.replica, [this, life = life_.watch(), host_id,
                                         holder = share.replica, dead = share.hint_for,
                                         target = share.hint_target, batch](auto done) {
        paths_.peers.keep_hints_async(
            holder, *batch, host_id, target,
            [this, life, host_id, holder, dead, batch,
             done = std::move(done)](rpc::Outcome<bool> outcome) mutable {
              if (outcome.value) return done(std::move(outcome));
              Lifetime::Hold hold(life);
              if (!hold) return done(std::move(outcome));  // the pool may be gone
              paths_.pool.submit([this, life, host_id, holder, dead, batch, done,
                                  outcome = std::move(outcome)]() mutable {
                {
                  Lifetime::Hold still(life);
                  if (still) {
                    if (!IsRefusal(outcome.error)) paths_.cluster.report_failure(holder);
                    try {
                      hints_->keep(host_id, dead, *batch);
                    } catch (const std::exception& e) {
                      LOG_EVERY_T(WARNING, 1) << "keeping the hints for " << dead
                                              << " failed: " << e.what();
                    }
                  }
                }
                done(std::move(outcome));
              });
            });
      });
      continue;
    }
    const std::string host_id = hints_ ? HintedHandoff::HostIdOf(snapshot, name) : std::string();
    auto batch = std::make_shared<const std::vector<wire::Record>>(std::move(share.records));
    calls.emplace_back(share.replica, [this, life = life_.watch(), host_id, name = name,
                                       replica = share.replica, batch](auto done) {
      // A failure without an answer: report it and keep the hint (both may block) before the
      // failure counts.
      paths_.peers.owner_put_async(
          replica, *batch, wire::Consistency::ONE,
          AfterFailure<bool>(paths_.pool, life,
                             [this, host_id, name, replica, batch] {
                               paths_.cluster.report_failure(replica);
                               if (hints_) hints_->keep(host_id, name, *batch);
                             },
                             std::move(done)));
    });
  }
  std::function<bool()> local;
  if (local_share) {
    local = [&] {
      try {
        paths_.owner.write(snapshot, local_share->records);
        for (size_t i : local_share->indexes) ++state->acks[i];
      } catch (const wire::StoreError& e) {
        state->refusals.push_back(self_name_ + ": " + e.message);
      }
      return true;
    };
  }
  auto enough = [state](const std::vector<ReplicaReply<bool>>& replies) {
    return state->decided(replies);
  };
  auto finished = [this, life = life_.watch(), state](std::vector<ReplicaReply<bool>> replies) {
    Lifetime::Hold hold(life);
    if (!hold) return;  // the writer is gone: nobody to answer
    rpc::Outcome<bool> outcome = rpc::OutcomeOf<bool>([&] {
      ThrowIfFailed(*state, replies, paths_.counters);
      return true;
    });
    state->done(std::move(outcome));
  };
  StartQuorumCall<bool>(std::move(calls), local, std::move(enough), std::move(finished));
}

}  // namespace thrifty::diststore
