// PeerChannel against a real RpcServer on 127.0.0.1 and against a scripted peer that answers
// (or closes) the way a test needs: replies matched by sequence id whatever their order,
// deadlines, a call not sent behind a slow one, the caller writing to an idle connection itself,
// a peer that closes mid-call, reconnection after a restart, the bounds, TLS with the
// server-name check, the prologue (peer handshake), and 1,000 calls in flight on the channel's
// loop threads alone.
#include "locator/rpc/peer_channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <gtest/gtest.h>

#include "Locator.h"
#include "locator/rpc/address.h"
#include "locator/rpc/call_runner.h"
#include "locator/rpc/channel_call.h"
#include "locator/rpc/frame_parser.h"
#include "locator/rpc/listener.h"
#include "locator/rpc/rpc_server.h"
#include "locator/rpc/tls.h"
#include "tests/cluster/test_certificates.h"
#include "tests/net/gate.h"
#include "tests/net/wait_for.h"

namespace thrifty::rpc {
namespace {

namespace wire = locator::wire;
using apache::thrift::transport::TTransportException;
using Clock = std::chrono::steady_clock;
using thrifty::testing::Gate;
using thrifty::testing::PollUntil;

// Opens `gate` when it goes out of scope, so that nothing a test holds in it outlives the test.
class OpenOnExit {
 public:
  explicit OpenOnExit(Gate& gate) : gate_(gate) {}
  ~OpenOnExit() { gate_.release(); }
  OpenOnExit(const OpenOnExit&) = delete;
  OpenOnExit& operator=(const OpenOnExit&) = delete;

 private:
  Gate& gate_;
};

class FakeLocator : public wire::LocatorNull {
 public:
  void ping() override { ++pings; }
  // Answers after debug_ms, or once debug_gate opens when there is one.
  void debug(std::string& out) override {
    if (debug_gate) {
      debug_gate->pass();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(debug_ms.load()));
    }
    out = "slow answer";
  }
  // Echoes the key, so a test sees which call a reply belongs to.
  void get_node(wire::Location& out, const std::string& key) override {
    out.address = key;
    out.port = 1;
  }
  void auth_begin(wire::PeerChallenge& out, const std::string& nonce) override {
    ++auth_begins;
    if (refuse_auth) {
      wire::Unauthorized denied;
      denied.message = "not a member";
      throw denied;
    }
    out.nonce = nonce;
  }
  std::atomic<int> pings{0};
  std::atomic<int> debug_ms{600};
  std::shared_ptr<Gate> debug_gate;  // set before the server starts taking calls
  std::atomic<int> auth_begins{0};
  std::atomic<bool> refuse_auth{false};
};

class Server {
 public:
  explicit Server(int port = 0, std::shared_ptr<boost::asio::ssl::context> tls = nullptr)
      : handler(std::make_shared<FakeLocator>()) {
    ServerOptions options;
    options.loops = 1;
    options.tls = std::move(tls);
    server_ = std::make_unique<RpcServer>(std::make_shared<wire::LocatorProcessor>(handler),
                                          std::make_shared<Listener>("127.0.0.1", port), options);
    server_->start();
  }
  int port() const { return server_->port(); }
  wire::Location location() const { return MakeLocation("127.0.0.1", port()); }
  std::shared_ptr<FakeLocator> handler;

 private:
  std::unique_ptr<RpcServer> server_;
};

// A server whose debug calls wait in `slow` until the test opens it, or until this goes away.
struct GatedServer {
  GatedServer() { server.handler->debug_gate = slow; }
  ~GatedServer() { slow->release(); }
  std::shared_ptr<Gate> slow = std::make_shared<Gate>();
  Server server;
};

// A peer on one connection that reads `expect` requests before it does anything, then either
// answers them all in reverse order (through the generated processor) or closes the connection.
class ScriptedPeer {
 public:
  enum class Then { kAnswerReversed, kClose };
  ScriptedPeer(size_t expect, Then then) {
    Listener listener("127.0.0.1", 0);
    port_ = listener.port();
    fd_ = listener.release();
    thread_ = std::thread([this, expect, then] { serve(expect, then); });
  }
  ~ScriptedPeer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  wire::Location location() const { return MakeLocation("127.0.0.1", port_); }
  size_t received() const { return received_.load(); }
  // Lets it answer or close (it waits for this once it has the requests it expects).
  void go() { go_ = true; }

 private:
  // Waits (bounded) for `fd` to be readable; false when the test is ending.
  bool readable(int fd) {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (!stop_ && Clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) return true;
    }
    return false;
  }
  void serve(size_t expect, Then then) {
    if (!readable(fd_)) return;
    const int conn = ::accept(fd_, nullptr, nullptr);
    if (conn < 0) return;
    FrameParser parser(1 << 20);
    std::vector<std::string> frames;
    char buffer[65536];
    while (frames.size() < expect && readable(conn)) {
      const ssize_t n = ::recv(conn, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      parser.feed(reinterpret_cast<uint8_t*>(buffer), static_cast<size_t>(n), &frames);
      received_ = frames.size();
    }
    while (!go_ && !stop_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (then == Then::kAnswerReversed) {
      CallRunner runner(std::make_shared<wire::LocatorProcessor>(std::make_shared<FakeLocator>()),
                        RpcLimits(), std::make_shared<RpcCounters>(), "test");
      std::string replies;
      for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
        std::string reply;
        runner.run(*it, &reply);
        replies += reply;
      }
      size_t sent = 0;
      while (sent < replies.size()) {
        const ssize_t n = ::send(conn, replies.data() + sent, replies.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
      }
      // Keep the connection open until the test ends.
      while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::close(conn);
  }

  int port_ = 0;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> go_{false};
  std::atomic<size_t> received_{0};
  std::thread thread_;
};

// What a test's calls gave, in completion order.
struct Results {
  std::mutex mu;
  std::vector<std::string> answers;  // "ok:<value>" or "error:<what>"
  std::atomic<int> done{0};
  void add(std::string what) {
    std::lock_guard<std::mutex> lock(mu);
    answers.push_back(std::move(what));
    ++done;
  }
  std::vector<std::string> snapshot() {
    std::lock_guard<std::mutex> lock(mu);
    return answers;
  }
};

std::string Describe(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const ChannelRefused& e) {
    return std::string("refused:") + e.what();
  } catch (const TTransportException& e) {
    return "transport" + std::to_string(e.getType()) + ":" + e.what();
  } catch (const std::exception& e) {
    return std::string("error:") + e.what();
  }
}

Clock::time_point In(int ms) { return Clock::now() + std::chrono::milliseconds(ms); }

// Starts a call of the Locator client; its answer goes to `results` as "ok:<value>" or the error.
template <class Send, class Recv>
void Ask(PeerChannel& channel, Results& results, int deadline_ms, Send send, Recv recv) {
  ChannelCall<wire::LocatorClient, std::string>(
      channel, In(deadline_ms), std::move(send), std::move(recv),
      [&results](Outcome<std::string> o) {
        results.add(o.value ? "ok:" + *o.value : Describe(o.error));
      });
}

void GetNode(PeerChannel& channel, const std::string& key, Results& results, int deadline_ms = 5000) {
  Ask(channel, results, deadline_ms, [key](wire::LocatorClient& c) { c.send_get_node(key); },
      [](wire::LocatorClient& c) {
        wire::Location out;
        c.recv_get_node(out);
        return out.address;
      });
}

void Debug(PeerChannel& channel, Results& results, int deadline_ms = 5000) {
  Ask(channel, results, deadline_ms, [](wire::LocatorClient& c) { c.send_debug(); },
      [](wire::LocatorClient& c) {
        std::string out;
        c.recv_debug(out);
        return out;
      });
}

// Runs one get_node and returns what it gave.
std::string GetNodeNow(PeerChannel& channel, const std::string& key, int deadline_ms = 5000) {
  Results results;
  GetNode(channel, key, results, deadline_ms);
  if (!PollUntil([&] { return results.done.load() == 1; }, deadline_ms + 5000)) return "no answer";
  return results.snapshot()[0];
}

class PeerChannelTest : public ::testing::Test {
 protected:
  std::shared_ptr<PeerChannel> Open(const wire::Location& peer, ChannelOptions options = {}) {
    options.counters = counters;
    auto channel = PeerChannel::Make(loops, peer, std::move(options));
    channels_.push_back(channel);
    return channel;
  }
  void TearDown() override {
    for (auto& channel : channels_) channel->close();
    EXPECT_TRUE(PollUntil([&] { return counters->in_flight.load() == 0; }, 5000));
  }

  ClientLoops loops{2};
  std::shared_ptr<PeerCallCounters> counters = std::make_shared<PeerCallCounters>();

 private:
  std::vector<std::shared_ptr<PeerChannel>> channels_;
};

TEST_F(PeerChannelTest, RepliesInAnyOrderAreMatchedToTheirCalls) {
  ScriptedPeer peer(50, ScriptedPeer::Then::kAnswerReversed);
  ChannelOptions options;
  options.connections = 1;
  auto channel = Open(peer.location(), options);
  Results results;
  for (int i = 0; i < 50; ++i) GetNode(*channel, "key" + std::to_string(i), results);
  peer.go();
  ASSERT_TRUE(PollUntil([&] { return results.done.load() == 50; }, 10000));
  // Answered last first; each call got its own key back.
  const auto answers = results.snapshot();
  for (int i = 0; i < 50; ++i) EXPECT_EQ(answers[i], "ok:key" + std::to_string(49 - i));
}

TEST_F(PeerChannelTest, FastCallsAreNotHeldBehindASlowOne) {
  GatedServer gated;
  Server& server = gated.server;
  const std::shared_ptr<Gate>& slow = gated.slow;
  auto channel = Open(server.location());
  ASSERT_EQ(GetNodeNow(*channel, "warm"), "ok:warm");
  Results results;
  // The slow call holds its connection until the test lets it answer (the server answers one
  // connection's calls in order): a fast call sent behind it would not be answered before.
  Debug(*channel, results, 60000);
  ASSERT_TRUE(PollUntil([&] { return slow->waiting() == 1; }, 10000));
  // The channel sends these on its second connection: first while it is being opened, then
  // (once it has calls in flight too) because the other one's oldest call is older.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 20; ++i) {
      GetNode(*channel, "k" + std::to_string(round * 20 + i), results, 60000);
    }
    ASSERT_TRUE(PollUntil([&] { return results.done.load() == 20 * (round + 1); }, 20000))
        << results.done.load() << " of the fast calls answered while the slow one waits";
  }
  EXPECT_EQ(slow->waiting(), 1);
  std::vector<std::string> fast = results.snapshot();
  std::sort(fast.begin(), fast.end());
  std::vector<std::string> expected;
  for (int i = 0; i < 40; ++i) expected.push_back("ok:k" + std::to_string(i));
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(fast, expected);
  slow->release();
  ASSERT_TRUE(PollUntil([&] { return results.done.load() == 41; }, 20000));
  EXPECT_EQ(results.snapshot().back(), "ok:slow answer");
}

TEST_F(PeerChannelTest, ACallOnAnIdleConnectionIsWrittenByTheCaller) {
  Server server;
  auto channel = Open(server.location());
  ASSERT_EQ(GetNodeNow(*channel, "warm"), "ok:warm");
  // Both client loops held: only the caller's thread can write the request now.
  Gate loops_held;
  OpenOnExit open_loops(loops_held);
  for (size_t i = 0; i < loops.size(); ++i) {
    boost::asio::post(loops.next(), [&loops_held] { loops_held.pass(); });
  }
  ASSERT_TRUE(PollUntil([&] { return loops_held.waiting() == 2; }, 10000));
  Results results;
  Ask(*channel, results, 20000, [](wire::LocatorClient& c) { c.send_ping(); },
      [](wire::LocatorClient& c) {
        c.recv_ping();
        return std::string("pong");
      });
  EXPECT_TRUE(PollUntil([&] { return server.handler->pings.load() == 1; }, 10000));
  EXPECT_EQ(results.done.load(), 0);  // its reply is read on the loop
  loops_held.release();
  ASSERT_TRUE(PollUntil([&] { return results.done.load() == 1; }, 10000));
  EXPECT_EQ(results.snapshot()[0], "ok:pong");
  // A request larger than the socket takes at once: the caller writes what it can, the loop
  // the rest, in order.
  const std::string big(8 << 20, 'b');
  const std::string answer = GetNodeNow(*channel, big, 20000);
  EXPECT_TRUE(answer == "ok:" + big) << answer.size() << " bytes: " << answer.substr(0, 80);
  EXPECT_EQ(GetNodeNow(*channel, "after"), "ok:after");
  EXPECT_EQ(counters->late_replies.load(), 0);
}

TEST_F(PeerChannelTest, ACallWrittenByTheCallerStillFailsAtItsDeadline) {
  GatedServer gated;  // its debug calls are never answered
  auto channel = Open(gated.server.location());
  const auto timed_out = [](const std::string& answer) {
    return answer.rfind("transport" + std::to_string(TTransportException::TIMED_OUT), 0) == 0;
  };
  // Leaves the deadline timer armed a second from now.
  ASSERT_EQ(GetNodeNow(*channel, "warm", 1000), "ok:warm");
  Results results;
  // Written by this thread on the idle connection; the loop learns of it from the timer, which
  // fires before its deadline (a call due earlier than the timer wakes the loop instead).
  Debug(*channel, results, 2000);
  ASSERT_TRUE(PollUntil([&] { return results.done.load() == 1; }, 10000));
  EXPECT_TRUE(timed_out(results.snapshot()[0])) << results.snapshot()[0];
  // An idle connection again once it is over: a call due before the timer wakes the loop.
  Debug(*channel, results, 100);
  ASSERT_TRUE(PollUntil([&] { return results.done.load() == 2; }, 10000));
  EXPECT_TRUE(timed_out(results.snapshot()[1])) << results.snapshot()[1];
  EXPECT_EQ(counters->timeouts.load(), 2);
}

TEST_F(PeerChannelTest, ACallPastItsDeadlineFailsAndItsLateReplyIsDropped) {
  Server server;
  server.handler->debug_ms = 500;
  auto channel = Open(server.location());
  Results results;
  const auto start = Clock::now();
  Debug(*channel, results, 100);
  ASSERT_TRUE(PollUntil([&] { return results.done.load() == 1; }, 5000));
  const auto waited = Clock::now() - start;
  EXPECT_LT(waited, std::chrono::milliseconds(450));
  const std::string answer = results.snapshot()[0];
  EXPECT_EQ(answer.rfind("transport" + std::to_string(TTransportException::TIMED_OUT), 0), 0u)
      << answer;
  EXPECT_EQ(counters->timeouts.load(), 1);
  // The reply comes later, is counted, and does not disturb the next call.
  EXPECT_TRUE(PollUntil([&] { return counters->late_replies.load() == 1; }, 5000));
  EXPECT_EQ(GetNodeNow(*channel, "after"), "ok:after");
}

TEST_F(PeerChannelTest, APeerThatClosesMidCallFailsEveryCallInFlightAtOnce) {
  ScriptedPeer peer(10, ScriptedPeer::Then::kClose);
  ChannelOptions options;
  options.connections = 1;
  auto channel = Open(peer.location(), options);
  Results results;
  const auto start = Clock::now();
  for (int i = 0; i < 10; ++i) GetNode(*channel, "k" + std::to_string(i), results, 20000);
  ASSERT_TRUE(PollUntil([&] { return peer.received() == 10; }, 10000));
  EXPECT_EQ(results.done.load(), 0);
  peer.go();
  ASSERT_TRUE(PollUntil([&] { return results.done.load() == 10; }, 10000));
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));  // long before the deadline
  for (const auto& answer : results.snapshot()) {
    EXPECT_EQ(answer.rfind("transport" + std::to_string(TTransportException::END_OF_FILE), 0), 0u)
        << answer;
    EXPECT_NE(answer.find("the peer closed the connection"), std::string::npos) << answer;
  }
  EXPECT_EQ(counters->connections_lost.load(), 1);
}

TEST_F(PeerChannelTest, ReconnectsAfterThePeerRestarts) {
  auto server = std::make_unique<Server>();
  const int port = server->port();
  ChannelOptions options;
  options.backoff_min_ms = 20;
  options.backoff_max_ms = 100;
  auto channel = Open(server->location(), options);
  ASSERT_EQ(GetNodeNow(*channel, "before"), "ok:before");
  server.reset();
  // Down: calls fail (the connection is gone, then connecting is refused).
  EXPECT_TRUE(PollUntil([&] { return GetNodeNow(*channel, "down").rfind("transport", 0) == 0; },
                        5000));
  server = std::make_unique<Server>(port);
  EXPECT_TRUE(PollUntil([&] { return GetNodeNow(*channel, "again") == "ok:again"; }, 10000, 20));
  EXPECT_GE(counters->connect_failures.load() + counters->connections_lost.load(), 1);
}

TEST_F(PeerChannelTest, CallsBeyondTheBoundsAreRefusedBeforeAnythingIsSent) {
  Server server;
  server.handler->debug_ms = 300;
  ChannelOptions options;
  options.max_in_flight = 3;
  auto channel = Open(server.location(), options);
  Results results;
  for (int i = 0; i < 3; ++i) Debug(*channel, results);
  Results refused;
  GetNode(*channel, "fourth", refused);
  ASSERT_EQ(refused.done.load(), 1);  // on this thread, before the call returned
  EXPECT_EQ(refused.snapshot()[0].rfind("refused:", 0), 0u) << refused.snapshot()[0];
  EXPECT_NE(refused.snapshot()[0].find("3 calls already in flight"), std::string::npos);
  EXPECT_EQ(counters->refused.load(), 1);
  ASSERT_TRUE(PollUntil([&] { return results.done.load() == 3; }, 10000));
  for (const auto& answer : results.snapshot()) EXPECT_EQ(answer, "ok:slow answer");

  ChannelOptions small;
  small.max_queued_bytes = 200;
  auto narrow = Open(server.location(), small);
  EXPECT_EQ(GetNodeNow(*narrow, "short"), "ok:short");
  const std::string answer = GetNodeNow(*narrow, std::string(300, 'k'));
  EXPECT_EQ(answer.rfind("refused:", 0), 0u) << answer;
  EXPECT_NE(answer.find("200 bytes of requests"), std::string::npos) << answer;
}

TEST_F(PeerChannelTest, APrologueRunsOnEachNewConnectionAndItsFailureFailsTheCalls) {
  Server server;
  ChannelOptions options;
  options.connections = 1;
  options.prologue = [](const FrameSender& send, std::function<void(std::exception_ptr)> done) {
    ChannelCall<wire::LocatorClient, bool>(
        send, RpcLimits(),
        [](wire::LocatorClient& c) { c.send_auth_begin(std::string(32, 'n')); },
        [](wire::LocatorClient& c) {
          wire::PeerChallenge challenge;
          c.recv_auth_begin(challenge);
          return true;
        },
        [done](Outcome<bool> o) { done(o.error); });
  };
  auto channel = Open(server.location(), options);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(GetNodeNow(*channel, "k"), "ok:k");
  EXPECT_EQ(server.handler->auth_begins.load(), 1);

  Server refusing;
  refusing.handler->refuse_auth = true;
  auto refused = Open(refusing.location(), options);
  const std::string answer = GetNodeNow(*refused, "k");
  EXPECT_NE(answer.find("peer handshake failed"), std::string::npos) << answer;
  EXPECT_NE(answer.find("not a member"), std::string::npos) << answer;
}

TEST_F(PeerChannelTest, ThousandConcurrentCallsRunOnTheLoopsAlone) {
  ScriptedPeer peer(1000, ScriptedPeer::Then::kAnswerReversed);
  ChannelOptions options;
  options.connections = 1;
  auto channel = Open(peer.location(), options);
  const int threads_before = testing::ProcStatus(getpid(), "Threads:");
  Results results;
  for (int i = 0; i < 1000; ++i) GetNode(*channel, "k" + std::to_string(i), results);
  // All 1,000 reach the peer before it answers any: all in flight at once.
  ASSERT_TRUE(PollUntil([&] { return peer.received() == 1000; }, 10000));
  EXPECT_EQ(channel->in_flight(), 1000u);
  EXPECT_EQ(counters->in_flight.load(), 1000);
  EXPECT_EQ(testing::ProcStatus(getpid(), "Threads:"), threads_before);
  peer.go();
  ASSERT_TRUE(PollUntil([&] { return results.done.load() == 1000; }, 10000));
  for (const auto& answer : results.snapshot()) EXPECT_EQ(answer.rfind("ok:k", 0), 0u);
  EXPECT_EQ(counters->in_flight.load(), 0);
}

class PeerChannelTls : public PeerChannelTest {
 protected:
  static void SetUpTestSuite() { certs_ = new testing::Certificates(); }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(certs_->ok()) << certs_->error(); }
  static testing::Certificates* certs_;
};
testing::Certificates* PeerChannelTls::certs_ = nullptr;

TEST_F(PeerChannelTls, CallsGoOverTlsAndAServerNotNamingTheAddressIsRefused) {
  Server server(0, MakeServerTlsContext(certs_->options("node")));
  ChannelOptions options;
  options.tls = MakeClientTlsContext(certs_->options("node"));
  auto channel = Open(server.location(), options);
  EXPECT_EQ(GetNodeNow(*channel, "secret"), "ok:secret");

  // Its certificate names 127.0.0.2 only.
  Server elsewhere(0, MakeServerTlsContext(certs_->options("elsewhere")));
  auto mismatched = Open(elsewhere.location(), options);
  std::string answer = GetNodeNow(*mismatched, "k");
  EXPECT_NE(answer.find("TLS handshake failed"), std::string::npos) << answer;
  EXPECT_EQ(elsewhere.handler->pings.load(), 0);

  // A CA the server's certificate does not chain to.
  ChannelOptions stranger;
  stranger.tls = MakeClientTlsContext(certs_->options("", "stranger-ca"));
  auto untrusted = Open(server.location(), stranger);
  answer = GetNodeNow(*untrusted, "k");
  EXPECT_NE(answer.find("TLS handshake failed"), std::string::npos) << answer;
}

}  // namespace
}  // namespace thrifty::rpc
