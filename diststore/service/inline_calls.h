// InlineCalls: which Store requests a node's event loops may run themselves
// (rpc::ServerOptions::runs_inline) instead of handing them to a call worker: the ones that
// finish on this node, without a peer call and without an fsync, as far as the request and the
// current ClusterSnapshot tell before the call runs. Saving the hand-off matters most for a
// client on one connection (two thread wake-ups per request) and for the replica writes and
// reads every replicated request sends to its replicas.
//
// Runs inline:
//  - ping;
//  - with --replicas > 1: owner_get (a replica read: this node's engine, nothing else) and,
//    without --sync, owner_put whose records are all versioned (a replica's own copies, not
//    writes to lead) of keys this node is a replica of in its view (a record it is not a
//    replica of would be handed on to its replicas);
//  - on a node that is the whole cluster (its ring, with DEAD members and before the last
//    change, holds only this node; not draining; no keys in flight): the key operations (the
//    writes without --sync).
// Everything else, and anything that does not parse, runs on a worker (which refuses what is
// malformed). A ring change between this decision and the call can still make an inline call
// ask a peer; it is then bounded by the peer-call deadline like any call.
//
// Thread-safe: called on the event-loop threads.
#pragma once

#include <string>

#include "diststore/service/cluster_view.h"
#include "diststore/service/moving_keys.h"
#include "diststore/service/replication.h"
#include "locator/rpc/limits.h"

namespace thrifty::diststore {

class InlineCalls {
 public:
  // Every reference must outlive this object. `sync`: the engine fsyncs every write.
  InlineCalls(ClusterView& cluster, const MovingKeys& moving,
              const ReplicationOptions& replication, const rpc::RpcLimits& limits, bool sync);

  // `frame`: a complete request (payload, no length header).
  bool runs_inline(const std::string& frame) const;

 private:
  bool whole_cluster_is_self() const;
  bool replica_copies_here(const std::string& frame) const;

  ClusterView& cluster_;
  const MovingKeys& moving_;
  const ReplicationOptions& replication_;
  const rpc::RpcLimits limits_;
  const bool sync_;
};

}  // namespace thrifty::diststore
