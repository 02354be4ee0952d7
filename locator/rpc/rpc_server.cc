#include "locator/rpc/rpc_server.h"

#include <sys/socket.h>

#include <algorithm>

#include <glog/logging.h>
#include <thrift/concurrency/ThreadFactory.h>
#include <thrift/concurrency/ThreadManager.h>
#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TTransportException.h>

#include "locator/rpc/framed_transport.h"

namespace thrifty::rpc {

using apache::thrift::TProcessor;
using apache::thrift::concurrency::ThreadFactory;
using apache::thrift::concurrency::ThreadManager;
using apache::thrift::protocol::TProtocol;
using apache::thrift::protocol::TProtocolException;
using apache::thrift::server::TThreadPoolServer;
using apache::thrift::transport::TServerSocket;
using apache::thrift::transport::TTransportException;

namespace {

// "address:port" of the client on the far end of a server connection's protocol (numeric:
// TSocket::getOrigin() would look the name up).
std::string PeerOf(TProtocol& protocol) {
  auto framed = std::dynamic_pointer_cast<apache::thrift::transport::TFramedTransport>(
      protocol.getTransport());
  auto socket = framed ? std::dynamic_pointer_cast<apache::thrift::transport::TSocket>(
                             framed->getUnderlyingTransport())
                       : nullptr;
  if (!socket) return "an unknown peer";
  return socket->getPeerAddress() + ":" + std::to_string(socket->getPeerPort());
}

// The processor every connection runs, around the service's own. What escapes process() ends
// the connection (TConnectedClient closes it), so each exception counted here is one
// connection refused for what it sent; other failures (a client gone, a timeout) are not.
class CountingProcessor : public TProcessor {
 public:
  CountingProcessor(std::shared_ptr<TProcessor> service, std::shared_ptr<RpcCounters> counters)
      : service_(std::move(service)), counters_(std::move(counters)) {}

  bool process(std::shared_ptr<TProtocol> in, std::shared_ptr<TProtocol> out,
               void* context) override {
    const auto peer = [&] { return PeerOf(*in); };
    try {
      if (service_->process(in, out, context)) return true;
      // TDispatchProcessor's answer to a message that is not a call (our protocol refuses
      // those first; this stays in case it does not).
      counters_->refused(RpcCounters::kProtocolError, peer, "a message that is not a call");
      return false;
    } catch (const OversizedFrame& e) {
      counters_->refused(RpcCounters::kOversizedFrame, peer, e.what());
      throw;
    } catch (const FrameOverrun& e) {
      counters_->refused(RpcCounters::kFrameOverrun, peer, e.what());
      throw;
    } catch (const TProtocolException& e) {
      counters_->refused(RpcCounters::kProtocolError, peer, e.what());
      throw;
    }
  }

 private:
  std::shared_ptr<TProcessor> service_;
  std::shared_ptr<RpcCounters> counters_;
};

// Each connection's processor, counted.
class CountingProcessorFactory : public apache::thrift::TProcessorFactory {
 public:
  CountingProcessorFactory(std::shared_ptr<apache::thrift::TProcessorFactory> inner,
                           std::shared_ptr<RpcCounters> counters)
      : inner_(std::move(inner)), counters_(std::move(counters)) {}
  std::shared_ptr<TProcessor> getProcessor(const apache::thrift::TConnectionInfo& info) override {
    return std::make_shared<CountingProcessor>(inner_->getProcessor(info), counters_);
  }

 private:
  std::shared_ptr<apache::thrift::TProcessorFactory> inner_;
  std::shared_ptr<RpcCounters> counters_;
};

}  // namespace

void ExportServerStats(const ServerOptions& options, std::map<std::string, int64_t>* stats) {
  if (options.counters) {
    options.counters->Export(stats);
    (*stats)["rpc_connections_open"] = options.counters->open_connections();
  }
  (*stats)["rpc_max_frame_bytes"] = options.limits.max_frame_bytes;
}

// The open connections, shared with each of them: a connection removes itself in its
// destructor, on the thread that drops its last reference. (Pruning expired weak_ptrs on the
// accept thread instead freed each connection's control block there, after a release made
// inside libthrift.)
struct BoundServerSocket::Children {
  std::mutex mu;
  std::unordered_set<Connection*> open;
  bool interrupted = false;  // set by interruptChildren(), cleared by listen()
  std::shared_ptr<RpcCounters> counters;  // where open connections are counted, if anywhere
};

BoundServerSocket::BoundServerSocket(const std::string& address, int port)
    : TServerSocket(address, port), children_(std::make_shared<Children>()) {
  TServerSocket::listen();
  bound_ = true;
}

void BoundServerSocket::listen() {
  {
    std::lock_guard<std::mutex> lock(children_->mu);
    children_->interrupted = false;
  }
  if (!bound_) {
    TServerSocket::listen();
    bound_ = true;
  }
}

void BoundServerSocket::close() {
  // The server closes its listener when serve() ends and then waits for every connection:
  // end them here too, whichever of stop()'s calls reached us first.
  interruptChildren();
  TServerSocket::close();
  bound_ = false;
}

// A connection that can be shut down from another thread: the mutex keeps shutdown() from
// reaching a descriptor number that close() already gave back (and the kernel reused).
class BoundServerSocket::Connection : public apache::thrift::transport::TSocket {
 public:
  Connection(THRIFT_SOCKET fd, std::shared_ptr<Children> children)
      : TSocket(fd), children_(std::move(children)) {}
  ~Connection() override {
    // Before anything of this object goes: interruptChildren() holds the lock while it uses
    // the connections it found.
    std::lock_guard<std::mutex> lock(children_->mu);
    children_->open.erase(this);
    if (counted_) counted_->connection_closed();
  }
  void close() override {
    std::lock_guard<std::mutex> lock(mu_);
    TSocket::close();
  }
  void shut_down() {
    std::lock_guard<std::mutex> lock(mu_);
    // Reads only: a blocked read returns end-of-file, while a reply being written for a
    // request already read still reaches its client.
    if (TSocket::isOpen()) ::shutdown(TSocket::getSocketFD(), SHUT_RD);
  }
  // Under children_->mu.
  void count_in(std::shared_ptr<RpcCounters> counters) {
    counted_ = std::move(counters);
    if (counted_) counted_->connection_opened();
  }

 private:
  std::shared_ptr<Children> children_;
  std::shared_ptr<RpcCounters> counted_;
  std::mutex mu_;
};

std::shared_ptr<apache::thrift::transport::TSocket> BoundServerSocket::createSocket(
    THRIFT_SOCKET client) {
  auto connection = std::make_shared<Connection>(client, children_);
  std::lock_guard<std::mutex> lock(children_->mu);
  // Accepted after the server began to stop (TServerFramework interrupts the children before
  // the listener): end it at once, as Thrift's interrupt pipe, which stays readable, would.
  if (children_->interrupted) connection->shut_down();
  children_->open.insert(connection.get());
  connection->count_in(children_->counters);
  return connection;
}

void BoundServerSocket::count_connections_in(std::shared_ptr<RpcCounters> counters) {
  std::lock_guard<std::mutex> lock(children_->mu);
  children_->counters = std::move(counters);
}

void BoundServerSocket::interruptChildren() {
  std::lock_guard<std::mutex> lock(children_->mu);
  children_->interrupted = true;
  // Under the lock: a connection being destroyed waits in its destructor until this is done.
  for (Connection* connection : children_->open) connection->shut_down();
}

std::shared_ptr<BoundServerSocket> BindFirstFree(const std::string& address, int first, int last) {
  for (int port = first; port <= last; ++port) {
    try {
      return std::make_shared<BoundServerSocket>(address, port);
    } catch (const TTransportException&) {
      // taken: try the next one
    }
  }
  throw std::runtime_error("no free port on " + address + " in " + std::to_string(first) + ".." +
                           std::to_string(last));
}

RpcServer::RpcServer(std::shared_ptr<apache::thrift::TProcessor> processor,
                     std::shared_ptr<BoundServerSocket> socket, const ServerOptions& options)
    : RpcServer(std::make_shared<apache::thrift::TSingletonProcessorFactory>(std::move(processor)),
                std::move(socket), options) {}

RpcServer::RpcServer(std::shared_ptr<apache::thrift::TProcessorFactory> processors,
                     std::shared_ptr<BoundServerSocket> socket, const ServerOptions& options)
    : socket_(std::move(socket)), port_(socket_->getPort()) {
  socket_->setRecvTimeout(options.idle_timeout_ms);
  socket_->count_connections_in(options.counters);
  workers_ = ThreadManager::newSimpleThreadManager(static_cast<size_t>(options.workers));
  workers_->threadFactory(std::make_shared<ThreadFactory>());
  workers_->start();
  if (options.counters) {
    processors = std::make_shared<CountingProcessorFactory>(std::move(processors), options.counters);
  }
  server_ = std::make_unique<TThreadPoolServer>(
      std::move(processors), socket_, MakeFramedTransportFactory(options.limits),
      MakeBinaryProtocolFactory(options.limits), workers_);
}

RpcServer::~RpcServer() { stop(); }

void RpcServer::start() {
  thread_ = std::thread([this] {
    try {
      server_->serve();
    } catch (const std::exception& e) {
      LOG(ERROR) << "RPC server on port " << port_ << " stopped: " << e.what();
    }
  });
}

void RpcServer::stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
  workers_->stop();
}

}  // namespace thrifty::rpc
