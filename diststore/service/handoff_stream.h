// HandoffStream: moves every record this node holds but does not own to its owner.
//
// One mechanism serves a join (holders push the keys a new node now owns), a clean leave
// (the leaver, draining, pushes everything) and a restart (keys that moved while the node was
// away). A sweep scans the engine, groups misplaced records by owner, sends them in batches
// (bounded by count and bytes) and deletes each record only after its owner acknowledged it
// and only if it was not rewritten meanwhile (Engine::erase_batch_if_versions).
//
// Batches are pipelined: PeerClient::handoff_async puts up to
// HandoffOptions::batches_in_flight_per_owner of them on each owner's channel, and at most
// HandoffOptions::bytes_in_flight of records are sent and not yet acknowledged, all owners
// together. Acknowledgements may come in any order (on a peer channel's loop thread, which
// only queues them); the sweep's thread settles each one (deletes what it acknowledged,
// counts what failed) and waits only when a bound is reached. A sweep returns after every
// batch it sent was settled.
//
// With --replicas > 1 the unit is the key's ReplicaSet: a record whose set no longer holds
// this node goes to every live replica of the set and is deleted once all of them have it;
// a record whose set gained nodes in the latest ring change (a join) is also sent to the new
// ones, and kept.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "diststore/service/cluster_view.h"
#include "diststore/service/moving_keys.h"
#include "diststore/service/peer_client.h"
#include "diststore/storage/engine.h"

namespace thrifty::diststore {

struct HandoffOptions {
  size_t batch_records = 1000;
  size_t batch_bytes = 1 << 20;
  int retry_delay_ms = 1000;               // after a failed sweep, try again this much later
  size_t batches_in_flight_per_owner = 8;  // sent to one owner and not yet acknowledged
  size_t bytes_in_flight = 32 << 20;       // records sent and not yet acknowledged, all owners
};

struct SweepResult {
  uint64_t scanned = 0;
  uint64_t sent = 0;       // records acknowledged by their owners
  uint64_t failed = 0;     // records whose batch failed (kept here, retried later)
  uint64_t batches = 0;
  double seconds = 0;
};

class HandoffStream {
 public:
  // Every reference must outlive this object. Owners are found on moving.routing_ring().
  // `replicas`: copies of each key (ReplicationOptions::replicas).
  HandoffStream(ClusterView& cluster, storage::Engine& engine, PeerClient& peers,
                const MovingKeys& moving, HandoffOptions options = {}, int replicas = 1);
  ~HandoffStream();  // stops the worker

  HandoffStream(const HandoffStream&) = delete;
  HandoffStream& operator=(const HandoffStream&) = delete;

  // Asks for a sweep soon (on a ring change). Cheap; sweeps requested while one runs are
  // coalesced into one more sweep after it.
  void request_sweep();

  // Runs sweeps on the caller's thread until one finds nothing misplaced, or `deadline_ms`
  // passes. Used on a clean leave. Returns true if everything was handed off.
  bool drain(int64_t deadline_ms);

  // One sweep now, on the caller's thread (which also settles the acknowledgements).
  SweepResult sweep_once();

  // handoff_sweeps, handoff_records_out, handoff_batches_out, handoff_failures; and
  // handoff_settled_ring: the ReplicaRingFingerprint of the ring of the last sweep that began
  // on that ring, handed off everything it found and ended on the same ring (0: none yet). A
  // node that joins anew waits for every live member to report its ring here (AntiEntropy).
  std::map<std::string, int64_t> stats() const;

 private:
  void worker();

  ClusterView& cluster_;
  storage::Engine& engine_;
  PeerClient& peers_;
  const MovingKeys& moving_;
  HandoffOptions options_;
  const int replicas_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;
  bool stopping_ = false;
  std::mutex sweep_mu_;  // one sweep at a time
  std::thread thread_;

  std::atomic<int64_t> sweeps_{0}, records_out_{0}, batches_out_{0}, failures_{0},
      settled_ring_{0};
};

}  // namespace thrifty::diststore
