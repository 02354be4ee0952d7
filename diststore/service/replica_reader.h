// ReplicaReader: a read when each key has several replicas (--replicas > 1).
//
// The coordinator asks every live replica of each key at once (batched per replica, its own
// share from its engine) and answers once R of them replied for every key: the newest record
// wins. While keys move after a ring change, the replicas a key had before the change that
// are no longer in its set are asked too (their copy counts for the newest, not toward R).
// Read repair: the replicas that answered with an older copy, or none, are sent the newest
// before the read answers (at QUORUM and ALL; in the background at ONE), so a value once read
// is read again by every later quorum read (monotonic reads). Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "diststore/service/cluster_view.h"
#include "diststore/service/moving_keys.h"
#include "diststore/service/owner_store.h"
#include "diststore/service/peer_client.h"
#include "diststore/service/replication.h"
#include "diststore/service/store_counters.h"
#include "diststore/storage/record.h"
#include "locator/rpc/fan_out.h"

namespace thrifty::diststore {

class ReplicaReader {
 public:
  // Every reference must outlive this object; `pool` is joined before `peers` and `cluster`
  // go (its calls may outlive a request).
  ReplicaReader(ClusterView& cluster, OwnerStore& owner, PeerClient& peers, MovingKeys& moving,
                rpc::FanOut& pool, const ReplicationOptions& options, StoreCounters& counters);

  // The newest record of each key among R replies (tombstones included; nullopt: no replica
  // that answered has it). Throws wire::Unavailable (fewer live replicas than R: nothing
  // asked) or wire::StoreError (fewer than R answered).
  std::vector<std::optional<storage::Record>> read(const locator::ClusterSnapshot& snapshot,
                                                   const std::vector<std::string>& keys,
                                                   Consistency level);

 private:
  ClusterView& cluster_;
  OwnerStore& owner_;
  PeerClient& peers_;
  MovingKeys& moving_;
  rpc::FanOut& pool_;
  const ReplicationOptions& options_;
  StoreCounters& counters_;
  const std::string self_name_;
};

}  // namespace thrifty::diststore
