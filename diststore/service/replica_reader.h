// ReplicaReader: a read when each key has several replicas (--replicas > 1).
//
// The coordinator asks R live replicas of each key first (batched per replica; this node
// first when it is one, from its engine; then the others in ring order) and answers once R of
// them replied for every key: the newest record wins. The other live replicas are asked only
// when one of those fails, this node's share cannot answer, or no decision came within
// ReplicationOptions::speculative_retry_ms (a speculative retry; 0 asks every live replica at
// once, as ALL always does). While keys move after a ring change, the replicas a key had before the change that
// are no longer in its set are asked too (their copy counts for the newest, not toward R).
// Read repair: the replicas that answered with an older copy, or none, are sent the newest
// before the read answers (at QUORUM and ALL; in the background at ONE), so a value once read
// is read again by every later quorum read (monotonic reads). A replica that is rebuilding
// (it started with a new host ID: OwnerStore::set_rebuilding) counts like one that did not
// answer: it refuses owner_get, and this node's own share is skipped while it rebuilds.
// The calls are asynchronous (PeerClient's *_async forms); reporting a failed call and this
// node's share of a read repair may block and run on `paths.pool`. Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "diststore/service/lifetime.h"
#include "diststore/service/quorum_call.h"
#include "diststore/service/replica_paths.h"
#include "diststore/service/replication.h"
#include "diststore/storage/record.h"

namespace thrifty::diststore {

class ReplicaReader {
 public:
  using Found = std::vector<std::optional<storage::Record>>;

  explicit ReplicaReader(ReplicaPaths paths);
  // Outcomes of calls still in flight are dropped from here on (their `done` does not run).
  ~ReplicaReader();

  // Starts the read of `keys` at `level` (resolved) on `snapshot`: reads this node's share and
  // starts the calls on this thread, then returns. `done` runs exactly once: with the newest
  // record of each key among R replies (tombstones included; nullopt: no replica that answered
  // has it), after the read repair at QUORUM and ALL; or with wire::Unavailable (fewer live
  // replicas than R: nothing asked) or wire::StoreError (fewer than R answered). It runs on
  // this thread, a peer channel's loop or `paths.pool`, and must not block. `snapshot` is not
  // used after return.
  void read_async(const locator::ClusterSnapshot& snapshot, const std::vector<std::string>& keys,
                  Consistency level, rpc::OutcomeHandler<Found> done);
  // The same, waiting: returns what `done` gets, or throws it.
  Found read(const locator::ClusterSnapshot& snapshot, const std::vector<std::string>& keys,
             Consistency level);

 private:
  struct Request;
  // After the quorum: the outcome, then the read repair (waited for at QUORUM and ALL).
  void finish(const std::shared_ptr<Request>& request,
              const std::vector<ReplicaReply<std::vector<wire::Record>>>& replies);
  void repair(const std::shared_ptr<Request>& request);

  ReplicaPaths paths_;
  const std::string self_name_;
  Lifetime life_;  // last: ends first
};

}  // namespace thrifty::diststore
