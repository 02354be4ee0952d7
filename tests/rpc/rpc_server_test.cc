// RpcServer's event loops against raw sockets: requests on one connection answered in order,
// idle and half-sent connections that hold no thread and are closed by their timeouts, the
// connection and buffer limits, and oversized frames answered before the connection closes.
#include "locator/rpc/rpc_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "Locator.h"
#include "locator/rpc/address.h"
#include "locator/rpc/connection_pool.h"
#include "locator/rpc/continuation_calls.h"
#include "locator/rpc/frame_parser.h"
#include "locator/rpc/server_connection.h"
#include "tests/net/raw_conn.h"
#include "tests/net/wait_for.h"

namespace thrifty::rpc {
namespace {

namespace wire = locator::wire;
using thrifty::testing::RawConn;
using Clock = std::chrono::steady_clock;

using thrifty::testing::PollUntil;

int ThreadsOfThisProcess() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

class FakeLocator : public wire::LocatorNull {
 public:
  void ping() override {
    ++pings;
    std::lock_guard<std::mutex> lock(mu);
    ping_threads.insert(std::this_thread::get_id());
  }
  void service_type(std::string& out) override {
    out = "fake.Locator";
    std::lock_guard<std::mutex> lock(mu);
    other_threads.insert(std::this_thread::get_id());
  }
  // Slower than the short timeouts below.
  void debug(std::string& out) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    out = "slow answer";
  }
  std::atomic<int> pings{0};
  std::mutex mu;
  std::set<std::thread::id> ping_threads, other_threads;
};

// ---- raw bytes ----

std::string BigEndian(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (24 - 8 * i));
  return out;
}

// A call with no arguments (ping, service_type, debug): a strict message header and a stop.
std::string Call(const std::string& name, uint32_t seqid) {
  const std::string payload = BigEndian(0x80010001u) + BigEndian(static_cast<uint32_t>(name.size())) +
                              name + BigEndian(seqid) + std::string(1, '\0');
  return BigEndian(static_cast<uint32_t>(payload.size())) + payload;
}

class Server {
 public:
  explicit Server(ServerOptions options = ServerOptions())
      : handler_(std::make_shared<FakeLocator>()), counters_(options.counters) {
    server_ = std::make_unique<RpcServer>(std::make_shared<wire::LocatorProcessor>(handler_),
                                          std::make_shared<Listener>("127.0.0.1", 0), options);
    server_->start();
  }
  int port() const { return server_->port(); }
  wire::Location location() const { return MakeLocation("127.0.0.1", port()); }
  RpcCounters& counters() { return *counters_; }
  int pings() const { return handler_->pings.load(); }
  FakeLocator& handler() { return *handler_; }
  // A new connection, one ping: true if it was answered.
  bool serves(int timeout_ms = 2000) {
    PoolOptions options;
    options.connect_timeout_ms = timeout_ms;
    options.call_timeout_ms = timeout_ms;
    ConnectionPool<wire::LocatorClient> fresh(options);
    try {
      fresh.call(location(), [](wire::LocatorClient& c) { c.ping(); });
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

 private:
  std::shared_ptr<FakeLocator> handler_;
  std::shared_ptr<RpcCounters> counters_;
  std::unique_ptr<RpcServer> server_;
};

TEST(RpcServer, PipelinedRequestsAreAnsweredInTheOrderTheyCame) {
  Server server;
  RawConn conn(server.port());
  // A slow call first: the fast ones behind it must still be answered after it.
  std::string requests = Call("debug", 0);
  for (uint32_t seqid = 1; seqid <= 300; ++seqid) {
    requests += Call(seqid % 3 == 0 ? "service_type" : "ping", seqid);
  }
  ASSERT_TRUE(conn.send_all(requests));
  for (uint32_t seqid = 0; seqid <= 300; ++seqid) {
    std::string reply;
    ASSERT_TRUE(conn.read_frame(&reply)) << "no reply " << seqid;
    const auto head = PeekMessageHead(reply);
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->seqid, static_cast<int32_t>(seqid));
    EXPECT_EQ(head->name, seqid == 0 ? "debug" : seqid % 3 == 0 ? "service_type" : "ping");
  }
  EXPECT_EQ(server.pings(), 200);
}

TEST(RpcServer, CallsTheServerRunsInlineRunOnTheLoopAndKeepTheirPlaceInLine) {
  ServerOptions options;
  options.loops = 1;
  std::mutex mu;
  std::set<std::thread::id> loop_threads;
  options.runs_inline = [&](const std::string& frame) {
    {
      std::lock_guard<std::mutex> lock(mu);
      loop_threads.insert(std::this_thread::get_id());
    }
    const auto head = PeekMessageHead(frame);
    return head && head->name == "ping";
  };
  Server server(options);
  // Two pipelining connections: a slow call, then pings (inline) mixed with calls that are not.
  RawConn a(server.port()), b(server.port());
  for (RawConn* conn : {&a, &b}) {
    std::string requests = Call("debug", 0);
    for (uint32_t seqid = 1; seqid <= 200; ++seqid) {
      requests += Call(seqid % 4 == 0 ? "service_type" : "ping", seqid);
    }
    ASSERT_TRUE(conn->send_all(requests));
  }
  for (RawConn* conn : {&a, &b}) {
    for (uint32_t seqid = 0; seqid <= 200; ++seqid) {
      std::string reply;
      ASSERT_TRUE(conn->read_frame(&reply)) << "no reply " << seqid;
      const auto head = PeekMessageHead(reply);
      ASSERT_TRUE(head.has_value());
      EXPECT_EQ(head->seqid, static_cast<int32_t>(seqid)) << "a ping overtook the call before it";
    }
  }
  // One at a time: each is first in line when it arrives.
  for (uint32_t seqid = 1000; seqid < 1010; ++seqid) {
    ASSERT_TRUE(a.send_all(Call("ping", seqid)));
    std::string reply;
    ASSERT_TRUE(a.read_frame(&reply));
  }
  EXPECT_EQ(server.pings(), 310);
  std::lock_guard<std::mutex> lock(mu);
  std::lock_guard<std::mutex> handler_lock(server.handler().mu);
  ASSERT_EQ(loop_threads.size(), 1u) << "one loop asks";
  const std::thread::id loop = *loop_threads.begin();
  // Pings that arrived behind a call a worker ran are run by that worker (they keep their
  // place); pings the loop found first in line are run by the loop itself.
  EXPECT_TRUE(server.handler().ping_threads.count(loop)) << "no ping ran on the loop";
  EXPECT_FALSE(server.handler().other_threads.count(loop)) << "a call not accepted ran on the loop";
}

TEST(RpcServer, IdleAndHalfSentConnectionsHoldNoThreadAndDoNotDelayOthers) {
  ServerOptions options;
  options.loops = 2;
  Server server(options);
  ASSERT_TRUE(server.serves());
  const int threads_before = ThreadsOfThisProcess();
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 1000; ++i) {
    conns.push_back(std::make_unique<RawConn>(server.port()));
        // Every other one sends half a request and stops.
    if (i % 2) conns.back()->send_all(Call("ping", 1).substr(0, 7));
  }
  ASSERT_TRUE(PollUntil([&] { return server.counters().open_connections() == 1000; }, 10000))
      << server.counters().open_connections();
  for (int i = 0; i < 20; ++i) {
    const auto start = Clock::now();
    EXPECT_TRUE(server.serves());
    EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1000));
  }
  // The pool's few workers, not a thread per connection.
  EXPECT_LE(ThreadsOfThisProcess(), threads_before + 4);
  EXPECT_GT(server.counters().buffered_bytes(), 0);
  conns.clear();
  EXPECT_TRUE(PollUntil([&] { return server.counters().open_connections() == 0; }, 10000));
  EXPECT_EQ(server.counters().buffered_bytes(), 0);
}

TEST(RpcServer, ARequestNotWholeWithinTheFrameTimeoutClosesItsConnection) {
  ServerOptions options;
  options.frame_timeout_ms = 300;
  Server server(options);
  // Half a frame, then nothing; and a slow sender that trickles a byte every 50 ms.
  RawConn stalled(server.port());
  stalled.send_all(Call("ping", 1).substr(0, 10));
  RawConn trickle(server.port());
  const std::string request = Call("ping", 2);
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    for (size_t i = 0; i + 1 < request.size() && !stop.load(); ++i) {
      if (!trickle.send_all(request.substr(i, 1))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  EXPECT_TRUE(stalled.read_until_closed(3000));
  EXPECT_TRUE(trickle.read_until_closed(3000));
  stop = true;
  sender.join();
  EXPECT_EQ(server.counters().count(RpcCounters::kFrameTimeout), 2);
  // A whole request sent in pieces quickly is fine.
  RawConn quick(server.port());
  quick.send_all(request.substr(0, 5));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  quick.send_all(request.substr(5));
  std::string reply;
  EXPECT_TRUE(quick.read_frame(&reply));
}

TEST(RpcServer, SilenceBeyondTheIdleTimeoutClosesAConnectionButALongCallDoesNot) {
  ServerOptions options;
  options.idle_timeout_ms = 300;
  Server server(options);
  RawConn silent(server.port());
  EXPECT_TRUE(silent.read_until_closed(3000));
  EXPECT_GE(server.counters().count(RpcCounters::kIdleTimeout), 1);
  // A call running longer than the idle timeout (600 ms) is not idleness: it is answered.
  RawConn busy(server.port());
  busy.send_all(Call("debug", 9));
  std::string reply;
  ASSERT_TRUE(busy.read_frame(&reply));
  EXPECT_EQ(PeekMessageHead(reply)->seqid, 9);
}

TEST(RpcServer, ConnectionsOverTheLimitAreClosedAtOnceAndCounted) {
  ServerOptions options;
  options.max_connections = 5;
  Server server(options);
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 5; ++i) conns.push_back(std::make_unique<RawConn>(server.port()));
  ASSERT_TRUE(PollUntil([&] { return server.counters().open_connections() == 5; }, 5000));
  RawConn over(server.port());
  EXPECT_TRUE(over.read_until_closed(2000));
  EXPECT_EQ(server.counters().count(RpcCounters::kOverConnectionLimit), 1);
  // The ones within the limit are served.
  ASSERT_TRUE(conns[0]->send_all(Call("ping", 3)));
  std::string reply;
  EXPECT_TRUE(conns[0]->read_frame(&reply));
  // One closed: room for another.
  conns.pop_back();
  ASSERT_TRUE(PollUntil([&] { return server.counters().open_connections() == 4; }, 5000));
  EXPECT_TRUE(server.serves());
}

TEST(RpcServer, AnOversizedFrameIsAnsweredNamingTheLimitThenClosed) {
  ServerOptions options;
  options.limits.max_frame_bytes = 4096;
  Server server(options);
  RawConn conn(server.port());
  // A frame of 1 MB announced, its message header sent: the caller learns why.
  const std::string head = Call("ping", 77).substr(4, 16);
  conn.send_all(BigEndian(1 << 20) + head);
  std::string reply;
  ASSERT_TRUE(conn.read_frame(&reply));
  const auto answered = PeekMessageHead(reply);
  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->name, "ping");
  EXPECT_EQ(answered->seqid, 77);
  EXPECT_NE(reply.find("1048576 bytes is over the limit of 4096"), std::string::npos) << reply;
  EXPECT_TRUE(conn.read_until_closed(2000));
  EXPECT_EQ(server.counters().count(RpcCounters::kOversizedFrame), 1);
  // Something that is not Thrift at all (an HTTP request) is just closed.
  RawConn http(server.port());
  http.send_all("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(http.read_until_closed(2000));
  EXPECT_EQ(server.counters().count(RpcCounters::kOversizedFrame), 2);
  EXPECT_TRUE(server.serves());
}

TEST(RpcServer, IncompleteRequestsOverTheBufferLimitCloseTheConnectionThatGrewThem) {
  ServerOptions options;
  options.limits.max_frame_bytes = 40000;
  options.max_buffered_bytes = 90000;
  Server server(options);
  const std::string partial = BigEndian(40000) + std::string(30000, 'x');
  RawConn first(server.port()), second(server.port()), third(server.port());
  ASSERT_TRUE(first.send_all(partial));
  ASSERT_TRUE(second.send_all(partial));
  ASSERT_TRUE(PollUntil([&] { return server.counters().buffered_bytes() == 60008; }, 5000))
      << server.counters().buffered_bytes();
  third.send_all(partial + std::string(5000, 'x'));  // 95,012 buffered in all: over
  EXPECT_TRUE(third.read_until_closed(3000));
  EXPECT_EQ(server.counters().count(RpcCounters::kBufferLimit), 1);
  EXPECT_TRUE(first.still_open());
  EXPECT_TRUE(second.still_open());
  EXPECT_TRUE(PollUntil([&] { return server.counters().buffered_bytes() == 60008; }, 5000));
  EXPECT_TRUE(server.serves());
}

TEST(RpcServer, AClientThatNeverReadsItsRepliesIsHeldBackAndCostsBoundedMemory) {
  Server server;
  auto greedy = std::make_unique<RawConn>(server.port());
  greedy->set_send_timeout_ms(1000);
  // Requests faster than anyone reads the answers: once the unsent replies and the queue are
  // full the server stops running and then reading its requests, the socket buffers fill up,
  // and the sender is held back.
  std::string burst;
  for (uint32_t seqid = 0; seqid < 2000; ++seqid) burst += Call("service_type", seqid);
  bool held_back = false;
  for (int i = 0; i < 2000 && !held_back; ++i) held_back = !greedy->send_all(burst);
  EXPECT_TRUE(held_back) << "the server took 240 MB of requests without replies being read";
  // The queue's bound, overshot by at most one read's worth of these 30-byte requests.
  EXPECT_LE(server.counters().calls_in_progress(),
            static_cast<int64_t>(ServerConnection::kMaxQueuedRequests + 65536 / 30 + 1));
  EXPECT_TRUE(server.serves());
  // The client goes away: so does its connection.
  greedy.reset();
  EXPECT_TRUE(PollUntil([&] { return server.counters().open_connections() == 0; }, 10000))
      << server.counters().open_connections();
  EXPECT_EQ(server.counters().calls_in_progress(), 0);
}


// ---- continuation calls ----

// Takes service_type calls as continuations: they wait in `pending` until the test answers
// them (as a peer's completion would), or answers at once when `answer_at_once` is set.
class ContinuingProcessor : public wire::LocatorProcessor, public ContinuationCalls {
 public:
  explicit ContinuingProcessor(std::shared_ptr<FakeLocator> handler)
      : wire::LocatorProcessor(handler), reader_(RpcLimits()) {}

  bool start_call(const std::string& frame, Reply reply) override {
    // Workers of several connections start calls at once: one reader at a time.
    int32_t seqid = 0;
    {
      std::lock_guard<std::mutex> lock(reader_mu_);
      wire::Base_service_type_args args;
      if (!reader_.read(frame, "service_type", &args)) return false;
      seqid = reader_.seqid();
    }
    if (answer_at_once) {
      reply(Answer(seqid));
      return true;
    }
    std::lock_guard<std::mutex> lock(mu);
    pending.emplace_back(seqid, std::move(reply));
    return true;
  }
  static std::string Answer(int32_t seqid) {
    wire::Base_service_type_result result;
    result.success = "continued";
    result.__isset.success = true;
    return ReplyFrame("service_type", seqid, result);
  }
  // Answers every call waiting now, from this thread; returns how many.
  size_t answer_all() {
    std::vector<std::pair<int32_t, Reply>> calls;
    {
      std::lock_guard<std::mutex> lock(mu);
      calls.swap(pending);
    }
    for (auto& [seqid, reply] : calls) reply(Answer(seqid));
    return calls.size();
  }
  size_t waiting() {
    std::lock_guard<std::mutex> lock(mu);
    return pending.size();
  }

  std::atomic<bool> answer_at_once{false};
  std::mutex mu;
  std::vector<std::pair<int32_t, Reply>> pending;

 private:
  std::mutex reader_mu_;
  CallArgsReader reader_;
};

class ContinuingServer {
 public:
  explicit ContinuingServer(ServerOptions options)
      : handler_(std::make_shared<FakeLocator>()),
        processor_(std::make_shared<ContinuingProcessor>(handler_)),
        counters_(options.counters) {
    server_ = std::make_unique<RpcServer>(processor_, std::make_shared<Listener>("127.0.0.1", 0),
                                          options);
    server_->start();
  }
  int port() const { return server_->port(); }
  ContinuingProcessor& processor() { return *processor_; }
  RpcCounters& counters() { return *counters_; }
  void stop() { server_->stop(); }

 private:
  std::shared_ptr<FakeLocator> handler_;
  std::shared_ptr<ContinuingProcessor> processor_;
  std::shared_ptr<RpcCounters> counters_;
  std::unique_ptr<RpcServer> server_;
};

TEST(RpcServer, ContinuationCallsHoldNoWorkerWhileTheyWaitAndKeepTheirConnectionsOrder) {
  ServerOptions options;
  options.loops = 1;
  options.workers = 2;  // fewer than the calls that will wait at once
  ContinuingServer server(options);
  const int threads_before = ThreadsOfThisProcess();
  // 40 connections, each: a continuation call, then pings pipelined behind it.
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 40; ++i) {
    conns.push_back(std::make_unique<RawConn>(server.port()));
    ASSERT_TRUE(conns.back()->send_all(Call("service_type", 1) + Call("ping", 2) + Call("ping", 3)));
  }
  ASSERT_TRUE(PollUntil([&] { return server.processor().waiting() == 40; }, 10000))
      << "only " << server.processor().waiting() << " calls started with 2 workers";
  // Nothing behind a waiting call is answered before it...
  for (auto& conn : conns) {
    std::string reply;
    EXPECT_FALSE(conn->read_frame(&reply, 50)) << "a ping overtook the call before it";
  }
  // ...yet the workers are free: another connection is served at once.
  RawConn other(server.port());
  ASSERT_TRUE(other.send_all(Call("ping", 7)));
  std::string reply;
  ASSERT_TRUE(other.read_frame(&reply, 5000)) << "waiting calls held every worker";
  EXPECT_EQ(PeekMessageHead(reply)->seqid, 7);
  EXPECT_LE(ThreadsOfThisProcess(), threads_before + 2) << "a thread per waiting call";
  EXPECT_EQ(server.counters().calls_in_progress(), 40 * 3);
  // The answers come from another thread (as a peer's completion would); each connection
  // then gets its call's reply first, and the pings behind it.
  std::thread answerer([&] { EXPECT_EQ(server.processor().answer_all(), 40u); });
  answerer.join();
  for (auto& conn : conns) {
    for (int32_t seqid = 1; seqid <= 3; ++seqid) {
      ASSERT_TRUE(conn->read_frame(&reply)) << "no reply " << seqid;
      const auto head = PeekMessageHead(reply);
      ASSERT_TRUE(head.has_value());
      EXPECT_EQ(head->seqid, seqid);
      EXPECT_EQ(head->name, seqid == 1 ? "service_type" : "ping");
      if (seqid == 1) {
        EXPECT_NE(reply.find("continued"), std::string::npos);
      }
    }
  }
  EXPECT_TRUE(PollUntil([&] { return server.counters().calls_in_progress() == 0; }, 5000));
}

TEST(RpcServer, AContinuationAnsweredBeforeItsStartReturnsIsSentOnceInOrder) {
  ServerOptions options;
  options.workers = 1;
  ContinuingServer server(options);
  server.processor().answer_at_once = true;
  RawConn conn(server.port());
  std::string requests;
  for (uint32_t seqid = 0; seqid < 200; ++seqid) {
    requests += Call(seqid % 2 ? "service_type" : "ping", seqid);
  }
  ASSERT_TRUE(conn.send_all(requests));
  for (uint32_t seqid = 0; seqid < 200; ++seqid) {
    std::string reply;
    ASSERT_TRUE(conn.read_frame(&reply)) << "no reply " << seqid;
    const auto head = PeekMessageHead(reply);
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->seqid, static_cast<int32_t>(seqid));
    EXPECT_EQ(reply.find("continued") != std::string::npos, seqid % 2 == 1);
  }
  std::string extra;
  EXPECT_FALSE(conn.read_frame(&extra, 100)) << "a reply sent twice";
}

TEST(RpcServer, AContinuationAnsweredAfterItsConnectionOrServerWentIsDropped) {
  ServerOptions options;
  options.workers = 2;
  auto server = std::make_unique<ContinuingServer>(options);
  auto counters = options.counters;
  {
    RawConn gone(server->port());
    ASSERT_TRUE(gone.send_all(Call("service_type", 1)));
    ASSERT_TRUE(PollUntil([&] { return server->processor().waiting() == 1; }, 5000));
  }
  // Like a call on a worker, the waiting call keeps its connection until it ends; its reply
  // then has no one to go to, and the connection closes.
  EXPECT_EQ(counters->open_connections(), 1);
  EXPECT_EQ(server->processor().answer_all(), 1u);
  EXPECT_TRUE(PollUntil([&] { return counters->open_connections() == 0; }, 5000));
  EXPECT_EQ(counters->calls_in_progress(), 0);
  // A call still waiting when the server stops: answered after it is gone.
  RawConn open(server->port());
  ASSERT_TRUE(open.send_all(Call("service_type", 2)));
  ASSERT_TRUE(PollUntil([&] { return server->processor().waiting() == 1; }, 5000));
  std::vector<std::pair<int32_t, ContinuationCalls::Reply>> late;
  {
    std::lock_guard<std::mutex> lock(server->processor().mu);
    late.swap(server->processor().pending);
  }
  server.reset();
  for (auto& [seqid, reply] : late) reply(ContinuingProcessor::Answer(seqid));
  EXPECT_TRUE(open.read_until_closed(5000));
  EXPECT_EQ(counters->calls_in_progress(), 0);
}

}  // namespace
}  // namespace thrifty::rpc
