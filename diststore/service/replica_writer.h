// ReplicaWriter: the leader's side of a replicated write (--replicas > 1).
//
// A client's write goes to the first live replica of each key (its leader), which stamps it
// with its hybrid logical clock (so one node orders a key's writes while it stays up), stores
// it, sends the stamped record to every other live replica at once, and acknowledges once W
// replicas (itself included) stored it. The replicas that answer later still store it; a
// replica that is DEAD in the leader's view is not waited on; it gets a hint instead
// (HintedHandoff), as does one whose call failed. The leader keeps those hints itself, and
// they do not count toward W. With --hints-count-for-w (ReplicationOptions::hints_count_for_w)
// the write for each DEAD replica goes instead to one of the key's live non-replicas
// (ReplicaPlacement::hint_holders_of) with keep_hints, and that holder's acknowledgement (the
// hint is stored durably there) counts toward W like a replica's; a holder that fails leaves
// the hint with the leader. At least one real replica must be alive (it leads the write).
//
// Failures say what is known: fewer live replicas (with the flag: live replicas plus hint
// holders) than W, or no live replica at all, is Unavailable (nothing sent); fewer
// than W acknowledgements with at least one, or a call that failed without an answer, is
// TimedOut (the write may survive); only when every replica refused it (StoreError answers)
// is it a StoreError (nothing written). Thread-safe.
//
// The calls to replicas are asynchronous (PeerClient::owner_put_async): no thread waits for
// one, nor for a hint holder's keep_hints. What may block after a call failed (reporting the
// failure, keeping the hint in the HintStore) runs on `paths.pool`; a failed call counts
// toward the outcome only after its hint is kept.
#pragma once

#include <string>
#include <vector>

#include "Store.h"
#include "diststore/service/hinted_handoff.h"
#include "diststore/service/lifetime.h"
#include "diststore/service/replica_paths.h"
#include "diststore/service/replication.h"

namespace thrifty::diststore {

class ReplicaWriter {
 public:
  // `hints` (may be null: none kept) keeps the write for each replica that is DEAD or whose
  // call failed.
  explicit ReplicaWriter(ReplicaPaths paths, HintedHandoff* hints = nullptr);
  // Outcomes of calls still in flight are dropped from here on (their `done` does not run).
  ~ReplicaWriter();

  // Leads `records` (each of version 0, stamped here) at `level` (resolved, not DEFAULT) on
  // `snapshot`: stamps them, keeps the hints of DEAD replicas, writes this node's share and
  // starts the calls to the other replicas on this thread, then returns. `done` runs exactly
  // once: with true once every record is stored on W of its replicas, or with
  // wire::Unavailable, wire::TimedOut or wire::StoreError as above; on this thread, a peer
  // channel's loop or `paths.pool` (it must not block). `snapshot` is not used after return.
  void lead_async(const locator::ClusterSnapshot& snapshot, std::vector<wire::Record> records,
                  Consistency level, rpc::OutcomeHandler<bool> done);
  // The same, waiting: returns once done, throws what `done` would get.
  void lead(const locator::ClusterSnapshot& snapshot, std::vector<wire::Record> records,
            Consistency level);

 private:
  ReplicaPaths paths_;
  HintedHandoff* hints_;
  const std::string self_name_;
  Lifetime life_;  // last: ends first
};

}  // namespace thrifty::diststore
