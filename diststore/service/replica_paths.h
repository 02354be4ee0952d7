// ReplicaPaths: what the replicated read and write paths (ReplicaReader, ReplicaWriter) work
// with, in one place.
#pragma once

#include <exception>
#include <functional>

#include "diststore/service/cluster_view.h"
#include "diststore/service/lifetime.h"
#include "diststore/service/moving_keys.h"
#include "diststore/service/owner_store.h"
#include "diststore/service/peer_client.h"
#include "diststore/service/replication.h"
#include "diststore/service/store_counters.h"
#include "locator/rpc/channel_call.h"
#include "locator/rpc/fan_out.h"

namespace thrifty::diststore {

// Every reference must outlive the objects given it. The calls to replicas are asynchronous
// (PeerClient's *_async forms); `pool` runs what may block around them, off the peer
// channels' loops: failure reports, hints, this node's share of a read repair. It
// must be joined after the reader and writer are destroyed and before `peers`, `cluster` and
// `owner` go; its tasks never wait for other tasks. Its timers run the speculative retries.
struct ReplicaPaths {
  ClusterView& cluster;
  OwnerStore& owner;
  PeerClient& peers;
  MovingKeys& moving;
  rpc::FanOut& pool;
  const ReplicationOptions& options;
  StoreCounters& counters;
};

// Whether `error` is the peer's own answer (a StoreError: it is up), not a failed call.
inline bool IsRefusal(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const wire::StoreError&) {
    return true;
  } catch (...) {
    return false;
  }
}

// `done` for a call to a replica, with `on_failure` (may block) run on `pool` first when the
// call failed without an answer: the outcome reaches `done` only after it. `on_failure` runs
// only while `life` holds (its owner exists); `done` runs in any case.
template <class Result>
rpc::OutcomeHandler<Result> AfterFailure(rpc::FanOut& pool, Lifetime::Watch life,
                                         std::function<void()> on_failure,
                                         rpc::OutcomeHandler<Result> done) {
  return [&pool, life = std::move(life), on_failure = std::move(on_failure),
          done = std::move(done)](rpc::Outcome<Result> outcome) {
    if (outcome.value || IsRefusal(outcome.error)) return done(std::move(outcome));
    Lifetime::Hold hold(life);
    if (!hold) return done(std::move(outcome));  // the pool may be gone: nothing to keep
    pool.submit([life, on_failure, done, outcome = std::move(outcome)]() mutable {
      {
        Lifetime::Hold still(life);
        try {
          if (still) on_failure();
        } catch (...) {
          // on_failure logs its own failures; the outcome must reach `done` regardless
        }
      }
      done(std::move(outcome));
    });
  };
}

}  // namespace thrifty::diststore
