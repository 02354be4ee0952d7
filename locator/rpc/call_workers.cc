#include "locator/rpc/call_workers.h"

#include <algorithm>
#include <chrono>

namespace thrifty::rpc {

CallWorkers::CallWorkers(int min_threads, int max_threads, int idle_retire_ms)
    : min_threads_(std::max(0, min_threads)),
      max_threads_(std::max({1, min_threads, max_threads})),
      idle_retire_ms_(idle_retire_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int i = 0; i < min_threads_; ++i) {
    ++alive_;
    threads_.emplace_back([this] { work(); });
  }
}

CallWorkers::~CallWorkers() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  ready_.notify_all();
  for (auto& t : threads) t.join();
}

void CallWorkers::reap_finished_locked(std::vector<std::thread>* done) {
  if (finished_.empty()) return;
  auto retired = [this](const std::thread& t) {
    return std::find(finished_.begin(), finished_.end(), t.get_id()) != finished_.end();
  };
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (retired(*it)) {
      done->push_back(std::move(*it));
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
  finished_.clear();
}

void CallWorkers::submit(std::function<void()> task) {
  std::vector<std::thread> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
    // Each task waiting beyond the idle threads gets a new thread, up to the limit.
    if (static_cast<int>(tasks_.size()) > idle_ && alive_ < max_threads_ && !stopping_) {
      ++alive_;
      threads_.emplace_back([this] { work(); });
    }
    reap_finished_locked(&done);
  }
  ready_.notify_one();
  for (auto& t : done) t.join();  // already returned from work(): joins at once
}

int CallWorkers::threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return alive_;
}

int CallWorkers::busy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return alive_ - idle_;
}

void CallWorkers::work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (tasks_.empty()) {
      if (stopping_) break;
      ++idle_;
      const bool woken = ready_.wait_for(lock, std::chrono::milliseconds(idle_retire_ms_),
                                         [this] { return !tasks_.empty() || stopping_; });
      --idle_;
      if (!woken && alive_ > min_threads_) break;  // idle too long, and more than the minimum
      continue;
    }
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // what the task held goes before the lock is taken again
    lock.lock();
  }
  --alive_;
  if (!stopping_) finished_.push_back(std::this_thread::get_id());
}

}  // namespace thrifty::rpc
