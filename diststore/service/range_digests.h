// RangeDigests: this node's anti-entropy hash trees, one DigestTree per range, kept up to date
// on every write, delete, handoff and repair (it is the engine's ChangeObserver).
//
// A range is the set of keys whose replica set (ReplicaPlacement on the ring that keeps DEAD
// members) is one set of nodes, whatever their order: with N = 3 on 5 nodes at most 10 ranges,
// each held by its 3 nodes. Its id is the XXH3 hash of the set's sorted "host:port" names, the
// same on every node that sees the same ring. The trees live in memory and follow one ring:
// rebuild() (at start and after each ring change) takes a cut of the engine's writes
// (Engine::scan_at_cut), installs empty trees for the new ring at the cut and hashes the scanned
// records into them while later writes go on updating them, so no write is lost or counted
// twice. Until the scan ends the trees are not ready(). fingerprint() names the ring (its nodes,
// their weights and zones, the placement and N): trees of two fingerprints are never compared.
//
// Thread-safe: on_change from any writing thread; the queries from RPC threads; rebuild from
// one thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "diststore/service/replica_set.h"
#include "diststore/storage/change_observer.h"
#include "diststore/storage/digest_tree.h"
#include "diststore/storage/engine.h"
#include "locator/service/cluster_snapshot.h"

namespace thrifty::diststore {

// Where a key falls: its range and leaf, and its replica set by name.
struct KeyRange {
  uint64_t range_id = 0;
  int leaf = 0;
  std::vector<std::string> names;  // the set, sorted
};

// One range as a peer is told of it.
struct RangeSummary {
  uint64_t range_id = 0;
  std::vector<std::string> names;               // sorted
  std::vector<locator::wire::Location> replicas;  // parallel to names
  storage::DigestTree tree;
};

// The fingerprint of the ring `snapshot` places `replicas` copies on (the ring with DEAD
// members: its nodes and weights, the placement and N; never 0). The same on every node that
// sees the same ring.
uint64_t ReplicaRingFingerprint(const locator::ClusterSnapshot& snapshot, size_t replicas);

// The id of the range of the replica set `sorted_names`.
uint64_t RangeIdOf(const std::vector<std::string>& sorted_names);

class RangeDigests : public storage::ChangeObserver {
 public:
  // Registers itself as `engine`'s observer; `replicas`: N (ReplicationOptions::replicas).
  RangeDigests(storage::Engine& engine, size_t replicas);
  ~RangeDigests() override;  // unregisters
  RangeDigests(const RangeDigests&) = delete;
  RangeDigests& operator=(const RangeDigests&) = delete;

  // The fingerprint of the ring `snapshot` places replicas on (never 0).
  uint64_t FingerprintOf(const locator::ClusterSnapshot& snapshot) const;

  // Builds the trees for `snapshot`'s ring from the engine (see above). Throws StorageError.
  void rebuild(std::shared_ptr<const locator::ClusterSnapshot> snapshot);

  // The fingerprint of the ring the trees follow when they are built, else 0.
  uint64_t ready_fingerprint() const;

  // The key's range on the trees' ring; std::nullopt before the first rebuild.
  std::optional<KeyRange> range_of(const std::string& key) const;

  // Every range (with records) whose set holds `name`, with a copy of its tree.
  std::vector<RangeSummary> ranges_with(const std::string& name) const;
  // A copy of one range's tree (empty: no record of it here).
  storage::DigestTree tree(uint64_t range_id) const;

  void on_change(std::string_view key, const std::optional<storage::RecordView>& before,
                 const std::optional<storage::RecordView>& after) override;

  // digest_rebuilds (counter), digest_ranges (gauge: ranges with a tree).
  std::map<std::string, int64_t> stats() const;

 private:
  struct Range {
    std::vector<std::string> names;
    std::vector<locator::wire::Location> replicas;
    storage::DigestTree tree;
  };
  // The trees of one ring.
  struct Trees {
    std::shared_ptr<const locator::ClusterSnapshot> snapshot;
    std::unique_ptr<ReplicaPlacement> placement;  // over *snapshot
    uint64_t fingerprint = 0;
    std::atomic<bool> built{false};
    mutable std::mutex mu;  // ranges
    std::map<uint64_t, Range> ranges;

    KeyRange locate(const std::string& key, std::vector<locator::wire::Location>* replicas) const;
    // Requires mu held.
    Range& range_locked(const KeyRange& where, std::vector<locator::wire::Location> replicas);
  };

  std::shared_ptr<Trees> current() const;

  storage::Engine& engine_;
  const size_t replicas_;
  mutable std::mutex current_mu_;  // guards the pointer current_ only
  std::shared_ptr<Trees> current_;
  std::atomic<int64_t> rebuilds_{0};
};

}  // namespace thrifty::diststore
