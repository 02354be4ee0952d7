#include "locator/rpc/call_workers.h"

#include <algorithm>

namespace thrifty::rpc {

CallWorkers::CallWorkers(int min_threads, int max_threads, int idle_retire_ms, int stall_ms)
    : min_threads_(std::max(1, min_threads)),
      max_threads_(std::max({1, min_threads, max_threads})),
      idle_retire_ms_(idle_retire_ms),
      stall_(std::chrono::milliseconds(std::max(1, stall_ms))) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int i = 0; i < min_threads_; ++i) start_thread_locked();
  supervisor_thread_ = std::thread([this] { supervise(); });
}

CallWorkers::~CallWorkers() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  ready_.notify_all();
  supervisor_.notify_all();
  supervisor_thread_.join();  // no thread is started after this
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

void CallWorkers::start_thread_locked() {
  ++alive_;
  threads_.emplace_back([this] { work(); });
}

void CallWorkers::reap_finished_locked(std::vector<std::thread>* done) {
  if (finished_.empty()) return;
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (std::find(finished_.begin(), finished_.end(), it->get_id()) != finished_.end()) {
      done->push_back(std::move(*it));
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
  finished_.clear();
}

void CallWorkers::submit(std::function<void()> task) {
  bool wake_supervisor = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back({std::move(task), Clock::now()});
    wake_supervisor = supervisor_parked_;
    supervisor_parked_ = false;
  }
  ready_.notify_one();
  if (wake_supervisor) supervisor_.notify_one();
}

int CallWorkers::threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return alive_;
}

int CallWorkers::busy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return alive_ - idle_;
}

void CallWorkers::supervise() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    std::vector<std::thread> done;
    reap_finished_locked(&done);
    if (!done.empty()) {
      lock.unlock();
      for (auto& t : done) t.join();  // already returned from work(): joins at once
      lock.lock();
      continue;
    }
    if (tasks_.empty()) {
      // Parked until the next submit: no timer runs while the pool has nothing queued.
      supervisor_parked_ = true;
      supervisor_.wait(lock, [this] { return stopping_ || !supervisor_parked_; });
      continue;
    }
    const auto now = Clock::now();
    const auto oldest = tasks_.front().queued;
    if (now - oldest < stall_) {
      supervisor_.wait_until(lock, oldest + stall_);
      continue;
    }
    // A task waited the stall time. Threads woken for it but not yet running count as idle:
    // if there are such, the CPU is busy and another thread would not help.
    if (idle_ == 0 && alive_ < max_threads_) start_thread_locked();
    supervisor_.wait_for(lock, stall_);
  }
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
    auto task = std::move(tasks_.front().run);
    tasks_.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // what the task held goes before the lock is taken again
    lock.lock();
  }
  --alive_;
  if (!stopping_) {
    finished_.push_back(std::this_thread::get_id());
    supervisor_parked_ = false;  // the supervisor joins it
    supervisor_.notify_one();
  }
}

}  // namespace thrifty::rpc
