#include "locator/membership/asio_runtime.h"

#include "locator/rpc/failpoints.h"

#include <glog/logging.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace thrifty::membership {

namespace asio = boost::asio;
using asio::ip::udp;

struct AsioRuntime::Impl {
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  udp::socket socket{io};
  udp::endpoint sender;
  std::vector<uint8_t> buffer;
  std::unordered_map<std::string, asio::ip::address> resolved;  // io thread only
};

namespace {

// A literal IP as is; otherwise the first address the resolver gives, preferring `family`.
std::optional<asio::ip::address> Resolve(asio::io_context& io, const std::string& host,
                                         std::optional<udp> family, std::string* error) {
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (!ec) return ip;
  udp::resolver resolver(io);
  auto results = resolver.resolve(host, "", ec);
  if (ec) {
    *error = ec.message();
    return std::nullopt;
  }
  std::optional<asio::ip::address> first;
  for (const auto& entry : results) {
    const auto& endpoint = entry.endpoint();
    if (!family || endpoint.protocol() == *family) return endpoint.address();
    if (!first) first = endpoint.address();
  }
  if (!first) *error = "no address";
  return first;
}

}  // namespace

AsioRuntime::AsioRuntime(const std::string& address, int port, size_t max_packet_size)
    : impl_(std::make_unique<Impl>()), max_packet_size_(max_packet_size) {
  const std::string where = address + ":" + std::to_string(port);
  if (port < 0 || port > 65535) {
    throw std::runtime_error("cannot bind gossip UDP socket to " + where + ": bad port");
  }
  std::string error;
  auto ip = Resolve(impl_->io, address, std::nullopt, &error);
  if (!ip) {
    throw std::runtime_error("cannot bind gossip UDP socket to " + where + ": " + error);
  }
  const udp::endpoint endpoint(*ip, static_cast<uint16_t>(port));
  boost::system::error_code ec;
  impl_->socket.open(endpoint.protocol(), ec);
  if (!ec) impl_->socket.bind(endpoint, ec);
  if (ec) {
    throw std::runtime_error("cannot bind gossip UDP socket to " + where + ": " + ec.message());
  }
  // One byte more than allowed: a datagram that fills it was too long (the kernel truncates
  // silently to the buffer).
  impl_->buffer.resize(max_packet_size_ + 1);
}

AsioRuntime::~AsioRuntime() { stop(); }

void AsioRuntime::start(Receiver receiver) {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (started_ || stopped_) throw std::logic_error("AsioRuntime::start called twice");
  started_ = true;
  receiver_ = std::move(receiver);
  impl_->work.emplace(impl_->io.get_executor());
  receive_next();
  thread_ = std::thread([this] {
    io_thread_id_.store(std::this_thread::get_id());
    for (;;) {
      try {
        impl_->io.run();
        break;
      } catch (const std::exception& e) {
        // A callback that throws must not take the failure detector down with it.
        LOG(ERROR) << "gossip runtime: callback threw: " << e.what();
      }
    }
  });
}

void AsioRuntime::stop() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  if (in_io_thread()) throw std::logic_error("AsioRuntime::stop called on its own thread");
  impl_->work.reset();
  impl_->io.stop();
  if (thread_.joinable()) thread_.join();
  boost::system::error_code ec;
  impl_->socket.close(ec);
}

void AsioRuntime::post(std::function<void()> fn) {
  asio::post(impl_->io, std::move(fn));
}

locator::wire::Location AsioRuntime::local_endpoint() const {
  boost::system::error_code ec;
  const auto endpoint = impl_->socket.local_endpoint(ec);
  locator::wire::Location out;
  if (!ec) {
    out.address = endpoint.address().to_string();
    out.port = endpoint.port();
  }
  return out;
}

std::map<std::string, int64_t> AsioRuntime::stats() const {
  return {
      {"runtime_dropped_oversized", dropped_oversized_.load()},
      {"runtime_send_errors", send_errors_.load()},
      {"runtime_receive_errors", receive_errors_.load()},
  };
}

int64_t AsioRuntime::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t AsioRuntime::wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count() +
         rpc::failpoints::ClockOffsetMs();
}

void AsioRuntime::schedule(int64_t delay_ms, std::function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(impl_->io,
                                                    std::chrono::milliseconds(std::max<int64_t>(0, delay_ms)));
  timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code& ec) {
    if (!ec) fn();
  });
}

void AsioRuntime::send(const locator::wire::Location& to, const std::string& bytes) {
  if (rpc::failpoints::Blocked(to.address, to.port)) return;  // a test partition: lost
  auto it = impl_->resolved.find(to.address);
  if (it == impl_->resolved.end()) {
    std::string error;
    boost::system::error_code local_ec;
    const auto local = impl_->socket.local_endpoint(local_ec);
    auto ip = Resolve(impl_->io, to.address,
                      local_ec ? std::nullopt : std::optional<udp>(local.protocol()), &error);
    if (!ip) {
      ++send_errors_;
      LOG_EVERY_N(WARNING, 100) << "gossip: cannot resolve " << to.address << ": " << error;
      return;
    }
    // Bounded: one entry per member address.
    if (impl_->resolved.size() > 4096) impl_->resolved.clear();
    it = impl_->resolved.emplace(to.address, *ip).first;
  }
  if (to.port <= 0 || to.port > 65535) {
    ++send_errors_;
    return;
  }
  boost::system::error_code ec;
  impl_->socket.send_to(asio::buffer(bytes), udp::endpoint(it->second, static_cast<uint16_t>(to.port)),
                        0, ec);
  if (ec) {
    ++send_errors_;
    LOG_EVERY_N(WARNING, 100) << "gossip: send to " << to.address << ":" << to.port
                              << " failed: " << ec.message();
  }
}

void AsioRuntime::receive_next() {
  impl_->socket.async_receive_from(
      asio::buffer(impl_->buffer), impl_->sender,
      [this](const boost::system::error_code& ec, size_t size) {
        if (ec == asio::error::operation_aborted) return;
        if (ec) {
          // ICMP port unreachable from an earlier send shows up here on Linux: not fatal.
          ++receive_errors_;
        } else if (size > max_packet_size_) {
          ++dropped_oversized_;
          LOG_EVERY_N(WARNING, 100) << "gossip: dropped oversized datagram (> "
                                    << max_packet_size_ << " bytes) from "
                                    << impl_->sender.address().to_string() << ":"
                                    << impl_->sender.port();
        } else if (receiver_) {
          locator::wire::Location from;
          from.address = impl_->sender.address().to_string();
          from.port = impl_->sender.port();
          if (rpc::failpoints::Blocked(from.address, from.port)) {
            receive_next();  // a test partition: the datagram never arrived
            return;
          }
          try {
            receiver_(from, impl_->buffer.data(), size);
          } catch (const std::exception& e) {
            LOG(ERROR) << "gossip: packet handler threw: " << e.what();
          }
        }
        receive_next();
      });
}

}  // namespace thrifty::membership
