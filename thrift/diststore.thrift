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
  // node lacks is looked up on its previous owner while data is moving.
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

  // One batch of a key handoff (join, leave, repair): merged, newer wins.
  HandoffAck handoff(1: list<Record> records, 2: locator.Location sender)
      throws (1: StoreError error, 2: locator.Unauthorized denied),
}
