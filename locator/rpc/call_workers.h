// CallWorkers: the threads that run a server's calls, off its event loops.
//
// A call may wait on another node (a forwarded get, a quorum write), so calls do not run on
// the loops that read and write every connection: a loop hands each complete request here and
// goes back to its sockets. The pool keeps `min_threads` and grows on demand, one thread per
// call waiting for one, up to `max_threads`; a thread idle for `idle_retire_ms` above the
// minimum exits. Threads therefore follow the calls in progress, never the connections open:
// an idle or half-sent connection holds no thread.
//
// Thread-safe. The destructor runs what was submitted and joins every thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace thrifty::rpc {

class CallWorkers {
 public:
  CallWorkers(int min_threads, int max_threads, int idle_retire_ms = 30000);
  ~CallWorkers();
  CallWorkers(const CallWorkers&) = delete;
  CallWorkers& operator=(const CallWorkers&) = delete;

  // Runs `task` on a worker: an idle one, a new one while under max_threads, else the first to
  // finish its call.
  void submit(std::function<void()> task);

  int threads() const;  // alive now
  int busy() const;     // running a task now

 private:
  void work();
  void reap_finished_locked(std::vector<std::thread>* done);

  const int min_threads_;
  const int max_threads_;
  const int idle_retire_ms_;
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  std::vector<std::thread::id> finished_;  // retired threads, to be joined by the next caller
  int idle_ = 0;
  int alive_ = 0;
  bool stopping_ = false;
};

}  // namespace thrifty::rpc
