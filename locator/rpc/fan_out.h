// FanOut: runs one call per peer in parallel on a shared worker pool and collects the results.
//
// The nydus "map": many requests over many nodes at once. The pool is sized for blocking RPCs
// (each task holds a worker for the duration of one call, bounded by the pool's deadlines).
#pragma once

#include <future>
#include <memory>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace thrifty::rpc {

class FanOut {
 public:
  explicit FanOut(size_t threads) : pool_(threads) {}
  ~FanOut() { pool_.join(); }
  FanOut(const FanOut&) = delete;
  FanOut& operator=(const FanOut&) = delete;

  // Starts fn() on the pool; the future holds its result or exception.
  template <typename Fn>
  auto submit(Fn fn) -> std::future<decltype(fn())> {
    auto task = std::make_shared<std::packaged_task<decltype(fn())()>>(std::move(fn));
    auto future = task->get_future();
    boost::asio::post(pool_, [task] { (*task)(); });
    return future;
  }

  // Where timers run their handlers (on the pool's threads).
  boost::asio::thread_pool::executor_type executor() { return pool_.get_executor(); }

  // Runs fn(item) for every item in parallel and waits for all; results in item order.
  // Exceptions stay inside the returned futures' slots: callers decide what a failure means.
  template <typename Item, typename Fn>
  auto map(const std::vector<Item>& items, Fn fn)
      -> std::vector<std::future<decltype(fn(items.front()))>> {
    std::vector<std::future<decltype(fn(items.front()))>> futures;
    futures.reserve(items.size());
    for (const Item& item : items) {
      futures.push_back(submit([&fn, &item] { return fn(item); }));
    }
    for (auto& f : futures) f.wait();
    return futures;
  }

 private:
  boost::asio::thread_pool pool_;
};

}  // namespace thrifty::rpc
