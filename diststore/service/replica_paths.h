// ReplicaPaths: what the replicated read and write paths (ReplicaReader, ReplicaWriter) work
// with, in one place.
#pragma once

#include "diststore/service/cluster_view.h"
#include "diststore/service/moving_keys.h"
#include "diststore/service/owner_store.h"
#include "diststore/service/peer_client.h"
#include "diststore/service/replication.h"
#include "diststore/service/store_counters.h"
#include "locator/rpc/fan_out.h"

namespace thrifty::diststore {

// Every reference must outlive the objects given it. `pool` runs the calls to replicas; it
// must be joined before `peers` and `cluster` go (its calls may outlive a request), and its
// tasks never wait for other tasks.
struct ReplicaPaths {
  ClusterView& cluster;
  OwnerStore& owner;
  PeerClient& peers;
  MovingKeys& moving;
  rpc::FanOut& pool;
  const ReplicationOptions& options;
  StoreCounters& counters;
};

}  // namespace thrifty::diststore
