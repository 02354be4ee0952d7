// Gate: holds the threads that pass() it until release(), and tells a test how many have
// arrived and how many wait in it now, so that the test knows what is queued behind them.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <mutex>

namespace thrifty::testing {

class Gate {
 public:
  // Counts the arrival, then waits until release() (returns at once afterwards).
  void pass() {
    std::unique_lock<std::mutex> lock(mu_);
    ++arrivals_;
    ++waiting_;
    open_cv_.wait(lock, [&] { return open_; });
    --waiting_;
  }
  bool entered() {
    std::lock_guard<std::mutex> lock(mu_);
    return arrivals_ > 0;
  }
  int arrivals() {
    std::lock_guard<std::mutex> lock(mu_);
    return arrivals_;
  }
  int waiting() {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    open_cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable open_cv_;
  int arrivals_ = 0;
  int waiting_ = 0;
  bool open_ = false;
};

}  // namespace thrifty::testing
