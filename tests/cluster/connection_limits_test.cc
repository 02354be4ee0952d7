// A real storeserver against what once stopped a node: thousands of idle connections, slow
// senders that never finish a request (slow loris), and huge refused requests. A client's
// put/get must keep succeeding within its normal deadline throughout, the node's threads must
// not follow its connections, the limits must close what they are for (counted), and memory
// must come back.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "diststore/client/cluster_client.h"
#include "locator/rpc/connect.h"
#include "tests/cluster/harness.h"
#include "tests/net/raw_conn.h"

namespace thrifty::testing {
namespace {

using Clock = std::chrono::steady_clock;
namespace wire = diststore::wire;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

// Raises this process's descriptor limit to `wanted` if the hard limit allows; false if not.
bool EnsureDescriptors(rlim_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur >= wanted) return true;
  if (limit.rlim_max < wanted) return false;
  limit.rlim_cur = wanted;
  return setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

std::string Header(uint32_t size) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(size >> (24 - 8 * i));
  return out;
}

class ConnectionLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = cluster_.start({"--memory", "--frame-timeout-ms=3000", "--idle-timeout-ms=6000"});
    ASSERT_GE(node_, 0);
  }
  void TearDown() override {
    if (node_ >= 0 && cluster_.running(node_)) {
      EXPECT_EQ(cluster_.terminate(node_), 0) << cluster_.log(node_);
    }
  }
  std::map<std::string, int64_t> Stats() {
    std::map<std::string, int64_t> stats;
    cluster_.pool().call(cluster_.location(node_), [&](wire::StoreClient& c) { c.stats(stats); });
    return stats;
  }
  pid_t pid() { return cluster_.pid(node_); }
  int port() { return cluster_.port(node_); }

  Cluster cluster_{"storeserver"};
  int node_ = -1;
};

TEST_F(ConnectionLimits, ThousandsOfIdleAndSlowConnectionsLeaveServiceToOthers) {
  constexpr int kIdle = 2000, kSlow = 200;
  if (!EnsureDescriptors(kIdle + kSlow + 512)) {
    GTEST_SKIP() << "this machine's hard limit on open files is below " << kIdle + kSlow + 512
                 << " (ulimit -Hn): the test holds that many connections";
  }
  // One put and get through a new connection each time, with a client's normal deadline.
  rpc::PoolOptions options;
  options.connect_timeout_ms = 2000;
  options.call_timeout_ms = 2000;
  auto put_and_get = [&](const std::string& key) {
    rpc::ConnectionPool<wire::StoreClient> fresh(options);
    fresh.call(cluster_.location(node_), [&](wire::StoreClient& c) {
      c.put(key, "value of " + key, wire::Consistency::DEFAULT);
      std::string value;
      c.get(value, key, wire::Consistency::DEFAULT);
      if (value != "value of " + key) throw std::runtime_error("read back '" + value + "'");
    });
  };
  put_and_get("warm-up");
  const long threads_before = ProcStatus(pid(), "Threads:");

  std::vector<std::unique_ptr<RawConn>> idle, slow;
  for (int i = 0; i < kIdle; ++i) idle.push_back(std::make_unique<RawConn>(port()));
  // Slow senders: a request of 1000 bytes, a byte at a time, one byte per connection per 500 ms.
  const std::string request = Header(1000) + std::string(1000, 'x');
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<RawConn>(port()));
    slow.back()->send_all(request.substr(0, 1));
  }
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    for (size_t at = 1; at < request.size() && !stop.load(); ++at) {
      for (auto& conn : slow) conn->send_all(request.substr(at, 1));
      for (int i = 0; i < 50 && !stop.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  ASSERT_TRUE(WaitFor([&] { return Stats()["rpc_connections_open"] >= kIdle + kSlow; }, 20000))
      << Stats()["rpc_connections_open"];

  // Meanwhile other clients are served at once, again and again.
  int64_t worst_ms = 0;
  int calls = 0;
  const auto until = Clock::now() + std::chrono::seconds(2);
  while (Clock::now() < until) {
    const auto start = Clock::now();
    ASSERT_NO_THROW(put_and_get("during-" + std::to_string(calls)));
    worst_ms = std::max<int64_t>(
        worst_ms, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
    ++calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GT(calls, 10);
  EXPECT_LT(worst_ms, 1000) << "a put and get took " << worst_ms << " ms beside the idle connections";
  // Its threads did not follow the 2,200 connections.
  const long threads_during = ProcStatus(pid(), "Threads:");
  EXPECT_LE(threads_during, threads_before + 8)
      << "threads went from " << threads_before << " to " << threads_during;

  // The slow senders' requests never arrive whole: the frame timeout closes them, counted.
  EXPECT_TRUE(WaitFor([&] { return Stats()["rpc_frame_timeouts"] >= kSlow; }, 15000))
      << Stats()["rpc_frame_timeouts"];
  stop = true;
  trickle.join();
  for (auto& conn : slow) EXPECT_TRUE(conn->read_until_closed(1000));
  // The silent ones: the idle timeout.
  EXPECT_TRUE(WaitFor([&] { return Stats()["rpc_idle_timeouts"] >= kIdle; }, 20000))
      << Stats()["rpc_idle_timeouts"];
  EXPECT_LE(Stats()["rpc_connections_open"], 2);  // this test's own, at most
  EXPECT_EQ(Stats()["rpc_buffered_bytes"], 0);
  ASSERT_NO_THROW(put_and_get("after"));
}

TEST_F(ConnectionLimits, RefusedHugePutsGiveTheirMemoryBack) {
  // 60 MB values fit a frame (64 MiB) but not --max-value-bytes (16 MiB): each is read whole,
  // refused with a StoreError naming the limit, and its memory freed.
  rpc::ConnectOptions options;
  options.call_timeout_ms = 30000;
  auto connection = rpc::Connect<wire::StoreClient>(cluster_.location(node_), options);
  connection.client->put("small", "v", wire::Consistency::DEFAULT);
  const long baseline_kb = RssKb(pid());
  const std::string huge(60 << 20, 'h');
  for (int i = 0; i < 20; ++i) {
    try {
      connection.client->put("huge-" + std::to_string(i), huge, wire::Consistency::DEFAULT);
      ADD_FAILURE() << "a put of 60 MB was accepted";
    } catch (const wire::StoreError& e) {
      EXPECT_NE(e.message.find("--max-value-bytes"), std::string::npos) << e.message;
    }
  }
  std::string value;
  connection.client->get(value, "small", wire::Consistency::DEFAULT);
  EXPECT_EQ(value, "v");
  if (kAddressSanitizer) return;  // ASan keeps freed memory in its quarantine: RSS says nothing
  long rss_kb = 0;
  EXPECT_TRUE(WaitFor([&] { return (rss_kb = RssKb(pid())) < baseline_kb + 50 * 1024; },
                      10000))
      << "RSS " << rss_kb << " KiB after 20 refused 60 MB puts, from " << baseline_kb << " KiB";
}

}  // namespace
}  // namespace thrifty::testing
