// QuorumCall: calls several replicas at once and returns as soon as enough have answered.
//
// Unlike ScatterCalls (which waits for every call), a quorum call returns once `enough` says
// so, or when every call has finished: a slow or hung replica costs a request nothing when
// the others make up the quorum; outcomes that come later are dropped. Calls are started
// asynchronously (PeerClient's *_async forms on peer channels: completion-driven, no thread
// per call) or, in the form taking a FanOut, as blocking closures run on its threads. A
// call's failure comes back in words, not as an exception object: such an object would be
// freed by whichever thread drops the shared state last, possibly while the caller still
// reads it.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "locator/rpc/channel_call.h"
#include "locator/rpc/fan_out.h"
#include "diststore/service/scatter.h"
#include "diststore_types.h"
#include "locator_types.h"

namespace thrifty::diststore {

// One call's state as the caller sees it when the quorum call returns.
template <class Result>
struct ReplicaReply {
  locator::wire::Location peer;
  bool done = false;
  std::optional<Result> result;  // done without error; done and empty: it failed, and
  bool refused = false;          //   the peer answered with a StoreError (it is up)
  std::string error;             //   its message, or the transport's / exception's
};

// A call to one replica, started without waiting: it runs `done` once with its outcome, on
// whichever thread (a peer channel's loop, or the caller's before it returns).
template <class Result>
using StartReplicaCall = std::function<void(rpc::OutcomeHandler<Result> done)>;

// Starts every call, runs `local` (may be empty) on this thread, then waits until
// enough(replies) is true (checked after each completion, under a lock: keep it cheap) or
// every call is done. `local` runs before the wait and may use the caller's locals; its
// exception propagates after the wait. Returns the replies as they stood then.
//
// Completion-driven: no thread waits for a call but this one for its quorum. A call still
// running when this returns costs no thread: its outcome is dropped when it comes. Each call's
// `done` handler owns what it needs (the shared state), never the caller's locals.
template <class Result>
std::vector<ReplicaReply<Result>> QuorumCall(
    std::vector<std::pair<locator::wire::Location, StartReplicaCall<Result>>> calls,
    const std::function<void()>& local,
    std::function<bool(const std::vector<ReplicaReply<Result>>&)> enough) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<ReplicaReply<Result>> replies;
    size_t pending = 0;
  };
  auto state = std::make_shared<State>();
  state->replies.resize(calls.size());
  state->pending = calls.size();
  for (size_t i = 0; i < calls.size(); ++i) state->replies[i].peer = calls[i].first;
  for (size_t i = 0; i < calls.size(); ++i) {
    // Not under the lock: a call may complete before its start returns.
    calls[i].second([state, i](rpc::Outcome<Result> outcome) {
      bool refused = false;
      std::string error;
      if (!outcome.value) {
        try {
          std::rethrow_exception(outcome.error);
        } catch (const diststore::wire::StoreError& e) {
          refused = true;
          error = e.message;
        } catch (const std::exception& e) {
          error = e.what();
        } catch (...) {
          error = "unknown error";
        }
      }
      std::lock_guard<std::mutex> lock(state->mu);
      auto& reply = state->replies[i];
      reply.done = true;
      reply.refused = refused;
      reply.error = std::move(error);
      reply.result = std::move(outcome.value);
      --state->pending;
      state->cv.notify_all();
    });
  }
  const std::exception_ptr local_error = RunLocal(local);
  std::unique_lock<std::mutex> lock(state->mu);
  state->cv.wait(lock, [&] { return state->pending == 0 || enough(state->replies); });
  std::vector<ReplicaReply<Result>> out = state->replies;
  lock.unlock();
  if (local_error) std::rethrow_exception(local_error);
  return out;
}

// The same for blocking calls: each runs on `pool` (a thread held per call until it returns).
// The calls that are still running finish on the pool after the caller returned, so each call
// must own what it uses (copies, shared_ptr) and never refer to the caller's locals.
template <class Result>
std::vector<ReplicaReply<Result>> QuorumCall(
    rpc::FanOut& pool, std::vector<std::pair<locator::wire::Location, std::function<Result()>>> calls,
    const std::function<void()>& local,
    std::function<bool(const std::vector<ReplicaReply<Result>>&)> enough) {
  std::vector<std::pair<locator::wire::Location, StartReplicaCall<Result>>> started;
  started.reserve(calls.size());
  for (auto& [peer, call] : calls) {
    started.emplace_back(peer, [&pool, call = std::move(call)](rpc::OutcomeHandler<Result> done) {
      pool.submit([call, done = std::move(done)] { done(rpc::OutcomeOf<Result>(call)); });
    });
  }
  return QuorumCall<Result>(std::move(started), local, std::move(enough));
}

}  // namespace thrifty::diststore
