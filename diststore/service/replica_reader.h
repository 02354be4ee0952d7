// ReplicaReader: a read when each key has several replicas (--replicas > 1).
//
// The coordinator asks every live replica of each key at once (batched per replica, its own
// share from its engine) and answers once R of them replied for every key: the newest record
// wins. While keys move after a ring change, the replicas a key had before the change that
// are no longer in its set are asked too (their copy counts for the newest, not toward R).
// Read repair: the replicas that answered with an older copy, or none, are sent the newest
// before the read answers (at QUORUM and ALL; in the background at ONE), so a value once read
// is read again by every later quorum read (monotonic reads). A replica that is rebuilding
// (it started with a new host ID: OwnerStore::set_rebuilding) counts like one that did not
// answer: it refuses owner_get, and this node's own share is skipped while it rebuilds.
// Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "diststore/service/replica_paths.h"
#include "diststore/service/replication.h"
#include "diststore/storage/record.h"

namespace thrifty::diststore {

class ReplicaReader {
 public:
  explicit ReplicaReader(ReplicaPaths paths);

  // The newest record of each key among R replies (tombstones included; nullopt: no replica
  // that answered has it). Throws wire::Unavailable (fewer live replicas than R: nothing
  // asked) or wire::StoreError (fewer than R answered).
  std::vector<std::optional<storage::Record>> read(const locator::ClusterSnapshot& snapshot,
                                                   const std::vector<std::string>& keys,
                                                   Consistency level);

 private:
  ReplicaPaths paths_;
  const std::string self_name_;
};

}  // namespace thrifty::diststore
