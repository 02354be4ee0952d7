// Replication: how many copies of a key the cluster keeps, and how many of them a request
// waits for.
//
// Each key lives on N nodes (--replicas N, cluster-wide: a join with another N is refused,
// see ReplicationMismatch), the first N distinct nodes of its preference list (ReplicaSet).
// A request names a consistency level per call (the Consistency enum of diststore.thrift) or
// takes the node's default (--read-consistency, --write-consistency): ONE, QUORUM (N / 2 + 1)
// or ALL replies out of N, where N is capped by the number of nodes in the ring. With R + W > N
// a read sees every write acknowledged before it began; concurrent writes to one key keep the
// higher version (last writer wins, versions from hybrid logical clocks).
//
// N = 1 is the single-copy store: one owner per key, no quorum (the levels all mean one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "Store.h"

namespace thrifty::diststore {

using Consistency = wire::Consistency::type;

struct ReplicationOptions {
  int replicas = 3;                                 // --replicas: copies of each key (1..7)
  Consistency read = wire::Consistency::QUORUM;     // --read-consistency
  Consistency write = wire::Consistency::QUORUM;    // --write-consistency
  // Write the newest version to replicas a quorum read found stale before answering (ONE
  // reads repair in the background).
  bool read_repair = true;
  // --speculative-retry-ms: a ONE or QUORUM read asks R replicas first and the other live
  // replicas only if one of those fails or the read is not decided within this many ms (a
  // replica call answers in well under 1 ms on a LAN; 20 ms is far beyond a healthy p99 and
  // catches a stalled or dead peer long before its call deadline). 0: ask every live replica
  // at once, as ALL does.
  int speculative_retry_ms = 20;
  // --hints-count-for-w (off): a write's hint for a DEAD replica, stored durably on a live node
  // that is not a replica (ReplicaPlacement::hint_holders_of), counts toward W, as in Dynamo's
  // sloppy quorum. Off by default: a hint is not seen by reads until it is replayed, so with
  // it R + W > N no longer promises that a read sees every acknowledged write.
  bool hints_count_for_w = false;
  // Anti-entropy (anti_entropy.h): how often every range is compared with its other replicas
  // (--anti-entropy-interval-s; 0: only when asked, storectl repair).
  int64_t anti_entropy_interval_ms = 600LL * 1000;
  // --gc-grace-s: a tombstone younger than this is never purged, and with replicas a hint or a
  // handoff carrying a record older than this is dropped (tombstone_gc.h).
  int64_t gc_grace_ms = 864000LL * 1000;

  // Empty when usable, else what is wrong, naming the flag.
  std::string validate() const;
};

// Replies a request at `level` waits for out of `n` replicas (n >= 1): ONE 1, QUORUM n/2+1,
// ALL n. DEFAULT must have been resolved first (Resolve).
size_t RequiredReplies(Consistency level, size_t n);

// `level`, or `fallback` when level is DEFAULT.
Consistency Resolve(Consistency level, Consistency fallback);

// The level a request sent (the i32 of the Store contract). Throws wire::StoreError for a
// value that is not a Consistency.
Consistency LevelFromWire(int32_t value);

// "one", "quorum", "all", "default".
std::string ConsistencyName(Consistency level);
// Parses a flag value ("one", "quorum", "all"; any case). Throws std::invalid_argument.
Consistency ParseConsistency(const std::string& text);

// The member metadata key every store node carries its replication factor in.
constexpr char kReplicasKey[] = "replicas";

// Empty when `joiner` may join a cluster of `members` as far as the replication factor goes;
// otherwise why not, naming both nodes and both factors. Only ALIVE and SUSPECT members that
// say their factor count.
std::string ReplicationMismatch(const locator::wire::Location& location, const locator::wire::JoinInfo& joiner,
                                const std::vector<locator::wire::Member>& members);

// The exceptions of the Store contract for the cases above, with a message a person can act on.
[[noreturn]] void ThrowUnavailable(const std::string& what, size_t required, size_t alive);
[[noreturn]] void ThrowTimedOut(const std::string& what, size_t required, size_t acknowledged);

}  // namespace thrifty::diststore
