// RpcCounters: the connections a server closed because of what arrived on the wire, by kind,
// for the node's stats; the connections it closed or turned away to protect itself (limits and
// timeouts); and its gauges (connections open, bytes buffered, calls running, loop lag). Each kind is also logged, naming the peer, at most once per interval
// with the number of refusals that went unlogged since, so a flood of garbage cannot flood the
// log. Thread-safe (atomics only).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace thrifty::rpc {

class RpcCounters {
 public:
  enum Kind {
    kOversizedFrame,  // a frame header over the frame limit: an HTTP request, a TLS hello, ...
    kFrameOverrun,    // a message that runs past the end of its frame, or stops short of it
    kProtocolError,   // a malformed message: version, message or field type (a oneway or reply
                      // sent as a request too), sizes, nesting
    kTlsHandshake,    // a failed TLS handshake: plaintext to a TLS port, a certificate not of
                      // the cluster's CA, no common protocol version
    kKinds
  };

  explicit RpcCounters(int64_t log_interval_ms = 1000) : log_interval_ms_(log_interval_ms) {}
  RpcCounters(const RpcCounters&) = delete;
  RpcCounters& operator=(const RpcCounters&) = delete;

  // Counts one connection closed for `kind`, and logs `what` with the peer when this kind was
  // not logged within the interval. `peer` is called only to log (it may cost a system call).
  void refused(Kind kind, const std::function<std::string()>& peer, const std::string& what);

  int64_t count(Kind kind) const { return kinds_[kind].count.load(std::memory_order_relaxed); }

  // Adds rpc_frames_oversized, rpc_frames_overrun, rpc_protocol_errors,
  // rpc_tls_handshake_failures, the limit counters
  // (rpc_connections_over_limit, rpc_frame_timeouts, rpc_idle_timeouts,
  // rpc_buffer_limit_closes) and the gauges (rpc_connections_open, rpc_buffered_bytes,
  // rpc_calls_in_progress, rpc_loop_lag_ms) to `stats`.
  void Export(std::map<std::string, int64_t>* stats) const;

  // Connections closed or turned away by the server's own limits (rpc_server.h), not for a
  // malformed request. Not logged here: the server logs them, rate-limited.
  enum Limit {
    kOverConnectionLimit,  // accepted beyond --max-connections and closed at once
    kFrameTimeout,         // a frame not complete within --frame-timeout-ms
    kIdleTimeout,          // nothing sent or asked for --idle-timeout-ms
    kBufferLimit,          // incomplete frames of all connections over --max-buffered-bytes
    kLimits
  };
  void limited(Limit limit) { limits_[limit].fetch_add(1, std::memory_order_relaxed); }
  int64_t count(Limit limit) const { return limits_[limit].load(std::memory_order_relaxed); }

  // Gauges, kept up to date by the server.
  void connection_opened() { open_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed() { open_.fetch_sub(1, std::memory_order_relaxed); }
  int64_t open_connections() const { return open_.load(std::memory_order_relaxed); }
  // Bytes held for frames not yet complete, over all connections.
  std::atomic<int64_t>& buffered_bytes() { return buffered_; }
  int64_t buffered_bytes() const { return buffered_.load(std::memory_order_relaxed); }
  // Calls running or waiting for a worker.
  std::atomic<int64_t>& calls_in_progress() { return calls_; }
  int64_t calls_in_progress() const { return calls_.load(std::memory_order_relaxed); }
  // The longest an event loop was late for its timer over the last check (milliseconds).
  std::atomic<int64_t>& loop_lag_ms() { return lag_ms_; }
  int64_t loop_lag_ms() const { return lag_ms_.load(std::memory_order_relaxed); }

 private:
  struct PerKind {
    std::atomic<int64_t> count{0};
    std::atomic<int64_t> unlogged{0};
    std::atomic<int64_t> last_logged_ms{INT64_MIN / 2};
  };
  const int64_t log_interval_ms_;
  PerKind kinds_[kKinds];
  std::atomic<int64_t> limits_[kLimits] = {};
  std::atomic<int64_t> open_{0};
  std::atomic<int64_t> buffered_{0};
  std::atomic<int64_t> calls_{0};
  std::atomic<int64_t> lag_ms_{0};
};

// PeerCallCounters: what a node's peer channels (peer_channel.h) did, over all peers.
// Thread-safe (atomics only).
struct PeerCallCounters {
  std::atomic<int64_t> in_flight{0};        // gauge: calls sent or queued, not yet completed
  std::atomic<int64_t> timeouts{0};         // calls failed at their deadline
  std::atomic<int64_t> late_replies{0};     // replies that came after their call's deadline
  std::atomic<int64_t> refused{0};          // calls refused by a channel's bounds
  std::atomic<int64_t> connect_failures{0}; // connections that could not be made or set up
  std::atomic<int64_t> connections_lost{0}; // set-up connections that failed, with their calls

  // Adds rpc_peer_calls_in_flight, rpc_peer_call_timeouts, rpc_peer_late_replies,
  // rpc_peer_calls_refused, rpc_peer_connect_failures and rpc_peer_connections_lost.
  void Export(std::map<std::string, int64_t>* stats) const;
};

}  // namespace thrifty::rpc
