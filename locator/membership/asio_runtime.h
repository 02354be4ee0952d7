// AsioRuntime: the production Scheduler and PacketTransport: one Boost.Asio io_context on one
// thread of its own, steady_timer timers and a UDP socket.
//
// Lifecycle: the constructor binds the socket (so a taken port fails at once, with a clear
// exception) but runs nothing; start() launches the thread; stop() or the destructor stops and
// joins it. Callbacks still queued then are dropped without running, so everything they use
// must outlive only the thread, not the runtime: stop() before destroying what the receiver
// and the scheduled callbacks touch (SwimAgent does this in the right order).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "locator/membership/swim_env.h"

namespace thrifty::membership {

class AsioRuntime final : public Scheduler, public PacketTransport {
 public:
  // A datagram from `from` (the UDP source: {ip, port}), on the io thread.
  using Receiver =
      std::function<void(const locator::wire::Location& from, const uint8_t* data, size_t size)>;

  // Binds a UDP socket to address:port (a literal IP or a host name resolved now; port 0
  // picks a free one, see local_endpoint()). Datagrams longer than `max_packet_size` are
  // dropped and counted. Throws std::runtime_error naming the endpoint if it cannot bind.
  AsioRuntime(const std::string& address, int port, size_t max_packet_size);
  ~AsioRuntime() override;
  AsioRuntime(const AsioRuntime&) = delete;
  AsioRuntime& operator=(const AsioRuntime&) = delete;

  // Starts the io thread and the receive loop. Call once.
  void start(Receiver receiver);
  // Stops and joins the io thread. Idempotent; not from the io thread.
  void stop();

  // Runs fn on the io thread. Thread-safe; dropped if the runtime is stopped.
  void post(std::function<void()> fn);
  bool in_io_thread() const { return std::this_thread::get_id() == io_thread_id_.load(); }

  // The bound endpoint {ip, port}.
  locator::wire::Location local_endpoint() const;

  // runtime_* counters (oversized datagrams, send and receive errors). Thread-safe.
  std::map<std::string, int64_t> stats() const;

  // Scheduler
  int64_t now_ms() override;
  int64_t wall_ms() override;
  void schedule(int64_t delay_ms, std::function<void()> fn) override;

  // PacketTransport (io thread only). Host names are resolved once and cached.
  void send(const locator::wire::Location& to, const std::string& bytes) override;

 private:
  struct Impl;
  void receive_next();

  std::unique_ptr<Impl> impl_;
  size_t max_packet_size_;
  std::thread thread_;
  std::atomic<std::thread::id> io_thread_id_{};
  std::mutex lifecycle_mu_;
  bool started_ = false;
  bool stopped_ = false;
  Receiver receiver_;
  std::atomic<int64_t> dropped_oversized_{0};
  std::atomic<int64_t> send_errors_{0};
  std::atomic<int64_t> receive_errors_{0};
};

}  // namespace thrifty::membership
