#include "locator/rpc/server_connection.h"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <glog/logging.h>

#include "locator/rpc/tls.h"

namespace thrifty::rpc {

using boost::asio::ip::tcp;

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {
// Bytes a loop reads from one connection before it serves the others again.
constexpr size_t kReadBurst = 256 << 10;
}  // namespace

ServerConnection::ServerConnection(const ServerContext& server,
                                   std::shared_ptr<boost::asio::io_context> loop_context,
                                   tcp::socket socket, std::string peer,
                                   MakeProcessor make_processor,
                                   std::function<void(ServerConnection*)> on_closed)
    : server_(server),
      loop_context_(std::move(loop_context)),
      socket_(std::move(socket)),
      peer_(std::move(peer)),
      make_processor_(std::move(make_processor)),
      on_closed_(std::move(on_closed)),
      counters_(server.counters),
      parser_(static_cast<uint32_t>(server.limits.max_frame_bytes)),
      last_activity_ms_(SteadyNowMs()) {}

ServerConnection::~ServerConnection() = default;

void ServerConnection::start() {
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(tcp::no_delay(true), ec);
  server_.counters->connection_opened();
  if (!server_.tls) return ready(false);
  tls_ = std::make_unique<boost::asio::ssl::stream<tcp::socket&>>(socket_, *server_.tls);
  handshaking_ = true;
  frame_started_ms_ = SteadyNowMs();  // the handshake has the frame timeout to finish
  tls_->async_handshake(
      boost::asio::ssl::stream_base::server,
      [self = shared_from_this()](const boost::system::error_code& error) {
        self->handshaking_ = false;
        self->frame_started_ms_ = 0;
        if (self->closed_) return;
        if (error) {
          // Plaintext sent to a TLS port, a certificate not of the cluster's CA, ...
          self->server_.counters->refused(RpcCounters::kTlsHandshake,
                                          [&] { return self->peer(); },
                                          "TLS handshake failed: " + error.message());
          return self->close();
        }
        self->ready(PeerCertified(self->tls_->native_handle()));
      });
}

void ServerConnection::ready(bool certified) {
  try {
    auto processor = make_processor_(ConnectionPeer(peer_, certified));
    continuations_ = std::dynamic_pointer_cast<ContinuationCalls>(processor);
    runner_ = std::make_unique<CallRunner>(std::move(processor), server_.limits, server_.counters,
                                           peer_);
  } catch (const std::exception& e) {
    LOG(ERROR) << "no processor for the connection of " << peer_ << ": " << e.what();
    return close();
  }
  make_processor_ = nullptr;
  last_activity_ms_ = SteadyNowMs();
  arm_read();
}

void ServerConnection::arm_read() {
  if (tls_) return read_tls();
  wait_readable();
}

void ServerConnection::read_tls() {
  if (read_armed_ || closed_) return;
  read_armed_ = true;
  if (tls_buffer_.empty()) tls_buffer_.resize(16 << 10);
  tls_->async_read_some(
      boost::asio::buffer(tls_buffer_),
      [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
        self->read_armed_ = false;
        if (ec == boost::asio::error::operation_aborted || self->closed_) return;
        std::vector<std::string> frames;
        if (n > 0 && self->parser_.feed(self->tls_buffer_.data(), n, &frames) ==
                         FrameParser::Status::kOversized) {
          return self->refuse_oversized();
        }
        self->after_read(frames, n, static_cast<bool>(ec));
      });
}

void ServerConnection::wait_readable() {
  if (read_armed_ || closed_) return;
  read_armed_ = true;
  socket_.async_wait(tcp::socket::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       self->read_armed_ = false;
                       if (ec == boost::asio::error::operation_aborted || self->closed_) return;
                       if (ec) return self->close();
                       self->on_readable();
                     });
}

void ServerConnection::on_readable() {
  static thread_local uint8_t scratch[64 << 10];
  std::vector<std::string> frames;
  size_t total = 0;
  bool ended = false;
  // Up to a burst, and not beyond the queue's bounds (one read may overshoot them).
  size_t queued_before = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queued_before = queued_.size();
  }
  while (total < kReadBurst && queued_before + frames.size() < kMaxQueuedRequests) {
    boost::system::error_code ec;
    const size_t n = socket_.read_some(boost::asio::buffer(scratch), ec);
    if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) break;
    if (ec) {
      ended = true;  // end of input, or a reset: what was read is still answered if it can be
      break;
    }
    total += n;
    if (parser_.feed(scratch, n, &frames) == FrameParser::Status::kOversized) {
      return refuse_oversized();
    }
  }
  after_read(frames, total, ended);
}

void ServerConnection::after_read(std::vector<std::string>& frames, size_t bytes, bool ended) {
  const int64_t now = SteadyNowMs();
  const auto buffered = static_cast<int64_t>(parser_.buffered());
  const int64_t grew = buffered - counted_buffered_;
  const int64_t all_buffered = (server_.counters->buffered_bytes() += grew);
  counted_buffered_ = buffered;
  if (!parser_.in_frame()) {
    frame_started_ms_ = 0;
  } else if (frame_started_ms_ == 0 || !frames.empty()) {
    frame_started_ms_ = now;  // a new frame began in this read
  }
  if (grew > 0 && all_buffered > server_.max_buffered_bytes) {
    server_.counters->limited(RpcCounters::kBufferLimit);
    LOG_EVERY_T(WARNING, 1.0) << "closed the connection of " << peer() << ": incomplete requests of "
                              << "all connections hold " << all_buffered << " bytes, over the "
                              << "limit of " << server_.max_buffered_bytes
                              << " (--max-buffered-bytes; rpc_buffer_limit_closes counts them)";
    return close();
  }
  if (bytes > 0) last_activity_ms_ = now;

  bool arm = false;
  bool finished = false;
  bool inline_run = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!close_after_write_) {  // after a refused request nothing more is run
      for (auto& frame : frames) {
        queued_bytes_ += frame.size();
        queued_.push_back(std::move(frame));
      }
      server_.counters->calls_in_progress() += static_cast<int64_t>(frames.size());
    }
    if (ended) peer_done_ = true;
    inline_run = next_runs_inline_locked();
    if (inline_run) {
      running_ = true;
    } else {
      run_queue_locked();
    }
    read_paused_ = queued_bytes_ > kMaxQueuedBytes || queued_.size() > kMaxQueuedRequests;
    arm = !peer_done_ && !read_paused_;
    finished = finished_locked();
  }
  if (inline_run) {
    run_queued(/*on_loop=*/true);
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    arm = !peer_done_ && !read_paused_;
    finished = finished_locked();
  }
  if (finished) return close();
  if (arm) arm_read();
}

bool ServerConnection::next_runs_inline_locked() const {
  return server_.runs_inline && !running_ && !closed_ && !close_after_write_ && !queued_.empty() &&
         unsent_.size() < kMaxUnsentBytes && server_.runs_inline(queued_.front());
}

void ServerConnection::refuse_oversized() {
  const std::string what = "frame of " + std::to_string(parser_.declared()) +
                           " bytes is over the limit of " +
                           std::to_string(server_.limits.max_frame_bytes) + " bytes";
  server_.counters->refused(RpcCounters::kOversizedFrame, [this] { return peer(); }, what);
  bool finished = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    drop_queued_locked();
    peer_done_ = true;
    close_after_write_ = true;
    // Answered when it names its call (a Thrift client sent too much), so the caller learns
    // why; not behind a call still running (its reply goes first, then the connection closes).
    const auto head = PeekMessageHead(parser_.head());
    if (head && !running_) {
      send_locked(ExceptionFrame(head->name, head->seqid,
                                 "request refused: " + what + " (the server's frame limit)"));
    }
    finished = finished_locked();
  }
  if (finished) close();
}

void ServerConnection::drop_queued_locked() {
  server_.counters->calls_in_progress() -= static_cast<int64_t>(queued_.size());
  queued_.clear();
  queued_bytes_ = 0;
}

void ServerConnection::run_queue_locked() {
  if (running_ || closed_ || close_after_write_ || queued_.empty() ||
      unsent_.size() >= kMaxUnsentBytes) {
    return;
  }
  running_ = true;
  server_.workers->submit([self = shared_from_this()] { self->run_queued(); });
}

bool ServerConnection::finished_locked() const {
  return (peer_done_ || close_after_write_) && !running_ && queued_.empty() && unsent_.empty() &&
         !write_armed_;
}

void ServerConnection::run_queued(bool on_loop) {
  std::unique_lock<std::mutex> lock(mu_);
  size_t inline_runs = 0;
  while (!closed_ && !close_after_write_ && !queued_.empty() && unsent_.size() < kMaxUnsentBytes) {
    // The first was checked by the caller; the rest goes to a worker (below).
    if (on_loop && inline_runs > 0 &&
        (inline_runs == kMaxInlineRuns || !server_.runs_inline(queued_.front()))) {
      break;
    }
    ++inline_runs;
    std::string frame = std::move(queued_.front());
    queued_.pop_front();
    queued_bytes_ -= frame.size();
    if (read_paused_ && queued_bytes_ <= kMaxQueuedBytes / 2 &&
        queued_.size() <= kMaxQueuedRequests / 2) {
      read_paused_ = false;
      boost::asio::post(socket_.get_executor(), [self = shared_from_this()] {
        bool done = false;
        {
          std::lock_guard<std::mutex> lock(self->mu_);
          done = self->peer_done_ || self->read_paused_;
        }
        if (!done) self->arm_read();
      });
    }
    bool keep = true;
    if (!on_loop && continuations_) {
      starting_ = true;
      lock.unlock();
      const bool taken = continuations_->start_call(
          frame, [self = shared_from_this()](std::string reply) { self->continued(std::move(reply)); });
      lock.lock();
      starting_ = false;
      if (taken && !early_replied_) {
        awaiting_ = true;  // continued() goes on from here; running_ stays set, no thread held
        return;
      }
      if (taken) {
        early_replied_ = false;
        reply_storage_ = std::move(early_reply_);
        early_reply_ = std::string();
        keep = !reply_storage_.empty();
      }
      lock.unlock();
      if (!taken) keep = runner_->run(frame, &reply_storage_);
    } else {
      lock.unlock();
      keep = runner_->run(frame, &reply_storage_);
    }
    frame = std::string();
    server_.counters->calls_in_progress() -= 1;
    last_activity_ms_ = SteadyNowMs();
    lock.lock();
    if (!reply_storage_.empty()) send_locked(reply_storage_);
    if (!keep) {
      close_after_write_ = true;
      drop_queued_locked();
    }
  }
  running_ = false;
  if (on_loop) {
    run_queue_locked();  // what the loop did not run
    return;              // the loop checks whether the connection is finished
  }
  const bool finished = finished_locked();
  lock.unlock();
  if (finished) post_close();
}

bool ServerConnection::send_locked(const std::string& reply) {
  if (closed_ || reply.empty()) return false;
  if (write_armed_ || !unsent_.empty() || tls_) {
    // Behind what is waiting; with TLS every write is the loop's (the stream is not shared).
    unsent_ += reply;
    if (!write_armed_) {
      write_armed_ = true;
      boost::asio::post(socket_.get_executor(), [self = shared_from_this()] { self->write_unsent(); });
    }
    return true;
  }
  const ssize_t n = ::send(socket_.native_handle(), reply.data(), reply.size(),
                           MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n == static_cast<ssize_t>(reply.size())) return true;
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    // The client is gone: nothing more can reach it.
    peer_done_ = true;
    close_after_write_ = true;
    return false;
  }
  unsent_.assign(reply, n < 0 ? 0 : static_cast<size_t>(n), std::string::npos);
  write_armed_ = true;
  boost::asio::post(socket_.get_executor(), [self = shared_from_this()] { self->write_unsent(); });
  return true;
}

void ServerConnection::write_unsent() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    writing_.swap(unsent_);
    unsent_.clear();
  }
  auto written = [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
    if (ec == boost::asio::error::operation_aborted || self->closed_) return;
    if (ec) return self->close();
    self->last_activity_ms_ = SteadyNowMs();
    bool more = false;
    bool finished = false;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->writing_.clear();
      more = !self->unsent_.empty();
      if (!more) {
        self->write_armed_ = false;
        self->run_queue_locked();
        finished = self->finished_locked();
      }
    }
    if (more) return self->write_unsent();
    if (finished) self->close();
  };
  if (tls_) {
    boost::asio::async_write(*tls_, boost::asio::buffer(writing_), std::move(written));
  } else {
    boost::asio::async_write(socket_, boost::asio::buffer(writing_), std::move(written));
  }
}

void ServerConnection::continued(std::string reply) {
  std::unique_lock<std::mutex> lock(mu_);
  if (starting_) {  // the worker that started the call is still in start_call: it sends this
    early_reply_ = std::move(reply);
    early_replied_ = true;
    return;
  }
  awaiting_ = false;
  counters_->calls_in_progress() -= 1;
  running_ = false;
  if (closed_) return;  // nothing to send to; the server may be gone
  last_activity_ms_ = SteadyNowMs();
  if (reply.empty()) {
    close_after_write_ = true;
    drop_queued_locked();
  } else {
    send_locked(reply);
  }
  run_queue_locked();  // the requests that waited behind it, on a worker
  const bool finished = finished_locked();
  lock.unlock();
  if (finished) post_close();
}

void ServerConnection::post_close() {
  boost::asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close(); });
}

void ServerConnection::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    drop_queued_locked();
    unsent_.clear();
  }
  server_.counters->buffered_bytes() -= counted_buffered_;
  counted_buffered_ = 0;
  boost::system::error_code ec;
  socket_.close(ec);
  server_.counters->connection_closed();
  if (on_closed_) on_closed_(this);
}

void ServerConnection::check_timeouts(int64_t now_ms) {
  if (closed_) return;
  if (handshaking_ && now_ms - frame_started_ms_ >= server_.frame_timeout_ms) {
    server_.counters->limited(RpcCounters::kFrameTimeout);
    LOG_EVERY_T(WARNING, 1.0) << "closed the connection of " << peer() << ": no TLS handshake "
                              << "within " << server_.frame_timeout_ms << " ms (--frame-timeout-ms)";
    return close();
  }
  if (parser_.in_frame() && now_ms - frame_started_ms_ >= server_.frame_timeout_ms) {
    server_.counters->limited(RpcCounters::kFrameTimeout);
    LOG_EVERY_T(WARNING, 1.0) << "closed the connection of " << peer() << ": a request of "
                              << parser_.buffered() << " bytes so far was not complete within "
                              << server_.frame_timeout_ms << " ms (--frame-timeout-ms; "
                              << "rpc_frame_timeouts counts them)";
    return close();
  }
  bool busy = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    busy = running_ || !queued_.empty();
  }
  // Idle: nothing arrived, ran or was written for the idle timeout (a reply the client does
  // not read counts as idle too: it makes no progress).
  if (!busy && now_ms - last_activity_ms_.load() >= server_.idle_timeout_ms) {
    server_.counters->limited(RpcCounters::kIdleTimeout);
    VLOG(1) << "closed the connection of " << peer() << ": idle for " << server_.idle_timeout_ms
            << " ms";
    close();
  }
}

}  // namespace thrifty::rpc
