// CallWorkers: the threads that run a server's calls, off its event loops.
//
// A call may wait on another node (a forwarded get, a quorum write), so calls do not run on
// the loops that read and write every connection: a loop hands each complete request here and
// goes back to its sockets. The pool keeps `min_threads`. A task that has waited `stall_ms`
// with no thread free to take it means every worker is busy or blocked: a supervisor then
// starts one more thread (at most one per `stall_ms`, up to `max_threads`). Quick calls are
// taken by the threads there are, however many connections send them; threads are added
// only while calls wait on something, and a thread idle for `idle_retire_ms` above the
// minimum exits. An idle or half-sent connection holds no thread.
//
// Thread-safe. The destructor runs what was submitted and joins every thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace thrifty::rpc {

class CallWorkers {
 public:
  CallWorkers(int min_threads, int max_threads, int idle_retire_ms = 30000, int stall_ms = 5);
  ~CallWorkers();
  CallWorkers(const CallWorkers&) = delete;
  CallWorkers& operator=(const CallWorkers&) = delete;

  // Runs `task` on a worker, in submission order among the waiting tasks.
  void submit(std::function<void()> task);

  int threads() const;  // worker threads alive now (the supervisor not counted)
  int busy() const;     // running a task now

 private:
  using Clock = std::chrono::steady_clock;
  struct Task {
    std::function<void()> run;
    Clock::time_point queued;
  };
  void work();
  void supervise();
  void start_thread_locked();
  void reap_finished_locked(std::vector<std::thread>* done);

  const int min_threads_;
  const int max_threads_;
  const int idle_retire_ms_;
  const Clock::duration stall_;
  mutable std::mutex mu_;
  std::condition_variable ready_;       // workers wait here for tasks
  std::condition_variable supervisor_;  // the supervisor waits here while nothing is queued
  std::deque<Task> tasks_;
  std::vector<std::thread> threads_;
  std::vector<std::thread::id> finished_;  // retired threads, to be joined by the next caller
  std::thread supervisor_thread_;
  bool supervisor_parked_ = false;
  int idle_ = 0;
  int alive_ = 0;
  bool stopping_ = false;
};

}  // namespace thrifty::rpc
