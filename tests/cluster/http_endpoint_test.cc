// storeserver --http-port against real nodes on 127.0.0.1: /metrics passes `promtool check
// metrics` and counts what the cluster did, /health follows a node through joining, serving and
// draining, and the status page, rendered by headless Chromium, shows every member and a ring.
// promtool (Debian: prometheus) and chromium are installed by scripts/deps; a test that needs
// one that is missing is skipped, saying so.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "locator/rpc/address.h"
#include "tests/cluster/harness.h"
#include "tests/http/http_get.h"

namespace thrifty::testing {
namespace {

using Clock = std::chrono::steady_clock;

// The program's path if it is on $PATH, else "".
std::string FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// The value of the first sample of `text` written exactly as `sample` ("name{labels}"), or -1.
double SampleValue(const std::string& text, const std::string& sample) {
  const size_t at = text.find("\n" + sample + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + sample.size() + 2));
}

class HttpEndpoint : public ::testing::Test {
 protected:
  // Starts a node with an HTTP port of its own; returns its index (or -1, failing the test).
  int StartWithHttp(std::vector<std::string> args = {}) {
    const int http_port = FreeHttpPort();
    args.push_back("--memory");
    args.push_back("--http-port=" + std::to_string(http_port));
    const int node = cluster_.start(args);
    if (node >= 0) http_ports_[node] = http_port;
    return node;
  }
  int http(int node) { return http_ports_.at(node); }
  // A free port outside the cluster's Thrift ports (a node could take one of those).
  int FreeHttpPort() {
    int port = FreePortRange(1);
    while (port >= cluster_.first_port() && port <= cluster_.last_port()) port = FreePortRange(1);
    return port;
  }

  bool RingOfAllIs(const std::vector<int>& nodes, size_t size) {
    for (int node : nodes) {
      const auto health = HttpGet(http(node), "/status.json");
      if (health.status != 200) return false;
      const auto status = nlohmann::json::parse(health.body, nullptr, false);
      if (status.is_discarded() || status["ring"]["nodes"].size() != size) return false;
    }
    return true;
  }

  SingleCopyCluster cluster_;
  std::map<int, int> http_ports_;
};

TEST_F(HttpEndpoint, MetricsPassPromtoolAndCountWhatTheClusterDid) {
  const int a = StartWithHttp(), b = StartWithHttp(), c = StartWithHttp();
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_GE(c, 0);
  ASSERT_TRUE(WaitFor([&] { return RingOfAllIs({a, b, c}, 3); }, 10000));
  // 60 keys through node a: about two thirds of them go on to their owners.
  std::vector<diststore::wire::Entry> entries(20);
  for (int i = 0; i < 60; ++i) {
    cluster_.client_pool().call(cluster_.location(a), [&](diststore::wire::StoreClient& client) {
      client.put("metrics-" + std::to_string(i), "v", diststore::wire::Consistency::DEFAULT);
    });
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].key = "batch-" + std::to_string(i);
    entries[i].value = "v";
  }
  cluster_.client_pool().call(cluster_.location(a), [&](diststore::wire::StoreClient& client) {
    client.multi_put(entries, diststore::wire::Consistency::DEFAULT);
    std::map<std::string, std::string> got;
    client.multi_get(got, {"batch-1", "batch-2", "absent"}, diststore::wire::Consistency::DEFAULT);
  });

  const auto reply = HttpGet(http(a), "/metrics");
  ASSERT_EQ(reply.status, 200) << reply.error;
  const std::string& text = reply.body;
  EXPECT_EQ(SampleValue(text, "thrifty_members{state=\"alive\"}"), 3);
  EXPECT_EQ(SampleValue(text, "thrifty_ring_nodes"), 3);
  EXPECT_EQ(SampleValue(text, "thrifty_key_operations_total{op=\"put\"}"), 80);
  EXPECT_EQ(SampleValue(text, "thrifty_request_duration_seconds_count{op=\"put\"}"), 60);
  EXPECT_EQ(SampleValue(text, "thrifty_request_duration_seconds_count{op=\"multi_put\"}"), 1);
  EXPECT_EQ(SampleValue(text, "thrifty_request_duration_seconds_count{op=\"multi_get\"}"), 1);
  const double forwarded = SampleValue(text, "thrifty_peer_call_duration_seconds_count{call=\"owner_put\"}");
  EXPECT_GT(forwarded, 20) << "puts to keys node a does not own are forwarded";
  EXPECT_LT(forwarded, 60);
  EXPECT_EQ(SampleValue(text, "thrifty_serving"), 1);

  const std::string promtool = FindProgram("promtool");
  if (promtool.empty()) {
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus; scripts/deps installs "
                    "it): the exposition format was not checked by promtool";
  }
  for (int node : {a, b, c}) {
    const auto metrics = HttpGet(http(node), "/metrics");
    ASSERT_EQ(metrics.status, 200) << metrics.error;
    const auto check = RunCommand({promtool, "check", "metrics"}, metrics.body, 30000);
    EXPECT_EQ(check.status, 0) << check.out << check.err;
    EXPECT_EQ(check.out + check.err, "") << "promtool's findings on node " << node;
  }
}

TEST_F(HttpEndpoint, HealthSaysJoiningThenServingThenDraining) {
  const int a = StartWithHttp();
  ASSERT_GE(a, 0);
  EXPECT_EQ(HttpGet(http(a), "/health").body, "serving\n");

  // b joins through a while a is stopped (SIGSTOP): b's endpoint is up and says "joining".
  const int b_http = FreeHttpPort();
  const pid_t a_pid = cluster_.pid(a);
  ASSERT_EQ(kill(a_pid, SIGSTOP), 0);
  int b = -1;
  std::thread starting([&] {
    b = cluster_.start({"--memory", "--http-port=" + std::to_string(b_http),
                        "--peer=" + rpc::ToString(cluster_.location(a))});
  });
  HttpReply joining;
  const bool saw_joining = WaitFor([&] {
    joining = HttpGet(b_http, "/health", 1000);
    return joining.status != 0;
  }, 10000);
  kill(a_pid, SIGCONT);
  starting.join();
  ASSERT_TRUE(saw_joining) << "b's HTTP endpoint never answered";
  EXPECT_EQ(joining.status, 503);
  EXPECT_EQ(joining.body, "joining\n");
  ASSERT_GE(b, 0);
  http_ports_[b] = b_http;
  EXPECT_TRUE(WaitFor([&] { return HttpGet(http(b), "/health").status == 200; }, 10000));
  EXPECT_EQ(HttpGet(http(b), "/health").body, "serving\n");
  ASSERT_TRUE(WaitFor([&] { return RingOfAllIs({a, b}, 2); }, 10000));

  // a drains towards b, which cannot take its keys (a's failpoint blocks b): for the drain's
  // 3 s, a says "draining".
  cluster_.terminate(b);
  const std::string rules = cluster_.dir() + "/failpoints-c";
  std::ofstream(rules) << "";
  setenv("THRIFTY_FAILPOINTS", rules.c_str(), 1);
  const int c = StartWithHttp({"--drain-timeout-s=3"});
  unsetenv("THRIFTY_FAILPOINTS");
  ASSERT_GE(c, 0);
  ASSERT_TRUE(WaitFor([&] { return RingOfAllIs({a, c}, 2); }, 10000));
  for (int i = 0; i < 40; ++i) {
    cluster_.client_pool().call(cluster_.location(c), [&](diststore::wire::StoreClient& client) {
      client.put("drain-" + std::to_string(i), "v", diststore::wire::Consistency::DEFAULT);
    });
  }
  {
    const std::string temporary = rules + ".new";
    std::ofstream(temporary) << "block " << rpc::ToString(cluster_.location(a)) << "\n";
    ASSERT_EQ(rename(temporary.c_str(), rules.c_str()), 0);
  }
  const auto stats = HttpGet(http(c), "/status.json");
  ASSERT_EQ(stats.status, 200);
  const pid_t c_pid = cluster_.pid(c);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // failpoints are re-read every 100 ms
  kill(c_pid, SIGTERM);
  HttpReply draining;
  EXPECT_TRUE(WaitFor([&] {
    draining = HttpGet(http(c), "/health", 1000);
    return draining.body == "draining\n";
  }, 3000)) << "last answer: " << draining.status << " " << draining.body << draining.error;
  EXPECT_EQ(draining.status, 503);
  // The drain gives up after 3 s and the node leaves (keys that could not go stay in its data).
  EXPECT_TRUE(WaitFor([&] { return !cluster_.running(c); }, 20000));
  EXPECT_NE(cluster_.log(c).find("left the cluster"), std::string::npos) << cluster_.log(c);
}

TEST_F(HttpEndpoint, TheStatusPageShowsEveryMemberAndTheRingInChromium) {
  const int a = StartWithHttp(), b = StartWithHttp(), c = StartWithHttp({"--weight=2"});
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_GE(c, 0);
  ASSERT_TRUE(WaitFor([&] { return RingOfAllIs({a, b, c}, 3); }, 10000));
  const auto primed = RunCommand({BinDir() + "/storeprimer", "--peer=" + rpc::ToString(cluster_.location(a)),
                                  "--count=2000"});
  ASSERT_EQ(primed.status, 0) << primed.err;

  // The JSON the page draws from.
  const auto reply = HttpGet(http(a), "/status.json");
  ASSERT_EQ(reply.status, 200) << reply.error;
  const auto status = nlohmann::json::parse(reply.body);
  ASSERT_EQ(status["members"].size(), 3u);
  double shares = 0;
  for (const auto& m : status["members"]) {
    EXPECT_EQ(m["state"], "ALIVE");
    shares += m["share"].get<double>();
  }
  EXPECT_NEAR(shares, 1.0, 1e-9);
  // Members' key counts are polled at most every 2 s.
  int64_t keys = 0, operations = 0;
  EXPECT_TRUE(WaitFor([&] {
    const auto again = nlohmann::json::parse(HttpGet(http(a), "/status.json").body, nullptr, false);
    keys = operations = 0;
    for (const auto& m : again["members"]) {
      keys += m["keys"].is_number() ? m["keys"].get<int64_t>() : 0;
      operations += m["key_operations"].is_number() ? m["key_operations"].get<int64_t>() : 0;
    }
    return keys == 2000;
  }, 5000)) << keys << " keys";
  EXPECT_GE(operations, 2000) << "the primer's puts";
  EXPECT_TRUE(status["ring"]["exact"].get<bool>());
  EXPECT_GT(status["ring"]["arcs"].size(), 100u) << "ketama: every arc of the continuum";

  const std::string chromium = FindProgram("chromium");
  if (chromium.empty()) {
    GTEST_SKIP() << "chromium is not installed (Debian package chromium; scripts/deps installs "
                    "it): the page was not rendered";
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(http(a)) + "/";
  const std::string profile = cluster_.dir() + "/chromium-profile";
  const std::vector<std::string> common = {chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                           "--hide-scrollbars", "--no-first-run",
                                           "--user-data-dir=" + profile,
                                           "--virtual-time-budget=3000"};
  // The DOM after the page's script ran: every member's address, drawn arcs.
  auto dump = common;
  dump.push_back("--dump-dom");
  dump.push_back(url);
  const auto dom = RunCommand(dump, "", 60000);
  ASSERT_EQ(dom.status, 0) << dom.err;
  for (int node : {a, b, c}) {
    const std::string address = rpc::ToString(cluster_.location(node));
    EXPECT_NE(dom.out.find("data-address=\"" + address + "\""), std::string::npos)
        << address << " is not in the page's member table";
    EXPECT_NE(dom.out.find("data-node=\"" + address + "\""), std::string::npos)
        << address << " has no arc in the ring";
  }
  EXPECT_NE(dom.out.find(">serving<"), std::string::npos);

  // A screenshot: not blank (a drawn page has many colours, a blank one one).
  const std::string png = cluster_.dir() + "/status-page.png";
  auto shot = common;
  shot.push_back("--screenshot=" + png);
  shot.push_back("--window-size=1200,560");
  shot.push_back(url);
  const auto screenshot = RunCommand(shot, "", 60000);
  ASSERT_EQ(screenshot.status, 0) << screenshot.err;
  struct stat info {};
  ASSERT_EQ(stat(png.c_str(), &info), 0) << "no screenshot; chromium said:\n" << screenshot.err;
  EXPECT_GT(info.st_size, 10000) << "a tiny PNG is a blank page";
  const std::string python = FindProgram("python3");
  ASSERT_FALSE(python.empty()) << "python3 is needed to read the screenshot";
  const auto colours = RunCommand({python, std::string(std::getenv("THRIFTY_SOURCE") ? std::getenv("THRIFTY_SOURCE") : ".") +
                                                  "/tests/cluster/png_colours.py", png});
  ASSERT_EQ(colours.status, 0) << colours.err;
  EXPECT_GT(std::stoi(colours.out), 20) << "the screenshot has almost no colours: a blank page";
  // To refresh docs/status-page.png: THRIFTY_SCREENSHOT_OUT=docs/status-page.png ctest -R http_endpoint
  if (const char* out = std::getenv("THRIFTY_SCREENSHOT_OUT")) {
    std::ifstream from(png, std::ios::binary);
    std::ofstream to(out, std::ios::binary);
    to << from.rdbuf();
  }
}

}  // namespace
}  // namespace thrifty::testing
