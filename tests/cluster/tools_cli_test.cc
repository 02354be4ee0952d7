// The command-line tools as scripts use them: --help, unknown flags and bad values, exit codes,
// and the client commands against a three-node storeserver cluster of real processes.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "locator/rpc/address.h"
#include "locator/rpc/per_connection.h"
#include "locator/service/locator_handler.h"
#include "locator/service/locator_node.h"
#include "tests/cluster/harness.h"

namespace thrifty::testing {
namespace {

// ---- helpers ----

std::string Tool(const std::string& name) { return BinDir() + "/" + name; }
bool Exists(const std::string& name) { return access(Tool(name).c_str(), X_OK) == 0; }

// Lines of `text` (a last line without '\n' counts too).
int Lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  if (!text.empty() && text.back() != '\n') ++n;
  return n;
}

std::string Describe(const std::vector<std::string>& argv, const CommandResult& r) {
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a.substr(0, 60);
  return cmd + "\n  exit " + std::to_string(r.status) + "\n  stdout: " + r.out.substr(0, 2000) +
         "\n  stderr: " + r.err.substr(0, 2000);
}

// Runs a tool; `args` follow its path.
CommandResult RunTool(const std::string& tool, const std::vector<std::string>& args,
                  const std::string& input = "", int timeout_ms = 60000) {
  std::vector<std::string> argv = {Tool(tool)};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, input, timeout_ms);
}

// Expects exit `status` with exactly one line on stderr (and nothing on stdout).
#define EXPECT_ONE_LINE_FAILURE(result, code, argv)                                     \
  do {                                                                                  \
    const auto& r_ = (result);                                                          \
    EXPECT_EQ(r_.status, code) << Describe(argv, r_);                                   \
    EXPECT_EQ(Lines(r_.err), 1) << Describe(argv, r_);                                  \
    EXPECT_TRUE(r_.err.empty() || r_.err.back() == '\n') << Describe(argv, r_);         \
    EXPECT_EQ(r_.out, "") << Describe(argv, r_);                                        \
  } while (0)

// A small strict JSON parser: enough to say that a tool's --json output is JSON.
struct Json {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject } type = kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> items;
  std::map<std::string, Json> fields;
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : s_(text) {}
  // One JSON value, surrounded by whitespace only; throws std::runtime_error otherwise.
  Json Parse() {
    Json v = Value(0);
    SkipSpace();
    if (i_ != s_.size()) Fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void Fail(const std::string& what) {
    throw std::runtime_error("not JSON: " + what + " at offset " + std::to_string(i_));
  }
  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) ++i_;
  }
  char Peek() {
    SkipSpace();
    if (i_ >= s_.size()) Fail("unexpected end");
    return s_[i_];
  }
  void Expect(char c) {
    if (Peek() != c) Fail(std::string("expected '") + c + "'");
    ++i_;
  }
  bool Literal(const char* word) {
    const std::string w(word);
    if (s_.compare(i_, w.size(), w) != 0) return false;
    i_ += w.size();
    return true;
  }
  Json Value(int depth) {
    if (depth > 64) Fail("nested too deep");
    Json v;
    const char c = Peek();
    if (c == '{') {
      v.type = Json::kObject;
      ++i_;
      if (Peek() == '}') return ++i_, v;
      while (true) {
        if (Peek() != '"') Fail("expected a member name");
        std::string name = String();
        Expect(':');
        if (!v.fields.emplace(name, Value(depth + 1)).second) Fail("duplicate member " + name);
        if (Peek() == '}') return ++i_, v;
        Expect(',');
      }
    }
    if (c == '[') {
      v.type = Json::kArray;
      ++i_;
      if (Peek() == ']') return ++i_, v;
      while (true) {
        v.items.push_back(Value(depth + 1));
        if (Peek() == ']') return ++i_, v;
        Expect(',');
      }
    }
    if (c == '"') {
      v.type = Json::kString;
      v.string = String();
      return v;
    }
    if (Literal("true") || Literal("false")) {
      v.type = Json::kBool;
      v.boolean = s_[i_ - 1] == 'e' && s_[i_ - 2] == 'u';
      return v;
    }
    if (Literal("null")) return v;
    // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?
    const size_t start = i_;
    if (At('-')) ++i_;
    if (At('0')) {
      ++i_;
    } else if (Digits() == 0) {
      Fail("bad value");
    }
    if (At('.')) {
      ++i_;
      if (Digits() == 0) Fail("bad fraction");
    }
    if (At('e') || At('E')) {
      ++i_;
      if (At('+') || At('-')) ++i_;
      if (Digits() == 0) Fail("bad exponent");
    }
    v.type = Json::kNumber;
    v.number = std::strtod(s_.substr(start, i_ - start).c_str(), nullptr);
    return v;
  }
  bool At(char c) const { return i_ < s_.size() && s_[i_] == c; }
  size_t Digits() {
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ - start;
  }
  std::string String() {
    Expect('"');
    std::string out;
    while (true) {
      if (i_ >= s_.size()) Fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return out;
      if (c < 0x20) Fail("control character in a string");
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        continue;
      }
      if (i_ >= s_.size()) Fail("unterminated escape");
      const char e = s_[i_++];
      switch (e) {
        case '"': case '\\': case '/': out.push_back(e); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          if (i_ + 4 > s_.size()) Fail("short \\u escape");
          for (int k = 0; k < 4; ++k) {
            if (!std::isxdigit(static_cast<unsigned char>(s_[i_ + k]))) Fail("bad \\u escape");
          }
          out += "?";  // the code point itself does not matter here
          i_ += 4;
          break;
        }
        default: Fail(std::string("bad escape \\") + e);
      }
    }
  }

  const std::string& s_;
  size_t i_ = 0;
};

// ---- every tool: --help, unknown flags, bad values ----

struct ToolSpec {
  std::string name;
  bool required;
  enum Isolation { kNone, kDiscovery, kPeer } isolation;  // how to keep it away from real nodes
  std::vector<std::string> positional;  // valid arguments, so that only the flag is wrong
  // More bad flag values of this tool, each with a word its error line must contain.
  std::vector<std::pair<std::vector<std::string>, std::string>> bad_values;
};

const std::vector<ToolSpec>& Tools() {
  static const std::vector<ToolSpec> tools = {
      {"locator", true, ToolSpec::kDiscovery, {},
       {{{"--port=-1"}, "port"}, {{"--weight=0"}, "weight"}, {{"--discover-from=0"}, "discover"},
        {{"--rpc-threads=abc"}, "rpc"}, {{"--sync-interval-ms=1"}, "sync"},
        {{"--discovery=etcd://h:0/p"}, "discovery"}}},
      {"storeserver", true, ToolSpec::kDiscovery, {},
       {{{"--port=-1"}, "port"}, {{"--max-value-bytes=abc"}, "max"}, {{"--max-key-bytes=0"}, "max"},
        {{"--memory", "--data-dir=x"}, "memory"}, {{"--discovery=http://h:1/p"}, "discovery"},
        {{"--discovery=etcd://h:1/p", "--peer=127.0.0.1:1"}, "discovery"},
        {{"--gc-grace-s=abc"}, "gc-grace"}, {{"--anti-entropy-interval-s=-3"}, "anti-entropy"}}},
      {"storeput", true, ToolSpec::kDiscovery, {"k", "v"},
       {{{"--timeout-ms=abc"}, "timeout"}, {{"--timeout-ms=0"}, "timeout"}, {{"--peer=nohost"}, "peer"},
        {{"--peer=127.0.0.1:70000"}, "peer"}, {{"--discover-from=70000"}, "discover"}}},
      {"storeget", true, ToolSpec::kDiscovery, {"k"},
       {{{"--timeout-ms=abc"}, "timeout"}, {{"--peer=127.0.0.1:0"}, "peer"}, {{"--discover-to=abc"}, "discover"},
        {{"--raw", "-o", "f"}, "raw"}, {{"--raw=maybe"}, "raw"}}},
      {"storeprimer", true, ToolSpec::kDiscovery, {},
       {{{"--count=abc"}, "count"}, {{"--batch=0"}, "batch"}, {{"--count=-5"}, "count"}}},
      {"storetest", true, ToolSpec::kDiscovery, {}, {{{"--count=abc"}, "count"}, {{"--batch=10001"}, "batch"}}},
      {"storectl", true, ToolSpec::kDiscovery, {"members"},
       {{{"--samples=0"}, "samples"}, {{"--json=maybe"}, "json"}, {{"--peer=127.0.0.1:abc"}, "peer"},
        {{"--repair-timeout-s=0"}, "repair-timeout"}}},
      {"storeselect", false, ToolSpec::kNone, {}, {{{"--n=abc"}, "n"}}},
      {"storebench", false, ToolSpec::kPeer, {}, {{{"--threads=abc"}, "threads"}}},
  };
  return tools;
}

// Flags that keep a tool away from any real node, should it wrongly go on: discovery over one
// port where nothing listens, or that port as --peer (the default discovery range may hold
// someone else's nodes).
std::vector<std::string> Isolated(const ToolSpec& tool) {
  static const int nowhere = FreePortRange(1);
  switch (tool.isolation) {
    case ToolSpec::kDiscovery:
      return {"--discover-from=" + std::to_string(nowhere), "--discover-to=" + std::to_string(nowhere)};
    case ToolSpec::kPeer:
      return {"--peer=127.0.0.1:" + std::to_string(nowhere)};
    case ToolSpec::kNone:
      break;
  }
  return {};
}

// The flag name as typed, or as gflags spells it (dashes as underscores).
bool Mentions(const std::string& err, std::string word) {
  if (err.find(word) != std::string::npos) return true;
  std::replace(word.begin(), word.end(), '-', '_');
  return err.find(word) != std::string::npos;
}

TEST(ToolsCli, HelpPrintsUsageAndExitsZero) {
  for (const auto& tool : Tools()) {
    if (!Exists(tool.name)) {
      EXPECT_FALSE(tool.required) << tool.name << " is missing from " << BinDir();
      continue;
    }
    for (const std::string flag : {"--help", "-h"}) {
      const std::vector<std::string> argv = {tool.name, flag};
      const auto r = RunTool(tool.name, {flag});
      EXPECT_EQ(r.status, 0) << Describe(argv, r);
      EXPECT_NE(r.out.find("usage: " + tool.name), std::string::npos) << Describe(argv, r);
      EXPECT_NE(r.out.find("--help"), std::string::npos) << Describe(argv, r);
      EXPECT_EQ(r.err, "") << Describe(argv, r);
    }
  }
}

TEST(ToolsCli, UnknownFlagIsOneLineOnStderrAndExitTwo) {
  for (const auto& tool : Tools()) {
    if (!Exists(tool.name)) continue;
    for (const std::string flag : {"--no-such-flag", "--no-such-flag=1", "-Q", "--frobnicate"}) {
      std::vector<std::string> args = Isolated(tool);
      args.push_back(flag);
      args.insert(args.end(), tool.positional.begin(), tool.positional.end());
      std::vector<std::string> argv = {tool.name};
      argv.insert(argv.end(), args.begin(), args.end());
      const auto r = RunTool(tool.name, args, "", 20000);
      EXPECT_ONE_LINE_FAILURE(r, 2, argv);
      EXPECT_NE(r.err.find(flag), std::string::npos) << "the error should name the flag\n"
                                                      << Describe(argv, r);
    }
    // A flag another tool has (and this one does not) is just as unknown.
    if (tool.name != "storeprimer" && tool.name != "storetest" && tool.name != "storebench") {
      std::vector<std::string> args = Isolated(tool);
      args.push_back("--value-bytes=5");
      args.insert(args.end(), tool.positional.begin(), tool.positional.end());
      EXPECT_ONE_LINE_FAILURE(RunTool(tool.name, args, "", 20000), 2, args);
    }
  }
}

TEST(ToolsCli, BadValuesAreOneLineOnStderrAndExitTwo) {
  for (const auto& tool : Tools()) {
    if (!Exists(tool.name)) continue;
    std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--port=abc"}, "port"}, {{"--port=70000"}, "port"}, {{"--port="}, "port"}, {{"--port"}, "port"}};
    cases.insert(cases.end(), tool.bad_values.begin(), tool.bad_values.end());
    for (const auto& [flags, word] : cases) {
      std::vector<std::string> args = Isolated(tool);
      args.insert(args.end(), flags.begin(), flags.end());
      if (flags.back() != "--port") args.insert(args.end(), tool.positional.begin(), tool.positional.end());
      std::vector<std::string> argv = {tool.name};
      argv.insert(argv.end(), args.begin(), args.end());
      // A node that took a bad value and started anyway would run until killed: a short deadline.
      const auto r = RunTool(tool.name, args, "", 20000);
      EXPECT_ONE_LINE_FAILURE(r, 2, argv);
      EXPECT_TRUE(Mentions(r.err, word)) << "the error should name the flag\n" << Describe(argv, r);
    }
  }
}

TEST(ToolsCli, WrongPositionalArgumentsExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {"storeput"}, {"storeput", "k"}, {"storeput", "k", "v", "extra"},
      {"storeget"}, {"storeget", "a", "b"},
      {"storectl"}, {"storectl", "members", "extra"},
      {"storeprimer", "extra"}, {"storetest", "extra"},
      {"storeserver", "extra"}, {"locator", "extra"}};
  const ToolSpec any{"", true, ToolSpec::kDiscovery, {}, {}};
  for (const auto& c : cases) {
    std::vector<std::string> args = Isolated(any);
    args.insert(args.end(), c.begin() + 1, c.end());
    const auto r = RunTool(c[0], args, "", 20000);
    EXPECT_ONE_LINE_FAILURE(r, 2, c);
  }
}

// ---- Prometheus text exposition format (version 0.0.4) ----

bool MetricNameAt(const std::string& line, size_t* i, bool colons = true) {
  const size_t start = *i;
  while (*i < line.size()) {
    const char c = line[*i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colons && c == ':');
    if (!letter && !(*i > start && c >= '0' && c <= '9')) break;
    ++*i;
  }
  return *i > start;
}

bool NumberIs(const std::string& text) {
  if (text == "NaN" || text == "+Inf" || text == "-Inf") return true;
  if (text.empty() || text.find_first_not_of("0123456789+-.eE") != std::string::npos) return false;
  char* end = nullptr;
  std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

// "# HELP name text" or "# TYPE name counter|gauge|histogram|summary|untyped".
bool PrometheusComment(const std::string& line) {
  for (const std::string kind : {"# HELP ", "# TYPE "}) {
    if (line.compare(0, kind.size(), kind) != 0) continue;
    size_t i = kind.size();
    if (!MetricNameAt(line, &i)) return false;
    if (kind == "# HELP ") return i == line.size() || line[i] == ' ';
    const std::string type = i < line.size() && line[i] == ' ' ? line.substr(i + 1) : "";
    return type == "counter" || type == "gauge" || type == "histogram" || type == "summary" ||
           type == "untyped";
  }
  return false;
}

// name{label="value",...} value [timestamp]
bool PrometheusSample(const std::string& line, std::string* name) {
  size_t i = 0;
  if (!MetricNameAt(line, &i)) return false;
  *name = line.substr(0, i);
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      if (!MetricNameAt(line, &i, false)) return false;
      if (line.compare(i, 2, "=\"") != 0) return false;
      i += 2;
      while (i < line.size() && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
      if (i >= line.size()) return false;
      ++i;  // closing quote
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return false;
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') return false;
  std::istringstream rest(line.substr(i + 1));
  std::string value, timestamp, extra;
  rest >> value >> timestamp >> extra;
  return NumberIs(value) && extra.empty() &&
         (timestamp.empty() || timestamp.find_first_not_of("-0123456789") == std::string::npos);
}

TEST(ToolsCli, PrometheusLineChecksWork) {
  std::string name;
  EXPECT_TRUE(PrometheusSample("thrifty_keys{node=\"127.0.0.1:9900\"} 12", &name));
  EXPECT_EQ(name, "thrifty_keys");
  EXPECT_TRUE(PrometheusSample("up 1.5e3 1700000000000", &name));
  EXPECT_TRUE(PrometheusSample("a_b:c{x=\"q\\\"uote\",y=\"\"} NaN", &name));
  EXPECT_FALSE(PrometheusSample("thrifty keys 12", &name));
  EXPECT_FALSE(PrometheusSample("thrifty_keys{node=127} 12", &name));
  EXPECT_FALSE(PrometheusSample("thrifty_keys twelve", &name));
  EXPECT_FALSE(PrometheusSample("9lives 1", &name));
  EXPECT_TRUE(PrometheusComment("# TYPE thrifty_keys gauge"));
  EXPECT_TRUE(PrometheusComment("# HELP thrifty_keys Keys stored on the node."));
  EXPECT_FALSE(PrometheusComment("# TYPE thrifty_keys number"));
  EXPECT_FALSE(PrometheusComment("# hello"));
}

// ---- against a three-node cluster ----

class ToolsAgainstCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new Cluster("storeserver");
    for (int i = 0; i < 3; ++i) {
      if (cluster_->start({"--memory"}) < 0) return;
    }
    // Every node sees all three before the tools start.
    WaitFor(
        [] {
          for (int i = 0; i < 3; ++i) {
            std::vector<locator::wire::Location> all;
            try {
              cluster_->pool().call(cluster_->location(i), [&](diststore::wire::StoreClient& c) { c.get_all(all); });
            } catch (const std::exception&) {
              return false;
            }
            if (all.size() != 3) return false;
          }
          return true;
        },
        10000);
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(cluster_->size(), 3) << "the cluster did not start"; }

  static std::string Peer(int i) { return "--peer=" + rpc::ToString(cluster_->location(i)); }
  static std::vector<std::string> With(std::vector<std::string> flags, const std::vector<std::string>& more) {
    flags.insert(flags.end(), more.begin(), more.end());
    return flags;
  }

  static Cluster* cluster_;
};

Cluster* ToolsAgainstCluster::cluster_ = nullptr;

TEST_F(ToolsAgainstCluster, PutThenGetThroughEveryNode) {
  for (int writer = 0; writer < 3; ++writer) {
    const std::string key = "cli-key-" + std::to_string(writer);
    const std::string value = "value written through node " + std::to_string(writer);
    auto put = RunTool("storeput", {Peer(writer), key, value});
    ASSERT_EQ(put.status, 0) << Describe({"storeput", Peer(writer), key, value}, put);
    EXPECT_EQ(put.err, "");
    for (int reader = 0; reader < 3; ++reader) {
      auto get = RunTool("storeget", {Peer(reader), key});
      EXPECT_EQ(get.status, 0) << Describe({"storeget", Peer(reader), key}, get);
      EXPECT_EQ(get.out, value + "\n");
      EXPECT_EQ(get.err, "");
      // --direct: the node forwards instead of the client routing.
      get = RunTool("storeget", {Peer(reader), "--direct", key});
      EXPECT_EQ(get.status, 0) << Describe({"storeget", Peer(reader), "--direct", key}, get);
      EXPECT_EQ(get.out, value + "\n");
    }
  }
}

TEST_F(ToolsAgainstCluster, PutThenGetThroughDiscovery) {
  const auto discovery = cluster_->discovery_args();
  auto put = RunTool("storeput", With(discovery, {"cli-discovered", "found by scanning"}));
  ASSERT_EQ(put.status, 0) << Describe(With({"storeput"}, discovery), put);
  auto get = RunTool("storeget", With(discovery, {"cli-discovered"}));
  EXPECT_EQ(get.status, 0) << Describe(With({"storeget"}, discovery), get);
  EXPECT_EQ(get.out, "found by scanning\n");
  // Space-separated values work as well as --flag=value.
  get = RunTool("storeget", {"--discover-from", std::to_string(cluster_->first_port()), "--discover-to",
                         std::to_string(cluster_->last_port()), "cli-discovered"});
  EXPECT_EQ(get.status, 0) << get.err;
  EXPECT_EQ(get.out, "found by scanning\n");
}

TEST_F(ToolsAgainstCluster, PutReadsTheValueFromStdin) {
  std::string value;
  for (int b = 0; b < 256; ++b) value.push_back(static_cast<char>(b));  // NUL and all
  value += "\nand a second line\n";
  auto put = RunTool("storeput", {Peer(0), "cli-stdin", "-"}, value);
  ASSERT_EQ(put.status, 0) << put.err;
  auto get = RunTool("storeget", {Peer(1), "cli-stdin"});
  EXPECT_EQ(get.status, 0) << get.err;
  EXPECT_EQ(get.out, value);  // ends with a newline: none added

  // An empty stdin stores an empty value.
  put = RunTool("storeput", {Peer(2), "cli-empty", "-"}, "");
  ASSERT_EQ(put.status, 0) << put.err;
  get = RunTool("storeget", {Peer(0), "cli-empty"});
  EXPECT_EQ(get.status, 0) << get.err;
  EXPECT_EQ(get.out, "\n");

  // After "--", "-" is still the stdin marker and a key may start with a dash.
  put = RunTool("storeput", {Peer(0), "--", "-dashed-key", "-"}, "from stdin");
  ASSERT_EQ(put.status, 0) << put.err;
  get = RunTool("storeget", {Peer(1), "--", "-dashed-key"});
  EXPECT_EQ(get.status, 0) << get.err;
  EXPECT_EQ(get.out, "from stdin\n");
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(ToolsAgainstCluster, GetRawAndOutputAreByteExact) {
  TempDir dir;
  std::mt19937_64 rng(11);
  std::string big(3 * 1024 * 1024 + 17, '\0');  // a few MiB, NULs and all, no final newline
  for (auto& c : big) c = static_cast<char>(rng());
  big.back() = 'x';
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"cli-binary", std::string("\0\x01\xff binary\0\r\n\0tail", 19)},
      {"cli-newline", std::string("ends with a newline\0\n", 21)},
      {"cli-newlines", "\n\n"},
      {"cli-empty", ""},
      {"cli-big", big},
  };
  for (const auto& [key, value] : cases) {
    SCOPED_TRACE(key + " (" + std::to_string(value.size()) + " bytes)");
    // storeput reads stdin byte for byte.
    auto put = RunTool("storeput", {Peer(0), key, "-"}, value);
    ASSERT_EQ(put.status, 0) << put.err;

    auto get = RunTool("storeget", {Peer(1), "--raw", key});
    EXPECT_EQ(get.status, 0) << get.err;
    EXPECT_EQ(get.err, "");
    EXPECT_EQ(get.out.size(), value.size());
    EXPECT_TRUE(get.out == value) << "--raw changed the bytes";

    const std::string file = dir.path() + "/" + key;
    for (const std::string flag : {"-o", "--output"}) {
      std::filesystem::remove(file);
      get = RunTool("storeget", {Peer(2), flag, file, key});
      EXPECT_EQ(get.status, 0) << get.err;
      EXPECT_EQ(get.out, "") << flag;
      EXPECT_EQ(get.err, "") << flag;
      const std::string written = ReadAll(file);
      EXPECT_EQ(written.size(), value.size()) << flag;
      EXPECT_TRUE(written == value) << flag << " changed the bytes";
    }
    // -o=FILE, over a longer file: replaced, not overwritten in place.
    { std::ofstream(file, std::ios::binary) << std::string(value.size() + 100, '#'); }
    get = RunTool("storeget", {Peer(0), "-o=" + file, key});
    EXPECT_EQ(get.status, 0) << get.err;
    EXPECT_TRUE(ReadAll(file) == value);

    // The default stays text for a terminal: a newline unless the value ends with one.
    get = RunTool("storeget", {Peer(0), key});
    EXPECT_EQ(get.status, 0) << get.err;
    const bool newline = !value.empty() && value.back() == '\n';
    EXPECT_TRUE(get.out == (newline ? value : value + "\n"));
  }

  // An absent key: exit 1, and the file is neither created nor touched.
  const std::string file = dir.path() + "/absent";
  const std::vector<std::string> args = {Peer(0), "-o", file, "cli-never-written"};
  EXPECT_ONE_LINE_FAILURE(RunTool("storeget", args), 1, args);
  EXPECT_FALSE(std::filesystem::exists(file));
  // A file that cannot be written: exit 2, one line naming it.
  const std::string unwritable = dir.path() + "/no/such/dir/f";
  const std::vector<std::string> bad = {Peer(0), "--output", unwritable, "cli-binary"};
  const auto r = RunTool("storeget", bad);
  EXPECT_ONE_LINE_FAILURE(r, 2, bad);
  EXPECT_NE(r.err.find(unwritable), std::string::npos) << r.err;
}

TEST(ToolsCli, StoregetHelpShowsTheOutputOptions) {
  const auto r = RunTool("storeget", {"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("-o, --output FILE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--raw"), std::string::npos) << r.out;
}

TEST_F(ToolsAgainstCluster, GetOfAMissingKeyExitsOne) {
  for (int i = 0; i < 3; ++i) {
    const std::vector<std::string> args = {Peer(i), "cli-never-written"};
    EXPECT_ONE_LINE_FAILURE(RunTool("storeget", args), 1, args);
  }
  EXPECT_ONE_LINE_FAILURE(RunTool("storeget", With(cluster_->discovery_args(), {"cli-never-written"})), 1,
                          cluster_->discovery_args());
}

TEST_F(ToolsAgainstCluster, NoReachableNodeExitsTwo) {
  const int nothing = FreePortRange(4);
  const std::string peer = "--peer=127.0.0.1:" + std::to_string(nothing);
  const std::vector<std::string> range = {"--discover-from=" + std::to_string(nothing),
                                          "--discover-to=" + std::to_string(nothing + 3)};
  for (const auto& where : {std::vector<std::string>{peer}, range}) {
    EXPECT_ONE_LINE_FAILURE(RunTool("storeget", With(where, {"k"})), 2, With({"storeget"}, where));
    EXPECT_ONE_LINE_FAILURE(RunTool("storeput", With(where, {"k", "v"})), 2, With({"storeput"}, where));
    EXPECT_ONE_LINE_FAILURE(RunTool("storectl", With(where, {"members"})), 2, With({"storectl"}, where));
    EXPECT_ONE_LINE_FAILURE(RunTool("storeprimer", With(where, {"--count=10"})), 2, With({"storeprimer"}, where));
    EXPECT_ONE_LINE_FAILURE(RunTool("storetest", With(where, {"--count=10"})), 2, With({"storetest"}, where));
  }
}

TEST_F(ToolsAgainstCluster, PrimerThenTest) {
  auto primer = RunTool("storeprimer", {Peer(0), "--count", "2000"});
  ASSERT_EQ(primer.status, 0) << Describe({"storeprimer", Peer(0), "--count", "2000"}, primer);
  for (int i = 0; i < 3; ++i) {
    auto test = RunTool("storetest", {Peer(i), "--count=2000"});
    EXPECT_EQ(test.status, 0) << Describe({"storetest", Peer(i), "--count=2000"}, test);
    EXPECT_NE(test.out.find("found 2000 missing 0 wrong 0"), std::string::npos) << test.out;
  }
  // Asking for more than was primed: the rest is missing, exit 1.
  auto test = RunTool("storetest", {Peer(1), "--count=2500"});
  EXPECT_EQ(test.status, 1) << Describe({"storetest", Peer(1), "--count=2500"}, test);
  EXPECT_NE(test.out.find("found 2000 missing 500 wrong 0"), std::string::npos) << test.out;
  // Another value size: every value is wrong, exit 1.
  test = RunTool("storetest", {Peer(2), "--count=100", "--value-bytes=7"});
  EXPECT_EQ(test.status, 1) << test.out << test.err;
  EXPECT_NE(test.out.find("found 0 missing 0 wrong 100"), std::string::npos) << test.out;
}

TEST_F(ToolsAgainstCluster, StorectlMembersJson) {
  const auto r = RunTool("storectl", {Peer(0), "members", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  Json json;
  try {
    json = JsonParser(r.out).Parse();
  } catch (const std::exception& e) {
    FAIL() << e.what() << "\n" << r.out;
  }
  ASSERT_EQ(json.type, Json::kArray) << r.out;
  ASSERT_EQ(json.items.size(), 3u) << r.out;
  std::set<std::string> addresses;
  for (const auto& member : json.items) {
    ASSERT_EQ(member.type, Json::kObject) << r.out;
    ASSERT_EQ(member.fields.count("address"), 1u) << r.out;
    ASSERT_EQ(member.fields.count("state"), 1u) << r.out;
    EXPECT_EQ(member.fields.at("state").string, "ALIVE") << r.out;
    addresses.insert(member.fields.at("address").string);
  }
  std::set<std::string> expected;
  for (int i = 0; i < 3; ++i) expected.insert(rpc::ToString(cluster_->location(i)));
  EXPECT_EQ(addresses, expected) << r.out;

  // The other commands' JSON parses too.
  for (const std::string cmd : {"ring", "status", "stats"}) {
    const auto other = RunTool("storectl", {Peer(1), "--json", cmd});
    ASSERT_EQ(other.status, 0) << cmd << ": " << other.err;
    EXPECT_NO_THROW(JsonParser(other.out).Parse()) << cmd << ":\n" << other.out;
  }
}

// A bare locator node in this process, with metadata of our choosing (no flag sets metadata).
class MetadataNode {
 public:
  MetadataNode(std::map<std::string, std::string> metadata,
               std::vector<locator::wire::Location> peers) {
    locator::NodeOptions options;
    options.gossip = false;
    options.port = FreePortRange(1);
    options.discover_first = options.discover_last = options.port;
    options.peers = std::move(peers);
    options.metadata = std::move(metadata);
    options.server.workers = 8;
    node_ = std::make_unique<locator::LocatorNode>(
        options, std::vector<std::string>{"locator.Base", "locator.Locator"});
    node_->bind();
    locator::LocatorNode& node = *node_;
    using Service = rpc::PerConnection<locator::wire::LocatorProcessor, locator::wire::LocatorIf>;
    node_->start(std::make_shared<Service>(
        [&node](const rpc::ConnectionPeer& peer) { return std::make_shared<locator::LocatorHandler>(node, peer); }));
  }
  ~MetadataNode() { node_->stop(); }
  locator::wire::Location at() const { return node_->self_location(); }

 private:
  std::unique_ptr<locator::LocatorNode> node_;
};

TEST(ToolsCli, StorectlMembersJsonKeepsMetadata) {
  const std::string utf8 = "Z\xc3\xbcrich \xe2\x9c\x93 \xf0\x9f\x90\xb1";  // "Zürich ✓ 🐱"
  const std::string binary("\xff\xfe\x00raw\x80", 7);                          // not UTF-8
  const std::string quoted = "a \"quoted\" \\ line\nand\ttab";
  MetadataNode a({{"zone", utf8}, {"blob", binary}}, {});
  MetadataNode b({{"zone", "plain"}, {"note", quoted}}, {a.at()});
  const std::vector<std::string> args = {"--peer=" + rpc::ToString(a.at()), "members", "--json"};
  CommandResult r;
  ASSERT_TRUE(WaitFor(
      [&] {
        r = RunTool("storectl", args);
        return r.status == 0 && r.out.find(rpc::ToString(b.at())) != std::string::npos;
      },
      10000))
      << Describe(args, r);
  EXPECT_EQ(r.err, "");
  ASSERT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << "one line: " << r.out;

  nlohmann::json json;
  try {
    json = nlohmann::json::parse(r.out);  // strict: throws on anything that is not JSON
  } catch (const std::exception& e) {
    FAIL() << e.what() << "\n" << r.out;
  }
  EXPECT_NO_THROW(JsonParser(r.out).Parse()) << r.out;
  ASSERT_TRUE(json.is_array()) << r.out;
  std::map<std::string, nlohmann::json> members;
  for (const auto& m : json) {
    ASSERT_TRUE(m.is_object()) << r.out;
    for (const char* field : {"address", "state", "incarnation", "metadata"}) {
      ASSERT_TRUE(m.contains(field)) << field << ": " << r.out;
    }
    EXPECT_EQ(m.at("state"), "ALIVE") << r.out;
    EXPECT_TRUE(m.at("incarnation").is_number_integer()) << r.out;
    ASSERT_TRUE(m.at("metadata").is_object()) << r.out;
    members[m.at("address").get<std::string>()] = m.at("metadata");
  }
  ASSERT_EQ(members.size(), 2u) << r.out;
  ASSERT_EQ(members.count(rpc::ToString(a.at())), 1u) << r.out;
  ASSERT_EQ(members.count(rpc::ToString(b.at())), 1u) << r.out;
  const auto& meta_a = members[rpc::ToString(a.at())];
  const auto& meta_b = members[rpc::ToString(b.at())];
  // UTF-8 comes through as is, not as \u escapes.
  EXPECT_EQ(meta_a.at("zone"), utf8) << r.out;
  EXPECT_NE(r.out.find(utf8), std::string::npos) << r.out;
  // Bytes that are not UTF-8 are each replaced by U+FFFD; the NUL is escaped.
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(meta_a.at("blob"), fffd + fffd + std::string("\0raw", 4) + fffd) << r.out;
  EXPECT_EQ(meta_b.at("zone"), "plain");
  EXPECT_EQ(meta_b.at("note"), quoted);
  // Every member also has the node's own metadata (its weight).
  EXPECT_TRUE(meta_a.contains("weight")) << r.out;
  EXPECT_TRUE(meta_b.contains("weight")) << r.out;
}

TEST_F(ToolsAgainstCluster, StorectlStatusListsTheNodes) {
  const auto r = RunTool("storectl", {Peer(2), "status"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  // nodetool's legend, then one line per node: CODE ADDRESS LOAD ... (tests/cluster/
  // storectl_test.cc reads every column), e.g. "UN  127.0.0.1:9900  1.2 KiB  12  33.4%  ...".
  EXPECT_NE(r.out.find("Status=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n--  Address"),
            std::string::npos) << r.out;
  std::map<std::string, std::vector<std::string>> rows;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::vector<std::string> row;
    for (std::string w; words >> w;) row.push_back(w);
    if (row.size() > 1) rows[row[1]] = row;
  }
  for (int i = 0; i < 3; ++i) {
    const auto it = rows.find(rpc::ToString(cluster_->location(i)));
    ASSERT_NE(it, rows.end()) << "node " << i << " missing:\n" << r.out;
    const auto& row = it->second;
    ASSERT_GE(row.size(), 6u) << r.out;
    EXPECT_EQ(row[0], "UN") << r.out;
    EXPECT_TRUE(row[2].find_first_not_of("0123456789.") == std::string::npos) << "load: " << row[2];
    EXPECT_TRUE(row[3] == "B" || row[3] == "KiB" || row[3] == "MiB") << "load: " << row[3];
    EXPECT_EQ(row[4].find_first_not_of("0123456789"), std::string::npos) << "keys: " << row[4];
    EXPECT_TRUE(row[5].size() > 1 && row[5].back() == '%' &&
                row[5].find_first_not_of("0123456789.") == row[5].size() - 1)
        << "ownership: " << row[5];
  }
  // The same through discovery, and the plain members and ring tables.
  const auto discovered = RunTool("storectl", With(cluster_->discovery_args(), {"status"}));
  EXPECT_EQ(discovered.status, 0) << discovered.err;
  for (const std::string cmd : {"members", "ring", "stats"}) {
    const auto other = RunTool("storectl", {Peer(0), cmd});
    EXPECT_EQ(other.status, 0) << cmd << ": " << other.err;
    EXPECT_FALSE(other.out.empty()) << cmd;
  }
  const auto unknown = RunTool("storectl", {Peer(0), "frobnicate"});
  EXPECT_ONE_LINE_FAILURE(unknown, 2, std::vector<std::string>({"storectl", "frobnicate"}));
}

TEST_F(ToolsAgainstCluster, StorectlMetricsIsPrometheusText) {
  const auto r = RunTool("storectl", {Peer(0), "metrics"});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  ASSERT_EQ(r.out.back(), '\n');
  // Exposition format: comments (# HELP / # TYPE) and samples NAME{LABELS} VALUE.
  std::set<std::string> names;
  size_t start = 0;
  while (start < r.out.size()) {
    const size_t end = r.out.find('\n', start);
    const std::string line = r.out.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    if (line[0] == '#') {
      EXPECT_TRUE(PrometheusComment(line)) << "bad comment line: " << line;
      continue;
    }
    std::string name;
    EXPECT_TRUE(PrometheusSample(line, &name)) << "bad sample line: " << line;
    names.insert(name);
  }
  EXPECT_GE(names.size(), 5u) << r.out;
  EXPECT_EQ(names.count("thrifty_keys"), 1u) << r.out;
  EXPECT_EQ(names.count("thrifty_ring_nodes"), 1u) << r.out;
}

// ---- storeserver's data directory ----

// Nodes started while it lives run in `dir` (a child inherits the working directory).
class ScopedWorkingDir {
 public:
  explicit ScopedWorkingDir(const std::string& dir) : previous_(std::filesystem::current_path()) {
    std::filesystem::current_path(dir);
  }
  ~ScopedWorkingDir() {
    std::error_code ec;
    std::filesystem::current_path(previous_, ec);
  }

 private:
  std::filesystem::path previous_;
};

// Permission bits of `path`, or -1 if it is not a directory.
int DirMode(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

// Whether `line` is a glog line: "I1130 10:53:20.627246 12431 file.cc:69] ..." (glog 0.6 and
// later put the year in: "I20261130 ...").
bool GlogLine(const std::string& line) {
  if (line.empty() || std::string("IWEF").find(line[0]) == std::string::npos) return false;
  size_t i = 1;
  while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
  if ((i != 5 && i != 9) || line.compare(i, 1, " ") != 0) return false;
  const std::string time = line.substr(i + 1, 8);  // hh:mm:ss
  return time.size() == 8 && time[2] == ':' && time[5] == ':' &&
         line.find("] ", i) != std::string::npos;
}

// The lines of `text` that are not glog lines: what a node says besides its log.
std::vector<std::string> NonLogLines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!GlogLine(line)) out.push_back(line);
  }
  return out;
}

TEST(StoreserverDataDir, DefaultAndNestedDirectoriesAreCreated) {
  Cluster cluster("storeserver");
  int first = -1, nested = -1;
  {
    // Started from a fresh directory: no ./data yet.
    ScopedWorkingDir cwd(cluster.dir());
    first = cluster.start();
    nested = cluster.start({"--data-dir=deep/er/store"});
  }
  ASSERT_EQ(first, 0) << "storeserver did not start without an existing ./data";
  ASSERT_EQ(nested, 1) << "storeserver did not start on a nested --data-dir";
  const std::string data = cluster.dir() + "/data";
  const std::string own = data + "/" + std::to_string(cluster.port(0));
  EXPECT_EQ(DirMode(data), 0700);
  EXPECT_EQ(DirMode(own), 0700);
  EXPECT_TRUE(std::filesystem::exists(own + "/CURRENT")) << "RocksDB opened it";
  for (const std::string part : {"/deep", "/deep/er", "/deep/er/store"}) {
    EXPECT_EQ(DirMode(cluster.dir() + part), 0700) << part;
  }
  EXPECT_TRUE(std::filesystem::exists(cluster.dir() + "/deep/er/store/CURRENT"));

  // The nodes work, and keep their data across a restart on the same directories.
  const std::vector<std::string> put = {"--peer=" + rpc::ToString(cluster.location(0)), "k", "v"};
  ASSERT_EQ(RunTool("storeput", put).status, 0);
  EXPECT_EQ(cluster.terminate(1), 0) << cluster.log(1);
  EXPECT_EQ(cluster.terminate(0), 0) << cluster.log(0);
  {
    ScopedWorkingDir cwd(cluster.dir());
    cluster.restart(0);
  }
  const auto get = RunTool("storeget", {"--peer=" + rpc::ToString(cluster.location(0)), "k"});
  EXPECT_EQ(get.status, 0) << get.err;
  EXPECT_EQ(get.out, "v\n");
  EXPECT_EQ(cluster.terminate(0), 0) << cluster.log(0);
}

// Runs storeserver on `data_dir` (kept away from real nodes) and expects exit 2 and one error
// line naming the directory, instead of RocksDB's words. (The node logged its start before it
// got to the data directory: those glog lines are not errors.)
void ExpectDataDirRefused(const std::string& data_dir) {
  const int nowhere = FreePortRange(1);
  const std::vector<std::string> args = {"--discover-from=" + std::to_string(nowhere),
                                         "--discover-to=" + std::to_string(nowhere),
                                         "--data-dir=" + data_dir};
  std::vector<std::string> argv = {"storeserver"};
  argv.insert(argv.end(), args.begin(), args.end());
  // A node that went on would run until killed: a short deadline.
  const auto r = RunTool("storeserver", args, "", 20000);
  EXPECT_EQ(r.status, 2) << Describe(argv, r);
  EXPECT_EQ(r.out, "") << Describe(argv, r);
  const auto lines = NonLogLines(r.err);
  ASSERT_EQ(lines.size(), 1u) << Describe(argv, r);
  EXPECT_EQ(lines[0].rfind("storeserver: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("'" + data_dir + "'"), std::string::npos) << "the error should name it: "
                                                                    << lines[0];
  EXPECT_EQ(r.err.find("RocksDB"), std::string::npos) << r.err;
}

TEST(StoreserverDataDir, AFileInTheWayIsOneErrorLineAndExitTwo) {
  TempDir dir;
  const std::string file = dir.path() + "/not-a-dir";
  std::ofstream(file) << "x";
  ExpectDataDirRefused(file);
  ExpectDataDirRefused(file + "/below");
  EXPECT_EQ(ReadAll(file), "x") << "left alone";
}

TEST(StoreserverDataDir, AnUnwritableDirectoryIsOneErrorLineAndExitTwo) {
  if (geteuid() == 0) GTEST_SKIP() << "root writes through permission bits";
  TempDir dir;
  const std::string locked = dir.path() + "/locked";
  ASSERT_EQ(mkdir(locked.c_str(), 0500), 0);
  ExpectDataDirRefused(locked);
  ExpectDataDirRefused(locked + "/inside");
  chmod(locked.c_str(), 0700);  // so that TempDir can remove it
}

TEST(StoreserverReplicationFlags, BadValuesAreOneErrorLineAndExitTwo) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--replicas=0"}, "--replicas must be in 1..7"},
      {{"--replicas=8"}, "--replicas must be in 1..7"},
      {{"--read-consistency=two"}, "unknown consistency level 'two'"},
      {{"--write-consistency=most"}, "unknown consistency level 'most'"},
      {{"--max-hint-window-s=-5"}, "--max-hint-window-s must be >= 0"},
      {{"--anti-entropy-interval-s=-1"}, "--anti-entropy-interval-s must be in 0..604800"},
      {{"--anti-entropy-interval-s=604801"}, "--anti-entropy-interval-s must be in 0..604800"},
      {{"--gc-grace-s=0"}, "--gc-grace-s must be in 1..315360000"},
      {{"--gc-grace-s=9223372036854775807"}, "--gc-grace-s must be in 1..315360000"},
  };
  for (const auto& [flags, expected] : cases) {
    std::vector<std::string> argv = {BinDir() + "/storeserver", "--memory"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const auto result = RunCommand(argv, "", 10000);
    EXPECT_EQ(result.status, 2) << flags.front() << ": " << result.err;
    EXPECT_NE(result.err.find(expected), std::string::npos) << flags.front() << ": " << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
}

}  // namespace
}  // namespace thrifty::testing
