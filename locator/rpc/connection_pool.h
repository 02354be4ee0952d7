// ConnectionPool<Client>: reusable Thrift connections to peers, with deadlines on every call.
//
// thrifty-p2p opened a TCP connection per RPC; here each peer keeps up to `max_idle_per_peer`
// idle connections. A connection that saw a transport or protocol error is closed, never
// reused (0.17 clients ignore sequence ids: a late reply would be read by the next call).
// User exceptions (declared in the IDL) leave the connection usable.
//
// Requests are sent in frames of up to limits.max_frame_bytes, or what set_max_request_bytes()
// says once the client knows its servers' limit: a larger request fails with RequestTooLarge
// before anything is sent.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <poll.h>

#include <thrift/TApplicationException.h>
#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TSocket.h>
#include <thrift/transport/TTransportException.h>

#include "Base.h"
#include "locator/rpc/address.h"
#include "locator/rpc/connect.h"
#include "locator/rpc/failpoints.h"
#include "locator/rpc/limits.h"

namespace thrifty::rpc {

struct PoolOptions {
  int connect_timeout_ms = 1000;
  int call_timeout_ms = 5000;       // send and receive deadline of one call
  size_t max_idle_per_peer = 16;
  // Idle connections older than this are not reused: servers close idle connections (after
  // ServerOptions::idle_timeout_ms), and a reused dead connection would cost a failed call.
  int64_t max_idle_ms = 30000;
  RpcLimits limits;
  // TLS (tls.h: MakeClientTlsFactory); null: plain TCP.
  std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> tls;
  // Run on every new connection before its first call (e.g. the peer handshake, see
  // locator/service/peer_auth.h). What it throws fails the call and the connection is dropped.
  std::function<void(locator::wire::BaseIf&)> on_connect;
};

template <typename Client>
class ConnectionPool {
 public:
  explicit ConnectionPool(PoolOptions options = {})
      : options_(std::move(options)), max_request_bytes_(options_.limits.max_frame_bytes) {}
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Runs fn(Client&) on a connection to `peer` and returns its result. A reused idle
  // connection that turns out closed or reset by the server (it restarted, or dropped it as
  // idle) is retried once on a fresh one. A call that timed out is never sent again: the
  // server may be executing it. Throws what fn throws; TTransportException when `peer` is
  // unreachable or the call ran past its deadline.
  template <typename Fn>
  auto call(const locator::wire::Location& peer, Fn&& fn) -> decltype(fn(std::declval<Client&>())) {
    if (failpoints::Blocked(peer.address, peer.port)) {
      // A test partition (failpoints.h): fail as an unreachable peer does, before sending.
      throw apache::thrift::transport::TTransportException(
          apache::thrift::transport::TTransportException::NOT_OPEN,
          "failpoint: " + ToString(peer) + " is blocked");
    }
    bool reused = false;
    std::unique_ptr<Connection> conn = acquire(peer, &reused);
    try {
      return finish(peer, std::move(conn), fn);
    } catch (const apache::thrift::transport::TTransportException& e) {
      if (!reused || !ShowsStaleConnection(e)) throw;
    }
    conn = connect(peer);
    return finish(peer, std::move(conn), fn);
  }

  // Drops every idle connection to `peer` (e.g. when it left the cluster).
  void forget(const locator::wire::Location& peer) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.erase(ToString(peer));
  }

  const PoolOptions& options() const { return options_; }

  // The largest request frame sent from now on (the peers' frame limit, when known).
  void set_max_request_bytes(int32_t bytes) { max_request_bytes_.store(bytes); }
  int32_t max_request_bytes() const { return max_request_bytes_.load(); }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kCheckAfterIdle{10};
  struct Connection : ThriftConnection<Client> {
    Clock::time_point idle_since;
  };

  template <typename Fn>
  auto finish(const locator::wire::Location& peer, std::unique_ptr<Connection> conn, Fn& fn)
      -> decltype(fn(std::declval<Client&>())) {
    conn->transport->set_max_request_bytes(static_cast<uint32_t>(max_request_bytes_.load()));
    try {
      if constexpr (std::is_void_v<decltype(fn(std::declval<Client&>()))>) {
        fn(*conn->client);
        release(peer, std::move(conn));
      } else {
        auto result = fn(*conn->client);
        release(peer, std::move(conn));
        return result;
      }
    } catch (const apache::thrift::transport::TTransportException&) {
      throw;  // conn is destroyed (closed)
    } catch (const apache::thrift::protocol::TProtocolException&) {
      throw;
    } catch (const apache::thrift::TApplicationException&) {
      throw;
    } catch (const apache::thrift::TException&) {
      release(peer, std::move(conn));  // a declared exception: the connection is in sync
      throw;
    }
  }

  // A server that closed a pooled connection makes it read EOF or fail with a reset; a
  // timeout says nothing about staleness (the request may be running).
  static bool ShowsStaleConnection(const apache::thrift::transport::TTransportException& e) {
    using apache::thrift::transport::TTransportException;
    return e.getType() == TTransportException::END_OF_FILE ||
           e.getType() == TTransportException::NOT_OPEN;
  }

  // True when the peer already closed (or reset) an idle connection: its socket polls
  // readable although no call is outstanding. Catches most stale connections before a
  // request is sent on them.
  static bool ClosedByPeer(const Connection& conn) {
    pollfd p{};
    p.fd = conn.socket->getSocketFD();
    p.events = POLLIN;
    return p.fd < 0 || ::poll(&p, 1, 0) != 0;
  }

  std::unique_ptr<Connection> acquire(const locator::wire::Location& peer, bool* reused) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = idle_.find(ToString(peer));
      if (it != idle_.end()) {
        auto& conns = it->second;
        const auto now = Clock::now();
        while (!conns.empty()) {
          std::unique_ptr<Connection> conn = std::move(conns.back());
          conns.pop_back();
          const auto idle = now - conn->idle_since;
          // A connection used a moment ago is not checked: the poll would cost every call in a
          // busy loop a system call, and a stale one is still caught by the retry.
          if (idle < std::chrono::milliseconds(options_.max_idle_ms) &&
              (idle < kCheckAfterIdle || !ClosedByPeer(*conn))) {
            *reused = true;
            return conn;
          }
        }
      }
    }
    *reused = false;
    return connect(peer);
  }

  std::unique_ptr<Connection> connect(const locator::wire::Location& peer) {
    auto conn = std::make_unique<Connection>();
    ConnectOptions connect;
    connect.connect_timeout_ms = options_.connect_timeout_ms;
    connect.call_timeout_ms = options_.call_timeout_ms;
    connect.limits = options_.limits;
    connect.tls = options_.tls;
    static_cast<ThriftConnection<Client>&>(*conn) = Connect<Client>(peer, connect);
    if (options_.on_connect) options_.on_connect(*conn->client);
    return conn;
  }

  void release(const locator::wire::Location& peer, std::unique_ptr<Connection> conn) {
    conn->idle_since = Clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    auto& conns = idle_[ToString(peer)];
    if (conns.size() < options_.max_idle_per_peer) conns.push_back(std::move(conn));
  }

  PoolOptions options_;
  std::atomic<int32_t> max_request_bytes_;
  std::mutex mu_;
  std::map<std::string, std::deque<std::unique_ptr<Connection>>> idle_;
};

}  // namespace thrifty::rpc
