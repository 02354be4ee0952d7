#include "locator/rpc/rpc_counters.h"

#include <chrono>

#include <glog/logging.h>

namespace thrifty::rpc {

namespace {

const char* const kStatNames[RpcCounters::kKinds] = {"rpc_frames_oversized", "rpc_frames_overrun",
                                                     "rpc_protocol_errors",
                                                     "rpc_tls_handshake_failures"};

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void RpcCounters::refused(Kind kind, const std::function<std::string()>& peer,
                          const std::string& what) {
  PerKind& k = kinds_[kind];
  k.count.fetch_add(1, std::memory_order_relaxed);
  const int64_t now = SteadyMs();
  int64_t last = k.last_logged_ms.load(std::memory_order_relaxed);
  // One thread wins the interval's line; the others only count themselves as unlogged.
  if (now - last < log_interval_ms_ || !k.last_logged_ms.compare_exchange_strong(last, now)) {
    k.unlogged.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const int64_t unlogged = k.unlogged.exchange(0, std::memory_order_relaxed);
  LOG(WARNING) << "closed the connection of " << peer() << ": " << what << " (" << kStatNames[kind]
               << (unlogged > 0 ? "; " + std::to_string(unlogged) + " more since the last such line"
                                : std::string())
               << ")";
}

void RpcCounters::Export(std::map<std::string, int64_t>* stats) const {
  for (int kind = 0; kind < kKinds; ++kind) (*stats)[kStatNames[kind]] = count(static_cast<Kind>(kind));
  static const char* const kLimitNames[kLimits] = {"rpc_connections_over_limit", "rpc_frame_timeouts",
                                                   "rpc_idle_timeouts", "rpc_buffer_limit_closes"};
  for (int limit = 0; limit < kLimits; ++limit) {
    (*stats)[kLimitNames[limit]] = count(static_cast<Limit>(limit));
  }
  (*stats)["rpc_connections_open"] = open_connections();
  (*stats)["rpc_buffered_bytes"] = buffered_bytes();
  (*stats)["rpc_calls_in_progress"] = calls_in_progress();
  (*stats)["rpc_loop_lag_ms"] = loop_lag_ms();
}

void PeerCallCounters::Export(std::map<std::string, int64_t>* stats) const {
  (*stats)["rpc_peer_calls_in_flight"] = in_flight.load(std::memory_order_relaxed);
  (*stats)["rpc_peer_call_timeouts"] = timeouts.load(std::memory_order_relaxed);
  (*stats)["rpc_peer_late_replies"] = late_replies.load(std::memory_order_relaxed);
  (*stats)["rpc_peer_calls_refused"] = refused.load(std::memory_order_relaxed);
  (*stats)["rpc_peer_connect_failures"] = connect_failures.load(std::memory_order_relaxed);
  (*stats)["rpc_peer_connections_lost"] = connections_lost.load(std::memory_order_relaxed);
}

}  // namespace thrifty::rpc
