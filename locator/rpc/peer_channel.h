// PeerChannel: non-blocking, pipelined Thrift calls to one peer over a few connections.
//
// A call is a whole request frame (CallBuffer::take_frame: a generated send_* half written into
// memory, see channel_call.h). The channel gives it a sequence id unique on its connection,
// queues it there (several calls in one write when they arrive together) and matches the
// reply frame by that id, so replies may come in any order. Nothing waits for a reply: the
// call's handler runs when it comes, with the reply's payload, or with the error.
//
// Connections: up to `connections` to the peer, opened as calls need them (a second one once
// the first has a call in flight). A call goes to an idle connection if there is one, else to
// the one whose oldest unanswered call is the most recent (the peer answers a connection's calls
// in order, so a call must not queue behind a slow one while another connection moves). Opening one is TCP connect, then the TLS handshake (when `tls` is set: the server's
// certificate must chain to the CA and name the dialled address, tls.h), then the `prologue`
// calls on it (the peer handshake of peer_auth.h), all within `connect_timeout_ms`. Calls wait
// in the channel until a connection is set up. A connection that cannot be opened fails the
// calls waiting for it, and the channel waits (backoff, from `backoff_min_ms` doubling up to
// `backoff_max_ms`) before it tries again; a call made during the wait waits for that try. A
// connection that fails after it was set up (the peer closed it, reset, a malformed reply)
// fails every call in flight on it at once; the next call opens a new one.
//
// Deadlines: a call not answered by its deadline fails with TTransportException(TIMED_OUT);
// its reply, should it still come, is dropped and counted (late_replies). The call may still
// run on the peer: what is not idempotent must not be retried blindly.
//
// Bounds: at most `max_in_flight` calls accepted and not yet answered, and `max_queued_bytes`
// of requests accepted and not yet written to a socket; beyond either, or after close(), a
// call is refused with ChannelRefused before anything is sent.
//
// Threads: each channel lives on one loop of ClientLoops. call() and close() may be called
// from any thread. When a plain (not TLS) connection is idle (set up, nothing unanswered or
// queued on it, no earlier call still waiting for the loop), call() writes the request to its
// socket itself, without blocking, and leaves the rest (deadline, reply) to the loop without
// waking it; otherwise the loop sends it. Calls made by one thread leave in the order made.
// A call's handler runs exactly once: on the channel's loop thread, where it must not block
// (hand long work to another thread); or, for a call refused by call(), on the caller's thread
// before call() returns.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <thrift/transport/TTransportException.h>

#include "locator/rpc/address.h"
#include "locator/rpc/client_loops.h"
#include "locator/rpc/limits.h"
#include "locator/rpc/rpc_counters.h"

namespace boost::asio::ssl {
class context;
}

namespace thrifty::rpc {

// A call's handler: `error` null and the reply's payload (without its frame header), or the
// error (TTransportException and its subclasses; ChannelRefused).
using ReplyHandler = std::function<void(std::exception_ptr error, std::string reply)>;

// Sends one request frame and hands its reply to the handler.
using FrameSender = std::function<void(std::string request, ReplyHandler done)>;

// Runs on each new connection before it takes calls: makes calls with `send` (on that
// connection only) and runs `done` once, with null when the connection may be used, or the
// error that closes it. Runs on the channel's loop thread; must not block.
using Prologue = std::function<void(const FrameSender& send,
                                    std::function<void(std::exception_ptr error)> done)>;

// A call refused before it was sent: the channel's bounds, or a closed channel.
class ChannelRefused : public apache::thrift::transport::TTransportException {
 public:
  explicit ChannelRefused(const std::string& what)
      : TTransportException(TTransportException::UNKNOWN, what) {}
};

struct ChannelOptions {
  int connections = 2;
  int connect_timeout_ms = 1000;  // connect, TLS handshake and prologue together
  int backoff_min_ms = 50;
  int backoff_max_ms = 2000;
  size_t max_in_flight = 4096;
  size_t max_queued_bytes = size_t{256} << 20;
  RpcLimits limits;  // replies are read with these limits; requests over max_frame_bytes are refused
  // TLS (tls.h: MakeClientTlsContext); null: plain TCP.
  std::shared_ptr<boost::asio::ssl::context> tls;
  Prologue prologue;
  // Shared by the channels of a node (its stats); never null.
  std::shared_ptr<PeerCallCounters> counters = std::make_shared<PeerCallCounters>();
};

class PeerChannel : public std::enable_shared_from_this<PeerChannel> {
 public:
  using Clock = std::chrono::steady_clock;

  // A channel to `peer` on one of `loops` (which must outlive it). Connects on the first call.
  static std::shared_ptr<PeerChannel> Make(ClientLoops& loops, locator::wire::Location peer,
                                           ChannelOptions options);
  ~PeerChannel();
  PeerChannel(const PeerChannel&) = delete;
  PeerChannel& operator=(const PeerChannel&) = delete;

  // Sends `request` (a whole frame, header included, of a strict binary-protocol call; its
  // sequence id is replaced) and runs `done` with the reply or the error, by `deadline` at
  // the latest.
  void call(std::string request, Clock::time_point deadline, ReplyHandler done);

  // Fails every call not yet answered and closes the connections; later calls are refused.
  // Returns at once (the work is done on the loop).
  void close();

  const locator::wire::Location& peer() const { return peer_; }
  const std::string& name() const { return name_; }
  // Calls accepted and not yet answered.
  size_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  const ChannelOptions& options() const { return options_; }

 private:
  struct Call;
  struct Connection;
  class Impl;

  PeerChannel(boost::asio::io_context& loop, locator::wire::Location peer,
              ChannelOptions options);

  boost::asio::io_context& loop_;
  const locator::wire::Location peer_;
  const std::string name_;
  const ChannelOptions options_;
  std::atomic<bool> closed_{false};
  std::atomic<size_t> in_flight_{0};
  std::atomic<size_t> queued_bytes_{0};
  std::unique_ptr<Impl> impl_;  // state owned by the loop thread
};

}  // namespace thrifty::rpc
