// ReplayGuard: refuses a gossip datagram that was already accepted once.
//
// The MAC proves that a member of the cluster made a packet, not that the packet is new:
// anyone on the path can capture a datagram and send it again while its sent_ms is within the
// staleness window (SwimConfig::stale_packet_window_ms), and the receiver would act on it once
// more (answer a replayed PING, apply an old accusation again). The guard remembers the MAC of
// every packet it admitted until that packet turns stale (sent_ms + window) and refuses the
// same MAC a second time.
//
// Offer only packets whose MAC verified: nobody without the cluster key can make a new valid
// MAC, so only legitimate traffic (a few packets per second per member) fills the guard, and
// its keys, HMAC outputs, hash evenly.
//
// Memory is bounded: at most `capacity` MACs (about 100 bytes each). Entries are forgotten in
// order of sent_ms, when they expire or, with the guard full, early. Forgetting an entry raises
// a floor to its sent_ms, and a packet sent at or before the floor is refused as stale. So
// every admitted packet sent after the floor is still remembered and no replay is ever
// admitted again, even by a full guard or after the wall clock stepped back. The price of a
// full guard: legitimate packets not newer than the last one forgotten early are dropped.
//
// Not thread-safe: the detector uses it on its own thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <queue>
#include <unordered_set>
#include <vector>

#include "locator/membership/key_ring.h"

namespace thrifty::membership {

class ReplayGuard {
 public:
  enum class Verdict {
    fresh,   // first time: admitted and remembered
    replay,  // this MAC was admitted before
    stale,   // older than the window or not newer than the floor: cannot be told from a replay
  };

  // `window_ms`: how long a packet stays acceptable after its sent_ms (the codec's staleness
  // window). `capacity` >= 1: most MACs remembered at once.
  ReplayGuard(int64_t window_ms, size_t capacity);

  // `mac`: the datagram's verified MAC; `sent_ms`: its sent_ms; `now_ms`: this node's wall
  // clock (the codec's, so that an entry lives exactly as long as its packet is not stale).
  Verdict admit(const KeyRing::Mac& mac, int64_t sent_ms, int64_t now_ms);

  size_t size() const { return macs_.size(); }
  size_t capacity() const { return capacity_; }
  // Packets sent at or before this are refused as stale (lowest int64 until something was
  // forgotten).
  int64_t floor_ms() const { return floor_ms_; }

 private:
  struct Entry {
    int64_t sent_ms;
    KeyRing::Mac mac;
    bool operator>(const Entry& other) const { return sent_ms > other.sent_ms; }
  };
  // A MAC is HMAC-SHA256 output: its first bytes are as good a hash as any.
  struct MacHash {
    size_t operator()(const KeyRing::Mac& mac) const noexcept {
      size_t h;
      std::memcpy(&h, mac.data(), sizeof h);
      return h;
    }
  };

  void forget_oldest();

  const int64_t window_ms_;
  const size_t capacity_;
  int64_t floor_ms_ = std::numeric_limits<int64_t>::min();
  std::unordered_set<KeyRing::Mac, MacHash> macs_;
  // The same MACs, oldest sent_ms on top: the next to expire.
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> by_age_;
};

}  // namespace thrifty::membership
