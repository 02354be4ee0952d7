#include "locator/rpc/peer_channel.h"

#include <sys/socket.h>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <glog/logging.h>

#include "locator/rpc/failpoints.h"
#include "locator/rpc/framed_transport.h"
#include "locator/rpc/frame_parser.h"
#include "locator/rpc/tls.h"

namespace thrifty::rpc {

using apache::thrift::transport::TTransportException;
using boost::asio::ip::tcp;
using Clock = PeerChannel::Clock;

namespace {

constexpr size_t kReadChunk = 64 << 10;

std::exception_ptr TransportError(TTransportException::TTransportExceptionType type,
                                  const std::string& what) {
  return std::make_exception_ptr(TTransportException(type, what));
}

// The offset of the sequence id in a request frame (header included), or 0 if the frame does
// not hold a strict binary-protocol message header.
size_t SeqidOffset(const std::string& frame) {
  if (frame.size() < 12) return 0;
  const auto* p = reinterpret_cast<const uint8_t*>(frame.data());
  const uint32_t name_size = (uint32_t{p[8]} << 24) | (uint32_t{p[9]} << 16) |
                             (uint32_t{p[10]} << 8) | uint32_t{p[11]};
  const size_t offset = 12 + size_t{name_size};
  return offset + 4 <= frame.size() ? offset : 0;
}

}  // namespace

struct PeerChannel::Call {
  std::string frame;  // until handed to a connection's write buffer
  ReplyHandler done;
  Clock::time_point deadline;
  size_t bytes = 0;       // counted in queued_bytes_ until written
  bool counted = true;    // counted in in_flight_ (prologue calls are not)
  bool finished = false;
  bool watched = false;  // in deadlines_, at deadline_entry
  std::multimap<Clock::time_point, std::shared_ptr<Call>>::iterator deadline_entry;
  Connection* connection = nullptr;  // once sent
  int32_t seqid = 0;
  uint64_t sent_order = 0;  // when it was handed to its connection: later calls, larger numbers
  bool before_loop = false;  // counted in Impl::calls_for_loop_ (under Impl::mu_)
};

struct PeerChannel::Connection {
  explicit Connection(boost::asio::io_context& loop, uint32_t max_frame_bytes)
      : socket(loop), setup_timer(loop), parser(max_frame_bytes), read_buffer(kReadChunk) {}

  enum class State { kConnecting, kSettingUp, kReady, kClosed };
  // Written on the loop under Impl::mu_; read there without it, elsewhere under it.
  State state = State::kConnecting;
  tcp::socket socket;
  std::unique_ptr<boost::asio::ssl::stream<tcp::socket&>> tls;
  boost::asio::steady_timer setup_timer;
  FrameParser parser;
  std::vector<uint8_t> read_buffer;
  // The write side, under Impl::mu_ (a caller may write an idle connection itself).
  std::string writing;       // bytes being written by the loop
  size_t writing_bytes = 0;  // of them, counted in queued_bytes_
  std::string queued;        // bytes waiting for the write in progress
  size_t queued_bytes = 0;
  int32_t next_seqid = 1;
  size_t unanswered = 0;  // calls written or queued on it and not yet finished
  // Calls a caller wrote itself that the loop has not taken in yet (take_written).
  std::vector<std::shared_ptr<Call>> written;
  // On the loop only: the calls sent on it by sequence id, and in the order they were sent
  // (finished ones are dropped from the front as they are met).
  std::unordered_map<int32_t, std::shared_ptr<Call>> in_flight;
  std::deque<std::shared_ptr<Call>> sent;
};

// The channel's state: touched on its loop thread, but for what a caller's direct write needs
// (send_now), which is under mu_.
class PeerChannel::Impl {
 public:
  Impl(PeerChannel& channel, boost::asio::io_context& loop)
      : channel_(channel), loop_(loop), deadline_timer_(loop), retry_timer_(loop) {}

  void start(std::shared_ptr<Call> call);
  void close_all(const std::string& why);
  // On the caller's thread: writes `call` on an idle plain connection now and leaves the rest
  // (its deadline, its reply) to the loop, which takes it in (take_written) before it reads
  // from that connection, when its deadline timer fires (armed no later than the call's
  // deadline, or the call is posted to it), or when the connection fails. False when no
  // connection qualifies (none ready, each with calls unanswered or bytes queued, calls left to
  // the loop not yet sent, or TLS): the loop sends it.
  bool send_now(const std::shared_ptr<Call>& call);

 private:
  using ConnectionPtr = std::shared_ptr<Connection>;

  void watch_deadline(const std::shared_ptr<Call>& call);
  void arm_deadline_timer();
  void on_deadlines();
  void dispatch(const std::shared_ptr<Call>& call);
  Connection* best_ready();
  Call* oldest_unanswered(Connection& conn);
  // Gives `call` the connection's next sequence id (in its frame at `seqid_offset` too) and
  // counts it unanswered there. Under mu_.
  void stamp(Connection& conn, Call& call, size_t seqid_offset);
  void answered(Connection& conn);
  // Takes in the calls callers wrote on `conn`: matched by sequence id, deadlines watched.
  void take_written(const std::shared_ptr<Connection>& conn);
  bool opening() const;
  void open_connection();
  void on_connected(const ConnectionPtr& conn);
  void run_prologue(const ConnectionPtr& conn);
  void on_ready(const ConnectionPtr& conn);
  void send_on(Connection& conn, const std::shared_ptr<Call>& call);
  void flush(const ConnectionPtr& conn);
  void read(const ConnectionPtr& conn);
  void on_reply(Connection& conn, std::string payload);
  void fail_connection(const ConnectionPtr& conn, const std::string& why);
  void finish(const std::shared_ptr<Call>& call, std::exception_ptr error, std::string reply);
  ConnectionPtr find(Connection* conn) const;

  PeerChannel& channel_;
  boost::asio::io_context& loop_;
  // Guards what send_now() reads or writes from a caller's thread: connections_ (changed on the
  // loop under it) and each connection's state and write side. Never held while a handler runs.
  std::mutex mu_;
  std::vector<ConnectionPtr> connections_;
  uint64_t next_sent_order_ = 1;  // under mu_
  // Calls send_now() left to the loop that no connection has taken yet (under mu_): while there
  // are any, a caller does not write its own, which would overtake them.
  size_t calls_for_loop_ = 0;
  // When the deadline timer will fire at the latest (under mu_): a caller whose call's deadline
  // is not before it need not wake the loop; max when no timer is armed.
  Clock::time_point armed_until_ = Clock::time_point::max();
  std::deque<std::shared_ptr<Call>> waiting_;  // for a connection to be set up
  std::multimap<Clock::time_point, std::shared_ptr<Call>> deadlines_;
  boost::asio::steady_timer deadline_timer_;
  Clock::time_point timer_at_ = Clock::time_point::max();
  Clock::time_point retry_after_{};
  boost::asio::steady_timer retry_timer_;  // the next try after a failed connection
  bool retry_armed_ = false;
  int backoff_ms_ = 0;
  bool closed_ = false;
};

std::shared_ptr<PeerChannel> PeerChannel::Make(ClientLoops& loops, locator::wire::Location peer,
                                               ChannelOptions options) {
  return std::shared_ptr<PeerChannel>(new PeerChannel(loops.next(), std::move(peer),
                                                      std::move(options)));
}

PeerChannel::PeerChannel(boost::asio::io_context& loop, locator::wire::Location peer,
                         ChannelOptions options)
    : loop_(loop),
      peer_(std::move(peer)),
      name_(ToString(peer_)),
      options_(std::move(options)),
      impl_(std::make_unique<Impl>(*this, loop)) {}

PeerChannel::~PeerChannel() = default;

void PeerChannel::call(std::string request, Clock::time_point deadline, ReplyHandler done) {
  const size_t bytes = request.size();
  auto refuse = [&](const std::string& why) {
    options_.counters->refused.fetch_add(1, std::memory_order_relaxed);
    done(std::make_exception_ptr(ChannelRefused("call to " + name_ + " refused: " + why)), {});
  };
  if (closed_.load()) return refuse("the channel is closed (this node is stopping)");
  if (failpoints::Blocked(peer_.address, peer_.port)) {
    // A test partition (failpoints.h): fail as an unreachable peer does, before sending.
    done(TransportError(TTransportException::NOT_OPEN, "failpoint: " + name_ + " is blocked"), {});
    return;
  }
  if (bytes > static_cast<size_t>(options_.limits.max_frame_bytes) + 4) {
    options_.counters->refused.fetch_add(1, std::memory_order_relaxed);
    done(std::make_exception_ptr(
             RequestTooLarge(static_cast<uint32_t>(bytes - 4),
                             static_cast<uint32_t>(options_.limits.max_frame_bytes))),
         {});
    return;
  }
  if (in_flight_.fetch_add(1) >= options_.max_in_flight) {
    in_flight_.fetch_sub(1);
    return refuse(std::to_string(options_.max_in_flight) +
                  " calls already in flight to it (the peer is slow or this node is overloaded)");
  }
  if (queued_bytes_.fetch_add(bytes) + bytes > options_.max_queued_bytes) {
    queued_bytes_.fetch_sub(bytes);
    in_flight_.fetch_sub(1);
    return refuse(std::to_string(options_.max_queued_bytes) +
                  " bytes of requests already wait to be sent to it");
  }
  options_.counters->in_flight.fetch_add(1, std::memory_order_relaxed);
  auto c = std::make_shared<Call>();
  c->frame = std::move(request);
  c->done = std::move(done);
  c->deadline = deadline;
  c->bytes = bytes;
  if (impl_->send_now(c)) return;
  boost::asio::post(loop_, [self = shared_from_this(), c] { self->impl_->start(c); });
}

void PeerChannel::close() {
  if (closed_.exchange(true)) return;
  boost::asio::post(loop_, [self = shared_from_this()] {
    self->impl_->close_all("the channel to " + self->name_ + " was closed (this node is stopping)");
  });
}

// ---- Impl: on the loop thread ----

void PeerChannel::Impl::start(std::shared_ptr<Call> call) {
  if (closed_) {
    return finish(call, TransportError(TTransportException::NOT_OPEN,
                                       "the channel to " + channel_.name_ + " is closed"),
                  {});
  }
  watch_deadline(call);
  dispatch(call);
}

void PeerChannel::Impl::watch_deadline(const std::shared_ptr<Call>& call) {
  call->deadline_entry = deadlines_.emplace(call->deadline, call);
  call->watched = true;
  if (call->deadline < timer_at_) arm_deadline_timer();
}

void PeerChannel::Impl::arm_deadline_timer() {
  if (deadlines_.empty()) {
    timer_at_ = Clock::time_point::max();
    deadline_timer_.cancel();
    return;
  }
  timer_at_ = deadlines_.begin()->first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    armed_until_ = timer_at_;
  }
  deadline_timer_.expires_at(timer_at_);
  deadline_timer_.async_wait(
      [self = channel_.shared_from_this(), this](const boost::system::error_code& error) {
        if (!error) on_deadlines();
      });
}

void PeerChannel::Impl::on_deadlines() {
  // Calls callers wrote count on this timer: take them in first (until the timer is armed
  // again, a caller posts its call).
  std::vector<ConnectionPtr> connections;
  {
    std::lock_guard<std::mutex> lock(mu_);
    armed_until_ = Clock::time_point::max();
    connections = connections_;
  }
  for (const auto& conn : connections) take_written(conn);
  const auto now = Clock::now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    std::shared_ptr<Call> call = deadlines_.begin()->second;
    if (call->connection) {
      call->connection->in_flight.erase(call->seqid);
      answered(*call->connection);
    }
    if (call->counted) channel_.options_.counters->timeouts.fetch_add(1, std::memory_order_relaxed);
    finish(call,
           TransportError(TTransportException::TIMED_OUT,
                          "call to " + channel_.name_ + " got no reply by its deadline" +
                              (call->connection ? "" : " (no connection could be set up)")),
           {});
  }
  arm_deadline_timer();
}

PeerChannel::Call* PeerChannel::Impl::oldest_unanswered(Connection& conn) {
  while (!conn.sent.empty() &&
         (conn.sent.front()->finished || conn.sent.front()->connection != &conn)) {
    conn.sent.pop_front();
  }
  return conn.sent.empty() ? nullptr : conn.sent.front().get();
}

// An idle connection if there is one; else the one whose oldest unanswered call was sent last.
// Not the one with the fewest calls in flight: the peer answers a connection's calls in order,
// so a call sent behind a slow one waits for it however short the queue is, and the connection
// whose oldest call is youngest is the one the peer has been answering most recently.
PeerChannel::Connection* PeerChannel::Impl::best_ready() {
  Connection* best = nullptr;
  uint64_t best_head = 0;
  for (const auto& conn : connections_) {
    if (conn->state != Connection::State::kReady) continue;
    take_written(conn);  // a call a caller wrote may be the one holding it
    const Call* head = oldest_unanswered(*conn);
    if (!head) return conn.get();
    if (!best || head->sent_order > best_head) {
      best = conn.get();
      best_head = head->sent_order;
    }
  }
  return best;
}

bool PeerChannel::Impl::opening() const {
  for (const auto& conn : connections_) {
    if (conn->state == Connection::State::kConnecting ||
        conn->state == Connection::State::kSettingUp) {
      return true;
    }
  }
  return false;
}

void PeerChannel::Impl::dispatch(const std::shared_ptr<Call>& call) {
  Connection* conn = best_ready();
  const bool may_open = Clock::now() >= retry_after_;
  // Another connection once the ones there are have calls in flight.
  if (may_open && !opening() &&
      connections_.size() < static_cast<size_t>(std::max(channel_.options_.connections, 1)) &&
      (!conn || !conn->in_flight.empty())) {
    open_connection();
  }
  // A busy connection's calls are answered in order by the peer: a call waits for the one
  // being opened instead of queueing behind them.
  if (conn && (conn->in_flight.empty() || !opening())) return send_on(*conn, call);
  waiting_.push_back(call);
  if (!opening() && !retry_armed_) {
    // In the backoff after a failed connection: the call waits for the next try (a peer that
    // is starting or joining is not written off for the backoff), which fails it if the
    // peer is still unreachable; its deadline bounds the wait.
    retry_armed_ = true;
    retry_timer_.expires_at(retry_after_);
    retry_timer_.async_wait(
        [self = channel_.shared_from_this(), this](const boost::system::error_code& error) {
          retry_armed_ = false;
          if (error || closed_ || waiting_.empty() || opening()) return;
          open_connection();
        });
  }
}

void PeerChannel::Impl::open_connection() {
  const ChannelOptions& options = channel_.options_;
  auto conn = std::make_shared<Connection>(loop_, static_cast<uint32_t>(options.limits.max_frame_bytes));
  {
    std::lock_guard<std::mutex> lock(mu_);
    connections_.push_back(conn);
  }
  auto self = channel_.shared_from_this();
  conn->setup_timer.expires_after(std::chrono::milliseconds(options.connect_timeout_ms));
  conn->setup_timer.async_wait([self, this, conn](const boost::system::error_code& error) {
    if (error || conn->state == Connection::State::kReady) return;
    fail_connection(conn, "no connection set up within " +
                              std::to_string(channel_.options_.connect_timeout_ms) +
                              " ms (connect, TLS handshake, peer handshake)");
  });
  boost::system::error_code parse_error;
  const auto address = boost::asio::ip::make_address(channel_.peer_.address, parse_error);
  if (!parse_error) {
    conn->socket.async_connect(
        tcp::endpoint(address, static_cast<uint16_t>(channel_.peer_.port)),
        [self, this, conn](const boost::system::error_code& error) {
          if (conn->state == Connection::State::kClosed) return;
          if (error) return fail_connection(conn, "connect failed: " + error.message());
          on_connected(conn);
        });
    return;
  }
  // A host name: resolved by Asio (on its resolver thread, not the loop).
  auto resolver = std::make_shared<tcp::resolver>(loop_);
  resolver->async_resolve(
      channel_.peer_.address, std::to_string(channel_.peer_.port),
      [self, this, conn, resolver](const boost::system::error_code& error,
                                   const tcp::resolver::results_type& results) {
        if (conn->state == Connection::State::kClosed) return;
        if (error) return fail_connection(conn, "cannot resolve: " + error.message());
        boost::asio::async_connect(
            conn->socket, results,
            [self, this, conn](const boost::system::error_code& error, const tcp::endpoint&) {
              if (conn->state == Connection::State::kClosed) return;
              if (error) return fail_connection(conn, "connect failed: " + error.message());
              on_connected(conn);
            });
      });
}

void PeerChannel::Impl::on_connected(const ConnectionPtr& conn) {
  boost::system::error_code ignored;
  conn->socket.set_option(tcp::no_delay(true), ignored);
  if (!channel_.options_.tls) return run_prologue(conn);
  conn->tls = std::make_unique<boost::asio::ssl::stream<tcp::socket&>>(conn->socket,
                                                                        *channel_.options_.tls);
  ExpectServerName(conn->tls->native_handle(), channel_.peer_.address);
  conn->tls->async_handshake(
      boost::asio::ssl::stream_base::client,
      [self = channel_.shared_from_this(), this, conn](const boost::system::error_code& error) {
        if (conn->state == Connection::State::kClosed) return;
        if (error) return fail_connection(conn, "TLS handshake failed: " + error.message());
        run_prologue(conn);
      });
}

void PeerChannel::Impl::run_prologue(const ConnectionPtr& conn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    conn->state = Connection::State::kSettingUp;
  }
  read(conn);
  if (!channel_.options_.prologue) return on_ready(conn);
  auto self = channel_.shared_from_this();
  const auto deadline = Clock::now() + std::chrono::milliseconds(channel_.options_.connect_timeout_ms);
  std::weak_ptr<Connection> weak = conn;
  FrameSender send = [self, this, weak, deadline](std::string request, ReplyHandler done) {
    auto c = std::make_shared<Call>();
    c->frame = std::move(request);
    c->done = std::move(done);
    c->deadline = deadline;
    c->counted = false;
    auto conn = weak.lock();
    if (!conn || conn->state != Connection::State::kSettingUp) {
      return done(TransportError(TTransportException::NOT_OPEN, "the connection closed"), {});
    }
    watch_deadline(c);
    send_on(*conn, c);
  };
  channel_.options_.prologue(send, [self, this, weak](std::exception_ptr error) {
    auto conn = weak.lock();
    if (!conn || conn->state != Connection::State::kSettingUp) return;
    if (!error) return on_ready(conn);
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      fail_connection(conn, std::string("peer handshake failed: ") + e.what());
    } catch (...) {
      fail_connection(conn, "peer handshake failed");
    }
  });
}

void PeerChannel::Impl::on_ready(const ConnectionPtr& conn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    conn->state = Connection::State::kReady;
  }
  conn->setup_timer.cancel();
  backoff_ms_ = 0;
  std::deque<std::shared_ptr<Call>> waiting;
  waiting.swap(waiting_);
  for (auto& call : waiting) {
    if (!call->finished) send_on(*conn, call);
  }
}

void PeerChannel::Impl::send_on(Connection& conn, const std::shared_ptr<Call>& call) {
  const size_t offset = SeqidOffset(call->frame);
  if (offset == 0) {
    return finish(call,
                  TransportError(TTransportException::UNKNOWN,
                                 "not a strict binary-protocol request (no message header)"),
                  {});
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stamp(conn, *call, offset);
    conn.queued += call->frame;
    if (call->counted) conn.queued_bytes += call->bytes;
  }
  call->bytes = 0;
  std::string().swap(call->frame);
  call->connection = &conn;
  conn.in_flight[call->seqid] = call;
  conn.sent.push_back(call);
  flush(find(&conn));
}

void PeerChannel::Impl::stamp(Connection& conn, Call& call, size_t seqid_offset) {
  const int32_t seqid = conn.next_seqid++;
  if (conn.next_seqid <= 0) conn.next_seqid = 1;
  call.seqid = seqid;
  call.sent_order = next_sent_order_++;
  if (call.before_loop) {
    call.before_loop = false;
    --calls_for_loop_;
  }
  ++conn.unanswered;
  const auto u = static_cast<uint32_t>(seqid);
  call.frame[seqid_offset] = static_cast<char>(u >> 24);
  call.frame[seqid_offset + 1] = static_cast<char>(u >> 16);
  call.frame[seqid_offset + 2] = static_cast<char>(u >> 8);
  call.frame[seqid_offset + 3] = static_cast<char>(u);
}

void PeerChannel::Impl::answered(Connection& conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (conn.unanswered > 0) --conn.unanswered;
}

bool PeerChannel::Impl::send_now(const std::shared_ptr<Call>& call) {
  // A TLS stream is written by its loop only (the SSL object is not thread-safe).
  if (channel_.options_.tls) return false;
  const size_t offset = SeqidOffset(call->frame);
  if (offset == 0) return false;  // the loop refuses it
  ConnectionPtr conn;
  bool wake_loop = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& c : connections_) {
      // Idle: nothing in flight to wait behind, nothing queued to keep the bytes in order.
      if (calls_for_loop_ == 0 && c->state == Connection::State::kReady && c->unanswered == 0 &&
          c->writing.empty() && c->queued.empty()) {
        conn = c;
        break;
      }
    }
    if (!conn) {
      call->before_loop = true;
      ++calls_for_loop_;
      return false;
    }
    stamp(*conn, *call, offset);
    // Before the write: the loop takes it in before it reads this connection again.
    conn->written.push_back(call);
    wake_loop = call->deadline < armed_until_;
    // Non-blocking: what the socket does not take now, the loop writes.
    const ssize_t n = ::send(conn->socket.native_handle(), call->frame.data(), call->frame.size(),
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    const size_t sent = n > 0 ? static_cast<size_t>(n) : 0;
    if (sent < call->frame.size()) {
      conn->queued.append(call->frame, sent, std::string::npos);
      conn->queued_bytes += call->bytes;
      wake_loop = true;
    } else {
      channel_.queued_bytes_.fetch_sub(call->bytes);
    }
    call->bytes = 0;
    std::string().swap(call->frame);
  }
  if (wake_loop) {
    boost::asio::post(loop_, [self = channel_.shared_from_this(), conn] {
      self->impl_->take_written(conn);
      self->impl_->flush(conn);
    });
  }
  return true;
}

void PeerChannel::Impl::take_written(const ConnectionPtr& conn) {
  std::vector<std::shared_ptr<Call>> written;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (conn->written.empty()) return;
    written.swap(conn->written);
  }
  for (auto& call : written) {
    call->connection = conn.get();
    conn->in_flight[call->seqid] = call;
    conn->sent.push_back(call);
    watch_deadline(call);
  }
}

PeerChannel::Impl::ConnectionPtr PeerChannel::Impl::find(Connection* conn) const {
  for (const auto& c : connections_) {
    if (c.get() == conn) return c;
  }
  return nullptr;
}

void PeerChannel::Impl::flush(const ConnectionPtr& conn) {
  if (!conn) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!conn->writing.empty() || conn->queued.empty()) return;
    conn->writing.swap(conn->queued);
    conn->writing_bytes = conn->queued_bytes;
    conn->queued_bytes = 0;
  }
  auto on_written = [self = channel_.shared_from_this(), this, conn](
                        const boost::system::error_code& error, size_t) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      channel_.queued_bytes_.fetch_sub(conn->writing_bytes);
      conn->writing_bytes = 0;
      conn->writing.clear();
    }
    if (conn->state == Connection::State::kClosed) return;
    if (error) return fail_connection(conn, "write failed: " + error.message());
    flush(conn);
  };
  if (conn->tls) {
    boost::asio::async_write(*conn->tls, boost::asio::buffer(conn->writing), std::move(on_written));
  } else {
    boost::asio::async_write(conn->socket, boost::asio::buffer(conn->writing),
                             std::move(on_written));
  }
}

void PeerChannel::Impl::read(const ConnectionPtr& conn) {
  auto on_read = [self = channel_.shared_from_this(), this, conn](
                     const boost::system::error_code& error, size_t size) {
    if (conn->state == Connection::State::kClosed) return;
    if (error) {
      return fail_connection(conn, error == boost::asio::error::eof
                                       ? "the peer closed the connection"
                                       : "read failed: " + error.message());
    }
    take_written(conn);  // what this read may answer
    std::vector<std::string> frames;
    if (conn->parser.feed(conn->read_buffer.data(), size, &frames) != FrameParser::Status::kOk) {
      return fail_connection(conn, "a reply frame of " + std::to_string(conn->parser.declared()) +
                                       " bytes, over the limit");
    }
    for (auto& frame : frames) {
      on_reply(*conn, std::move(frame));
      if (conn->state == Connection::State::kClosed) return;
    }
    read(conn);
  };
  auto buffer = boost::asio::buffer(conn->read_buffer);
  if (conn->tls) {
    conn->tls->async_read_some(buffer, std::move(on_read));
  } else {
    conn->socket.async_read_some(buffer, std::move(on_read));
  }
}

void PeerChannel::Impl::on_reply(Connection& conn, std::string payload) {
  const std::optional<MessageHead> head = PeekMessageHead(payload);
  if (!head) {
    if (auto c = find(&conn)) fail_connection(c, "a malformed reply (no message header)");
    return;
  }
  auto it = conn.in_flight.find(head->seqid);
  if (it == conn.in_flight.end()) {
    // Its call timed out (or never was): the reply is dropped.
    channel_.options_.counters->late_replies.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::shared_ptr<Call> call = std::move(it->second);
  conn.in_flight.erase(it);
  answered(conn);
  finish(call, nullptr, std::move(payload));
}

void PeerChannel::Impl::fail_connection(const ConnectionPtr& conn, const std::string& why) {
  if (conn->state == Connection::State::kClosed) return;
  const bool was_ready = conn->state == Connection::State::kReady;
  conn->setup_timer.cancel();
  std::vector<std::shared_ptr<Call>> written;
  {
    std::lock_guard<std::mutex> lock(mu_);
    conn->state = Connection::State::kClosed;
    written.swap(conn->written);
    boost::system::error_code ignored;
    conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
    conn->socket.close(ignored);
    channel_.queued_bytes_.fetch_sub(conn->queued_bytes);
    conn->queued_bytes = 0;
    conn->queued.clear();
    connections_.erase(std::remove(connections_.begin(), connections_.end(), conn),
                       connections_.end());
  }
  conn->sent.clear();
  const std::string what = "connection to " + channel_.name_ + " failed: " + why;
  auto* counters = channel_.options_.counters.get();
  if (was_ready) {
    counters->connections_lost.fetch_add(1, std::memory_order_relaxed);
    retry_after_ = Clock::time_point{};
  } else if (!closed_) {
    counters->connect_failures.fetch_add(1, std::memory_order_relaxed);
    backoff_ms_ = backoff_ms_ == 0 ? channel_.options_.backoff_min_ms
                                   : std::min(backoff_ms_ * 2, channel_.options_.backoff_max_ms);
    retry_after_ = Clock::now() + std::chrono::milliseconds(backoff_ms_);
  }
  if (!closed_) {
    LOG_EVERY_T(WARNING, 1) << what;
  }
  std::unordered_map<int32_t, std::shared_ptr<Call>> in_flight;
  in_flight.swap(conn->in_flight);
  for (auto& call : written) in_flight.emplace(call->seqid, std::move(call));
  for (auto& [seqid, call] : in_flight) {
    finish(call, TransportError(was_ready ? TTransportException::END_OF_FILE
                                          : TTransportException::NOT_OPEN,
                                what),
           {});
  }
  // Calls waiting for a connection: another one being opened will take them; otherwise an
  // open one does, or they fail with this one.
  if (!opening()) {
    std::deque<std::shared_ptr<Call>> waiting;
    waiting.swap(waiting_);
    for (auto& call : waiting) {
      if (call->finished) continue;
      if (Connection* ready = best_ready()) {
        send_on(*ready, call);
      } else {
        finish(call, TransportError(TTransportException::NOT_OPEN, what), {});
      }
    }
  }
}

void PeerChannel::Impl::finish(const std::shared_ptr<Call>& call, std::exception_ptr error,
                               std::string reply) {
  if (call->finished) return;
  call->finished = true;
  if (call->before_loop) {
    std::lock_guard<std::mutex> lock(mu_);
    call->before_loop = false;
    --calls_for_loop_;
  }
  if (call->watched) {
    deadlines_.erase(call->deadline_entry);
    call->watched = false;
  }
  if (call->bytes > 0) {
    channel_.queued_bytes_.fetch_sub(call->bytes);
    call->bytes = 0;
  }
  if (call->counted) {
    channel_.in_flight_.fetch_sub(1);
    channel_.options_.counters->in_flight.fetch_sub(1, std::memory_order_relaxed);
  }
  call->connection = nullptr;
  ReplyHandler done = std::move(call->done);
  try {
    done(std::move(error), std::move(reply));
  } catch (const std::exception& e) {
    LOG(ERROR) << "a reply handler of a call to " << channel_.name_ << " threw: " << e.what();
  }
}

void PeerChannel::Impl::close_all(const std::string& why) {
  closed_ = true;
  std::vector<ConnectionPtr> connections = connections_;
  for (auto& conn : connections) fail_connection(conn, why);
  std::deque<std::shared_ptr<Call>> waiting;
  waiting.swap(waiting_);
  for (auto& call : waiting) finish(call, TransportError(TTransportException::NOT_OPEN, why), {});
  deadlines_.clear();
  timer_at_ = Clock::time_point::max();
  {
    std::lock_guard<std::mutex> lock(mu_);
    armed_until_ = Clock::time_point::max();
  }
  deadline_timer_.cancel();
  retry_timer_.cancel();
}

}  // namespace thrifty::rpc
