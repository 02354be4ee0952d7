// The per-key baseline of the handoff benchmark, and the ownership count it needs.
//
// thrifty-p2p moved keys to a joining node with one RPC per key. The baseline does the same
// with today's RPC stack (one pooled connection, one `put` per key), so the handoff's batched
// streaming can be compared with it on the same machine in the same run.
#pragma once

#include <cstdint>
#include <string>

#include "tools/bench/targets.h"

namespace thrifty::bench {

// How many keys of the keyspace [0, keyspace) `node` owns in the ring of the cluster
// `target.entry` belongs to; with `replicas` > 1, how many keys' replica sets (of that many
// nodes, replica_set.h) hold it. A node not yet in the view is added to it (weight 1), so the
// count can be taken before that node joins.
uint64_t CountOwned(const ThriftTarget& target, const locator::wire::Location& node,
                    uint64_t keyspace, int replicas = 1);

struct CopyResult {
  uint64_t owned = 0;      // keys of the keyspace that `node` owns
  uint64_t found = 0;      // of those, keys `node` holds itself (owner_get, no fallback)
  double read_seconds = 0;
  uint64_t written = 0;    // keys written back with one put each
  double seconds = 0;      // time of the puts alone
};

// Reads the keys `node` owns from `node` itself in batches (owner_get without fallback: what
// the handoff delivered), then writes each of them to `node` with one `put` RPC, one after
// the other on one connection. Throws FatalError.
CopyResult PerKeyCopy(const ThriftTarget& target, const locator::wire::Location& node,
                      uint64_t keyspace);

}  // namespace thrifty::bench
