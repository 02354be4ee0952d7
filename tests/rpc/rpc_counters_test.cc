// RpcCounters: every refusal is counted; the log gets at most one line per kind per interval,
// naming the peer and how many refusals went unlogged since the previous line.
#include "locator/rpc/rpc_counters.h"

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <glog/logging.h>
#include <gtest/gtest.h>

namespace thrifty::rpc {
namespace {

class CapturedLog : public google::LogSink {
 public:
  CapturedLog() { google::AddLogSink(this); }
  ~CapturedLog() override { google::RemoveLogSink(this); }
  using google::LogSink::send;
  void send(google::LogSeverity, const char*, const char*, int, const google::LogMessageTime&,
            const char* message, size_t length) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.emplace_back(message, length);
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST(RpcCounters, CountsEveryRefusalAndLogsOneLinePerKindPerInterval) {
  CapturedLog log;
  RpcCounters counters(/*log_interval_ms=*/500);
  int peer_lookups = 0;
  const auto peer = [&] {
    ++peer_lookups;
    return std::string("127.0.0.1:4242");
  };
  for (int i = 0; i < 100; ++i) counters.refused(RpcCounters::kOversizedFrame, peer, "too big");
  counters.refused(RpcCounters::kProtocolError, peer, "bad version");
  EXPECT_EQ(counters.count(RpcCounters::kOversizedFrame), 100);
  EXPECT_EQ(counters.count(RpcCounters::kProtocolError), 1);
  EXPECT_EQ(counters.count(RpcCounters::kFrameOverrun), 0);
  // One line for each kind, and the peer was looked up only for them.
  auto lines = log.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(peer_lookups, 2);
  EXPECT_EQ(lines[0], "closed the connection of 127.0.0.1:4242: too big (rpc_frames_oversized)");
  EXPECT_EQ(lines[1], "closed the connection of 127.0.0.1:4242: bad version (rpc_protocol_errors)");

  // After the interval, the next line says how many went unlogged.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  counters.refused(RpcCounters::kOversizedFrame, peer, "too big");
  lines = log.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2], "closed the connection of 127.0.0.1:4242: too big (rpc_frames_oversized; 99 "
                      "more since the last such line)");

  std::map<std::string, int64_t> stats;
  counters.limited(RpcCounters::kFrameTimeout);
  counters.limited(RpcCounters::kFrameTimeout);
  counters.limited(RpcCounters::kOverConnectionLimit);
  counters.connection_opened();
  counters.buffered_bytes() += 42;
  counters.Export(&stats);
  EXPECT_EQ(stats, (std::map<std::string, int64_t>{{"rpc_frames_oversized", 101},
                                                   {"rpc_frames_overrun", 0},
                                                   {"rpc_protocol_errors", 1},
                                                   {"rpc_tls_handshake_failures", 0},
                                                   {"rpc_connections_over_limit", 1},
                                                   {"rpc_frame_timeouts", 2},
                                                   {"rpc_idle_timeouts", 0},
                                                   {"rpc_buffer_limit_closes", 0},
                                                   {"rpc_connections_open", 1},
                                                   {"rpc_buffered_bytes", 42},
                                                   {"rpc_calls_in_progress", 0},
                                                   {"rpc_loop_lag_ms", 0}}));
}

TEST(RpcCounters, CountsFromManyThreads) {
  RpcCounters counters(/*log_interval_ms=*/60000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        counters.refused(RpcCounters::kFrameOverrun, [] { return std::string("peer"); }, "overrun");
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counters.count(RpcCounters::kFrameOverrun), 8000);
}

}  // namespace
}  // namespace thrifty::rpc
