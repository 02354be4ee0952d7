// TimedPeerClient: a PeerClient that records how long each call to another node takes in
// StoreLatency (failed calls too), and otherwise passes every call to the client it wraps.
// The asynchronous forms stay asynchronous (timed from their start to their completion): the
// PeerClient defaults would run the blocking form on the caller's thread, a channel loop's
// among them, where waiting for a reply that loop must read never ends.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "diststore/ops/store_latency.h"
#include "diststore/service/peer_client.h"

namespace thrifty::diststore {

class TimedPeerClient : public PeerClient {
 public:
  // `latency` must outlive this object.
  TimedPeerClient(std::unique_ptr<PeerClient> inner, StoreLatency& latency)
      : inner_(std::move(inner)), latency_(latency) {}

  std::vector<wire::Record> owner_get(const Location& peer, const std::vector<std::string>& keys,
                                      bool fallback) override {
    metrics::ScopedLatency timer(latency_.of(PeerCall::kOwnerGet));
    return inner_->owner_get(peer, keys, fallback);
  }
  void owner_put(const Location& peer, const std::vector<wire::Record>& records,
                 wire::Consistency::type consistency) override {
    metrics::ScopedLatency timer(latency_.of(PeerCall::kOwnerPut));
    inner_->owner_put(peer, records, consistency);
  }
  wire::HandoffAck handoff(const Location& peer, const std::vector<wire::Record>& records,
                           const Location& sender) override {
    metrics::ScopedLatency timer(latency_.of(PeerCall::kHandoff));
    return inner_->handoff(peer, records, sender);
  }
  // A hint is a replica write's stand-in: timed as one.
  void keep_hints(const Location& peer, const std::vector<wire::Record>& records,
                  const std::string& target_host_id, const Location& target) override {
    metrics::ScopedLatency timer(latency_.of(PeerCall::kOwnerPut));
    inner_->keep_hints(peer, records, target_host_id, target);
  }
  // The asynchronous forms are timed from the start to the completion, and stay asynchronous
  // (the defaults would run the blocking form on the caller's thread).
  void owner_get_async(const Location& peer, std::vector<std::string> keys, bool fallback,
                       rpc::OutcomeHandler<std::vector<wire::Record>> done) override {
    inner_->owner_get_async(peer, std::move(keys), fallback,
                            Timed(latency_.of(PeerCall::kOwnerGet), std::move(done)));
  }
  void owner_put_async(const Location& peer, std::vector<wire::Record> records,
                       wire::Consistency::type consistency, rpc::OutcomeHandler<bool> done) override {
    inner_->owner_put_async(peer, std::move(records), consistency,
                            Timed(latency_.of(PeerCall::kOwnerPut), std::move(done)));
  }
  void keep_hints_async(const Location& peer, std::vector<wire::Record> records,
                        std::string target_host_id, Location target,
                        rpc::OutcomeHandler<bool> done) override {
    inner_->keep_hints_async(peer, std::move(records), std::move(target_host_id),
                             std::move(target), Timed(latency_.of(PeerCall::kOwnerPut), std::move(done)));
  }
  void handoff_async(const Location& peer, std::vector<wire::Record> records, Location sender,
                     rpc::OutcomeHandler<wire::HandoffAck> done) override {
    inner_->handoff_async(peer, std::move(records), std::move(sender),
                          Timed(latency_.of(PeerCall::kHandoff), std::move(done)));
  }
  // Anti-entropy calls are rare and timed by their run (RepairReport::seconds): passed on.
  wire::RangeRoots repair_roots(const Location& peer, const Location& asker,
                                int64_t fingerprint) override {
    return inner_->repair_roots(peer, asker, fingerprint);
  }
  std::vector<int64_t> repair_tree(const Location& peer, int64_t range, int32_t level,
                                   const std::vector<int32_t>& indexes,
                                   int64_t fingerprint) override {
    return inner_->repair_tree(peer, range, level, indexes, fingerprint);
  }
  wire::LeafPage repair_leaves(const Location& peer, const std::vector<wire::LeafRef>& leaves,
                               const std::string& after_key, int64_t fingerprint) override {
    return inner_->repair_leaves(peer, leaves, after_key, fingerprint);
  }
  std::map<std::string, int64_t> stats(const Location& peer) override {
    return inner_->stats(peer);
  }

 private:
  // `done`, recording the time from now to its call in `histogram` first.
  template <class Result>
  static rpc::OutcomeHandler<Result> Timed(metrics::LatencyHistogram& histogram,
                                           rpc::OutcomeHandler<Result> done) {
    return [&histogram, start = std::chrono::steady_clock::now(),
            done = std::move(done)](rpc::Outcome<Result> outcome) {
      histogram.record(std::chrono::steady_clock::now() - start);
      done(std::move(outcome));
    };
  }

  std::unique_ptr<PeerClient> inner_;
  StoreLatency& latency_;
};

}  // namespace thrifty::diststore
