// The diststore contract: a key-value store on the locator. Any node accepts any request and
// forwards it to the key's owner (at most one hop).
//
// Keys are strings (UTF-8 or not; compared as bytes), values binary. Limits: see README.

include "locator.thrift"

namespace cpp thrifty.diststore.wire

// The key has no value (never written, or erased).
exception NotFound {
  1: string key,
}

// The request was refused or could not be served; `message` says why (a limit, an
// unreachable owner, ...). Nothing was changed unless the message says so.
exception StoreError {
  1: string message,
}

// How many replicas must answer a request (see README, "Replication"). N is the cluster's
// replication factor (--replicas), capped by the ring's size. With R + W > N a read sees every
// write acknowledged before it began. DEFAULT: the node's --read-consistency or
// --write-consistency.
enum Consistency {
  DEFAULT = 0,
  ONE = 1,
  QUORUM = 2,  // N / 2 + 1
  ALL = 3,
}

// Fewer live replicas than the consistency level requires: refused at once, nothing written.
exception Unavailable {
  1: string message,
  2: i32 replicas_required,
  3: i32 replicas_alive,
}

// The write reached at least one replica but fewer than it required before the deadline (or
// those replicas failed): it may or may not survive, and may be read later. Retrying it is
// safe (the newer version wins).
exception TimedOut {
  1: string message,
  2: i32 replicas_required,
  3: i32 replicas_acknowledged,  // by the time the write answered
}

struct Entry {
  1: string key,
  2: binary value,
}

// A stored version of a key. `version` is a hybrid logical clock timestamp; a tombstone
// records an erase. The higher version wins everywhere (last writer wins).
struct Record {
  1: string key,
  2: binary value,
  3: i64 version,
  4: bool tombstone,
}

struct HandoffAck {
  // Records that were newer than the receiver's copy and were written.
  1: i64 applied,
  // Records the receiver already had at this version or newer.
  2: i64 skipped,
}

// ---- Anti-entropy (see docs/ARCHITECTURE.md, "Anti-entropy and tombstone GC") ----
// A range is the set of keys whose replica set is one set of nodes (on the ring that keeps DEAD
// members); its id hashes the set's sorted "host:port" names. Each replica keeps a hash tree of
// its records per range: 4 levels of fan-out 16 (1, 16, 256 and 4096 leaves), every node the
// XOR of hash(key, version, tombstone) of the records below it. A key's leaf is the top 12 bits
// of its XXH3 hash. `ring_fingerprint` names the ring the trees were built on: trees of two
// rings are not compared (0: this node's trees are being built).

struct RangeRoot {
  1: i64 range_id,
  2: list<locator.Location> replicas,  // the set, sorted by "host:port"
  3: i64 root_hash,
}

struct RangeRoots {
  1: i64 ring_fingerprint,
  2: list<RangeRoot> ranges,
}

struct LeafRef {
  1: i64 range_id,
  2: i32 leaf,  // 0..4095
}

// One record as a tree hashes it (no value).
struct LeafEntry {
  1: string key,
  2: i64 version,
  3: bool tombstone,
}

// Entries of the asked leaves in key order, after `after_key`; `more`: the answer stopped at a
// size limit and the next page starts after the last entry's key.
struct LeafPage {
  1: list<LeafEntry> entries,
  2: bool more,
}

// What one repair run did (storectl repair).
struct RepairReport {
  1: string node,              // "host:port" of the node that ran it
  2: i64 ranges_compared,      // ranges this node holds or a peer reported, compared with peers
  3: i64 ranges_differing,     // of those, ranges where some replica differed
  4: i64 keys_moved,           // records sent to or taken from a replica that lacked them
  5: i64 hashes_exchanged,     // tree hashes received from peers (roots included)
  6: i64 peers_skipped,        // replicas not compared (unreachable, or trees of another ring)
  7: i64 tombstones_purged,    // by the tombstone GC pass that follows the repair
  8: double seconds,
}

service Store extends locator.Locator {
  // `consistency` is a Consistency value, optional: a client that does not send it gets the
  // node's default. (An i32 on the wire exactly as an enum is; typed as i32 so that a value
  // this node does not know is refused with a StoreError instead of becoming an enum value
  // the C++ server cannot hold.)
  binary get(1: string key, 2: i32 consistency)
      throws (1: NotFound missing, 2: StoreError error, 3: Unavailable unavailable),
  void put(1: string key, 2: binary value, 3: i32 consistency)
      throws (1: StoreError error, 2: Unavailable unavailable, 3: TimedOut timed_out),
  // Erasing a key that does not exist is not an error.
  void erase(1: string key, 2: i32 consistency)
      throws (1: StoreError error, 2: Unavailable unavailable, 3: TimedOut timed_out),
  // Values of the keys that exist; absent keys are left out of the map.
  map<string, binary> multi_get(1: list<string> keys, 2: i32 consistency)
      throws (1: StoreError error, 2: Unavailable unavailable),
  void multi_put(1: list<Entry> entries, 2: i32 consistency)
      throws (1: StoreError error, 2: Unavailable unavailable, 3: TimedOut timed_out),

  // ---- Node to node. Never forwarded again. Served only on a connection that proved the
  // cluster key (Base.auth_begin/auth_finish); otherwise `denied`. ----

  // Records this node holds for `keys` (tombstones included). With `fallback`, a key this
  // node lacks is looked up on its previous owner while data is moving. With replicas,
  // `fallback` false is a replica read: refused (StoreError) while this node rebuilds its
  // ranges after a new host ID; `fallback` true reads the same records (anti-entropy pulls).
  list<Record> owner_get(1: list<string> keys, 2: bool fallback)
      throws (1: StoreError error, 2: locator.Unauthorized denied),

  // Writes on the owner: a record with version 0 is stamped here; others are merged (newer wins).
  // A version beyond the hybrid logical clock's range, or more than --max-clock-drift-ms ahead
  // of this node's clock, is refused (StoreError) and nothing of the batch is written.
  // With replication (--replicas > 1) records of version 0 are led here: stamped, sent to
  // every live replica, and acknowledged once `consistency` of them stored them; versioned
  // records are one replica's copy.
  void owner_put(1: list<Record> records, 2: i32 consistency)
      throws (1: StoreError error, 2: locator.Unauthorized denied, 3: Unavailable unavailable,
              4: TimedOut timed_out),

  // One batch of a key handoff (join, leave, hints): merged, newer wins. With --replicas > 1,
  // records older than --gc-grace-s are dropped (counted), so that a delete whose tombstone
  // was purged cannot come back from a late handoff.
  HandoffAck handoff(1: list<Record> records, 2: locator.Location sender)
      throws (1: StoreError error, 2: locator.Unauthorized denied),

  // A replicated write's copy for `target`, a replica the leader's view holds DEAD, kept here as
  // a hint because this node is the key's next live non-replica (--hints-count-for-w: Dynamo's
  // sloppy quorum). The records (versioned) are stored durably for the member with host ID
  // `target_host_id` and handed to it (`handoff`) once it is ALIVE again. Refused (StoreError,
  // nothing kept) when this node keeps no hints (--strict-quorum, --replicas 1), for a
  // record without a version, or for a version out of bounds (as owner_put).
  void keep_hints(1: list<Record> records, 2: string target_host_id, 3: locator.Location target)
      throws (1: StoreError error, 2: locator.Unauthorized denied),

  // Anti-entropy, node to node. `ring_fingerprint`: the asker's; a call whose fingerprint is
  // not this node's is refused with a StoreError (the two views differ; try later).
  // The roots of this node's ranges whose replica set holds `asker`.
  RangeRoots repair_roots(1: locator.Location asker, 2: i64 ring_fingerprint)
      throws (1: StoreError error, 2: locator.Unauthorized denied),
  // The hashes of nodes `indexes` at `level` (0..3) of range `range_id`'s tree (0 for a range
  // this node holds nothing of). At most 4096 indexes.
  list<i64> repair_tree(1: i64 range_id, 2: i32 level, 3: list<i32> indexes,
                        4: i64 ring_fingerprint)
      throws (1: StoreError error, 2: locator.Unauthorized denied),
  // The records of the given leaves (at most 65536 refs), keys after `after_key`; one page
  // holds at most 10000 entries or 4 MiB of keys.
  LeafPage repair_leaves(1: list<LeafRef> leaves, 2: string after_key, 3: i64 ring_fingerprint)
      throws (1: StoreError error, 2: locator.Unauthorized denied),

  // ---- Operator ----
  // Runs anti-entropy now for every range this node holds (compare with each other replica,
  // move the differing records, newest wins), then the tombstone GC pass; answers when done.
  // One run at a time per node: a call during a run waits for it and runs again. Any client may
  // ask (it changes nothing replicas do not already agree should be there).
  RepairReport repair() throws (1: StoreError error),

  // Forgets the DEAD member at `node` for good (storectl removenode; Cassandra's removenode):
  // it is marked LEFT here and on every ring member, leaves every ring, and its ranges move
  // to the next nodes, which take them from the remaining replicas (handoff). Refused
  // (StoreError, nothing changed) for a member that is not DEAD in this node's view (a live
  // node leaves cleanly by itself), for this node, and for an unknown address. Node-to-node:
  // a connection that proved the cluster key (it changes who is a member). Answers the
  // members told.
  i32 remove_node(1: locator.Location node)
      throws (1: StoreError error, 2: locator.Unauthorized denied),
  // Lets this node's rebuild finish with the live replicas it has (storectl finish-rebuild):
  // a range counts once every live other replica is level, DEAD ones left out. The risk: a
  // write acknowledged by QUORUM whose other copies are only on the DEAD replicas is missing
  // here, and a QUORUM read may miss it. Answers false if no rebuild was running.
  // Node-to-node, like remove_node.
  bool finish_rebuild() throws (1: StoreError error, 2: locator.Unauthorized denied),
}
