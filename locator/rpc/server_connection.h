// ServerConnection: one client connection of an RpcServer (rpc_server.h), owned by one event
// loop.
//
// The loop reads whatever the socket has into a FrameParser (frame_parser.h) and queues each
// complete request; a worker (call_workers.h) runs the queue, one request after another, through
// the connection's CallRunner (call_runner.h), so a connection's requests are answered in the
// order they came (pipelining works for any Thrift client). Requests the server's runs_inline
// accepts (quick calls that stay on this node) are run by the loop itself while no worker has
// the queue, at most kMaxInlineRuns per read, so a loop serves its other connections soon. A reply is written straight from
// the worker with a non-blocking send; only what the socket buffer does not take waits for the
// loop's async write. A request the processor takes as a continuation (continuation_calls.h)
// frees its worker: the queue waits, holding no thread, until the call's reply comes (from
// whichever thread), then goes on on a worker.
//
// What a connection may hold is bounded: the incomplete frame (only the bytes that arrived),
// queued requests up to kMaxQueuedBytes (the loop stops reading until the worker catches up),
// and replies not yet taken by the client up to kMaxUnsentBytes (the worker stops running
// requests until the client reads).
//
// Threads: start(), close() and check_timeouts() run on the connection's loop; the rest is
// internal. The loop's list of connections keeps it alive until close().
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "locator/rpc/call_runner.h"
#include "locator/rpc/call_workers.h"
#include "locator/rpc/continuation_calls.h"
#include "locator/rpc/frame_parser.h"
#include "locator/rpc/limits.h"
#include "locator/rpc/per_connection.h"
#include "locator/rpc/rpc_counters.h"

namespace thrifty::rpc {

// What every connection of a server shares.
struct ServerContext {
  RpcLimits limits;
  int idle_timeout_ms = 0;
  int frame_timeout_ms = 0;
  int64_t max_buffered_bytes = 0;
  std::shared_ptr<RpcCounters> counters;
  CallWorkers* workers = nullptr;
  // TLS on every connection (tls.h); null: plain TCP.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // ServerOptions::runs_inline: requests the loop runs itself (empty: none).
  std::function<bool(const std::string& frame)> runs_inline;
};

// Makes the processor of a connection, once it is known who is on it.
using MakeProcessor =
    std::function<std::shared_ptr<apache::thrift::TProcessor>(const ConnectionPeer& peer)>;

class ServerConnection : public std::enable_shared_from_this<ServerConnection> {
 public:
  static constexpr size_t kMaxQueuedBytes = 8 << 20;
  static constexpr size_t kMaxQueuedRequests = 256;
  static constexpr size_t kMaxUnsentBytes = 8 << 20;
  static constexpr size_t kMaxInlineRuns = 32;

  // `make_processor` runs on the loop before the first request (with TLS, after the
  // handshake); `on_closed` runs on the loop once the connection is closed (the loop drops it
  // there).
  // `loop_context` is the io_context `socket` was made on: held so that the socket never
  // outlives it.
  ServerConnection(const ServerContext& server, std::shared_ptr<boost::asio::io_context> loop_context,
                   boost::asio::ip::tcp::socket socket,
                   std::string peer, MakeProcessor make_processor,
                   std::function<void(ServerConnection*)> on_closed);
  ~ServerConnection();

  ServerConnection(const ServerConnection&) = delete;
  ServerConnection& operator=(const ServerConnection&) = delete;

  // Starts reading (with TLS, the handshake first: it must end within the frame timeout).
  // Loop thread.
  void start();
  // Closes the socket at once; requests not yet run are dropped, a running one finishes and
  // its reply is dropped. Idempotent. Loop thread.
  void close();
  // Closes the connection if a frame has taken longer than the frame timeout, or it has been
  // idle longer than the idle timeout (nothing received, running or unsent). Loop thread.
  void check_timeouts(int64_t now_ms);

  const std::string& peer() const { return peer_; }

 private:
  void ready(bool certified);
  void arm_read();
  void wait_readable();
  void on_readable();
  void read_tls();
  void after_read(std::vector<std::string>& frames, size_t bytes, bool ended);
  void refuse_oversized();
  // Runs the queue, one request after another, until it is empty or must wait (the client's
  // unread replies, a refused request). On a worker: everything. On the loop (`on_loop`): only
  // while the next request may run inline, at most kMaxInlineRuns; then hands the rest to a
  // worker. The caller set running_.
  void run_queued(bool on_loop = false);
  // Under mu_ on the loop, with running_ clear: whether the next request may run inline.
  bool next_runs_inline_locked() const;
  bool send_locked(const std::string& reply);
  // Under mu_: forgets the requests not yet run (they are no longer in progress).
  void drop_queued_locked();
  // Under mu_: hands the queue to a worker unless one has it, there is nothing to run, a
  // refused request ended the connection, or the client has too many replies unread.
  void run_queue_locked();
  // Under mu_: everything asked is answered and sent, and nothing more will come.
  bool finished_locked() const;
  void write_unsent();  // loop
  void post_close();
  // A continuation call's reply (any thread).
  void continued(std::string reply);

  const ServerContext& server_;
  const std::shared_ptr<boost::asio::io_context> loop_context_;  // before socket_: outlives it
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  const std::string peer_;
  MakeProcessor make_processor_;
  std::function<void(ServerConnection*)> on_closed_;
  // The server's counters, held here too: a continuation's reply may come after the server
  // (and its ServerContext) is gone.
  const std::shared_ptr<RpcCounters> counters_;

  // Loop only.
  FrameParser parser_;
  int64_t counted_buffered_ = 0;  // parser_.buffered() as last added to the server's gauge
  int64_t frame_started_ms_ = 0;  // when the incomplete frame began
  bool read_armed_ = false;
  bool handshaking_ = false;
  std::vector<uint8_t> tls_buffer_;  // what a TLS read decrypts into

  // The runner is used by one thread at a time: whoever set running_. Made by ready().
  std::unique_ptr<CallRunner> runner_;
  std::string reply_storage_;
  // The processor's continuation calls, if it has any (set by ready(), like runner_).
  std::shared_ptr<ContinuationCalls> continuations_;

  std::mutex mu_;
  std::deque<std::string> queued_;
  size_t queued_bytes_ = 0;
  bool running_ = false;        // a worker owns the queue (or a continuation call holds it)
  bool starting_ = false;       // a worker is starting a continuation call
  bool awaiting_ = false;       // a continuation call was started and has not answered
  std::string early_reply_;     // its reply, when it came before start_call returned
  bool early_replied_ = false;
  std::string unsent_;          // replies the socket did not take yet, in order
  std::string writing_;         // the part of them an async write is sending
  bool write_armed_ = false;    // an async write is under way (or posted)
  bool read_paused_ = false;    // reading stopped until the queue drains
  bool peer_done_ = false;      // end of input (or a read error): close once all is answered
  bool close_after_write_ = false;
  bool closed_ = false;
  std::atomic<int64_t> last_activity_ms_;
};

int64_t SteadyNowMs();

}  // namespace thrifty::rpc
