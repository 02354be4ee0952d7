// The production runtime: real UDP on loopback, real threads and clocks (a fast config).
#include "locator/membership/swim_agent.h"

#include <glog/logging.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <condition_variable>
#include <future>
#include <thread>

#include "locator/membership/asio_runtime.h"

namespace thrifty::membership {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

// A port that was free a moment ago.
int FreeUdpPort() {
  asio::io_context io;
  udp::socket socket(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return socket.local_endpoint().port();
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

SwimConfig Fast() {
  SwimConfig c;
  c.probe_interval_ms = 100;
  c.probe_timeout_ms = 40;
  c.push_pull_interval_ms = 0;
  c.dead_push_pull_interval_ms = 0;
  return c;
}

TEST(AsioRuntime, BindFailureThrowsAClearError) {
  asio::io_context io;
  udp::socket taken(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const int port = taken.local_endpoint().port();
  try {
    AsioRuntime runtime("127.0.0.1", port, 1400);
    FAIL() << "bound a taken port";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cannot bind gossip UDP socket to 127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << what;
  }
  EXPECT_THROW(AsioRuntime("no-such-host.invalid", 7946, 1400), std::runtime_error);
  EXPECT_THROW(AsioRuntime("127.0.0.1", 70000, 1400), std::runtime_error);
}

TEST(AsioRuntime, DeliversDatagramsDropsOversizedOnesAndRunsTimersOnItsThread) {
  AsioRuntime runtime("127.0.0.1", 0, 64);
  std::mutex mu;
  std::vector<std::string> received;
  std::atomic<bool> on_io_thread{true};
  runtime.start([&](const Location& from, const uint8_t* data, size_t size) {
    if (!runtime.in_io_thread()) on_io_thread = false;
    std::lock_guard<std::mutex> lock(mu);
    received.emplace_back(reinterpret_cast<const char*>(data), size);
    EXPECT_EQ(from.address, "127.0.0.1");
  });
  const Location at = runtime.local_endpoint();
  ASSERT_GT(at.port, 0);

  asio::io_context io;
  udp::socket client(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const udp::endpoint to(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(at.port));
  client.send_to(asio::buffer(std::string(65, 'x')), to);
  client.send_to(asio::buffer(std::string(64, 'y')), to);
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    return !received.empty();
  }, std::chrono::seconds(5)));
  EXPECT_TRUE(WaitFor([&] { return runtime.stats().at("runtime_dropped_oversized") == 1; },
                      std::chrono::seconds(5)));
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(received.size(), 1u);
    EXPECT_EQ(received[0], std::string(64, 'y'));
  }
  EXPECT_TRUE(on_io_thread);

  std::promise<bool> fired;
  const int64_t start = runtime.now_ms();
  runtime.post([&] {
    runtime.schedule(50, [&] { fired.set_value(runtime.in_io_thread()); });
  });
  auto future = fired.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(future.get());
  EXPECT_GE(runtime.now_ms() - start, 50);
  EXPECT_FALSE(runtime.in_io_thread());
  runtime.stop();
  runtime.stop();  // idempotent
}

TEST(AsioRuntime, StopWithTimersPendingIsClean) {
  auto runtime = std::make_unique<AsioRuntime>("127.0.0.1", 0, 1400);
  runtime->start(nullptr);
  std::atomic<int> ran{0};
  // The callbacks use the runtime itself, not `runtime`: reset() nulls the unique_ptr before
  // the destructor stops the io thread, which may still be running them.
  AsioRuntime* rt = runtime.get();
  for (int i = 0; i < 100; ++i) {
    rt->post([&ran, rt, i] { rt->schedule(60'000 + i, [&ran] { ++ran; }); });
  }
  runtime.reset();  // destructor stops and joins; the pending timers never run
  EXPECT_EQ(ran.load(), 0);
}

class AgentCluster {
 public:
  explicit AgentCluster(size_t n) {
    std::vector<Member> selves;
    for (size_t i = 0; i < n; ++i) {
      Member m;
      m.location.address = "127.0.0.1";
      m.location.port = 20000 + static_cast<int>(i);  // the Thrift port: a name only here
      m.gossip_port = FreeUdpPort();
      m.incarnation = 1;
      selves.push_back(m);
    }
    for (size_t i = 0; i < n; ++i) {
      tables.push_back(std::make_unique<MemberTable>(selves[i]));
      for (const auto& m : selves) tables[i]->apply(m);
    }
    for (size_t i = 0; i < n; ++i) {
      agents.push_back(std::make_unique<SwimAgent>(Fast(), *tables[i], KeyRing::DevelopmentKey(),
                                                   nullptr, i + 1));
    }
    for (auto& agent : agents) agent->start();
  }
  std::string name(size_t i) const { return tables[i]->self_name(); }
  std::optional<MemberState::type> view(size_t i, size_t j) const {
    auto m = tables[i]->find(name(j));
    return m ? std::optional(m->state) : std::nullopt;
  }
  std::vector<std::unique_ptr<MemberTable>> tables;
  std::vector<std::unique_ptr<SwimAgent>> agents;  // destroyed before the tables
};

TEST(SwimAgent, LoopbackClusterGossipsDetectsAndLeaves) {
  FLAGS_minloglevel = 1;
  AgentCluster c(4);
  // Probes flow: everyone acknowledges everyone.
  ASSERT_TRUE(WaitFor([&] { return c.agents[0]->stats().at("swim_acks_received") >= 3; },
                      std::chrono::seconds(5)));
  // A metadata change made on another thread spreads.
  c.tables[1]->set_self_metadata("zone", "b");
  ASSERT_TRUE(WaitFor([&] {
    for (size_t i = 0; i < 4; ++i) {
      auto m = c.tables[i]->find(c.name(1));
      if (!m || m->metadata.count("zone") == 0) return false;
    }
    return true;
  }, std::chrono::seconds(10)));
  // A clean leave is acknowledged and spread.
  EXPECT_TRUE(c.agents[2]->leave(std::chrono::seconds(3)));
  ASSERT_TRUE(WaitFor([&] {
    return c.view(0, 2) == MemberState::LEFT && c.view(1, 2) == MemberState::LEFT &&
           c.view(3, 2) == MemberState::LEFT;
  }, std::chrono::seconds(10)));
  c.agents[2].reset();
  // A crash (the agent vanishes without a word) is detected: SUSPECT, then DEAD.
  c.agents[3].reset();
  ASSERT_TRUE(WaitFor([&] {
    return c.view(0, 3) == MemberState::DEAD && c.view(1, 3) == MemberState::DEAD;
  }, std::chrono::seconds(20)));
  EXPECT_EQ(c.view(0, 1), MemberState::ALIVE);
  EXPECT_EQ(c.view(1, 0), MemberState::ALIVE);
  const auto stats = c.agents[0]->stats();
  EXPECT_EQ(stats.at("swim_dropped_bad_mac"), 0);
  EXPECT_EQ(stats.count("runtime_send_errors"), 1u);
}

TEST(SwimAgent, RejectsMemberWithoutGossipPortAndTakenPort) {
  Member self;
  self.location.address = "127.0.0.1";
  self.location.port = 20100;
  MemberTable table(self);
  EXPECT_THROW(SwimAgent(Fast(), table, KeyRing::DevelopmentKey()), std::invalid_argument);
  asio::io_context io;
  udp::socket taken(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  self.gossip_port = taken.local_endpoint().port();
  MemberTable table2(self);
  EXPECT_THROW(SwimAgent(Fast(), table2, KeyRing::DevelopmentKey()), std::runtime_error);
}

}  // namespace
}  // namespace thrifty::membership
