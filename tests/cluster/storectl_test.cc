// storectl status, ring and metrics --json against real storeserver nodes on 127.0.0.1: the
// nodetool-like status table (state codes, load, keys, effective ownership, host ID, uptime,
// version, zone, hints), a killed node shown down with "?" for what only it could say, a
// draining node shown leaving, and the JSON forms with their raw values.
#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "locator/rpc/address.h"
#include "tests/cluster/harness.h"

namespace thrifty::testing {
namespace {

using nlohmann::json;

CommandResult Storectl(const Cluster& cluster, int node, std::vector<std::string> args) {
  std::vector<std::string> argv = {BinDir() + "/storectl",
                                   "--peer=" + rpc::ToString(cluster.location(node))};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, "", 60000);
}

std::string Describe(const CommandResult& r) {
  return "exit " + std::to_string(r.status) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// The version CMake's project() declares, read from the source tree ($THRIFTY_SOURCE, set by
// ctest); without it, what storectl --version says.
std::string ProjectVersion() {
  if (const char* source = std::getenv("THRIFTY_SOURCE")) {
    std::ifstream in(std::string(source) + "/CMakeLists.txt");
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    const std::string mark = "project(thrifty VERSION ";
    if (const size_t at = s.find(mark); at != std::string::npos) {
      const size_t from = at + mark.size();
      return s.substr(from, s.find_first_of(" )", from) - from);
    }
  }
  const auto r = RunCommand({BinDir() + "/storectl", "--version"});
  const size_t space = r.out.rfind(' ');
  return space == std::string::npos ? "" : r.out.substr(space + 1, r.out.find('\n') - space - 1);
}

// The status table: cells by column header, rows by address. The columns are left-aligned, so
// each cell starts where its header does.
struct StatusTable {
  std::vector<std::string> preamble;  // the lines before the header
  std::vector<std::string> headers;
  std::map<std::string, std::map<std::string, std::string>> rows;
};

std::string Trim(const std::string& s) {
  const size_t first = s.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(' ') - first + 1);
}

StatusTable ParseStatus(const std::string& out) {
  static const std::vector<std::string> kHeaders = {
      "--", "Address", "Load", "Keys", "Owns (effective)", "Host ID", "Uptime", "Version", "Zone", "Hints"};
  StatusTable table;
  std::istringstream lines(out);
  std::vector<size_t> starts;
  for (std::string line; std::getline(lines, line);) {
    if (starts.empty()) {
      if (line.rfind("--  Address", 0) != 0) {
        table.preamble.push_back(line);
        continue;
      }
      for (const std::string& h : kHeaders) {
        const size_t at = line.find(h, starts.empty() ? 0 : starts.back() + 1);
        if (at == std::string::npos) return table;  // not the expected header: no rows
        starts.push_back(at);
      }
      table.headers = kHeaders;
      continue;
    }
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < starts.size(); ++i) {
      if (starts[i] >= line.size()) break;
      const size_t end = i + 1 < starts.size() ? starts[i + 1] : std::string::npos;
      row[kHeaders[i]] = Trim(line.substr(starts[i], end == std::string::npos ? end : end - starts[i]));
    }
    table.rows[row["Address"]] = row;
  }
  return table;
}

// Text matchers (by hand: GCC 12's <regex> trips -Wmaybe-uninitialized in sanitized builds).
// Consumes one or more digits at s[i]; false if there are none.
bool Digits(const std::string& s, size_t& i) {
  const size_t start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  return i > start;
}

// "33.3%": one decimal.
bool IsPercent(const std::string& s) {
  size_t i = 0;
  return Digits(s, i) && s.compare(i, 1, ".") == 0 && Digits(s, ++i) && i == s.size() - 1 &&
         s[i - 2] == '.' && s.back() == '%';
}

// "0 B", "1023 B", "47.7 KiB", "1.2 MiB", ...
bool IsSize(const std::string& s) {
  size_t i = 0;
  if (!Digits(s, i)) return false;
  if (s.compare(i, std::string::npos, " B") == 0) return true;
  if (s.compare(i, 1, ".") != 0 || !Digits(s, ++i) || s[i - 2] != '.') return false;
  for (const char* unit : {" KiB", " MiB", " GiB", " TiB", " PiB", " EiB"}) {
    if (s.compare(i, std::string::npos, unit) == 0) return true;
  }
  return false;
}

// "45s", "12m5s", "5h3m", "3d4h".
bool IsUptime(const std::string& s) {
  for (const std::string units : {"s", "ms", "hm", "dh"}) {
    size_t i = 0;
    bool ok = true;
    for (char unit : units) ok = ok && Digits(s, i) && i < s.size() && s[i++] == unit;
    if (ok && i == s.size()) return true;
  }
  return false;
}

// A version-4 UUID in lower case.
bool IsHostId(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && std::string("0123456789abcdef").find(s[i]) == std::string::npos) return false;
  }
  return s[14] == '4' && std::string("89ab").find(s[19]) != std::string::npos;
}

double PercentValue(const std::string& cell) {
  EXPECT_TRUE(IsPercent(cell)) << "ownership: " << cell;
  return std::strtod(cell.c_str(), nullptr);
}

json ParseJson(const CommandResult& r) {
  try {
    return json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what() << "\n" << r.out;
    return json();
  }
}

// Host IDs by address, from storectl members --json (the member metadata).
std::map<std::string, std::string> HostIds(const Cluster& cluster) {
  std::map<std::string, std::string> ids;
  const auto r = Storectl(cluster, 0, {"--json", "members"});
  for (const auto& m : ParseJson(r)) {
    if (m.contains("metadata") && m["metadata"].contains("host_id")) {
      ids[m["address"].get<std::string>()] = m["metadata"]["host_id"].get<std::string>();
    }
  }
  return ids;
}

bool AllSee(Cluster& cluster, int nodes) {
  for (int i = 0; i < cluster.size(); ++i) {
    if (!cluster.running(i)) continue;
    std::vector<locator::wire::Location> all;
    try {
      cluster.pool().call(cluster.location(i), [&](diststore::wire::StoreClient& c) { c.get_all(all); });
    } catch (const std::exception&) {
      return false;
    }
    if (static_cast<int>(all.size()) != nodes) return false;
  }
  return true;
}

// ---- three RocksDB nodes, two copies of each key ----

constexpr int kKeys = 600;

class StorectlStatus : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new Cluster("storeserver");
    for (int i = 0; i < 3; ++i) {
      if (cluster_->start({"--replicas=2", "--data-dir=" + cluster_->dir() + "/n" + std::to_string(i)}) < 0) {
        return;
      }
    }
    if (!WaitFor([] { return AllSee(*cluster_, 3); }, 10000)) return;
    const auto primed = RunCommand({BinDir() + "/storeprimer",
                                    "--peer=" + rpc::ToString(cluster_->location(0)),
                                    "--count=" + std::to_string(kKeys)});
    primed_ = primed.status == 0;
    if (!primed_) ADD_FAILURE() << "storeprimer: " << Describe(primed);
  }
  static void TearDownTestSuite() {
    delete cluster_;  // every node killed by pid
    cluster_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(cluster_->size(), 3) << "the cluster did not start";
    ASSERT_TRUE(primed_);
  }

  static Cluster* cluster_;
  static bool primed_;
};

Cluster* StorectlStatus::cluster_ = nullptr;
bool StorectlStatus::primed_ = false;

TEST(StorectlText, MatchersWork) {
  EXPECT_TRUE(IsPercent("33.3%"));
  EXPECT_TRUE(IsPercent("100.0%"));
  EXPECT_FALSE(IsPercent("33.33%"));
  EXPECT_FALSE(IsPercent("33%"));
  EXPECT_FALSE(IsPercent("33.3"));
  EXPECT_TRUE(IsSize("0 B"));
  EXPECT_TRUE(IsSize("47.7 KiB"));
  EXPECT_FALSE(IsSize("47 KiB"));
  EXPECT_FALSE(IsSize("1.2 MB"));
  EXPECT_FALSE(IsSize("1.25 MiB"));
  EXPECT_TRUE(IsUptime("45s"));
  EXPECT_TRUE(IsUptime("12m5s"));
  EXPECT_TRUE(IsUptime("3d4h"));
  EXPECT_FALSE(IsUptime("3d"));
  EXPECT_FALSE(IsUptime("5s3m"));
  EXPECT_FALSE(IsUptime("?"));
  EXPECT_TRUE(IsHostId("9f7264ec-195f-48b1-b52c-38642f6d4728"));
  EXPECT_FALSE(IsHostId("9f7264ec-195f-38b1-b52c-38642f6d4728"));
  EXPECT_FALSE(IsHostId("9F7264EC-195F-48B1-B52C-38642F6D4728"));
}

TEST_F(StorectlStatus, LiveNodesAreUpAndNormalWithTheirNumbers) {
  // Both copies of every key are written (W is a quorum: the second may land just after).
  CommandResult r;
  ASSERT_TRUE(WaitFor(
      [&] {
        r = Storectl(*cluster_, 1, {"--json", "status"});
        int64_t keys = 0;
        for (const auto& row : ParseJson(r)) {
          if (row.contains("keys") && row["keys"].is_number_integer()) keys += row["keys"].get<int64_t>();
        }
        return keys == 2 * kKeys;
      },
      15000))
      << "the nodes' keys do not add up to two copies of " << kKeys << ":\n" << Describe(r);

  r = Storectl(*cluster_, 1, {"status"});
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_EQ(r.err, "");
  const StatusTable table = ParseStatus(r.out);
  ASSERT_FALSE(table.headers.empty()) << r.out;
  // The legend, like nodetool's.
  const std::string preamble = [&] {
    std::string all;
    for (const auto& line : table.preamble) all += line + "\n";
    return all;
  }();
  EXPECT_NE(preamble.find("Placement: ketama, replicas: 2\n====="), std::string::npos) << r.out;
  EXPECT_NE(preamble.find("Status=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n"), std::string::npos) << r.out;

  const std::string version = ProjectVersion();
  ASSERT_FALSE(version.empty());
  const auto ids = HostIds(*cluster_);
  ASSERT_EQ(ids.size(), 3u);
  std::set<std::string> seen_ids;
  int64_t keys = 0;
  for (int i = 0; i < 3; ++i) {
    const std::string address = rpc::ToString(cluster_->location(i));
    ASSERT_EQ(table.rows.count(address), 1u) << "node " << i << " missing:\n" << r.out;
    auto row = table.rows.at(address);
    EXPECT_EQ(row["--"], "UN") << r.out;
    EXPECT_TRUE(IsSize(row["Load"])) << "load: " << row["Load"];
    EXPECT_NE(row["Load"], "0 B") << "RocksDB keeps files in its data dir";
    ASSERT_EQ(row["Keys"].find_first_not_of("0123456789"), std::string::npos) << row["Keys"];
    keys += std::stoll(row["Keys"]);
    const double owns = PercentValue(row["Owns (effective)"]);
    EXPECT_GT(owns, 30.0) << "two copies on three nodes: about 66.7% each";
    EXPECT_LT(owns, 100.0);
    EXPECT_TRUE(IsHostId(row["Host ID"])) << row["Host ID"];
    EXPECT_EQ(row["Host ID"], ids.at(address)) << "the host ID of its metadata";
    seen_ids.insert(row["Host ID"]);
    EXPECT_TRUE(IsUptime(row["Uptime"])) << "uptime: " << row["Uptime"];
    EXPECT_EQ(row["Version"], version);
    EXPECT_EQ(row["Zone"], "-");
    EXPECT_EQ(row["Hints"], "0");
  }
  EXPECT_EQ(seen_ids.size(), 3u);
  EXPECT_EQ(keys, 2 * kKeys);
}

TEST_F(StorectlStatus, JsonHoldsTheRawValues) {
  const auto r = Storectl(*cluster_, 2, {"status", "--json"});
  ASSERT_EQ(r.status, 0) << Describe(r);
  ASSERT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "one line: " << r.out;
  const json rows = ParseJson(r);
  ASSERT_TRUE(rows.is_array()) << r.out;
  ASSERT_EQ(rows.size(), 3u) << r.out;
  const auto ids = HostIds(*cluster_);
  const std::string version = ProjectVersion();
  for (const auto& row : rows) {
    for (const char* field : {"code", "address", "state", "up", "answered", "phase", "data_bytes", "keys",
                              "ownership", "effective_ownership", "replicas", "host_id", "uptime_s",
                              "version", "zone", "hints_pending", "requests"}) {
      EXPECT_TRUE(row.contains(field)) << field << ": " << r.out;
    }
    EXPECT_EQ(row["code"], "UN");
    EXPECT_EQ(row["state"], "ALIVE");
    EXPECT_EQ(row["up"], true);
    EXPECT_EQ(row["answered"], true);
    EXPECT_EQ(row["phase"], "serving");
    ASSERT_TRUE(row["data_bytes"].is_number_integer()) << r.out;
    EXPECT_GT(row["data_bytes"].get<int64_t>(), 0);
    EXPECT_LT(row["data_bytes"].get<int64_t>(), int64_t{1} << 30);
    ASSERT_TRUE(row["uptime_s"].is_number_integer()) << r.out;
    EXPECT_GE(row["uptime_s"].get<int64_t>(), 0);
    EXPECT_LT(row["uptime_s"].get<int64_t>(), 600);
    EXPECT_EQ(row["version"], version);
    EXPECT_EQ(row["host_id"], ids.at(row["address"].get<std::string>()));
    EXPECT_TRUE(row["zone"].is_null());
    EXPECT_EQ(row["hints_pending"], 0);
    EXPECT_EQ(row["replicas"], 2);
    EXPECT_TRUE(row["keys"].is_number_integer());
    EXPECT_TRUE(row["requests"].is_number_integer());
  }
}

TEST_F(StorectlStatus, EffectiveOwnershipSumsToTheReplicasTimes100) {
  const auto text = Storectl(*cluster_, 0, {"status"});
  ASSERT_EQ(text.status, 0) << Describe(text);
  double sum = 0;
  for (const auto& [address, row] : ParseStatus(text.out).rows) sum += PercentValue(row.at("Owns (effective)"));
  EXPECT_NEAR(sum, 200.0, 0.3) << text.out;  // three numbers rounded to 0.1 each

  const auto r = Storectl(*cluster_, 0, {"status", "--json"});
  ASSERT_EQ(r.status, 0) << Describe(r);
  double effective = 0, owned = 0;
  for (const auto& row : ParseJson(r)) {
    effective += row["effective_ownership"].get<double>();
    owned += row["ownership"].get<double>();
  }
  EXPECT_NEAR(effective, 2.0, 1e-9) << "every sample key has exactly two replicas";
  EXPECT_NEAR(owned, 1.0, 1e-9) << "and one owner";
}

TEST_F(StorectlStatus, RingHasFixedDecimalsAndAlignedColumns) {
  const auto r = Storectl(*cluster_, 0, {"ring"});
  ASSERT_EQ(r.status, 0) << Describe(r);
  std::istringstream lines(r.out);
  std::string first, header;
  ASSERT_TRUE(std::getline(lines, first));
  EXPECT_EQ(first, "placement: ketama, replicas: 2 (shares estimated from 100000 sample keys)");
  ASSERT_TRUE(std::getline(lines, header));
  EXPECT_EQ(header.rfind("ADDRESS", 0), 0u) << header;
  int rows = 0;
  double owned = 0, kept = 0;
  for (std::string line; std::getline(lines, line); ++rows) {
    // Right-aligned numbers: every line as long as the header, the shares ending under it.
    EXPECT_EQ(line.size(), header.size()) << r.out;
    std::istringstream words(line);
    std::string address, state, weight, owns, effective;
    words >> address >> state >> weight >> owns >> effective;
    EXPECT_EQ(state, "ALIVE");
    EXPECT_EQ(weight, "1") << "the weight as given, not in a stream's fixed notation";
    owned += PercentValue(owns);
    kept += PercentValue(effective);
  }
  EXPECT_EQ(rows, 3) << r.out;
  EXPECT_NEAR(owned, 100.0, 0.3) << r.out;
  EXPECT_NEAR(kept, 200.0, 0.3) << r.out;

  const auto j = Storectl(*cluster_, 0, {"ring", "--json", "--samples=1000"});
  ASSERT_EQ(j.status, 0) << Describe(j);
  const json ring = ParseJson(j);
  EXPECT_EQ(ring["replicas"], 2);
  EXPECT_EQ(ring["samples"], 1000);
  double sum = 0;
  for (const auto& node : ring["nodes"]) sum += node["effective_ownership"].get<double>();
  EXPECT_NEAR(sum, 2.0, 1e-9) << j.out;
}

TEST_F(StorectlStatus, MetricsJsonIsAnObjectOfTheSameMetrics) {
  const auto text = Storectl(*cluster_, 0, {"metrics"});
  ASSERT_EQ(text.status, 0) << Describe(text);
  std::set<std::string> names;
  std::istringstream lines(text.out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line[0] != '#') names.insert(line.substr(0, line.find_first_of("{ ")));
  }
  const auto r = Storectl(*cluster_, 0, {"metrics", "--json"});
  ASSERT_EQ(r.status, 0) << Describe(r);
  EXPECT_EQ(r.err, "");
  const json metrics = ParseJson(r);
  ASSERT_TRUE(metrics.is_object()) << r.out;
  std::set<std::string> json_names;
  for (const auto& [name, value] : metrics.items()) {
    EXPECT_TRUE(value.is_number()) << name << ": " << value;
    json_names.insert(name);
  }
  EXPECT_EQ(json_names, names);
  EXPECT_TRUE(metrics.contains("thrifty_keys")) << r.out;
  EXPECT_GT(metrics.value("thrifty_data_bytes", int64_t{0}), 0) << r.out;
  EXPECT_EQ(metrics.value("thrifty_replicas", int64_t{0}), 2) << r.out;
}

// ---- faults ----

TEST(StorectlStatusFaults, AKilledNodeIsDownWithQuestionMarksForWhatOnlyItCouldSay) {
  Cluster cluster("storeserver");
  for (int i = 0; i < 3; ++i) ASSERT_GE(cluster.start({"--memory", "--replicas=2"}), 0);
  ASSERT_TRUE(WaitFor([&] { return AllSee(cluster, 3); }, 10000));
  const std::string victim = rpc::ToString(cluster.location(2));
  const std::string victim_id = HostIds(cluster).at(victim);

  // A --memory node's load is the bytes of the keys and values it holds.
  const auto before = Storectl(cluster, 0, {"status"});
  ASSERT_EQ(before.status, 0) << Describe(before);
  EXPECT_EQ(ParseStatus(before.out).rows[victim]["--"], "UN") << before.out;
  EXPECT_EQ(ParseStatus(before.out).rows[victim]["Load"], "0 B") << before.out;

  cluster.kill9(2);
  CommandResult r;
  StatusTable table;
  const bool down = WaitFor(
      [&] {
        r = Storectl(cluster, 0, {"status"});
        table = ParseStatus(r.out);
        return r.status == 0 && table.rows.count(victim) && table.rows[victim]["--"] == "DN";
      },
      20000, 250);
  ASSERT_TRUE(down) << "the killed node is not shown down within 20 s:\n" << Describe(r);
  auto row = table.rows[victim];
  for (const char* column : {"Load", "Keys", "Uptime", "Version", "Hints"}) {
    EXPECT_EQ(row[column], "?") << column << ":\n" << r.out;
  }
  EXPECT_EQ(row["Host ID"], victim_id) << "known from its member metadata";
  EXPECT_EQ(row["Zone"], "-");
  // With two copies a down replica keeps its place in the replica sets.
  double sum = 0;
  for (const auto& [address, cells] : table.rows) {
    sum += PercentValue(cells.at("Owns (effective)"));
    if (address != victim) {
      EXPECT_EQ(cells.at("--"), "UN") << r.out;
    }
  }
  EXPECT_NEAR(sum, 200.0, 0.3) << r.out;

  const auto j = Storectl(cluster, 0, {"--json", "status"});
  ASSERT_EQ(j.status, 0) << Describe(j);
  bool found = false;
  for (const auto& m : ParseJson(j)) {
    if (m["address"] != victim) continue;
    found = true;
    EXPECT_EQ(m["code"], "DN");
    EXPECT_EQ(m["up"], false);
    EXPECT_EQ(m["answered"], false);
    EXPECT_TRUE(m["state"] == "SUSPECT" || m["state"] == "DEAD") << m;
    for (const char* unknown : {"phase", "data_bytes", "keys", "uptime_s", "version", "hints_pending", "requests"}) {
      EXPECT_TRUE(m[unknown].is_null()) << unknown << ": " << m;
    }
    EXPECT_EQ(m["host_id"], victim_id);
  }
  EXPECT_TRUE(found) << j.out;
}

// A node draining before a clean leave is shown leaving (UL). Its handoff is kept from finishing
// by a failpoint that blocks its calls to the others' Thrift ports (the nodes gossip on other
// ports, so the others keep seeing it ALIVE): it stays draining until --drain-timeout-s.
TEST(StorectlStatusFaults, ADrainingNodeIsUpAndLeaving) {
  Cluster cluster("storeserver");
  const std::string rules = cluster.dir() + "/failpoints";
  { std::ofstream(rules) << "# nothing blocked yet\n"; }
  const int base = cluster.first_port();
  for (int i = 0; i < 3; ++i) {
    if (i == 2) setenv("THRIFTY_FAILPOINTS", rules.c_str(), 1);
    const int node = cluster.start({"--memory", "--drain-timeout-s=120",
                                    "--gossip-port=" + std::to_string(base + 20 + i)},
                                   base + i);
    unsetenv("THRIFTY_FAILPOINTS");
    ASSERT_EQ(node, i);
  }
  ASSERT_TRUE(WaitFor([&] { return AllSee(cluster, 3); }, 10000));
  const auto primed = RunCommand({BinDir() + "/storeprimer", "--peer=" + rpc::ToString(cluster.location(0)),
                                  "--count=300"});
  ASSERT_EQ(primed.status, 0) << Describe(primed);
  {
    std::ofstream(rules + ".new") << "block " << rpc::ToString(cluster.location(0)) << "\n"
                                  << "block " << rpc::ToString(cluster.location(1)) << "\n";
  }
  std::filesystem::rename(rules + ".new", rules);
  // A node looks at its rules file at most every 100 ms (failpoints.h) and tells nothing of
  // having read it: ten times that, then the leave.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ASSERT_EQ(kill(cluster.pid(2), SIGTERM), 0);

  const std::string drainer = rpc::ToString(cluster.location(2));
  CommandResult r;
  StatusTable table;
  const bool leaving = WaitFor(
      [&] {
        r = Storectl(cluster, 0, {"status"});
        table = ParseStatus(r.out);
        return r.status == 0 && table.rows.count(drainer) && table.rows[drainer]["--"] == "UL";
      },
      15000, 250);
  ASSERT_TRUE(leaving) << "the draining node is not shown leaving:\n" << Describe(r) << "\nits log:\n"
                       << cluster.log(2);
  EXPECT_NE(table.rows[drainer]["Keys"], "?") << "it still answers";
  EXPECT_EQ(table.rows[rpc::ToString(cluster.location(0))]["--"], "UN") << r.out;
  const auto j = Storectl(cluster, 1, {"--json", "status"});
  for (const auto& m : ParseJson(j)) {
    if (m["address"] == drainer) {
      EXPECT_EQ(m["phase"], "draining") << j.out;
    }
  }
  // The cluster's destructor kills every node by pid.
}

}  // namespace
}  // namespace thrifty::testing
