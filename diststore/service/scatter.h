// Scatter: the one way the service layer calls several owners at once.
//
// Groups keys (or records) by their owner on a ring, runs one call per remote owner in
// parallel and the local share on the caller's thread, and waits for EVERY call before it
// returns, whatever throws: the calls may refer to the caller's locals. (Futures of
// packaged_task do not wait when destroyed; returning while a pool task still read a local
// map was a use-after-free.) With no local share the first remote call runs on the caller's
// thread: a request for one remote owner never leaves its thread.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "locator/membership/member_table.h"
#include "locator/rpc/channel_call.h"
#include "locator/rpc/fan_out.h"
#include "locator/service/ring.h"

namespace thrifty::diststore {

template <class Item>
struct OwnerGroup {
  locator::wire::Location owner;
  std::vector<Item> items;
  std::vector<size_t> indexes;  // positions of the items in the input
};

// Items grouped by ring owner ("host:port" -> group), in input order within a group.
template <class Item, class KeyOf>
std::map<std::string, OwnerGroup<Item>> GroupByOwner(const locator::Ring& ring,
                                                     const std::vector<Item>& items,
                                                     KeyOf key_of) {
  std::map<std::string, OwnerGroup<Item>> groups;
  for (size_t i = 0; i < items.size(); ++i) {
    const locator::wire::Location& owner = ring.owner(key_of(items[i]));
    auto& group = groups[membership::MemberName(owner)];
    group.owner = owner;
    group.items.push_back(items[i]);
    group.indexes.push_back(i);
  }
  return groups;
}

// Runs `local` (if set) here; returns its exception, for the caller to rethrow once its remote
// calls are done with the caller's locals.
inline std::exception_ptr RunLocal(const std::function<void()>& local) {
  if (!local) return nullptr;
  try {
    local();
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

// What one remote call gave: its result, or the exception it threw.
template <class Result>
struct CallOutcome {
  locator::wire::Location peer;
  std::optional<Result> result;
  std::exception_ptr error;
};

// Runs `remote[i].second()` for every i (in parallel on `pool`) and `local` on this thread,
// then waits for all. Returns the remote outcomes in order; `local`'s exception, if any, is
// rethrown only after every remote call finished.
template <class Result>
std::vector<CallOutcome<Result>> ScatterCalls(
    rpc::FanOut& pool,
    std::vector<std::pair<locator::wire::Location, std::function<Result()>>> remote,
    const std::function<void()>& local) {
  std::vector<std::future<Result>> futures;
  futures.reserve(remote.size());
  for (size_t i = 0; i < remote.size(); ++i) {
    auto call = remote[i].second;
    futures.push_back(i == 0 && !local ? std::async(std::launch::deferred, std::move(call))
                                       : pool.submit(std::move(call)));
  }
  const std::exception_ptr local_error = RunLocal(local);
  std::vector<CallOutcome<Result>> outcomes(remote.size());
  for (size_t i = 0; i < futures.size(); ++i) {
    outcomes[i].peer = remote[i].first;
    try {
      outcomes[i].result.emplace(futures[i].get());
    } catch (...) {
      outcomes[i].error = std::current_exception();
    }
  }
  if (local_error) std::rethrow_exception(local_error);
  return outcomes;
}

// A remote call started without waiting: it runs `done` once with its outcome, on whichever
// thread (a peer channel's loop, or the caller's before it returns).
template <class Result>
using StartCall = std::function<void(rpc::OutcomeHandler<Result> done)>;

// Completion-driven, waiting for nothing: starts every call (PeerClient's *_async forms) and
// returns; `finished` runs once with every outcome, in order, on the thread of the last
// completion (a peer channel's loop: it must not block) or on this one.
template <class Result>
void StartScatterCalls(std::vector<std::pair<locator::wire::Location, StartCall<Result>>> remote,
                       std::function<void(std::vector<CallOutcome<Result>>)> finished) {
  struct State {
    std::mutex mu;
    std::vector<CallOutcome<Result>> outcomes;
    size_t pending = 0;
    std::function<void(std::vector<CallOutcome<Result>>)> finished;
  };
  if (remote.empty()) return finished({});
  auto state = std::make_shared<State>();
  state->outcomes.resize(remote.size());
  state->pending = remote.size();
  state->finished = std::move(finished);
  for (size_t i = 0; i < remote.size(); ++i) state->outcomes[i].peer = remote[i].first;
  for (size_t i = 0; i < remote.size(); ++i) {
    remote[i].second([state, i](rpc::Outcome<Result> outcome) {
      std::vector<CallOutcome<Result>> all;
      {
        std::lock_guard<std::mutex> lock(state->mu);
        state->outcomes[i].result = std::move(outcome.value);
        state->outcomes[i].error = std::move(outcome.error);
        if (--state->pending != 0) return;
        all = std::move(state->outcomes);
      }
      state->finished(std::move(all));
    });
  }
}

// The same, waiting: starts every remote call, runs `local` on this thread, then waits for
// every call; no thread is held per call.
template <class Result>
std::vector<CallOutcome<Result>> ScatterCalls(
    std::vector<std::pair<locator::wire::Location, StartCall<Result>>> remote,
    const std::function<void()>& local) {
  // Shared: the last completion may still be inside set_value when this thread wakes.
  auto promise = std::make_shared<std::promise<std::vector<CallOutcome<Result>>>>();
  auto future = promise->get_future();
  StartScatterCalls<Result>(std::move(remote), [promise](std::vector<CallOutcome<Result>> all) {
    promise->set_value(std::move(all));
  });
  const std::exception_ptr local_error = RunLocal(local);
  std::vector<CallOutcome<Result>> outcomes = future.get();
  if (local_error) std::rethrow_exception(local_error);
  return outcomes;
}

}  // namespace thrifty::diststore
