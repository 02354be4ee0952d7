// A store node's HTTP endpoint, in process: /health through the node's life, /metrics in the
// Prometheus text format with every stat classified and the latency histograms recorded on the
// request path, /status.json and the status page.
#include "diststore/ops/store_http.h"

#include <random>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "diststore/ops/store_metrics.h"
#include "diststore/service/store_node.h"
#include "locator/rpc/address.h"
#include "locator/rpc/connect.h"
#include "tests/http/http_get.h"

namespace thrifty::diststore {
namespace {

using testing::HttpGet;

// What `promtool check metrics` would reject in a text exposition, one line per problem:
// samples without a HELP and TYPE before them, families declared twice or split, counters not
// ending in _total, histograms without their _bucket{le="+Inf"}, _sum and _count.
std::vector<std::string> ExpositionProblems(const std::string& text) {
  std::vector<std::string> problems;
  std::map<std::string, std::string> types;
  std::set<std::string> helped, finished, histograms_with_inf, histograms_with_count;
  std::string current;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      if (!helped.insert(name).second) problems.push_back("HELP twice: " + name);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      words >> name >> type;
      if (types.count(name)) problems.push_back("TYPE twice: " + name);
      if (!helped.count(name)) problems.push_back("TYPE before HELP: " + name);
      if (type == "counter" && name.size() < 6) problems.push_back("short counter: " + name);
      if (type == "counter" && name.compare(name.size() - 6, 6, "_total") != 0) {
        problems.push_back("counter without _total: " + name);
      }
      if (!current.empty()) finished.insert(current);
      types[name] = type;
      current = name;
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const std::string sample = line.substr(0, line.find_first_of("{ "));
    std::string family = sample;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (sample.size() > s.size() && sample.compare(sample.size() - s.size(), s.size(), s) == 0 &&
          types.count(sample.substr(0, sample.size() - s.size())) &&
          types[sample.substr(0, sample.size() - s.size())] == "histogram") {
        family = sample.substr(0, sample.size() - s.size());
      }
    }
    if (!types.count(family)) problems.push_back("sample without TYPE: " + line);
    if (family != current) problems.push_back("sample outside its family: " + line);
    if (finished.count(family)) problems.push_back("family split: " + family);
    if (line.find("le=\"+Inf\"") != std::string::npos) histograms_with_inf.insert(family);
    if (sample == family + "_count") histograms_with_count.insert(family);
  }
  for (const auto& [name, type] : types) {
    if (type == "histogram" && (!histograms_with_inf.count(name) || !histograms_with_count.count(name))) {
      problems.push_back("incomplete histogram: " + name);
    }
  }
  return problems;
}

// The value of the sample written exactly as `sample` ("name{labels}"), or -1.
double SampleValue(const std::string& text, const std::string& sample) {
  const size_t at = text.find("\n" + sample + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + sample.size() + 2));
}

class StoreHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.memory = true;
    // A port range of its own, away from the cluster tests' (they take 20000-50000).
    const int first = std::uniform_int_distribution<int>(52000, 60000)(rng_);
    options.node.discover_first = first;
    options.node.discover_last = first + 39;
    options.http.emplace();
    options.http->port = 0;  // any free port
    store_ = std::make_unique<StoreNode>(options);
    ASSERT_NE(store_->http(), nullptr);
    port_ = store_->http()->port();
  }
  void TearDown() override {
    if (store_) store_->stop();
  }

  std::mt19937 rng_{std::random_device{}()};
  std::unique_ptr<StoreNode> store_;
  int port_ = 0;
};

TEST_F(StoreHttpTest, HealthFollowsTheNodesLife) {
  EXPECT_EQ(store_->phase(), StoreNode::Phase::kJoining);
  store_->start();
  EXPECT_EQ(store_->phase(), StoreNode::Phase::kServing);
  const auto serving = HttpGet(port_, "/health");
  EXPECT_EQ(serving.status, 200) << serving.error;
  EXPECT_EQ(serving.body, "serving\n");
  EXPECT_EQ(store_->http()->url(), "http://127.0.0.1:" + std::to_string(port_) + "/");
  store_->leave();  // the last node: nothing to hand off
  const auto left = HttpGet(port_, "/health");
  EXPECT_EQ(left.status, 503);
  EXPECT_EQ(left.body, "stopped\n");
}

TEST_F(StoreHttpTest, EveryStatIsClassifiedAsACounterAGaugeOrASetting) {
  store_->start();
  for (auto keys : {StoreNode::KeyCount::kExact, StoreNode::KeyCount::kEstimate}) {
    const auto stats = store_->stats(keys);
    EXPECT_TRUE(stats.count("http_connections_open"));
    EXPECT_TRUE(stats.count("rpc_connections_open"));
    EXPECT_TRUE(stats.count("swim_packets_sent"));
    const auto unclassified = UnclassifiedStats(stats);
    EXPECT_TRUE(unclassified.empty())
        << "say in diststore/ops/store_metrics.cc what these stats are: " << unclassified.front();
  }
  EXPECT_TRUE(store_->stats(StoreNode::KeyCount::kEstimate).count("keys_estimate"));
  EXPECT_FALSE(store_->stats(StoreNode::KeyCount::kEstimate).count("keys"));
}

// What `storectl status` shows of a node: its data's size, uptime, version and phase.
TEST_F(StoreHttpTest, StatsSayTheNodesSizeUptimeVersionAndPhase) {
  auto joining = store_->stats();
  EXPECT_EQ(joining.at("phase_joining"), 1);
  EXPECT_EQ(joining.at("phase_serving"), 0);
  EXPECT_EQ(joining.at("data_bytes"), 0) << "an empty memory engine";
  store_->start();
  rpc::ConnectOptions connect;
  auto connection = rpc::Connect<diststore::wire::StoreClient>(store_->node().self_location(), connect);
  connection.client->put("key", std::string(1000, 'v'), diststore::wire::Consistency::DEFAULT);
  const auto serving = store_->stats();
  EXPECT_EQ(serving.at("phase_joining"), 0);
  EXPECT_EQ(serving.at("phase_serving"), 1);
  EXPECT_EQ(serving.at("phase_draining"), 0);
  EXPECT_EQ(serving.at("phase_stopped"), 0);
  EXPECT_EQ(serving.at("data_bytes"), 1003) << "key and value of the one record";
  EXPECT_GE(serving.at("uptime_s"), 0);
  EXPECT_LT(serving.at("uptime_s"), 120);
  EXPECT_EQ(VersionFromStats(serving), ThriftyVersion());

  const auto reply = HttpGet(port_, "/metrics");
  ASSERT_EQ(reply.status, 200) << reply.error;
  const std::string& text = reply.body;
  EXPECT_EQ(SampleValue(text, "thrifty_data_bytes"), 1003);
  EXPECT_GE(SampleValue(text, "thrifty_uptime_seconds"), 0);
  EXPECT_EQ(SampleValue(text, "thrifty_phase{phase=\"serving\"}"), 1);
  EXPECT_EQ(SampleValue(text, "thrifty_phase{phase=\"draining\"}"), 0);
  // The version is said once, as thrifty_build_info's label, never as numbers of its own.
  EXPECT_EQ(SampleValue(text, "thrifty_build_info{version=\"" + VersionFromStats(serving) + "\"}"), 1);
  EXPECT_EQ(text.find("version_major"), std::string::npos);

  store_->leave();
  EXPECT_EQ(store_->stats().at("phase_stopped"), 1);
}

TEST(StoreMetricsText, VersionStatsMustAgreeWithTheBuildInfo) {
  StoreMetricsInput input;
  input.stats = {{"version_major", 1}, {"version_minor", 2}, {"version_patch", 3}};
  input.version = "1.2.3";
  EXPECT_TRUE(UnclassifiedStats(input.stats).empty());
  EXPECT_NE(StoreMetricsText(input).find("thrifty_build_info{version=\"1.2.3\"} 1\n"), std::string::npos);
  input.version = "1.2.4";
  EXPECT_THROW(StoreMetricsText(input), std::logic_error);
  input.stats.erase("version_patch");
  EXPECT_EQ(VersionFromStats(input.stats), "");
  EXPECT_NO_THROW(StoreMetricsText(input)) << "a node without the numbers (an older one)";
}

TEST_F(StoreHttpTest, MetricsAreWellFormedAndRecordRequestLatencies) {
  store_->start();
  rpc::ConnectOptions connect;
  auto connection = rpc::Connect<diststore::wire::StoreClient>(store_->node().self_location(), connect);
  for (int i = 0; i < 3; ++i) connection.client->put("k" + std::to_string(i), "v", diststore::wire::Consistency::DEFAULT);
  std::string value;
  connection.client->get(value, "k1", diststore::wire::Consistency::DEFAULT);
  EXPECT_THROW(connection.client->get(value, "absent", diststore::wire::Consistency::DEFAULT), diststore::wire::NotFound);  // failures are timed too

  const auto reply = HttpGet(port_, "/metrics");
  ASSERT_EQ(reply.status, 200) << reply.error;
  EXPECT_EQ(reply.headers.at("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = reply.body;
  const auto problems = ExpositionProblems(text);
  EXPECT_TRUE(problems.empty()) << problems.front() << "\n" << text;

  EXPECT_EQ(SampleValue(text, "thrifty_request_duration_seconds_count{op=\"put\"}"), 3);
  EXPECT_EQ(SampleValue(text, "thrifty_request_duration_seconds_count{op=\"get\"}"), 2);
  EXPECT_EQ(SampleValue(text, "thrifty_request_duration_seconds_count{op=\"multi_put\"}"), 0);
  EXPECT_EQ(SampleValue(text, "thrifty_peer_call_duration_seconds_count{call=\"handoff\"}"), 0);
  EXPECT_EQ(SampleValue(text, "thrifty_key_operations_total{op=\"put\"}"), 3);
  EXPECT_EQ(SampleValue(text, "thrifty_keys_not_found_total"), 1);
  EXPECT_EQ(SampleValue(text, "thrifty_records_estimated"), 3);  // the memory engine is exact
  EXPECT_EQ(SampleValue(text, "thrifty_members{state=\"alive\"}"), 1);
  EXPECT_EQ(SampleValue(text, "thrifty_serving"), 1);
  EXPECT_GE(SampleValue(text, "thrifty_rpc_connections_open"), 1);
  EXPECT_GE(SampleValue(text, "thrifty_http_connections_open"), 1);
  EXPECT_EQ(SampleValue(text, "thrifty_build_info{version=\"" + std::string(ThriftyVersion()) + "\"}"), 1);
  // Settings are labels of one info metric, never counters.
  EXPECT_NE(text.find("thrifty_config{placement=\"ketama\""), std::string::npos);
  EXPECT_NE(text.find("max_value_bytes=\"16777216\""), std::string::npos);
  EXPECT_EQ(text.find("thrifty_max_value_bytes"), std::string::npos);
  EXPECT_EQ(text.find("untyped"), std::string::npos);
}

TEST_F(StoreHttpTest, StatusJsonAndThePage) {
  store_->start();
  const auto reply = HttpGet(port_, "/status.json");
  ASSERT_EQ(reply.status, 200) << reply.error;
  EXPECT_EQ(reply.headers.at("content-type"), "application/json");
  const auto status = nlohmann::json::parse(reply.body);
  const std::string self = rpc::ToString(store_->node().self_location());
  EXPECT_EQ(status.at("self"), self);
  EXPECT_EQ(status.at("health"), "serving");
  ASSERT_EQ(status.at("members").size(), 1u);
  EXPECT_EQ(status.at("members")[0].at("address"), self);
  EXPECT_EQ(status.at("members")[0].at("state"), "ALIVE");
  EXPECT_EQ(status.at("members")[0].at("keys"), 0);
  EXPECT_DOUBLE_EQ(status.at("members")[0].at("share").get<double>(), 1.0);
  EXPECT_EQ(status.at("ring").at("arcs").size(), 1u);

  const auto page = HttpGet(port_, "/");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.headers.at("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<svg"), std::string::npos);
  EXPECT_NE(page.body.find("\"address\":\"" + self + "\""), std::string::npos)
      << "the status is inlined in the page";
  EXPECT_EQ(page.body.find("/*INITIAL_STATUS*/"), std::string::npos);
  EXPECT_EQ(page.body.find("http://"), page.body.find("http://www.w3.org/2000/svg"))
      << "the page loads nothing from elsewhere";
  EXPECT_EQ(HttpGet(port_, "/metrics", 5000, "POST").status, 405);
  EXPECT_EQ(HttpGet(port_, "/nope").status, 404);
}

TEST(StoreMetricsText, UnknownStatsAreExportedUntypedAndListed) {
  StoreMetricsInput input;
  input.stats = {{"gets", 4}, {"max_key_bytes", 10}, {"brand_new_stat", 7}};
  input.version = "9.9";
  EXPECT_EQ(UnclassifiedStats(input.stats), std::vector<std::string>{"brand_new_stat"});
  const std::string text = StoreMetricsText(input);
  EXPECT_TRUE(ExpositionProblems(text).empty()) << text;
  EXPECT_NE(text.find("# TYPE thrifty_stat_brand_new_stat untyped\nthrifty_stat_brand_new_stat 7\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("thrifty_key_operations_total{op=\"get\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("thrifty_config{max_key_bytes=\"10\"} 1\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("thrifty_request_duration_seconds"), std::string::npos) << "no latency given";
}

}  // namespace
}  // namespace thrifty::diststore
