// AntiEntropy: brings the replicas of every range back to agreement (Dynamo's Merkle-tree
// anti-entropy, Cassandra's repair) and purges tombstones once that is safe.
//
// A repair run on this node, for every other live member P of its ring:
//   1. repair_roots(P): P's tree roots of the ranges it holds with this node. Equal roots:
//      that range is done (one hash exchanged per range when replicas agree).
//   2. For a differing range, descend level by level (repair_tree) into the children whose
//      hashes differ, down to the differing leaves (at most 4096 hashes per call).
//   3. repair_leaves(P): the (key, version, tombstone) entries of those leaves, in pages; the
//      same entries from this node's own data.
//   4. Move only the differing records, newest wins: this node's newer ones to P (owner_put of
//      versioned records: P merges, never over a newer version), P's newer ones here
//      (owner_get, then merged through OwnerStore like any replica's copy). A tombstone older
//      than --gc-grace-s is not sent to a replica that has no record of its key (it may have
//      purged it already; nothing there to delete).
// Then the tombstone GC pass (tombstone_gc.h): a range whose every other replica was compared
// and brought level, without this node taking anything new, is "agreed" as of the run's start.
// Runs every --anti-entropy-interval-s on a worker thread (0: only on demand), and on demand
// (repair_now: the Store.repair RPC, storectl repair), one run at a time. Trees are rebuilt by
// the worker when the ring changes (request_rebuild), and before a run if they are stale.
// Peer calls that fail, or whose peer's trees follow another ring, skip that peer (counted,
// logged); its ranges are then not agreed.
//
// The RPCs a peer serves (roots_for, tree_hashes, leaf_page) check their sizes against
// AntiEntropyLimits and the asker's ring fingerprint, and throw wire::StoreError otherwise.
// With --replicas 1 there are no trees and a run is the GC pass alone.
//
// Rebuild: a node whose host ID was made at this start holds none of its ranges' data, and is
// no replica for reads (OwnerStore::rebuilding()) until it took them. Two cases (StoreNode
// tells them apart by the cluster's member table, see RebuildKind):
// - a wiped return (the cluster knew this address with another host ID): the cluster counted
//   the old node's acknowledgements, so a QUORUM write may be on this address and QUORUM-1
//   others only. The worker runs repair runs (not counted as repair_runs, no GC pass) until,
//   for every range this node holds, enough other replicas were compared and brought level to
//   see every QUORUM write: all of them for N <= 3, N - QUORUM + 1 of the N-1 others in
//   general. A DEAD replica can keep it waiting: see finish_rebuild_with_live().
// - a first join (an address the cluster never had, or one that left cleanly): it never
//   acknowledged anything; its ranges were on their previous replicas, which push them to it
//   (HandoffStream: every holder sends each record to the replicas its set gained). It is
//   done when every live ring member has settled its handoff on the current ring
//   (handoff_settled_ring in its stats: everything it held for this node was acknowledged)
//   and a repair run brought it level with every live other replica of each of its ranges
//   (what a holder took after its sweep). DEAD members do not hold it back: a write whose
//   every copy is on DEAD nodes is unavailable to readers whether or not it waits.
// Short of that, a run is retried after 200 ms, doubling up to 5 s, with a log of what it
// waits for. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "Store.h"
#include "diststore/service/cluster_view.h"
#include "diststore/service/metered_peer_client.h"
#include "diststore/service/owner_store.h"
#include "diststore/service/peer_client.h"
#include "diststore/service/range_digests.h"
#include "diststore/service/rebuild_kind.h"
#include "diststore/service/replication.h"
#include "diststore/storage/engine.h"

namespace thrifty::diststore {

// Bounds of the anti-entropy RPCs (the limits diststore.thrift documents).
struct AntiEntropyLimits {
  size_t max_tree_indexes = 4096;     // hashes asked in one repair_tree
  size_t max_leaf_refs = 65536;       // leaves asked in one repair_leaves
  size_t max_page_entries = 10000;    // entries in one repair_leaves answer
  size_t max_page_bytes = 4 << 20;    // key bytes (+ 16 per entry) in one answer
  size_t move_batch = 1000;           // records per owner_get / owner_put of a repair
};

class AntiEntropy {
 public:
  // Every reference must outlive this object. With replication.replicas > 1 it keeps the
  // trees (registering them as `engine`'s observer).
  AntiEntropy(ClusterView& cluster, storage::Engine& engine, OwnerStore& owner, PeerClient& peers,
              const ReplicationOptions& replication, AntiEntropyLimits limits = {});
  ~AntiEntropy();  // stop()
  AntiEntropy(const AntiEntropy&) = delete;
  AntiEntropy& operator=(const AntiEntropy&) = delete;

  // Starts the worker: tree rebuilds on request, periodic runs. Call once the node has joined.
  // With a `rebuild` kind (and replicas), first takes this node's ranges (see above) and then
  // clears OwnerStore::rebuilding(); with kNone, clears it at once.
  void start(RebuildKind rebuild = RebuildKind::kNone);
  // The operator's override (storectl finish-rebuild): from the next attempt on, a range
  // counts as rebuilt once every live other replica of it is level, DEAD ones left out.
  // The risk: a write acknowledged by QUORUM whose other copies are on the DEAD replicas only
  // is missing here, and a QUORUM read that counts this node can miss it (read it at ALL, or
  // bring the DEAD replica back, to be sure). Returns false (nothing changed) if no rebuild
  // is running. Thread-safe.
  bool finish_rebuild_with_live();
  void stop();
  // The ring changed: rebuild the trees soon (on the worker; coalesced).
  void request_rebuild();

  // One repair run and GC pass now, on the caller's thread (waits for a run in progress).
  wire::RepairReport repair_now();
  // The GC pass alone; returns the tombstones purged.
  int64_t collect_garbage();

  // ---- served to peers ----
  wire::RangeRoots roots_for(const locator::wire::Location& asker, int64_t fingerprint);
  std::vector<int64_t> tree_hashes(int64_t range_id, int32_t level,
                                   const std::vector<int32_t>& indexes, int64_t fingerprint);
  wire::LeafPage leaf_page(const std::vector<wire::LeafRef>& leaves, const std::string& after_key,
                           int64_t fingerprint);

  // repair_runs, repair_ranges_compared, repair_ranges_differing, repair_keys_moved,
  // repair_hashes_exchanged, repair_bytes_sent, repair_bytes_received (the framed Thrift
  // messages of this node's anti-entropy calls to peers, repair and rebuild runs alike:
  // metered_peer_client.h), repair_peers_skipped, tombstones_purged, digest_rebuilds,
  // digest_ranges; rebuilding (0/1), rebuild_kind (0 none, 1 first join, 2 wiped return: the
  // kind this node started with), rebuilds (rebuilds finished), rebuild_keys (records taken
  // from other replicas by rebuild runs), rebuilds_with_live (finished under the override).
  std::map<std::string, int64_t> stats() const;
  // The trees (null with one replica).
  RangeDigests* digests() { return digests_.get(); }

 private:
  struct RangeStatus;
  struct Entry {
    int64_t version = 0;
    bool tombstone = false;
  };
  // What one run did (repair_now counts it in the stats; a rebuild run does not).
  struct RunResult;
  RunResult run();
  // One rebuild attempt: a run, then whether every range of this node has enough replicas
  // level (see above). True when the rebuild is done.
  bool rebuild_once();
  // For a first join: the live ring members (but this node) whose handoff has not settled on
  // the ring of `fingerprint` (or that did not answer).
  std::vector<std::string> unsettled_handoffs(uint64_t fingerprint);
  // Rebuilds the trees if they do not follow the current ring; returns their fingerprint.
  uint64_t ensure_trees();
  void check_fingerprint(int64_t fingerprint, const char* call) const;
  // Compares every range shared with `peer`, moves what differs. False if the peer was skipped.
  bool compare_with(const locator::wire::Location& peer, uint64_t fingerprint,
                    const std::vector<RangeSummary>& mine,
                    std::map<uint64_t, RangeStatus>& status, wire::RepairReport& report,
                    int64_t& pulled);
  // This node's entries of the given leaves.
  std::map<std::string, Entry> local_entries(const std::set<std::pair<uint64_t, int>>& leaves);
  // The agreed time of `range_id` under the trees' current fingerprint.
  std::optional<int64_t> agreed_ms(uint64_t range_id, uint64_t fingerprint) const;
  int64_t now_ms() const;
  void worker();

  ClusterView& cluster_;
  storage::Engine& engine_;
  OwnerStore& owner_;
  MeteredPeerClient metered_peers_;  // every peer call of anti-entropy goes through it
  PeerClient& peers_;
  const ReplicationOptions& replication_;
  const AntiEntropyLimits limits_;
  std::unique_ptr<RangeDigests> digests_;

  std::mutex run_mu_;       // one repair run (and GC pass) at a time
  std::mutex rebuild_mu_;   // one rebuild at a time
  mutable std::mutex agreed_mu_;
  uint64_t agreed_fingerprint_ = 0;
  std::map<uint64_t, int64_t> agreed_;  // range id -> start of the last agreeing run (ms)

  std::mutex mu_;
  std::condition_variable cv_;
  bool rebuild_requested_ = false;
  bool rebuild_pending_ = false;  // the worker's: this node's ranges still to rebuild
  std::atomic<RebuildKind> rebuild_kind_{RebuildKind::kNone};
  std::atomic<bool> accept_live_{false};  // finish_rebuild_with_live()
  bool attempt_now_ = false;  // guarded by mu_: the next rebuild attempt without waiting
  bool stopping_ = false;
  std::thread thread_;

  std::atomic<int64_t> runs_{0}, ranges_compared_{0}, ranges_differing_{0}, keys_moved_{0},
      hashes_exchanged_{0}, peers_skipped_{0}, purged_{0}, rebuilds_{0}, rebuild_keys_{0},
      rebuilds_with_live_{0};
};

}  // namespace thrifty::diststore
