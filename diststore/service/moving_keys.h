// MovingKeys: where a key may be while keys move between nodes, and for how long to look.
//
// Keys move after every ring change (a join, a leave, a weight change), on a clean leave
// (this node drains: it routes as if it were not in the ring), and back to a node that
// restarted on its old data. Until they have arrived, a read on the new owner that misses, or
// that may have found a stale copy, also asks the places the key may still be, and the newer
// record wins: a read never answers NotFound for a key that exists, nor an older value than
// one written meanwhile.
//
// The windows are durations, so they run on a steady clock: a wall-clock step neither opens
// nor closes them. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "diststore/storage/record.h"
#include "locator/service/cluster_snapshot.h"

namespace thrifty::diststore {

struct MovingKeysOptions {
  // After a ring change, misses are checked on the previous holders for this long.
  int64_t fallback_window_ms = 30000;
  // Handoff traffic arriving keeps the window open this long after the last batch.
  int64_t fallback_after_handoff_ms = 10000;
  // A node that restarted on its old data compares its copies with other holders for
  // fallback_window_ms after its start, and up to this long while handoff keeps arriving.
  int64_t fresh_after_handoff_ms = 10 * 60 * 1000;
  // Milliseconds on a monotonic clock; tests pass their own.
  std::function<int64_t()> steady_ms;

  // Empty when usable, else what is wrong (as SwimConfig::validate).
  std::string validate() const;
};

// Milliseconds since an arbitrary point, from std::chrono::steady_clock.
int64_t SteadyMs();

// The holders a read asks, beside its own engine: for holder "host:port", its location and
// the indexes of the keys asked of it (sorted, unique).
struct HolderAsks {
  std::map<std::string, locator::wire::Location> holders;
  std::map<std::string, std::vector<size_t>> keys_of;
  std::vector<bool> asked;      // per key: asked of some holder
  size_t fallback_asks = 0;  // further holders asked because keys move (fallback reads)
  // Holders asked because the routing ring gives them a key (the rest are fallback asks).
  std::set<std::string> owners;
  bool empty() const { return holders.empty(); }
};

class MovingKeys {
 public:
  // `started_with_data`: the engine held records when this node started (a restart on its
  // old data, whose copies may be older than ones written elsewhere meanwhile).
  MovingKeys(MovingKeysOptions options, bool started_with_data);

  void on_ring_change();
  void note_handoff_received();
  // From now on route as if this node were not in the ring (before a clean leave). Waits for
  // every write that decided where its records go before draining began (see
  // hold_routing()): after it returns, nothing can land in this node's engine that the
  // drain's sweeps would not see.
  void start_draining();
  bool draining() const { return draining_.load(); }
  // Held by a write from its routing decision until its records are stored here, and by a
  // handoff received until it is merged: start_draining() waits for it. (Without it, a write
  // that chose this node just before the drain began could be stored after the last sweep,
  // and leave with the node: an acknowledged write lost on a clean leave.)
  // Once draining, a write routes elsewhere and takes nothing (so the drain waits only for
  // writes that began before it, however busy the node: no starvation by a stream of
  // readers of a reader-preferring lock).
  std::shared_lock<std::shared_mutex> hold_routing() const {
    if (draining_.load()) return {};
    return std::shared_lock<std::shared_mutex>(drain_gate_);
  }

  // The ring requests are routed on: the snapshot's ring, or the ring without this node
  // while draining (unless that is empty).
  const std::shared_ptr<const locator::Ring>& routing_ring(
      const locator::ClusterSnapshot& snapshot) const;

  // True while keys may be in flight: draining, or within a window after a ring change or
  // after the last handoff batch received.
  bool fallback_open() const;

  // Which holders a read of `keys` (found[i]: this node's own copy) on `snapshot` asks:
  // - a key the routing ring gives to another node (the sender's view differed): that node;
  // - while fallback_open(): the key's owner in the previous ring, if not this node; and, for
  //   a key missing here or on a node that restarted on its old data (fresh), its owner in
  //   the ring without this node.
  HolderAsks plan(const locator::ClusterSnapshot& snapshot,
                  const std::vector<std::string>& keys,
                  const std::vector<std::optional<storage::Record>>& found) const;

 private:
  bool fresh() const;

  MovingKeysOptions options_;
  const bool started_with_data_;
  const int64_t created_ms_;
  std::atomic<bool> draining_{false};
  mutable std::shared_mutex drain_gate_;
  std::atomic<int64_t> last_ring_change_ms_;
  std::atomic<int64_t> last_handoff_received_ms_;
};

}  // namespace thrifty::diststore
