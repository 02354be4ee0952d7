#include "diststore/service/tombstone_gc.h"

#include <algorithm>

#include "diststore/storage/hlc.h"

namespace thrifty::diststore {

std::optional<int64_t> PurgeBeforeMs(int64_t now_ms, int64_t gc_grace_ms, size_t replicas_in_range,
                                     std::optional<int64_t> agreed_ms) {
  const int64_t grace_cutoff = now_ms - gc_grace_ms;
  if (replicas_in_range <= 1) return grace_cutoff;
  if (!agreed_ms) return std::nullopt;
  return std::min(grace_cutoff, *agreed_ms);
}

bool Purgeable(bool tombstone, int64_t version, std::optional<int64_t> purge_before_ms) {
  return tombstone && purge_before_ms &&
         storage::HybridLogicalClock::physical_ms(version) < *purge_before_ms;
}

bool OlderThanGrace(int64_t version, int64_t now_ms, int64_t gc_grace_ms) {
  return storage::HybridLogicalClock::physical_ms(version) < now_ms - gc_grace_ms;
}

}  // namespace thrifty::diststore
