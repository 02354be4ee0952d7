// QuorumCall: calls several replicas at once and returns as soon as enough have answered.
//
// Unlike ScatterCalls (which waits for every call), a quorum call returns once `enough` says
// so, or when every call has finished: a slow or hung replica costs a request nothing when
// the others make up the quorum. The calls that are still running finish on the pool after
// the caller returned, so each call must own what it uses (copies, shared_ptr) and never
// refer to the caller's locals; their outcomes are then dropped. A call's failure comes back
// in words, not as an exception object: such an object would be freed by whichever thread
// drops the shared state last, possibly while the caller still reads it.
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

#include "locator/rpc/fan_out.h"
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

// Starts every call on `pool`, runs `local` (may be empty) on this thread, then waits until
// enough(replies) is true (checked after each completion, under a lock: keep it cheap) or
// every call is done. `local` runs before the wait and may use the caller's locals; its
// exception propagates after the wait. Returns the replies as they stood then.
template <class Result>
std::vector<ReplicaReply<Result>> QuorumCall(
    rpc::FanOut& pool, std::vector<std::pair<locator::wire::Location, std::function<Result()>>> calls,
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
  for (size_t i = 0; i < calls.size(); ++i) {
    state->replies[i].peer = calls[i].first;
    pool.submit([state, i, call = std::move(calls[i].second)] {
      std::optional<Result> result;
      bool refused = false;
      std::string error;
      try {
        result.emplace(call());
      } catch (const diststore::wire::StoreError& e) {
        refused = true;
        error = e.message;
      } catch (const std::exception& e) {
        error = e.what();
      } catch (...) {
        error = "unknown error";
      }
      std::lock_guard<std::mutex> lock(state->mu);
      auto& reply = state->replies[i];
      reply.done = true;
      reply.refused = refused;
      reply.error = std::move(error);
      reply.result = std::move(result);
      --state->pending;
      state->cv.notify_all();
    });
  }
  std::exception_ptr local_error;
  if (local) {
    try {
      local();
    } catch (...) {
      local_error = std::current_exception();
    }
  }
  std::unique_lock<std::mutex> lock(state->mu);
  state->cv.wait(lock, [&] { return state->pending == 0 || enough(state->replies); });
  std::vector<ReplicaReply<Result>> out = state->replies;
  lock.unlock();
  if (local_error) std::rethrow_exception(local_error);
  return out;
}

}  // namespace thrifty::diststore
