// QuorumCall: calls several replicas at once and returns as soon as enough have answered.
//
// Unlike ScatterCalls (which waits for every call), a quorum call returns once `enough` says
// so, or when every call has finished: a slow or hung replica costs a request nothing when
// the others make up the quorum; outcomes that come later are dropped. Calls are started
// asynchronously (PeerClient's *_async forms on peer channels: completion-driven, no thread
// per call); some may be held back and started only if the others do not make the quorum in
// time (a speculative retry, HeldBack). A
// call's failure comes back in words, not as an exception object: such an object would be
// freed by whichever thread drops the shared state last, possibly while the caller still
// reads it.
#pragma once

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/steady_timer.hpp>

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

// Calls held back until they are needed (a speculative retry): `calls[first..]` start only
// when a call started before them fails, when this node's own share did not answer, or after
// `delay_ms` without a decision (a timer on `timers`). The default holds nothing back.
struct HeldBack {
  size_t first = static_cast<size_t>(-1);
  int delay_ms = 0;
  rpc::FanOut* timers = nullptr;  // required when something is held back and delay_ms > 0
};

// Starts the calls (all, or those before `held.first`), runs `local` (may be empty; returns
// whether this node's own share answered, must not throw) on this thread, and returns. Once
// enough(replies) is true (checked after `local` and after each completion, under a lock: keep
// it cheap and non-blocking) or every call is done, `finished` runs exactly once with the
// replies as they stood then: on this thread, or on the thread of the completion that decided
// it (a peer channel's loop: `finished` must not block). Calls still held back then are never
// started, calls still running cost no thread and their outcomes are dropped.
//
// Completion-driven: no thread waits for a call. `enough` and `finished` run after this
// returns and must own what they use (shared state), never the caller's locals.
template <class Result>
void StartQuorumCall(
    std::vector<std::pair<locator::wire::Location, StartReplicaCall<Result>>> calls,
    const std::function<bool()>& local,
    std::function<bool(const std::vector<ReplicaReply<Result>>&)> enough,
    std::function<void(std::vector<ReplicaReply<Result>>)> finished, HeldBack held = {}) {
  struct State : std::enable_shared_from_this<State> {
    std::mutex mu;
    std::vector<ReplicaReply<Result>> replies;
    std::vector<StartReplicaCall<Result>> starts;
    size_t pending = 0;
    size_t held_from = 0;      // starts[held_from..] not started yet
    bool local_done = false;   // `enough` is asked only once this node's share is in
    bool decided = false;
    std::function<bool(const std::vector<ReplicaReply<Result>>&)> enough;
    std::function<void(std::vector<ReplicaReply<Result>>)> finished;
    std::unique_ptr<boost::asio::steady_timer> timer;

    // Under mu: the held-back calls, now released (the caller starts them unlocked).
    std::vector<size_t> release() {
      std::vector<size_t> out;
      for (size_t i = held_from; i < starts.size(); ++i) out.push_back(i);
      held_from = starts.size();
      return out;
    }
    // Under mu: whether this call of it decides the quorum call (then the caller runs
    // `finished` with *out, unlocked).
    bool decide(std::vector<ReplicaReply<Result>>* out) {
      if (decided || !local_done || (pending != 0 && !enough(replies))) return false;
      decided = true;
      if (timer) timer->cancel();
      *out = replies;
      return true;
    }
    void start(const std::vector<size_t>& indexes) {
      for (size_t i : indexes) {
        // Not under the lock: a call may complete before its start returns.
        starts[i]([self = this->shared_from_this(), i](rpc::Outcome<Result> outcome) {
          self->complete(i, std::move(outcome));
        });
      }
    }
    void complete(size_t i, rpc::Outcome<Result> outcome) {
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
      std::vector<size_t> released;
      std::vector<ReplicaReply<Result>> out;
      bool now_decided;
      {
        std::lock_guard<std::mutex> lock(mu);
        auto& reply = replies[i];
        reply.done = true;
        reply.refused = refused;
        reply.error = std::move(error);
        const bool failed = !outcome.value;
        reply.result = std::move(outcome.value);
        --pending;
        now_decided = decide(&out);
        if (failed && !decided) released = release();
      }
      start(released);
      if (now_decided) finished(std::move(out));
    }
  };
  auto state = std::make_shared<State>();
  state->replies.resize(calls.size());
  state->pending = calls.size();
  state->enough = std::move(enough);
  state->finished = std::move(finished);
  state->held_from = std::min(held.first, calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    state->replies[i].peer = calls[i].first;
    state->starts.push_back(std::move(calls[i].second));
  }
  if (state->held_from < calls.size() && held.delay_ms > 0 && held.timers) {
    // Armed before any call starts: only then is the timer touched by one thread at a time
    // (later only under the lock, by cancel()).
    state->timer = std::make_unique<boost::asio::steady_timer>(held.timers->executor());
    state->timer->expires_after(std::chrono::milliseconds(held.delay_ms));
    state->timer->async_wait([state](const boost::system::error_code& error) {
      if (error) return;  // cancelled: decided before the delay
      std::vector<size_t> released;
      {
        std::lock_guard<std::mutex> lock(state->mu);
        if (!state->decided) released = state->release();
      }
      state->start(released);
    });
  }
  std::vector<size_t> first;
  for (size_t i = 0; i < state->held_from; ++i) first.push_back(i);
  state->start(first);
  const bool local_answered = local ? local() : true;
  std::vector<size_t> released;
  std::vector<ReplicaReply<Result>> out;
  bool now_decided;
  {
    std::lock_guard<std::mutex> lock(state->mu);
    state->local_done = true;
    now_decided = state->decide(&out);
    if (!local_answered && !state->decided) released = state->release();
  }
  state->start(released);
  if (now_decided) state->finished(std::move(out));
}

// The same, waiting: starts every call, runs `local` (may be empty) on this thread, then waits
// until enough(replies) is true or every call is done, and returns the replies as they stood
// then. `local` may use the caller's locals; its exception propagates after the wait. No thread
// waits for a call but this one for its quorum.
template <class Result>
std::vector<ReplicaReply<Result>> QuorumCall(
    std::vector<std::pair<locator::wire::Location, StartReplicaCall<Result>>> calls,
    const std::function<void()>& local,
    std::function<bool(const std::vector<ReplicaReply<Result>>&)> enough) {
  auto promise = std::make_shared<std::promise<std::vector<ReplicaReply<Result>>>>();
  auto future = promise->get_future();
  std::exception_ptr local_error;
  StartQuorumCall<Result>(
      std::move(calls),
      [&] {
        local_error = RunLocal(local);
        return true;
      },
      std::move(enough),
      [promise](std::vector<ReplicaReply<Result>> replies) { promise->set_value(std::move(replies)); });
  auto replies = future.get();
  if (local_error) std::rethrow_exception(local_error);
  return replies;
}

}  // namespace thrifty::diststore
