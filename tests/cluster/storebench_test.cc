// storebench against the real servers it compares thrifty with: a memcached and a redis-server
// on free loopback ports (killed by pid when a test ends). Each run prefills, measures for a
// second, and must report requests and no errors, with the same --json fields for every target;
// bad --target URLs exit 2 with one line.
//
// memcached and redis-server come from Debian's packages memcached and redis-server
// (scripts/deps installs them); without them the tests fail, saying so.
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/cluster/harness.h"

namespace thrifty::testing {
namespace {

using Json = nlohmann::json;

// `name` on PATH, or "".
std::string FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Sends `request` to 127.0.0.1:port and returns what arrives until `done` says the reply is
// whole, the peer closes, or a second passes ("" if nothing listens).
std::string Exchange(int port, const std::string& request, bool (*done)(const std::string&)) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const timeval timeout{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string reply;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    while (!done(reply)) {
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      reply.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return reply;
}

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
bool LineDone(const std::string& s) { return EndsWith(s, "\r\n"); }
// A whole RESP bulk string: "$LEN\r\n" and LEN bytes and "\r\n" (or an error line).
bool BulkDone(const std::string& s) {
  const size_t eol = s.find("\r\n");
  if (eol == std::string::npos) return false;
  if (s[0] != '$') return true;
  const long len = std::strtol(s.c_str() + 1, nullptr, 10);
  return len < 0 || s.size() >= eol + 2 + static_cast<size_t>(len) + 2;
}
bool GetDone(const std::string& s) { return EndsWith(s, "END\r\n") || EndsWith(s, "ERROR\r\n"); }

// A server started on a free loopback port, stopped by pid on destruction.
class Server {
 public:
  ~Server() { StopProcess(pid_, SIGTERM, 5000); }

  // Starts argv + the port's flags and waits (at most 10 s) until `answers` says it is up.
  bool start(std::vector<std::string> argv, const std::string& port_flag, const std::string& log,
             bool (*answers)(int port)) {
    port_ = FreePortRange(1);
    argv.push_back(port_flag);
    argv.push_back(std::to_string(port_));
    log_ = log;
    pid_ = StartProcess(argv, log_);
    return WaitFor([&] { return answers(port_); }, 10000, 50);
  }
  int port() const { return port_; }
  const std::string& log() const { return log_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_;
};

bool MemcachedAnswers(int port) { return Exchange(port, "version\r\n", LineDone).rfind("VERSION ", 0) == 0; }
bool RedisAnswers(int port) { return Exchange(port, "PING\r\n", LineDone) == "+PONG\r\n"; }

std::string UserName() {
  const passwd* pw = getpwuid(getuid());
  return pw ? pw->pw_name : "root";
}

// memcached on 127.0.0.1 with Debian's defaults (-u: it refuses to run as root without one).
bool StartMemcached(Server& server, const TempDir& dir) {
  const std::string binary = FindProgram("memcached");
  EXPECT_FALSE(binary.empty()) << "memcached is not installed (not on PATH): scripts/deps installs it "
                                  "(Debian package memcached); this test needs a real memcached";
  if (binary.empty()) return false;
  const bool up = server.start({binary, "-l", "127.0.0.1", "-U", "0", "-m", "64", "-u", UserName()}, "-p",
                               dir.path() + "/memcached.log", MemcachedAnswers);
  EXPECT_TRUE(up) << "memcached did not answer on 127.0.0.1:" << server.port();
  return up;
}

// A Redis server without persistence; with `primary_port`, a replica of the Redis there.
bool StartRedis(Server& server, const TempDir& dir, int primary_port = 0) {
  const std::string binary = FindProgram("redis-server");
  EXPECT_FALSE(binary.empty()) << "redis-server is not installed (not on PATH): scripts/deps installs it "
                                  "(Debian package redis-server); this test needs a real Redis";
  if (binary.empty()) return false;
  const std::string name = primary_port ? "redis-replica-of-" + std::to_string(primary_port) : "redis";
  std::filesystem::create_directories(dir.path() + "/" + name);
  std::vector<std::string> argv = {binary, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                                   dir.path() + "/" + name, "--daemonize", "no"};
  if (primary_port) {
    argv.insert(argv.end(), {"--replicaof", "127.0.0.1", std::to_string(primary_port)});
  }
  const bool up = server.start(argv, "--port", dir.path() + "/" + name + ".log", RedisAnswers);
  EXPECT_TRUE(up) << "redis-server did not answer on 127.0.0.1:" << server.port();
  return up;
}

std::string Describe(const std::vector<std::string>& argv, const CommandResult& r) {
  std::string out = "$";
  for (const auto& a : argv) out += " " + a;
  return out + "\nexit " + std::to_string(r.status) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

// storebench ARGS --json; fails the test (and returns null) unless it exits 0 with JSON.
Json RunStorebench(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BinDir() + "/storebench"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--json");
  const CommandResult r = RunCommand(argv, "", 30000);
  EXPECT_EQ(r.status, 0) << Describe(argv, r);
  if (r.status != 0) return Json();
  Json out = Json::parse(r.out, nullptr, false);
  EXPECT_FALSE(out.is_discarded()) << Describe(argv, r);
  return out.is_discarded() ? Json() : out;
}

constexpr int kKeyspace = 5000;

// A one-second GET run after a prefill: requests, every key found, no errors.
Json PrefillAndGet(const std::string& target) {
  Json r = RunStorebench({"--target", target, "--prefill", "--keyspace", std::to_string(kKeyspace),
                          "--seconds", "1", "--warmup", "0.2", "--connections", "4", "--threads", "2"});
  if (r.is_null()) return r;
  EXPECT_EQ(r["prefill"]["keys"], kKeyspace) << r.dump();
  EXPECT_GT(r["requests"].get<uint64_t>(), 100u) << r.dump();
  EXPECT_EQ(r["requests"], r["gets"]) << r.dump();
  EXPECT_EQ(r["errors"], 0) << r.dump();
  EXPECT_EQ(r["misses"], 0) << "the prefill wrote every key\n" << r.dump();
  EXPECT_GT(r["latency_us"]["p50"].get<double>(), 0) << r.dump();
  EXPECT_GE(r["latency_us"]["p99"].get<double>(), r["latency_us"]["p50"].get<double>()) << r.dump();
  return r;
}

std::vector<std::string> Fields(const Json& j) {
  std::vector<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) out.push_back(it.key());
  return out;
}

TEST(Storebench, DrivesMemcachedWithTheSameLoadAndOutputAsRedis) {
  TempDir dir;
  Server memcached, redis;
  ASSERT_TRUE(StartMemcached(memcached, dir)) << "log: " << memcached.log();
  ASSERT_TRUE(StartRedis(redis, dir)) << "log: " << redis.log();
  const std::string mc = "memcached://127.0.0.1:" + std::to_string(memcached.port());

  const Json m = PrefillAndGet(mc);
  ASSERT_FALSE(m.is_null());
  EXPECT_EQ(m["target"], "memcached");
  EXPECT_EQ(m["routing"], "memcached");
  EXPECT_EQ(m["address"], "127.0.0.1:" + std::to_string(memcached.port()));
  EXPECT_EQ(m["connections"], 4);
  EXPECT_EQ(m["threads"], 2);

  // The prefill really stored the values in memcached (100 bytes each by default).
  const std::string got = Exchange(memcached.port(), "get key:000000000000 key:" + std::to_string(kKeyspace + 1000) +
                                                         "\r\n", GetDone);
  EXPECT_EQ(got.rfind("VALUE key:000000000000 0 100\r\n", 0), 0u) << got;
  EXPECT_TRUE(EndsWith(got, "END\r\n")) << got;

  // Batches: multi-key gets and pipelined sets, half and half, on the prefilled keys.
  const Json b = RunStorebench({"--target", mc, "--batch", "8", "--ratio", "1:1", "--keyspace",
                                std::to_string(kKeyspace), "--seconds", "0.4", "--warmup", "0",
                                "--connections", "3", "--threads", "1"});
  ASSERT_FALSE(b.is_null());
  EXPECT_EQ(b["errors"], 0) << b.dump();
  EXPECT_EQ(b["misses"], 0) << b.dump();
  EXPECT_GT(b["gets"].get<uint64_t>(), 0u) << b.dump();
  EXPECT_GT(b["puts"].get<uint64_t>(), 0u) << b.dump();
  EXPECT_EQ(b["keys"].get<uint64_t>(), 8 * b["requests"].get<uint64_t>()) << b.dump();
  // Multi-key gets over twice the prefilled keyspace: about half the keys miss.
  const Json g = RunStorebench({"--target", mc, "--batch", "8", "--keyspace", std::to_string(2 * kKeyspace),
                                "--seconds", "0.4", "--warmup", "0", "--connections", "2", "--threads", "1"});
  ASSERT_FALSE(g.is_null());
  EXPECT_EQ(g["errors"], 0) << g.dump();
  const double missed = g["misses"].get<double>() / g["keys"].get<double>();
  EXPECT_GT(missed, 0.4) << g.dump();
  EXPECT_LT(missed, 0.6) << g.dump();

  // Redis through the same program: the same JSON fields.
  const Json r = PrefillAndGet("redis://127.0.0.1:" + std::to_string(redis.port()));
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["target"], "redis");
  EXPECT_EQ(Fields(m), Fields(r));
}

// Redis with one replica: with --redis-wait 1 every PUT is a SET and then WAIT 1 0, so it is
// done once the replica has it; asking for 2 replicas of a Redis that has 1 never completes
// (WAIT with timeout 0 blocks) and the run fails at the request deadline, which a PUT without
// WAIT would not.
TEST(Storebench, RedisWaitMakesEveryPutWaitForItsReplicas) {
  TempDir dir;
  Server primary, replica;
  ASSERT_TRUE(StartRedis(primary, dir)) << "log: " << primary.log();
  ASSERT_TRUE(StartRedis(replica, dir, primary.port())) << "log: " << replica.log();
  const auto linked = [&] {
    return Exchange(primary.port(), "INFO replication\r\n", BulkDone).find("connected_slaves:1") !=
               std::string::npos &&
           Exchange(replica.port(), "INFO replication\r\n", BulkDone).find("master_link_status:up") !=
               std::string::npos;
  };
  ASSERT_TRUE(WaitFor(linked, 20000, 50)) << "the replica did not link up; log: " << replica.log();
  const std::string url = "redis://127.0.0.1:" + std::to_string(primary.port());

  const Json r = RunStorebench({"--target", url, "--redis-wait", "1", "--prefill", "--keyspace",
                                std::to_string(kKeyspace), "--ratio", "0:1", "--seconds", "0.5", "--warmup", "0",
                                "--connections", "4", "--threads", "2"});
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["redis_wait"], 1) << r.dump();
  EXPECT_EQ(r["prefill"]["keys"], kKeyspace) << r.dump();
  EXPECT_GT(r["puts"].get<uint64_t>(), 10u) << r.dump();
  EXPECT_EQ(r["errors"], 0) << r.dump();
  // Acknowledged by the replica: it holds the last key of the prefill now.
  const std::string last = "key:" + std::string(12 - std::to_string(kKeyspace - 1).size(), '0') +
                           std::to_string(kKeyspace - 1);
  EXPECT_EQ(Exchange(replica.port(), "GET " + last + "\r\n", BulkDone).rfind("$100\r\n", 0), 0u) << last;

  const std::vector<std::string> too_many = {BinDir() + "/storebench", "--target", url, "--redis-wait", "2",
                                             "--ratio", "0:1", "--seconds", "0.3", "--warmup", "0",
                                             "--timeout-ms", "300"};
  const CommandResult blocked = RunCommand(too_many, "", 20000);
  EXPECT_EQ(blocked.status, 2) << Describe(too_many, blocked);
  EXPECT_NE(blocked.err.find("reading a reply failed"), std::string::npos) << Describe(too_many, blocked);
  // The same run without WAIT completes: the failure above is the WAIT's.
  const Json plain = RunStorebench({"--target", url, "--ratio", "0:1", "--seconds", "0.3", "--warmup", "0",
                                    "--timeout-ms", "300"});
  ASSERT_FALSE(plain.is_null());
  EXPECT_EQ(plain["errors"], 0) << plain.dump();
  EXPECT_EQ(plain["redis_wait"], 0) << plain.dump();
}

TEST(Storebench, BadTargetsExitTwoWithOneLine) {
  const int nowhere = FreePortRange(1);  // nothing listens there
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"memcached://", "no host"},
      {"memcached://:11211", "no host"},
      {"memcached://127.0.0.1:abc", "port is not a number"},
      {"memcached://127.0.0.1:70000", "outside 1..65535"},
      {"memcache://127.0.0.1:11211", "--target must be"},
      {"http://127.0.0.1:11211", "--target must be"},
      {"memcached://127.0.0.1:" + std::to_string(nowhere), "cannot connect to memcached"},
  };
  for (const auto& [url, says] : cases) {
    const std::vector<std::string> argv = {BinDir() + "/storebench", "--target", url, "--seconds", "0.1"};
    const CommandResult r = RunCommand(argv, "", 20000);
    EXPECT_EQ(r.status, 2) << Describe(argv, r);
    EXPECT_EQ(r.out, "") << Describe(argv, r);
    EXPECT_EQ(r.err.rfind("storebench: ", 0), 0u) << Describe(argv, r);
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line\n" << Describe(argv, r);
    EXPECT_NE(r.err.find(says), std::string::npos) << Describe(argv, r);
  }
  // Exclusive with the thrifty-only flags, and --redis-wait with everything but Redis.
  for (const auto& extra : std::vector<std::vector<std::string>>{
           {"--peer", "127.0.0.1:1"}, {"--ring-aware"}, {"--consistency", "quorum"}, {"--redis-wait", "1"}}) {
    std::vector<std::string> argv = {BinDir() + "/storebench", "--target", "memcached://127.0.0.1:1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const CommandResult r = RunCommand(argv, "", 20000);
    EXPECT_EQ(r.status, 2) << Describe(argv, r);
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line\n" << Describe(argv, r);
  }
  for (const auto& [extra, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--consistency", "most"}, "unknown consistency level 'most' (expected default, one, quorum, all)"},
           {{"--redis-wait", "1"}, "--redis-wait applies to Redis only"}}) {
    std::vector<std::string> argv = {BinDir() + "/storebench", "--peer", "127.0.0.1:1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const CommandResult r = RunCommand(argv, "", 20000);
    EXPECT_EQ(r.status, 2) << Describe(argv, r);
    EXPECT_NE(r.err.find(says), std::string::npos) << Describe(argv, r);
  }
}

TEST(Storebench, AServerThatIsNotMemcachedIsRefusedAtConnect) {
  TempDir dir;
  Server redis;
  ASSERT_TRUE(StartRedis(redis, dir)) << "log: " << redis.log();
  const std::vector<std::string> argv = {BinDir() + "/storebench", "--target",
                                         "memcached://127.0.0.1:" + std::to_string(redis.port()), "--seconds", "0.1"};
  const CommandResult r = RunCommand(argv, "", 20000);
  EXPECT_EQ(r.status, 2) << Describe(argv, r);
  EXPECT_NE(r.err.find("does not answer 'version' like memcached"), std::string::npos) << Describe(argv, r);
}

}  // namespace
}  // namespace thrifty::testing
