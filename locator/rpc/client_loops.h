// ClientLoops: the event-loop threads on which a node's peer channels (peer_channel.h) run
// their connections: a few threads for every peer and every call, never a thread per call.
//
// Each loop is an io_context run by one thread, so whatever a channel does on its loop runs
// on one thread at a time. Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace thrifty::rpc {

class ClientLoops {
 public:
  // Starts `threads` loops (at least one).
  explicit ClientLoops(size_t threads);
  // Stops the loops and joins their threads; handlers not yet run are dropped. Close the
  // channels first (PeerChannel::close), so that every call has been answered.
  ~ClientLoops();  // stop()
  // Runs what the loops have queued now (e.g. the failures PeerChannel::close queued), then
  // stops them and joins their threads; handlers posted later are dropped. Idempotent; not on
  // a loop thread.
  void stop();
  ClientLoops(const ClientLoops&) = delete;
  ClientLoops& operator=(const ClientLoops&) = delete;

  // The loops in turn: a new channel takes the next one.
  boost::asio::io_context& next();
  size_t size() const { return loops_.size(); }

 private:
  struct Loop {
    boost::asio::io_context context{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{
        context.get_executor()};
    std::thread thread;
  };
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<size_t> next_{0};
  std::once_flag stopped_;
};

}  // namespace thrifty::rpc
