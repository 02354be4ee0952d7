#include "diststore/service/moving_keys.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "locator/membership/member_table.h"

namespace thrifty::diststore {

using membership::MemberName;

namespace {
// "Long ago" on any steady clock, far enough from both ends that subtracting cannot overflow.
constexpr int64_t kNever = std::numeric_limits<int64_t>::min() / 4;
}  // namespace

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string MovingKeysOptions::validate() const {
  if (fallback_window_ms < 0) return "fallback_window_ms must be >= 0";
  if (fallback_after_handoff_ms < 0) return "fallback_after_handoff_ms must be >= 0";
  if (fresh_after_handoff_ms < fallback_window_ms) {
    return "fresh_after_handoff_ms must be >= fallback_window_ms";
  }
  return {};
}

MovingKeys::MovingKeys(MovingKeysOptions options, bool started_with_data)
    : options_(std::move(options)),
      started_with_data_(started_with_data),
      created_ms_((options_.steady_ms ? options_.steady_ms : SteadyMs)()),
      last_ring_change_ms_(created_ms_),
      last_handoff_received_ms_(kNever) {
  if (!options_.steady_ms) options_.steady_ms = SteadyMs;
}

void MovingKeys::start_draining() {
  // The flag first: writes that come later route elsewhere without the gate. Then the gate:
  // it is free once every write that read the flag before it was set has stored its records
  // (one that took the gate after us reads the flag again under it, and routes elsewhere).
  draining_ = true;
  std::unique_lock<std::shared_mutex> wait_for_writes(drain_gate_);
}

void MovingKeys::on_ring_change() { last_ring_change_ms_ = options_.steady_ms(); }

void MovingKeys::note_handoff_received() { last_handoff_received_ms_ = options_.steady_ms(); }

const std::shared_ptr<const locator::Ring>& MovingKeys::routing_ring(
    const locator::ClusterSnapshot& snapshot) const {
  if (draining_.load() && !snapshot.ring_without_self()->empty()) {
    return snapshot.ring_without_self();
  }
  return snapshot.ring();
}

bool MovingKeys::fallback_open() const {
  const int64_t now = options_.steady_ms();
  return draining_.load() || now - last_ring_change_ms_.load() < options_.fallback_window_ms ||
         now - last_handoff_received_ms_.load() < options_.fallback_after_handoff_ms;
}

bool MovingKeys::fresh() const {
  // Only a node that restarted on data it held before can hold a stale copy of a key it owns;
  // one that started empty gets every key by handoff or as its owner.
  if (!started_with_data_) return false;
  const int64_t now = options_.steady_ms();
  const int64_t age = now - created_ms_;
  return age < options_.fallback_window_ms ||
         (age < options_.fresh_after_handoff_ms &&
          now - last_handoff_received_ms_.load() < options_.fallback_after_handoff_ms);
}

HolderAsks MovingKeys::plan(const locator::ClusterSnapshot& snapshot,
                            const std::vector<std::string>& keys,
                            const std::vector<std::optional<storage::Record>>& found) const {
  HolderAsks asks;
  asks.asked.assign(keys.size(), false);
  const std::string& self = snapshot.self_name();
  auto ask = [&](const locator::wire::Location& holder, size_t i) {
    const std::string name = MemberName(holder);
    asks.holders.emplace(name, holder);
    asks.keys_of[name].push_back(i);
    asks.asked[i] = true;
  };

  // A sender whose view differs from ours sent keys our ring gives to another node (it heard
  // of a ring change before us, or after): that node may hold the newer copy. It answers from
  // its own data only, so this never loops.
  const auto& routing = routing_ring(snapshot);
  for (size_t i = 0; !routing->empty() && i < keys.size(); ++i) {
    const locator::wire::Location& owner = routing->owner(keys[i]);
    if (MemberName(owner) != self) {
      ask(owner, i);
      asks.owners.insert(MemberName(owner));
    }
  }

  if (fallback_open()) {
    // Where a key may still be: its owner in the previous ring (a handoff in flight; with
    // weighted ketama a ring change also moves keys between older nodes) and, for a key we
    // lack or a node that restarted on old data, the node that would own it without this one.
    const bool is_fresh = fresh();
    const auto& previous = snapshot.previous_ring();
    const auto& others = snapshot.ring_without_self();
    for (size_t i = 0; i < keys.size(); ++i) {
      std::optional<locator::wire::Location> before;
      if (!previous->empty()) {
        const locator::wire::Location& previous_owner = previous->owner(keys[i]);
        if (MemberName(previous_owner) != self) before = previous_owner;
      }
      if (found[i] && !is_fresh && !before) continue;
      if (before) ask(*before, i);
      if ((is_fresh || !found[i]) && !others->empty() &&
          MemberName(others->owner(keys[i])) != self) {
        ask(others->owner(keys[i]), i);
      }
    }
  }
  asks.fallback_asks = asks.holders.size() - asks.owners.size();
  for (auto& [name, indexes] : asks.keys_of) {  // a key can be asked of one holder twice
    std::sort(indexes.begin(), indexes.end());
    indexes.erase(std::unique(indexes.begin(), indexes.end()), indexes.end());
  }
  return asks;
}

}  // namespace thrifty::diststore
