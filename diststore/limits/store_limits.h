// StoreLimits: the documented maximum sizes of what a client may send, checked before anything
// is stored. A request over a limit fails whole with a StoreError naming the limit.
#pragma once

#include <cstdint>
#include <map>
#include <exception>
#include <string>
#include <vector>

#include "diststore_types.h"

namespace thrifty::diststore {

struct StoreLimits {
  int64_t max_key_bytes = 64 * 1024;          // --max-key-bytes
  int64_t max_value_bytes = 16 * 1024 * 1024; // --max-value-bytes
  int64_t max_batch_entries = 10000;          // keys in one multi_get / multi_put
  // --max-clock-drift-ms: how far ahead of this node's clock a version written by a peer may
  // be (owner_put, handoff). Further ahead is refused: see HybridLogicalClock::check.
  int64_t max_clock_drift_ms = 60000;
};

// Each throws wire::StoreError with a message that says which limit was crossed.
void CheckKey(const StoreLimits& limits, const std::string& key);
void CheckValue(const StoreLimits& limits, const std::string& key, const std::string& value);
void CheckBatch(const StoreLimits& limits, size_t entries);

[[noreturn]] void ThrowStoreError(const std::string& message);
// The same error as an exception_ptr, for a completion handler (rpc::Outcome).
std::exception_ptr StoreErrorOf(const std::string& message);

// The limits as a node reports them in its stats (keys "max_key_bytes", "max_value_bytes",
// "max_batch_entries"), so clients can check a batch whole before splitting it per owner.
void ExportLimits(const StoreLimits& limits, std::map<std::string, int64_t>* stats);
StoreLimits ImportLimits(const std::map<std::string, int64_t>& stats);

}  // namespace thrifty::diststore
