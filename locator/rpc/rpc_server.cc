#include "locator/rpc/rpc_server.h"

#include <algorithm>
#include <thread>
#include <unordered_map>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <glog/logging.h>

#include "locator/rpc/call_workers.h"
#include "locator/rpc/per_connection.h"
#include "locator/rpc/server_connection.h"

namespace thrifty::rpc {

using boost::asio::ip::tcp;

void ExportServerStats(const ServerOptions& options, std::map<std::string, int64_t>* stats) {
  if (options.counters) options.counters->Export(stats);
  (*stats)["rpc_max_frame_bytes"] = options.limits.max_frame_bytes;
}

namespace {

// Workers kept while no call runs: enough that a burst does not start with thread creation.
constexpr int kMinWorkers = 4;

std::string PeerName(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) return "an unknown peer";
  const std::string address = remote.address().to_string();
  return (remote.address().is_v6() ? "[" + address + "]" : address) + ":" +
         std::to_string(remote.port());
}

}  // namespace

// A loop's io_context. A connection may outlive its server (a continuation call answered after
// the server stopped holds it), and its socket must not outlive the context it was made on: so
// connections share the context, and stop() drops the handlers still queued on it (shutdown)
// instead of waiting for the context to be destroyed, which would make a cycle of them.
class LoopContext : public boost::asio::io_context {
 public:
  LoopContext() : boost::asio::io_context(1) {}
  using boost::asio::io_context::shutdown;
};

// One event loop: its io_context, run by one thread, owns its connections.
struct Loop {
  std::shared_ptr<LoopContext> shared_context = std::make_shared<LoopContext>();
  LoopContext& context = *shared_context;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{
      context.get_executor()};
  std::unordered_map<ServerConnection*, std::shared_ptr<ServerConnection>> connections;
  boost::asio::steady_timer sweep{context};
  std::chrono::steady_clock::time_point sweep_due;
  std::atomic<int64_t> lag_ms{0};
  std::thread thread;
};

class RpcServer::Impl {
 public:
  Impl(std::shared_ptr<apache::thrift::TProcessorFactory> processors,
       std::shared_ptr<Listener> listener, const ServerOptions& options)
      : processors_(std::move(processors)), listener_(std::move(listener)), options_(options) {
    if (!options_.counters) options_.counters = std::make_shared<RpcCounters>();
    context_.limits = options_.limits;
    context_.idle_timeout_ms = std::max(1, options_.idle_timeout_ms);
    context_.frame_timeout_ms = std::max(1, options_.frame_timeout_ms);
    // Room for at least one whole frame of the largest size, or no such request could arrive.
    context_.max_buffered_bytes =
        std::max<int64_t>(options_.max_buffered_bytes, options_.limits.max_frame_bytes);
    context_.counters = options_.counters;
    context_.tls = options_.tls;
    context_.runs_inline = options_.runs_inline;
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    loop_count_ = options_.loops > 0 ? options_.loops : cores;
    sweep_every_ = std::chrono::milliseconds(std::clamp(
        std::min(context_.frame_timeout_ms, context_.idle_timeout_ms) / 4, 10, 1000));
  }

  ~Impl() { stop(); }

  void start() {
    workers_ = std::make_unique<CallWorkers>(std::min(kMinWorkers, std::max(1, options_.workers)),
                                             std::max(1, options_.workers));
    context_.workers = workers_.get();
    for (int i = 0; i < loop_count_; ++i) loops_.push_back(std::make_unique<Loop>());
    acceptor_ = std::make_unique<tcp::acceptor>(loops_[0]->context);
    boost::system::error_code ec;
    const tcp protocol = listener_->ipv6() ? tcp::v6() : tcp::v4();
    acceptor_->assign(protocol, listener_->release(), ec);
    if (ec) throw BindError("cannot serve the listening socket: " + ec.message());
    for (auto& loop : loops_) schedule_sweep(*loop);
    accept();
    for (auto& loop : loops_) {
      Loop* l = loop.get();
      l->thread = std::thread([l] { l->context.run(); });
    }
    started_ = true;
  }

  void stop() {
    if (!started_) return;
    started_ = false;
    // Each loop closes its own connections (and the first its acceptor), then ends.
    for (size_t i = 0; i < loops_.size(); ++i) {
      Loop* loop = loops_[i].get();
      boost::asio::post(loop->context, [this, loop, i] {
        if (i == 0) {
          boost::system::error_code ec;
          acceptor_->close(ec);
        }
        loop->sweep.cancel();
        std::vector<std::shared_ptr<ServerConnection>> open;
        for (auto& [raw, connection] : loop->connections) open.push_back(connection);
        for (auto& connection : open) connection->close();
        loop->work.reset();
        loop->context.stop();
      });
    }
    for (auto& loop : loops_) loop->thread.join();
    // Calls still running finish here; what they post to the stopped loops is dropped with them.
    workers_.reset();
    acceptor_.reset();
    for (auto& loop : loops_) loop->context.shutdown();
    loops_.clear();
  }

 private:
  void accept() {
    Loop* target = loops_[next_loop_++ % loops_.size()].get();
    acceptor_->async_accept(target->context, [this, target](const boost::system::error_code& ec,
                                                             tcp::socket socket) {
      if (ec == boost::asio::error::operation_aborted || !acceptor_->is_open()) return;
      if (ec) {
        // Out of descriptors, most likely: say so, and try again shortly rather than spin.
        LOG_EVERY_T(WARNING, 1.0) << "accept on port " << acceptor_->local_endpoint().port()
                                  << " failed: " << ec.message();
        auto retry = std::make_shared<boost::asio::steady_timer>(loops_[0]->context,
                                                                 std::chrono::milliseconds(50));
        retry->async_wait([this, retry](const boost::system::error_code& e) {
          if (!e) accept();
        });
        return;
      }
      if (open_.load() >= options_.max_connections) {
        options_.counters->limited(RpcCounters::kOverConnectionLimit);
        LOG_EVERY_T(WARNING, 1.0) << "refused a connection from " << PeerName(socket) << ": "
                                  << options_.max_connections << " are open (--max-connections; "
                                  << "rpc_connections_over_limit counts them)";
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        ++open_;
        boost::asio::post(target->context, [this, target, s = std::move(socket)]() mutable {
          adopt(*target, std::move(s));
        });
      }
      accept();
    });
  }

  // On `loop`'s thread.
  void adopt(Loop& loop, tcp::socket socket) {
    std::string peer = PeerName(socket);
    auto make_processor = [processors = processors_](const ConnectionPeer& who) {
      apache::thrift::TConnectionInfo info;
      info.transport = std::make_shared<ConnectionPeer>(who);
      return processors->getProcessor(info);
    };
    auto connection = std::make_shared<ServerConnection>(
        context_, loop.shared_context, std::move(socket), std::move(peer), std::move(make_processor),
        [this, &loop](ServerConnection* closed) {
          --open_;
          loop.connections.erase(closed);  // may drop the last reference: the caller holds one
        });
    loop.connections.emplace(connection.get(), connection);
    connection->start();
  }

  void schedule_sweep(Loop& loop) {
    loop.sweep_due = std::chrono::steady_clock::now() + sweep_every_;
    loop.sweep.expires_at(loop.sweep_due);
    loop.sweep.async_wait([this, &loop](const boost::system::error_code& ec) {
      if (ec) return;
      const auto late = std::chrono::steady_clock::now() - loop.sweep_due;
      loop.lag_ms = std::chrono::duration_cast<std::chrono::milliseconds>(late).count();
      if (&loop == loops_[0].get()) {
        int64_t worst = 0;
        for (auto& l : loops_) worst = std::max<int64_t>(worst, l->lag_ms.load());
        options_.counters->loop_lag_ms() = worst;
      }
      const int64_t now = SteadyNowMs();
      std::vector<std::shared_ptr<ServerConnection>> open;
      open.reserve(loop.connections.size());
      for (auto& [raw, connection] : loop.connections) open.push_back(connection);
      for (auto& connection : open) connection->check_timeouts(now);
      schedule_sweep(loop);
    });
  }

  std::shared_ptr<apache::thrift::TProcessorFactory> processors_;
  std::shared_ptr<Listener> listener_;
  ServerOptions options_;
  ServerContext context_;
  int loop_count_ = 1;
  std::chrono::milliseconds sweep_every_{1000};
  std::unique_ptr<CallWorkers> workers_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  size_t next_loop_ = 0;
  std::atomic<int> open_{0};
  bool started_ = false;
};

RpcServer::RpcServer(std::shared_ptr<apache::thrift::TProcessor> processor,
                     std::shared_ptr<Listener> listener, const ServerOptions& options)
    : RpcServer(std::make_shared<apache::thrift::TSingletonProcessorFactory>(std::move(processor)),
                std::move(listener), options) {}

RpcServer::RpcServer(std::shared_ptr<apache::thrift::TProcessorFactory> processors,
                     std::shared_ptr<Listener> listener, const ServerOptions& options)
    : port_(listener->port()) {
  impl_ = std::make_unique<Impl>(std::move(processors), std::move(listener), options);
}

RpcServer::~RpcServer() { stop(); }

void RpcServer::start() { impl_->start(); }

void RpcServer::stop() { impl_->stop(); }

}  // namespace thrifty::rpc
