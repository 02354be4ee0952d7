// ConnectionPool against an in-process RpcServer serving a small Locator handler: connections
// are reused, dead peers fail fast, a restarted server is reached again, slow calls time out
// without poisoning the next call, and many threads share the pool.
#include "locator/rpc/connection_pool.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "Locator.h"
#include "locator/rpc/rpc_server.h"

namespace thrifty::rpc {
namespace {

namespace wire = locator::wire;

using apache::thrift::transport::TTransport;
using apache::thrift::transport::TTransportException;
using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// One processor for every connection, counting the connections it was asked for (the server
// asks once per connection it serves).
class CountingFactory : public apache::thrift::TProcessorFactory {
 public:
  explicit CountingFactory(std::shared_ptr<apache::thrift::TProcessor> processor)
      : processor_(std::move(processor)) {}
  std::shared_ptr<apache::thrift::TProcessor> getProcessor(
      const apache::thrift::TConnectionInfo&) override {
    ++accepted_;
    return processor_;
  }
  int accepted() const { return accepted_.load(); }

 private:
  std::shared_ptr<apache::thrift::TProcessor> processor_;
  std::atomic<int> accepted_{0};
};

class FakeLocator : public wire::LocatorNull {
 public:
  explicit FakeLocator(std::string name) : name_(std::move(name)) {}
  void ping() override { ++pings; }
  void service_type(std::string& out) override { out = name_; }
  // Slow on purpose: longer than twice the short call deadlines used below.
  void debug(std::string& out) override {
    ++slow_calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    out = "slow answer";
  }
  void get_nodes(std::vector<wire::Location>& out, const std::string& key, int32_t n) override {
    if (n <= 0) {
      wire::LocatorError error;
      error.message = "n must be >= 1";
      throw error;
    }
    out.assign(static_cast<size_t>(n), MakeLocation(key, 1));
  }
  std::atomic<int> pings{0};
  std::atomic<int> slow_calls{0};

 private:
  std::string name_;
};

class TestServer {
 public:
  explicit TestServer(int port = 0, std::string name = "fake.Locator")
      : handler_(std::make_shared<FakeLocator>(std::move(name))),
        processors_(std::make_shared<CountingFactory>(
            std::make_shared<wire::LocatorProcessor>(handler_))) {
    ServerOptions options;
    options.workers = 32;
    server_ = std::make_unique<RpcServer>(processors_,
                                          std::make_shared<Listener>("127.0.0.1", port), options);
    server_->start();
  }
  int port() const { return server_->port(); }
  wire::Location location() const { return MakeLocation("127.0.0.1", port()); }
  int accepted() const { return processors_->accepted(); }
  int pings() const { return handler_->pings.load(); }
  int slow_calls() const { return handler_->slow_calls.load(); }
  void stop() { server_->stop(); }

 private:
  std::shared_ptr<FakeLocator> handler_;
  std::shared_ptr<CountingFactory> processors_;
  std::unique_ptr<RpcServer> server_;
};

// A port on 127.0.0.1 with nothing listening (bound by the kernel's choice, then released).
int DeadPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST(RpcServer, PortZeroTakesAFreePortAndReportsIt) {
  TestServer server;
  EXPECT_GT(server.port(), 0);
  ConnectionPool<wire::LocatorClient> pool;
  std::string type;
  pool.call(server.location(), [&](wire::LocatorClient& c) { c.service_type(type); });
  EXPECT_EQ(type, "fake.Locator");
}

TEST(RpcServer, BindFirstFreeSkipsTakenPorts) {
  TestServer taken;
  auto socket = BindFirstFree("127.0.0.1", taken.port(), taken.port() + 50);
  EXPECT_GT(socket->port(), taken.port());
  socket.reset();
  try {
    BindFirstFree("127.0.0.1", taken.port(), taken.port());
    ADD_FAILURE() << "bound a taken port";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(taken.port())), std::string::npos) << e.what();
  }
}

// Connections read without polling an interrupt pipe, so stop() must end them itself: idle
// ones, and ones still being accepted while the server stops (the idle timeout is 2 minutes,
// so a connection stop() missed would hold it that long).
TEST(RpcServer, StopEndsOpenConnectionsAndOnesAcceptedWhileStopping) {
  for (int round = 0; round < 5; ++round) {
    auto server = std::make_unique<TestServer>();
    const wire::Location where = server->location();
    ConnectionPool<wire::LocatorClient> idle;
    idle.call(where, [](wire::LocatorClient& c) { c.ping(); });  // stays open, silent
    std::atomic<bool> done{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
      clients.emplace_back([&] {
        while (!done.load()) {
          try {
            ConnectionPool<wire::LocatorClient> fresh;  // a new connection every call
            fresh.call(where, [](wire::LocatorClient& c) { c.ping(); });
          } catch (const std::exception&) {
            // refused or cut off by the stop: expected
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const auto start = Clock::now();
    server->stop();
    const int64_t elapsed = MsSince(start);
    done = true;
    for (auto& c : clients) c.join();
    EXPECT_LT(elapsed, 5000) << "round " << round << ": stop() waited on a connection";
    if (HasFailure()) break;
  }
}

TEST(ConnectionPool, ReusesOneConnectionForSequentialCalls) {
  TestServer server;
  ConnectionPool<wire::LocatorClient> pool;
  for (int i = 0; i < 50; ++i) {
    pool.call(server.location(), [](wire::LocatorClient& c) { c.ping(); });
  }
  std::string type;
  pool.call(server.location(), [&](wire::LocatorClient& c) { c.service_type(type); });
  EXPECT_EQ(type, "fake.Locator");
  EXPECT_EQ(server.pings(), 50);
  EXPECT_EQ(server.accepted(), 1);
}

TEST(ConnectionPool, ADeclaredExceptionKeepsTheConnection) {
  TestServer server;
  ConnectionPool<wire::LocatorClient> pool;
  std::vector<wire::Location> nodes;
  EXPECT_THROW(pool.call(server.location(),
                         [&](wire::LocatorClient& c) { c.get_nodes(nodes, "k", 0); }),
               wire::LocatorError);
  pool.call(server.location(), [&](wire::LocatorClient& c) { c.get_nodes(nodes, "k", 2); });
  EXPECT_EQ(nodes.size(), 2u);
  EXPECT_EQ(server.accepted(), 1);
}

TEST(ConnectionPool, ForgetAndAgeDropIdleConnections) {
  TestServer server;
  PoolOptions options;
  options.max_idle_ms = 100;
  ConnectionPool<wire::LocatorClient> pool(options);
  pool.call(server.location(), [](wire::LocatorClient& c) { c.ping(); });
  pool.forget(server.location());
  pool.call(server.location(), [](wire::LocatorClient& c) { c.ping(); });
  EXPECT_EQ(server.accepted(), 2);
  // Idle longer than max_idle_ms: not reused.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  pool.call(server.location(), [](wire::LocatorClient& c) { c.ping(); });
  EXPECT_EQ(server.accepted(), 3);
  EXPECT_EQ(server.pings(), 3);
}

TEST(ConnectionPool, DeadPortThrowsTransportExceptionWithinTheConnectTimeout) {
  PoolOptions options;
  options.connect_timeout_ms = 500;
  ConnectionPool<wire::LocatorClient> pool(options);
  const wire::Location dead = MakeLocation("127.0.0.1", DeadPort());
  const auto start = Clock::now();
  EXPECT_THROW(pool.call(dead, [](wire::LocatorClient& c) { c.ping(); }), TTransportException);
  EXPECT_LT(MsSince(start), options.connect_timeout_ms);
  // Again: nothing was pooled from the failed attempt.
  EXPECT_THROW(pool.call(dead, [](wire::LocatorClient& c) { c.ping(); }), TTransportException);
}

// A peer that never completes the TCP handshake (its accept queue is full) costs one connect
// timeout, not a hang.
TEST(ConnectionPool, UnansweredConnectGivesUpAtTheConnectTimeout) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 0), 0);
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  // Fill the accept queue (never accepted).
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    fillers.push_back(fd);
  }
  PoolOptions options;
  options.connect_timeout_ms = 300;
  options.call_timeout_ms = 300;
  ConnectionPool<wire::LocatorClient> pool(options);
  const auto start = Clock::now();
  EXPECT_THROW(pool.call(MakeLocation("127.0.0.1", ntohs(addr.sin_port)),
                         [](wire::LocatorClient& c) { c.ping(); }),
               TTransportException);
  const int64_t elapsed = MsSince(start);
  EXPECT_LT(elapsed, 2000) << "neither the connect nor the call deadline was honoured";
  for (int fd : fillers) close(fd);
  close(listener);
}

// The server restarts on the same port: the pooled connection is stale, and the call is retried
// once on a fresh connection.
TEST(ConnectionPool, SurvivesAServerRestartOnTheSamePort) {
  auto server = std::make_unique<TestServer>();
  const wire::Location where = server->location();
  const int port = where.port;
  ConnectionPool<wire::LocatorClient> pool;
  pool.call(where, [](wire::LocatorClient& c) { c.ping(); });
  EXPECT_EQ(server->accepted(), 1);

  server.reset();  // closes the pooled connection from the server's side
  server = std::make_unique<TestServer>(port, "restarted");
  std::string type;
  pool.call(where, [&](wire::LocatorClient& c) { c.service_type(type); });
  EXPECT_EQ(type, "restarted");
  EXPECT_EQ(server->accepted(), 1);
  // The fresh connection is pooled in turn.
  pool.call(where, [](wire::LocatorClient& c) { c.ping(); });
  EXPECT_EQ(server->accepted(), 1);
  EXPECT_EQ(server->pings(), 1);
}

TEST(ConnectionPool, CallDeadlineThrowsAndTheNextCallGetsItsOwnAnswer) {
  TestServer server;
  PoolOptions options;
  options.call_timeout_ms = 300;
  ConnectionPool<wire::LocatorClient> pool(options);
  const auto start = Clock::now();
  std::string out;
  EXPECT_THROW(pool.call(server.location(), [&](wire::LocatorClient& c) { c.debug(out); }),
               TTransportException);
  EXPECT_LT(MsSince(start), 550) << "the call deadline was not honoured";
  EXPECT_EQ(server.slow_calls(), 1);
  // The timed-out connection is closed, not reused: the late reply never reaches this call.
  std::string type;
  pool.call(server.location(), [&](wire::LocatorClient& c) { c.service_type(type); });
  EXPECT_EQ(type, "fake.Locator");
  EXPECT_EQ(server.accepted(), 2);
}

// The retry on a fresh connection is for a pooled connection the server has closed. A call
// that was sent and then ran past its deadline must not be sent a second time (the server would
// execute it twice, and the caller would wait two deadlines).
TEST(ConnectionPool, ACallThatTimedOutOnAReusedConnectionIsNotSentAgain) {
  TestServer server;
  PoolOptions options;
  options.call_timeout_ms = 300;
  ConnectionPool<wire::LocatorClient> pool(options);
  pool.call(server.location(), [](wire::LocatorClient& c) { c.ping(); });  // pooled now
  const auto start = Clock::now();
  std::string out;
  EXPECT_THROW(pool.call(server.location(), [&](wire::LocatorClient& c) { c.debug(out); }),
               TTransportException);
  const int64_t elapsed = MsSince(start);
  EXPECT_EQ(server.slow_calls(), 1) << "the timed-out request was sent again";
  EXPECT_LT(elapsed, 550) << "one call took " << elapsed << " ms with a 300 ms deadline";
}

// A request over the pool's request limit is refused before anything is sent, names the
// limit, is not retried, and leaves the pool working.
TEST(ConnectionPool, ARequestOverTheLimitIsRefusedBeforeItIsSent) {
  TestServer server;
  ConnectionPool<wire::LocatorClient> pool;
  EXPECT_EQ(pool.max_request_bytes(), RpcLimits().max_frame_bytes);
  pool.call(server.location(), [](wire::LocatorClient& c) { c.ping(); });
  pool.set_max_request_bytes(1000);
  std::vector<wire::Location> nodes;
  try {
    pool.call(server.location(),
              [&](wire::LocatorClient& c) { c.get_nodes(nodes, std::string(2000, 'k'), 1); });
    ADD_FAILURE() << "a request of over 2000 bytes was sent";
  } catch (const RequestTooLarge& e) {
    EXPECT_EQ(e.limit(), 1000u);
    EXPECT_GT(e.bytes(), 2000u);
  }
  EXPECT_EQ(server.accepted(), 1) << "no new connection for a retry";
  pool.call(server.location(), [&](wire::LocatorClient& c) { c.get_nodes(nodes, "small", 1); });
  EXPECT_EQ(nodes.size(), 1u);
}

TEST(ConnectionPool, EightThreadsShareThePool) {
  TestServer server;
  ConnectionPool<wire::LocatorClient> pool;
  constexpr int kThreads = 8, kCalls = 300;
  std::atomic<int> failures{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        try {
          if (i % 3 == 0) {
            std::vector<wire::Location> nodes;
            const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
            pool.call(server.location(),
                      [&](wire::LocatorClient& c) { c.get_nodes(nodes, key, 1); });
            if (nodes.size() != 1 || nodes[0].address != key) ++wrong;
          } else {
            pool.call(server.location(), [](wire::LocatorClient& c) { c.ping(); });
          }
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(wrong.load(), 0) << "a reply reached the wrong caller";
  EXPECT_EQ(server.pings(), kThreads * (kCalls - kCalls / 3));
  // Never more connections than calls in flight at once.
  EXPECT_LE(server.accepted(), kThreads);
  EXPECT_GE(server.accepted(), 1);
}

}  // namespace
}  // namespace thrifty::rpc
