// RebuildKind: how a store node that starts takes the data of its ranges, told apart by what
// the cluster knew of its address when it joined (as Cassandra tells a replacement from a
// bootstrap).
// - kNone: it kept its host ID (a restart on its data: keys written meanwhile come back by
//   hints, handoff and repair), it runs with one copy per key, or it is alone.
// - kWipedReturn: a new host ID at an address the cluster's member table still holds with
//   another host ID, in any state but LEFT (a wiped data dir, a --memory restart, a new
//   machine at a dead node's address): the old node's acknowledgements were counted, so it
//   must rebuild before it counts toward R.
// - kFirstJoin: a new host ID at an address the cluster never had, or one whose node left
//   cleanly (its keys were handed on): it never acknowledged a write; its ranges come from
//   their previous replicas.
// See AntiEntropy for what each kind waits for.
#pragma once

#include <optional>
#include <string>

#include "Locator.h"

namespace thrifty::diststore {

enum class RebuildKind {
  kNone = 0,
  kFirstJoin = 1,
  kWipedReturn = 2,
};

// "none", "first join", "wiped return".
const char* RebuildKindName(RebuildKind kind);

// The kind of a node with host ID `host_id`, `new_host_id` when it was made at this start,
// that joined a cluster of other nodes (`joined`) whose member table had `before_join` for
// its address (nullopt: none). `replicated`: --replicas > 1.
RebuildKind RebuildKindOf(bool replicated, bool joined, bool new_host_id,
                          const std::string& host_id,
                          const std::optional<locator::wire::Member>& before_join);

}  // namespace thrifty::diststore
