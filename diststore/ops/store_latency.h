// StoreLatency: the store's latency histograms. One per client operation, recorded around each
// Store call a client makes to this node (StoreHandler: routing, forwarding and storage
// included), and one per kind of call this node makes to another (TimedPeerClient: owner_get
// and owner_put forwarded to owners, handoff batches). /metrics exports them
// (thrifty_request_duration_seconds, thrifty_peer_call_duration_seconds). Lock-free.
#pragma once

#include <array>
#include <cstddef>

#include "locator/metrics/latency_histogram.h"

namespace thrifty::diststore {

enum class ClientOp : size_t { kGet, kPut, kErase, kMultiGet, kMultiPut, kCount };
enum class PeerCall : size_t { kOwnerGet, kOwnerPut, kHandoff, kCount };

class StoreLatency {
 public:
  metrics::LatencyHistogram& of(ClientOp op) { return client_[static_cast<size_t>(op)]; }
  metrics::LatencyHistogram& of(PeerCall call) { return peer_[static_cast<size_t>(call)]; }
  const metrics::LatencyHistogram& of(ClientOp op) const { return client_[static_cast<size_t>(op)]; }
  const metrics::LatencyHistogram& of(PeerCall call) const { return peer_[static_cast<size_t>(call)]; }

  // The label values: "get", "put", "erase", "multi_get", "multi_put"; "owner_get",
  // "owner_put", "handoff".
  static const char* Name(ClientOp op) {
    static constexpr const char* kNames[] = {"get", "put", "erase", "multi_get", "multi_put"};
    return kNames[static_cast<size_t>(op)];
  }
  static const char* Name(PeerCall call) {
    static constexpr const char* kNames[] = {"owner_get", "owner_put", "handoff"};
    return kNames[static_cast<size_t>(call)];
  }

 private:
  std::array<metrics::LatencyHistogram, static_cast<size_t>(ClientOp::kCount)> client_;
  std::array<metrics::LatencyHistogram, static_cast<size_t>(PeerCall::kCount)> peer_;
};

}  // namespace thrifty::diststore
