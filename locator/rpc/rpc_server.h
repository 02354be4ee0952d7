// RpcServer: serves one Thrift processor on a TCP port with thrifty's limits.
//
// Model: a thread-pool server (a worker per connection for the connection's life). 0.17's
// TThreadedServer can abort the process on a malformed request; the pool server logs and
// drops that connection. Idle connections are closed after `idle_timeout_ms`.
//
// A connection closed for what it sent (an oversized frame, a message overrunning its frame,
// a malformed message) is counted in `ServerOptions::counters` and logged, rate-limited.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include <thrift/TProcessor.h>
#include <thrift/server/TThreadPoolServer.h>
#include <thrift/transport/TSocket.h>
#include <thrift/transport/TServerSocket.h>

#include "locator/rpc/limits.h"
#include "locator/rpc/rpc_counters.h"

namespace thrifty::rpc {

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  int workers = 512;              // concurrent connections served at once
  int idle_timeout_ms = 120000;   // a connection silent this long is closed
  RpcLimits limits;
  // Where refused connections are counted. Copies of these options share it: a node's stats
  // read it from the options its server was started with.
  std::shared_ptr<RpcCounters> counters = std::make_shared<RpcCounters>();
};

// Adds the server's refusal counters, rpc_connections_open and its rpc_max_frame_bytes (the
// largest request it reads; clients size their requests by it) to `stats`.
void ExportServerStats(const ServerOptions& options, std::map<std::string, int64_t>* stats);

// A server socket that is bound and listening from construction, so the port is known (and
// owned) before the server starts. TServer::serve() calls listen() again: that call is a no-op.
//
// Its connections read straight from the socket. Thrift's "interruptable children" poll the
// socket and an interrupt pipe before every recv (two system calls per read, a third of a
// node's CPU under load); instead, interruptChildren() shuts every open connection down,
// which ends a blocked read just as well when the server stops.
class BoundServerSocket : public apache::thrift::transport::TServerSocket {
 public:
  // Binds `address:port` and listens. Throws TTransportException if the port is taken.
  BoundServerSocket(const std::string& address, int port);
  void listen() override;
  void close() override;
  void interruptChildren() override;
  // Counts the connections accepted from now on in `counters` while they are open.
  void count_connections_in(std::shared_ptr<RpcCounters> counters);

 protected:
  std::shared_ptr<apache::thrift::transport::TSocket> createSocket(THRIFT_SOCKET client) override;

 private:
  class Connection;
  struct Children;  // the open connections; each removes itself when it is destroyed
  bool bound_ = false;
  std::shared_ptr<Children> children_;
};

// Binds the first free port of [first, last] on `address`; throws std::runtime_error naming the
// range if none is free. Port 0 asks the kernel for any free port.
std::shared_ptr<BoundServerSocket> BindFirstFree(const std::string& address, int first, int last);

class RpcServer {
 public:
  // One processor per connection (see per_connection.h): what the node-to-node calls need.
  RpcServer(std::shared_ptr<apache::thrift::TProcessorFactory> processors,
            std::shared_ptr<BoundServerSocket> socket, const ServerOptions& options);
  // One processor shared by every connection (for services without per-connection state).
  RpcServer(std::shared_ptr<apache::thrift::TProcessor> processor,
            std::shared_ptr<BoundServerSocket> socket, const ServerOptions& options);
  ~RpcServer();  // stops and joins

  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  // Starts serving on a background thread.
  void start();
  // Stops accepting, interrupts open connections and waits for the serving thread.
  void stop();
  int port() const { return port_; }

 private:
  std::shared_ptr<BoundServerSocket> socket_;
  std::shared_ptr<apache::thrift::concurrency::ThreadManager> workers_;
  std::unique_ptr<apache::thrift::server::TThreadPoolServer> server_;
  std::thread thread_;
  int port_;
};

}  // namespace thrifty::rpc
