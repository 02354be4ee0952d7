// RpcServer: serves one Thrift service on a TCP port with thrifty's limits, on event loops.
//
// Model: a few event-loop threads (`loops`, default one per core) own every connection. A loop
// reads whatever a socket has, cuts it into frames and hands each complete request to the call
// workers (call_workers.h), which run it through the generated processor in memory
// (call_runner.h) and write the reply. An open connection costs its socket and a small object,
// not a thread: idle, half-sent and slow connections cannot starve the others.
// See server_connection.h for what one connection may hold.
//
// With TLS (ServerOptions::tls) each connection first completes a handshake, within the frame
// timeout, and its peer is a certified node if it presented a certificate of the cluster's CA
// (per_connection.h); its replies are written by its loop.
//
// Limits (ServerOptions): a frame not complete within `frame_timeout_ms` closes its
// connection, so does silence past `idle_timeout_ms`; connections beyond `max_connections`
// are closed on accept; when the incomplete frames of all connections would hold more than
// `max_buffered_bytes`, the connection that grew them is closed. Each is counted in
// `counters` (rpc_counters.h), and so is every connection closed for what it sent (an
// oversized frame, a message overrunning its frame, a malformed message), logged rate-limited
// with the peer.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <thrift/TProcessor.h>

#include "locator/rpc/limits.h"
#include "locator/rpc/listener.h"
#include "locator/rpc/rpc_counters.h"

namespace boost::asio::ssl {
class context;
}

namespace thrifty::rpc {

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  int loops = 0;                     // event-loop threads; 0: one per core
  int workers = 512;                 // most calls running at once (threads made on demand)
  int idle_timeout_ms = 120000;      // a connection silent this long is closed
  int frame_timeout_ms = 10000;      // a request must arrive whole within this
  int max_connections = 10000;       // more are closed as soon as they are accepted
  int64_t max_buffered_bytes = int64_t{1} << 30;  // incomplete requests, all connections
  RpcLimits limits;
  // TLS on every connection (tls.h: MakeServerTlsContext); null: plain TCP. A plaintext
  // client is refused in the handshake (counted: rpc_tls_handshake_failures).
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Which requests a loop may run itself instead of handing them to a call worker: called on
  // a loop thread with a complete request frame (payload, no length header), it must be cheap
  // and thread-safe, and true only for a call that finishes on this node without waiting for
  // another node or an fsync (a read of this node's engine, a buffered write). Saves the
  // hand-off to a worker and back (two thread wake-ups per request). Empty: every call runs
  // on a worker.
  std::function<bool(const std::string& frame)> runs_inline;
  // Where refused connections are counted. Copies of these options share it: a node's stats
  // read it from the options its server was started with.
  std::shared_ptr<RpcCounters> counters = std::make_shared<RpcCounters>();
};

// Adds the server's counters and gauges (RpcCounters::Export) and its rpc_max_frame_bytes (the
// largest request it reads; clients size their requests by it) to `stats`.
void ExportServerStats(const ServerOptions& options, std::map<std::string, int64_t>* stats);

class RpcServer {
 public:
  // One processor per connection (see per_connection.h): what the node-to-node calls need.
  RpcServer(std::shared_ptr<apache::thrift::TProcessorFactory> processors,
            std::shared_ptr<Listener> listener, const ServerOptions& options);
  // One processor shared by every connection (for services without per-connection state).
  RpcServer(std::shared_ptr<apache::thrift::TProcessor> processor,
            std::shared_ptr<Listener> listener, const ServerOptions& options);
  ~RpcServer();  // stops

  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  // Starts the loops and accepting. Connections that waited in the backlog are served now.
  void start();
  // Stops accepting, closes every connection (a call still running finishes; its reply is
  // dropped) and joins the loops and workers. Idempotent.
  void stop();
  int port() const { return port_; }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  int port_;
};

}  // namespace thrifty::rpc
