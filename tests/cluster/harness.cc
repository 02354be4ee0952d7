#include "tests/cluster/harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "locator/membership/key_ring.h"
#include "locator/rpc/address.h"

extern char** environ;

namespace thrifty::testing {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string BinDir() {
  const char* dir = std::getenv("THRIFTY_BIN");
  return dir ? dir : "build/bin";
}

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp ? tmp : "/tmp") + "/thrifty-test-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

bool WaitFor(const std::function<bool()>& pred, int timeout_ms, int interval_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
}

namespace {

bool PortFree(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  if (!ok) return false;
  // The gossip endpoint uses the same number over UDP.
  fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  const bool udp_ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return udp_ok;
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path,
            const std::string& err_path, int stdin_fd = -1) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdin_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + " failed: " + std::strerror(rc));
  return pid;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Waits for pid to exit within timeout; returns its status (exit code or 128+signal), -1 if not.
int WaitExit(pid_t pid, int timeout_ms) {
  int result = -1;
  WaitFor(
      [&] {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
          result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          return true;
        }
        return r < 0;  // not our child any more
      },
      timeout_ms, 20);
  return result;
}

}  // namespace

int FreePortRange(int count) {
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int base = std::uniform_int_distribution<int>(20000, 50000)(rng);
    bool all = true;
    for (int p = base; p < base + count && all; ++p) all = PortFree(p);
    if (all) return base;
  }
  throw std::runtime_error("no range of free ports found");
}

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input,
                         int timeout_ms) {
  TempDir dir;
  const std::string out = dir.path() + "/out", err = dir.path() + "/err", in = dir.path() + "/in";
  { std::ofstream f(in, std::ios::binary); f << input; }
  const int in_fd = open(in.c_str(), O_RDONLY);
  CommandResult result;
  const pid_t pid = Spawn(argv, out, err, in_fd);
  close(in_fd);
  result.status = WaitExit(pid, timeout_ms);
  if (result.status == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  result.out = ReadFile(out);
  result.err = ReadFile(err);
  return result;
}

long ProcStatus(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::strtol(line.c_str() + field.size(), nullptr, 10);
  }
  return 0;
}

long RssKb(pid_t pid) { return ProcStatus(pid, "VmRSS:"); }

pid_t StartProcess(const std::vector<std::string>& argv, const std::string& log_path) {
  return Spawn(argv, log_path, log_path);
}

int StopProcess(pid_t pid, int signal, int timeout_ms) {
  if (pid <= 0) return -1;
  kill(pid, signal);
  const int status = WaitExit(pid, timeout_ms);
  if (status == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  return status;
}

Cluster::Cluster(std::string binary, int ports, std::vector<std::string> node_args)
    : binary_(std::move(binary)),
      node_args_(std::move(node_args)),
      ports_(ports),
      first_port_(FreePortRange(ports)) {
  nodes_.reserve(kMaxNodes);
  use_tls(nullptr);
}

Cluster::Node& Cluster::add_node() {
  std::lock_guard<std::mutex> lock(nodes_mu_);
  if (nodes_.size() == kMaxNodes) {
    throw std::logic_error("a test cluster has at most " + std::to_string(kMaxNodes) + " nodes");
  }
  return nodes_.emplace_back();
}

int Cluster::size() const {
  std::lock_guard<std::mutex> lock(nodes_mu_);
  return static_cast<int>(nodes_.size());
}

int Cluster::port(int i) const {
  std::lock_guard<std::mutex> lock(nodes_mu_);
  return nodes_.at(i).port;
}

pid_t Cluster::pid(int i) const {
  std::lock_guard<std::mutex> lock(nodes_mu_);
  return nodes_.at(i).pid;
}

void Cluster::use_tls(std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> tls) {
  rpc::PoolOptions options;
  options.connect_timeout_ms = 1000;
  options.call_timeout_ms = 10000;
  options.tls = std::move(tls);
  client_pool_ = std::make_unique<rpc::ConnectionPool<diststore::wire::StoreClient>>(options);
  peer_auth_ = std::make_unique<locator::PeerAuth>(
      std::make_shared<const membership::KeyRing>(membership::KeyRing::DevelopmentKey()));
  pool_ = std::make_unique<rpc::ConnectionPool<diststore::wire::StoreClient>>(peer_auth_->pool_options(options));
}

Cluster::~Cluster() {
  for (auto& node : nodes_) {
    if (node.pid > 0) {
      kill(node.pid, SIGKILL);
      waitpid(node.pid, nullptr, 0);
      node.pid = -1;
    }
  }
}

std::vector<std::string> Cluster::discovery_args() const {
  return {"--discover-from=" + std::to_string(first_port()),
          "--discover-to=" + std::to_string(last_port())};
}

void Cluster::spawn(Node& node) {
  std::vector<std::string> argv = {BinDir() + "/" + binary_};
  for (const auto& a : discovery_args()) argv.push_back(a);
  if (node.port) argv.push_back("--port=" + std::to_string(node.port));
  for (const auto& a : node_args_) argv.push_back(a);
  for (const auto& a : node.args) argv.push_back(a);
  ++node.generation;
  node.log_path = dir() + "/node-" + std::to_string(&node - nodes_.data()) + "-" +
                  std::to_string(node.generation) + ".log";
  node.pid = Spawn(argv, node.log_path, node.log_path);
}

namespace {

// The port a node announces in its first stdout line, "<binary> HOST:PORT: ..." or
// "<binary> HOST:PORT (engine): ...", or 0 if the text holds no such line yet. (Parsed by hand:
// GCC 12's <regex> trips -Wmaybe-uninitialized under -fsanitize=address,undefined -Werror.)
int AnnouncedPort(const std::string& text) {
  for (const std::string binary : {"storeserver ", "locator "}) {
    for (size_t at = text.find(binary); at != std::string::npos; at = text.find(binary, at + 1)) {
      const size_t from = at + binary.size();
      const size_t to = text.find_first_of(" \n", from);
      if (to == std::string::npos || text[to] != ' ') continue;
      std::string where = text.substr(from, to - from);  // HOST:PORT, or HOST:PORT:
      if (!where.empty() && where.back() == ':') {
        where.pop_back();
      } else {
        // " (engine): " must follow.
        size_t i = to + 1;
        if (i >= text.size() || text[i] != '(') continue;
        ++i;
        while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
        if (text.compare(i, 3, "): ") != 0) continue;
      }
      const size_t colon = where.rfind(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == where.size()) continue;
      const std::string digits = where.substr(colon + 1);
      if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
      return std::stoi(digits);
    }
  }
  return 0;
}

}  // namespace

bool Cluster::wait_ready(Node& node, int timeout_ms) {
  // The node's first stdout line says where it serves: "<binary> HOST:PORT: ...".
  return WaitFor(
      [&] {
        if (node.pid > 0 && waitpid(node.pid, nullptr, WNOHANG) == node.pid) {
          node.pid = -1;
          return true;  // exited: reported below
        }
        const int port = AnnouncedPort(ReadFile(node.log_path));
        if (port == 0) return false;
        node.port = port;
        try {
          pool_->call(rpc::MakeLocation("127.0.0.1", node.port),
                      [](diststore::wire::StoreClient& c) { c.ping(); });
          return true;
        } catch (const std::exception&) {
          return false;
        }
      },
      timeout_ms, 25) && node.pid > 0;
}

StoppedProcess::StoppedProcess(pid_t pid) : pid_(pid), stopped_(kill(pid, SIGSTOP) == 0) {}

StoppedProcess::~StoppedProcess() { resume(); }

bool StoppedProcess::resume() {
  const bool resumed = kill(pid_, SIGCONT) == 0;
  for (auto& t : threads) t.join();
  threads.clear();
  return resumed;
}

int Cluster::start(std::vector<std::string> args, int port, int timeout_ms) {
  Node& node = add_node();
  node.port = port;
  node.args = std::move(args);
  spawn(node);
  const int index = static_cast<int>(&node - nodes_.data());
  if (!wait_ready(node, timeout_ms)) {
    ADD_FAILURE() << binary_ << " node " << index << " did not become ready; log:\n"
                  << ReadFile(node.log_path);
    return -1;
  }
  return index;
}

std::vector<int> Cluster::start_together(int n, const std::vector<std::string>& args,
                                         int timeout_ms) {
  const int first = size();
  for (int i = 0; i < n; ++i) add_node().args = args;
  for (int i = first; i < first + n; ++i) spawn(nodes_[i]);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::vector<int> ready;
  for (int i = first; i < first + n; ++i) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (wait_ready(nodes_[i], std::max<int>(1, static_cast<int>(left.count())))) {
      ready.push_back(i);
    } else {
      ADD_FAILURE() << binary_ << " node " << i << " did not become ready; log:\n"
                    << ReadFile(nodes_[i].log_path);
    }
  }
  return ready;
}

void Cluster::restart(int i, int timeout_ms) {
  Node& node = nodes_.at(i);
  ASSERT_LE(node.pid, 0) << "node " << i << " is still running";
  spawn(node);
  if (!wait_ready(node, timeout_ms)) {
    ADD_FAILURE() << "node " << i << " did not restart; log:\n" << ReadFile(node.log_path);
  }
}

int Cluster::terminate(int i, int timeout_ms) {
  Node& node = nodes_.at(i);
  if (node.pid <= 0) return -1;
  kill(node.pid, SIGTERM);
  const int status = WaitExit(node.pid, timeout_ms);
  if (status == -1) {
    kill(node.pid, SIGKILL);
    waitpid(node.pid, nullptr, 0);
  }
  node.pid = -1;
  pool_->forget(location(i));
  client_pool_->forget(location(i));
  return status;
}

void Cluster::kill9(int i) {
  Node& node = nodes_.at(i);
  if (node.pid <= 0) return;
  kill(node.pid, SIGKILL);
  waitpid(node.pid, nullptr, 0);
  node.pid = -1;
  pool_->forget(location(i));
  client_pool_->forget(location(i));
}

bool Cluster::running(int i) {
  Node& node = nodes_.at(i);
  if (node.pid <= 0) return false;
  if (waitpid(node.pid, nullptr, WNOHANG) == node.pid) {
    node.pid = -1;
    return false;
  }
  return true;
}

locator::wire::Location Cluster::location(int i) const {
  return rpc::MakeLocation("127.0.0.1", port(i));
}

std::string Cluster::log(int i) const { return ReadFile(nodes_.at(i).log_path); }

}  // namespace thrifty::testing
