// RpcCounters: the connections a server closed because of what arrived on the wire, by kind,
// for the node's stats (and, as a gauge, the connections open now). Each kind is also logged, naming the peer, at most once per interval
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
    kKinds
  };

  explicit RpcCounters(int64_t log_interval_ms = 1000) : log_interval_ms_(log_interval_ms) {}
  RpcCounters(const RpcCounters&) = delete;
  RpcCounters& operator=(const RpcCounters&) = delete;

  // Counts one connection closed for `kind`, and logs `what` with the peer when this kind was
  // not logged within the interval. `peer` is called only to log (it may cost a system call).
  void refused(Kind kind, const std::function<std::string()>& peer, const std::string& what);

  int64_t count(Kind kind) const { return kinds_[kind].count.load(std::memory_order_relaxed); }

  // Adds rpc_frames_oversized, rpc_frames_overrun and rpc_protocol_errors to `stats`.
  void Export(std::map<std::string, int64_t>* stats) const;

  // The server's open connections (BoundServerSocket keeps this up to date).
  void connection_opened() { open_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed() { open_.fetch_sub(1, std::memory_order_relaxed); }
  int64_t open_connections() const { return open_.load(std::memory_order_relaxed); }

 private:
  struct PerKind {
    std::atomic<int64_t> count{0};
    std::atomic<int64_t> unlogged{0};
    std::atomic<int64_t> last_logged_ms{INT64_MIN / 2};
  };
  const int64_t log_interval_ms_;
  PerKind kinds_[kKinds];
  std::atomic<int64_t> open_{0};
};

}  // namespace thrifty::rpc
