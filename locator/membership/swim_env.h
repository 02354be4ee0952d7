// The detector's view of the world: time, timers and datagrams. Production implements both
// with Boost.Asio (asio_runtime.h); the deterministic simulation with a virtual clock and a
// simulated network. The detector itself neither sleeps, nor spawns threads, nor touches a
// socket, which is what lets the very same protocol code run in both.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "locator_types.h"

namespace thrifty::membership {

// Everything scheduled runs on the detector's one logical thread, one callback at a time.
class Scheduler {
 public:
  virtual ~Scheduler() = default;

  // Monotonic milliseconds, for timeouts. Only differences matter.
  virtual int64_t now_ms() = 0;

  // Wall clock, milliseconds since the epoch, for the sent_ms of packets (compared across
  // members, so clocks must be roughly in sync: see SwimConfig::stale_packet_window_ms).
  virtual int64_t wall_ms() = 0;

  // Runs `fn` on the detector's thread once `delay_ms` (>= 0) have passed. There is no
  // cancel: callbacks check whether they are still wanted.
  virtual void schedule(int64_t delay_ms, std::function<void()> fn) = 0;
};

// Unreliable datagrams. Called on the detector's thread only.
class PacketTransport {
 public:
  virtual ~PacketTransport() = default;

  // Sends one datagram to a gossip endpoint {address, gossip port}. Best effort: a packet may
  // be lost, delayed or reordered; errors are counted by the transport, never thrown.
  virtual void send(const locator::wire::Location& to, const std::string& bytes) = 0;
};

}  // namespace thrifty::membership
