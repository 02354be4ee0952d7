// The tombstone GC rule: when a delete's tombstone may be purged without the delete coming back.
//
// A tombstone must outlive every older copy of its key anywhere, or that copy would be read,
// repaired or handed back as if the key had never been deleted (a "zombie"). So:
// - with replicas (a range of more than one node), a tombstone is purged only when it is older
//   than --gc-grace-s AND older than the start of this node's last repair of its range in which
//   every other replica was compared, every difference was moved and this node took nothing
//   new from a peer (then every replica holds this tombstone, or a newer record, since that
//   repair: "agreed"). A range that was never agreed since this node started (or since the
//   ring last changed) purges nothing. A replica down longer than --gc-grace-s keeps its range
//   from agreeing, so nothing is purged while it is away; if it comes back after the others
//   purged (it was removed from the ring and rejoined with old data), it must be wiped first,
//   as in Cassandra;
// - with one copy (--replicas 1, or a range of one node) a tombstone is purged once it is
//   older than --gc-grace-s: there is no other replica to agree with.
// Hints and handoffs of records older than --gc-grace-s are dropped with replicas (the
// tombstone that supersedes such a record may be purged already); see anti_entropy.h.
// Pure functions; times are milliseconds since the Unix epoch (a version's physical part).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace thrifty::diststore {

// The time before which tombstones of a range may be purged, or std::nullopt when none may:
// now - gc_grace with one replica; min(now - gc_grace, agreed) with more, nullopt if never
// agreed.
std::optional<int64_t> PurgeBeforeMs(int64_t now_ms, int64_t gc_grace_ms, size_t replicas_in_range,
                                     std::optional<int64_t> agreed_ms);

// True if a record of version `version` (a hybrid-logical-clock timestamp) is a tombstone that
// may be purged under `purge_before_ms`.
bool Purgeable(bool tombstone, int64_t version, std::optional<int64_t> purge_before_ms);

// True if a record stamped at `version` is older than gc-grace at `now_ms` (a hint or a handoff
// carrying it is dropped with replicas).
bool OlderThanGrace(int64_t version, int64_t now_ms, int64_t gc_grace_ms);

}  // namespace thrifty::diststore
