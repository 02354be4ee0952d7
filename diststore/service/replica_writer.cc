#include "diststore/service/replica_writer.h"

#include <map>

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

void ReplicaWriter::lead(const locator::ClusterSnapshot& snapshot,
                         std::vector<wire::Record> records, Consistency level) {
  if (records.empty()) return;
  const ReplicaPlacement placement(snapshot, static_cast<size_t>(paths_.options.replicas),
                                   paths_.moving.draining());
  const size_t n = placement.effective_n();
  const size_t required = RequiredReplies(level, n);
  const std::string what = "write at " + ConsistencyName(level);

  // Every key's set first: a request that cannot succeed sends nothing.
  const bool hints_count = hints_ && paths_.options.hints_count_for_w;
  // By replica name, or (hint shares) by "holder name\nDEAD replica name".
  std::map<std::string, ReplicaShare> shares;
  std::map<std::string, std::vector<wire::Record>> for_dead;  // replica name -> its hints
  for (size_t i = 0; i < records.size(); ++i) {
    const ReplicaSet set = placement.of(records[i].key);
    const size_t alive = set.alive_count();
    std::vector<locator::wire::Location> holders;
    if (hints_count && alive > 0 && alive < set.size()) {
      holders = placement.hint_holders_of(records[i].key, set);
    }
    if (alive == 0 || alive + holders.size() < required) {
      ++paths_.counters.unavailable;
      ThrowUnavailable(what + " of key '" + records[i].key + "'" +
                           (hints_count ? " (" + std::to_string(holders.size()) +
                                              " live hint holders count too)"
                                        : std::string()),
                       required, alive);
    }
    if (records[i].version != 0) {
      ThrowStoreError("a replicated write to lead must be unversioned (key '" + records[i].key +
                      "')");
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

  std::vector<size_t> acks(records.size(), 0);
  std::vector<std::string> refusals;  // StoreError answers, in words
  std::vector<std::pair<locator::wire::Location, std::function<bool()>>> calls;
  std::vector<const ReplicaShare*> remote_shares;
  const ReplicaShare* local_share = nullptr;
  for (auto& [name, share] : shares) {
    if (name == self_name_) {
      local_share = &share;
      continue;
    }
    remote_shares.push_back(&share);
    ++paths_.counters.replica_writes;
    if (!share.hint_for.empty()) {
      // A hint holder: if it cannot keep the hint, this node keeps it (it does not count).
      const std::string host_id = HintedHandoff::HostIdOf(snapshot, share.hint_for);
      // Copies: the call may outlive this request (quorum_call.h).
      calls.emplace_back(share.replica, [peers = &paths_.peers, cluster = &paths_.cluster,
                                         hints = hints_, host_id, holder = share.replica,
                                         dead = share.hint_for, target = share.hint_target,
                                         batch = share.records] {
        try {
          peers->keep_hints(holder, batch, host_id, target);
        } catch (const wire::StoreError&) {
          hints->keep(host_id, dead, batch);
          throw;
        } catch (...) {
          cluster->report_failure(holder);
          hints->keep(host_id, dead, batch);
          throw;
        }
        return true;
      });
      continue;
    }
    const std::string host_id =
        hints_ ? HintedHandoff::HostIdOf(snapshot, name) : std::string();
    calls.emplace_back(share.replica, [peers = &paths_.peers, cluster = &paths_.cluster, hints = hints_,
                                       host_id, name = name, replica = share.replica,
                                       batch = share.records] {
      try {
        peers->owner_put(replica, batch, wire::Consistency::ONE);
      } catch (const wire::StoreError&) {
        throw;  // an answer: the replica is up
      } catch (...) {
        cluster->report_failure(replica);
        if (hints) hints->keep(host_id, name, batch);
        throw;
      }
      return true;
    });
  }
  std::function<void()> local;
  if (local_share) {
    local = [&] {
      try {
        paths_.owner.write(snapshot, local_share->records);
        for (size_t i : local_share->indexes) ++acks[i];
      } catch (const wire::StoreError& e) {
        refusals.push_back(self_name_ + ": " + e.message);
      }
    };
  }
  // Enough: every record has W acknowledgements, or one of them can no longer get them.
  auto count = [&](const std::vector<ReplicaReply<bool>>& replies, std::vector<size_t>* got,
                   std::vector<size_t>* possible) {
    *got = acks;
    *possible = acks;
    for (size_t c = 0; c < replies.size(); ++c) {
      const bool ok = replies[c].done && replies[c].result;
      const bool open = !replies[c].done;
      for (size_t i : remote_shares[c]->indexes) {
        if (ok) ++(*got)[i];
        if (ok || open) ++(*possible)[i];
      }
    }
  };
  auto enough = [&](const std::vector<ReplicaReply<bool>>& replies) {
    std::vector<size_t> got, possible;
    count(replies, &got, &possible);
    bool all = true;
    for (size_t i = 0; i < got.size(); ++i) {
      if (possible[i] < required) return true;  // decided: it fails
      if (got[i] < required) all = false;
    }
    return all;
  };
  for (const auto& [name, hinted] : for_dead) {
    hints_->keep(HintedHandoff::HostIdOf(snapshot, name), name, hinted);
  }
  auto replies = QuorumCall<bool>(paths_.pool, std::move(calls), local, enough);

  std::vector<size_t> got, possible;
  count(replies, &got, &possible);
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
  for (size_t i = 0; i < records.size(); ++i) {
    if (got[i] >= required) continue;
    ++paths_.counters.errors;
    const std::string about = what + " of key '" + records[i].key + "'";
    if (got[i] == 0 && !unanswered && !refusals.empty()) {
      ThrowStoreError(about + " refused by every replica (" + refusals.front() + ")");
    }
    ++paths_.counters.timed_out;
    ThrowTimedOut(about + (refusals.empty() ? "" : " (" + refusals.front() + ")"), required,
                  got[i]);
  }
}

}  // namespace thrifty::diststore
