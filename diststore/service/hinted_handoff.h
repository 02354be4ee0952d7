// HintedHandoff: keeps a replicated write for each replica that could not take it and
// delivers it when that replica is back (Dynamo's hinted handoff, off with --strict-quorum).
//
// A write's leader calls keep() for every replica that is DEAD in its view (nothing is sent
// to it) or whose call failed. The hints are stored in this node's HintStore, per target host
// ID. A worker thread looks every replay_interval_ms for targets that are ALIVE again (a
// member carrying that host ID, not DEAD) and sends their hints in batches with `handoff`
// (merge, newer wins), at most replay_records_per_s, deleting each batch once acknowledged.
// Hints older than max_hint_window_ms are dropped (counted): by then the replica is better
// rebuilt. Hints whose record is older than gc_grace_ms are dropped too (counted apart). A
// leader's own hints never count toward W (it is a replica already). With --hints-count-for-w
// a leader sends the write for a DEAD replica to the key's next live non-replica instead
// (ReplicaPlacement::hint_holders_of), whose hold() keeps it here and whose acknowledgement
// counts toward W (replica_writer.h); it keeps the hint itself when that call fails. Either
// way the holder's worker replays it. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "diststore/service/cluster_view.h"
#include "diststore/service/peer_client.h"
#include "diststore/storage/hint_store.h"

namespace thrifty::diststore {

struct HintOptions {
  bool enabled = true;                                 // false: --strict-quorum
  int64_t max_hint_window_ms = 3LL * 3600 * 1000;      // --max-hint-window-s (3 h)
  int64_t replay_interval_ms = 1000;                   // how often targets are checked
  size_t replay_batch = 1000;                          // hints per handoff call
  int64_t replay_records_per_s = 20000;                // replay throttle, per node
  // Hints whose record is older than this (by its version) are dropped, not replayed, so a
  // delete whose tombstone was purged cannot come back (tombstone_gc.h); 0: none. StoreNode
  // sets it from --gc-grace-s.
  int64_t gc_grace_ms = 0;

  std::string validate() const;
};

class HintedHandoff {
 public:
  // Every reference must outlive this object. Starts the worker (if enabled).
  HintedHandoff(ClusterView& cluster, storage::HintStore& hints, PeerClient& peers,
                HintOptions options);
  ~HintedHandoff();  // stops the worker
  HintedHandoff(const HintedHandoff&) = delete;
  HintedHandoff& operator=(const HintedHandoff&) = delete;

  // The host ID of the member named `name` ("host:port") in `snapshot`; empty if it has none
  // (a bare locator) or is not a member.
  static std::string HostIdOf(const locator::ClusterSnapshot& snapshot, const std::string& name);

  // Keeps `records` for the replica with `host_id` (`name` for logs). No-op when disabled or
  // host_id is empty. Never throws: a hint that cannot be stored is logged and counted (the
  // write's outcome does not depend on it). May be called from any thread until destruction.
  void keep(const std::string& host_id, const std::string& name,
            const std::vector<wire::Record>& records);
  // keep() for a write whose acknowledgement counts on it (keep_hints, --hints-count-for-w):
  // returns once the hints are stored. Throws StoreError, nothing kept, when disabled, when
  // host_id is empty, or when the store fails.
  void hold(const std::string& host_id, const std::string& name,
            const std::vector<wire::Record>& records);
  bool enabled() const { return options_.enabled; }

  // One replay pass now, on the caller's thread: returns the hints delivered.
  int64_t replay_once();

  std::map<std::string, int64_t> stats() const;

 private:
  void worker();

  ClusterView& cluster_;
  storage::HintStore& hints_;
  PeerClient& peers_;
  const HintOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::mutex replay_mu_;  // one pass at a time
  std::thread thread_;
  std::atomic<int64_t> stored_{0}, replayed_{0}, dropped_{0}, failed_{0}, dropped_gc_grace_{0};
};

}  // namespace thrifty::diststore
