// The echo example end to end: two echo_server processes form a cluster, and echo_client
// reaches the owner of each key through either of them.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "Locator.h"
#include "locator/rpc/address.h"
#include "locator/rpc/connection_pool.h"
#include "tests/cluster/harness.h"


namespace thrifty::testing {
namespace {

namespace wire = locator::wire;

std::string EchoBin(const std::string& name) {
  const char* dir = std::getenv("THRIFTY_ECHO_BIN");
  return std::string(dir ? dir : "examples/echo") + "/" + name;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The port in the server's first line, "echo_server HOST:PORT: ...", or 0 before it is there.
int AnnouncedPort(const std::string& text) {
  const std::string prefix = "echo_server ";
  const size_t at = text.find(prefix);
  if (at == std::string::npos) return 0;
  const size_t end = text.find(": ", at + prefix.size());
  const size_t colon = end == std::string::npos ? end : text.rfind(':', end - 1);
  if (colon == std::string::npos || colon < at + prefix.size()) return 0;
  const std::string digits = text.substr(colon + 1, end - colon - 1);
  if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos) {
    return 0;
  }
  return std::stoi(digits);
}

// One echo_server process, killed by its pid when it goes out of scope.
class EchoServer {
 public:
  EchoServer(const std::string& log_path, std::vector<std::string> args) : log_(log_path) {
    std::vector<std::string> argv = {EchoBin("echo_server")};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const int log_fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec. If this test dies without running
      // its destructors (a crash, a ctest timeout), the kernel kills the server too.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(null_fd, 0);
      dup2(log_fd, 1);
      dup2(log_fd, 2);
      execv(cargv[0], cargv.data());
      _exit(127);
    }
    close(log_fd);
    close(null_fd);
  }
  ~EchoServer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  // Waits for "echo_server HOST:PORT: ..." and a ping answered on that port.
  bool WaitReady(rpc::ConnectionPool<wire::LocatorClient>& pool, int timeout_ms) {
    return WaitFor(
        [&] {
          if (!running()) return true;  // reported below
          port_ = AnnouncedPort(log());
          if (port_ == 0) return false;
          try {
            pool.call(location(), [](wire::LocatorClient& c) { c.ping(); });
            return true;
          } catch (const std::exception&) {
            return false;
          }
        },
        timeout_ms, 25) && running();
  }

  // SIGTERM, then the exit status within the deadline (-1 if it did not exit).
  int Terminate(int timeout_ms) {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int result = -1;
    WaitFor(
        [&] {
          int status = 0;
          if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
          result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          pid_ = -1;
          return true;
        },
        timeout_ms, 20);
    return result;
  }

  bool running() {
    if (pid_ <= 0) return false;
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }
  wire::Location location() const { return rpc::MakeLocation("127.0.0.1", port_); }
  std::string log() const { return ReadAll(log_); }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

int64_t Echoes(rpc::ConnectionPool<wire::LocatorClient>& pool, const wire::Location& node) {
  std::map<std::string, int64_t> stats;
  pool.call(node, [&](wire::LocatorClient& c) { c.stats(stats); });
  return stats.count("echoes") ? stats["echoes"] : -1;
}

TEST(EchoExample, CommandLine) {
  for (const std::string tool : {"echo_server", "echo_client"}) {
    const auto help = RunCommand({EchoBin(tool), "--help"});
    EXPECT_EQ(help.status, 0) << help.err;
    EXPECT_NE(help.out.find("usage: " + tool), std::string::npos) << help.out;
    const auto unknown = RunCommand({EchoBin(tool), "--no-such-flag", "x"});
    EXPECT_EQ(unknown.status, 2);
    EXPECT_EQ(std::count(unknown.err.begin(), unknown.err.end(), '\n'), 1) << unknown.err;
  }
  const auto bad_port = RunCommand({EchoBin("echo_server"), "--port=70000"}, "", 20000);
  EXPECT_EQ(bad_port.status, 2) << bad_port.err;
  const auto no_text = RunCommand({EchoBin("echo_client"), "--peer=127.0.0.1:1"});
  EXPECT_EQ(no_text.status, 2) << no_text.err;
}

TEST(EchoExample, TheOwnerOfEachKeyAnswersThroughEitherServer) {
  TempDir dir;
  rpc::ConnectionPool<wire::LocatorClient> pool;
  const int first = FreePortRange(10);
  const std::vector<std::string> range = {"--discover-from=" + std::to_string(first),
                                          "--discover-to=" + std::to_string(first + 9)};
  // The first starts a cluster; the second finds it by scanning the range and joins it.
  EchoServer a(dir.path() + "/a.log", range);
  ASSERT_TRUE(a.WaitReady(pool, 20000)) << "echo server a did not start:\n" << a.log();
  EchoServer b(dir.path() + "/b.log", range);
  ASSERT_TRUE(b.WaitReady(pool, 20000)) << "echo server b did not start:\n" << b.log();
  EXPECT_NE(b.log().find("and joined its cluster"), std::string::npos) << b.log();

  const std::set<std::string> both = {rpc::ToString(a.location()), rpc::ToString(b.location())};
  auto ring_of = [&](const wire::Location& node) {
    std::vector<wire::Location> all;
    pool.call(node, [&](wire::LocatorClient& c) { c.get_all(all); });
    std::set<std::string> names;
    for (const auto& l : all) names.insert(rpc::ToString(l));
    return names;
  };
  ASSERT_TRUE(WaitFor([&] { return ring_of(a.location()) == both && ring_of(b.location()) == both; },
                      10000));
  std::string type;
  pool.call(a.location(), [&](wire::LocatorClient& c) { c.service_type(type); });
  EXPECT_EQ(type, "echo.Echo");

  std::map<std::string, int> answered;  // owner -> echoes it answered
  for (int i = 0; i < 24; ++i) {
    const std::string text = "hello, echo #" + std::to_string(i);
    const wire::Location& entry = i % 2 ? b.location() : a.location();
    // Who should answer: both servers agree on the owner.
    wire::Location owner_a, owner_b;
    pool.call(a.location(), [&](wire::LocatorClient& c) { c.get_node(owner_a, text); });
    pool.call(b.location(), [&](wire::LocatorClient& c) { c.get_node(owner_b, text); });
    ASSERT_EQ(owner_a, owner_b);
    const int64_t before = Echoes(pool, owner_a);

    const auto r = RunCommand({EchoBin("echo_client"), "--peer=" + rpc::ToString(entry), text}, "",
                              30000);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "owner: " + rpc::ToString(owner_a) + "\necho: " + text + "\n");
    // The owner counted the call.
    EXPECT_EQ(Echoes(pool, owner_a), before + 1) << "the owner did not answer " << text;
    ++answered[rpc::ToString(owner_a)];
  }
  // Both servers own some of the keys (24 keys on 2 nodes: all on one is a 1 in 8 million event).
  EXPECT_EQ(answered.size(), 2u);
  int total = 0;
  for (const auto& node : {a.location(), b.location()}) total += static_cast<int>(Echoes(pool, node));
  EXPECT_EQ(total, 24) << "only owners answer";

  // --key picks the owner independently of the text.
  wire::Location owner;
  pool.call(a.location(), [&](wire::LocatorClient& c) { c.get_node(owner, "user:42"); });
  const auto keyed = RunCommand({EchoBin("echo_client"), "--peer=" + rpc::ToString(b.location()),
                                 "--key=user:42", "any text"});
  EXPECT_EQ(keyed.status, 0) << keyed.err;
  EXPECT_EQ(keyed.out, "owner: " + rpc::ToString(owner) + "\necho: any text\n");

  // No node there: exit 1 with one line.
  const auto dead = RunCommand({EchoBin("echo_client"), "--peer=127.0.0.1:" + std::to_string(first + 9),
                                "--timeout-ms=2000", "x"});
  EXPECT_EQ(dead.status, 1);
  EXPECT_EQ(std::count(dead.err.begin(), dead.err.end(), '\n'), 1) << dead.err;

  // A clean leave: exit 0, and the other server's ring shrinks to itself.
  EXPECT_EQ(b.Terminate(30000), 0) << b.log();
  EXPECT_TRUE(WaitFor([&] { return ring_of(a.location()) == std::set<std::string>{rpc::ToString(a.location())}; },
                      10000));
  const auto alone = RunCommand({EchoBin("echo_client"), "--peer=" + rpc::ToString(a.location()), "solo"});
  EXPECT_EQ(alone.status, 0) << alone.err;
  EXPECT_EQ(alone.out, "owner: " + rpc::ToString(a.location()) + "\necho: solo\n");
  EXPECT_EQ(a.Terminate(30000), 0) << a.log();
}

}  // namespace
}  // namespace thrifty::testing
