// Test harness for multi-process tests: starts real thrifty nodes on 127.0.0.1, waits with
// deadlines (never sleep-and-hope), and kills every process it started, by pid.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "Store.h"
#include "locator/rpc/connection_pool.h"
#include "locator/service/peer_auth.h"

namespace thrifty::testing {

// Directory of the built tools ($THRIFTY_BIN, set by ctest).
std::string BinDir();

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls pred() every `interval_ms` until it returns true or `timeout_ms` passed.
bool WaitFor(const std::function<bool()>& pred, int timeout_ms, int interval_ms = 50);

// `count` consecutive ports on 127.0.0.1 that are free now, from a random base.
int FreePortRange(int count);

// Runs a command to completion; returns its exit status (or 128+signal) and output.
struct CommandResult {
  int status = -1;
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "",
                         int timeout_ms = 60000);

// The number after `field` ("VmHWM:", "Threads:", ...) in /proc/PID/status (0 if it is gone).
long ProcStatus(pid_t pid, const std::string& field);
// The resident set size of a process in KiB (0 if it is gone).
long RssKb(pid_t pid);

// Starts `argv` (argv[0] a path) in the background, stdout and stderr appended to `log_path`,
// stdin /dev/null. Throws std::runtime_error if it cannot be started. The caller must stop it
// (StopProcess) by its pid.
pid_t StartProcess(const std::vector<std::string>& argv, const std::string& log_path);
// Sends `signal` to `pid` (one started by StartProcess) and waits up to `timeout_ms` for it to
// exit; then SIGKILLs and reaps it if it still runs. Returns its exit status (or 128+signal),
// -1 if it had to be killed.
int StopProcess(pid_t pid, int signal, int timeout_ms = 10000);

// A process stopped (SIGSTOP) while this object lives, with the threads whose requests wait on
// it: resume() (or the destructor, whatever failed in between) sends SIGCONT and joins them.
class StoppedProcess {
 public:
  explicit StoppedProcess(pid_t pid);
  ~StoppedProcess();
  StoppedProcess(const StoppedProcess&) = delete;
  StoppedProcess& operator=(const StoppedProcess&) = delete;

  bool stopped() const { return stopped_; }  // SIGSTOP was delivered
  // SIGCONT, then joins `threads`; false if the signal could not be sent.
  bool resume();

  std::vector<std::thread> threads;

 private:
  pid_t pid_;
  bool stopped_;
};

class Cluster {
 public:
  // `binary`: "storeserver" or "locator". Reserves `ports` ports for its nodes' discovery range.
  // Every node starts with `node_args` before its own arguments.
  explicit Cluster(std::string binary = "storeserver", int ports = 40,
                   std::vector<std::string> node_args = {});
  ~Cluster();  // SIGKILL and reap every node still running

  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Starts a node with this cluster's discovery range plus `args`. With `port` 0 the node
  // picks its own port (autodiscovery); the harness learns it from the node's first line.
  // Waits until the node answers ping; fails the test (and returns -1) after the deadline.
  int start(std::vector<std::string> args = {}, int port = 0, int timeout_ms = 20000);
  // Starts `n` nodes with `args` all at once, then waits until each answers ping (at most
  // `timeout_ms` in all). Returns their indexes; fails the test (and returns fewer) if some
  // did not become ready.
  std::vector<int> start_together(int n, const std::vector<std::string>& args,
                                  int timeout_ms = 20000);
  // Restarts node i with the arguments and port it had.
  void restart(int i, int timeout_ms = 20000);

  // SIGTERM, then waits for exit; returns the exit status (-1 if it did not exit in time).
  int terminate(int i, int timeout_ms = 60000);
  void kill9(int i);
  bool running(int i);

  // location(), port(), pid() and size() may be called from load threads while start()
  // adds nodes: nodes_ never reallocates (at most kMaxNodes) and its size is guarded.
  static constexpr size_t kMaxNodes = 64;
  int size() const;
  locator::wire::Location location(int i) const;
  int port(int i) const;
  pid_t pid(int i) const;
  std::string log(int i) const;
  const std::string& dir() const { return dir_.path(); }
  int first_port() const { return first_port_; }
  int last_port() const { return first_port_ + ports_ - 1; }
  // "--discover-from=A --discover-to=B" for client tools to find this cluster.
  std::vector<std::string> discovery_args() const;
  // A pool of Store clients to talk to the nodes directly, as a peer: its connections prove
  // the development key, so node-to-node calls are served on them.
  rpc::ConnectionPool<diststore::wire::StoreClient>& pool() { return *pool_; }
  // Makes pool() and client_pool() (and the harness's own calls, such as the ping start()
  // waits for) speak TLS through `tls` (null: plain TCP again). Before the nodes start.
  void use_tls(std::shared_ptr<apache::thrift::transport::TSSLSocketFactory> tls);
  // The same as a plain client (no handshake): node-to-node calls are refused on it.
  rpc::ConnectionPool<diststore::wire::StoreClient>& client_pool() { return *client_pool_; }

 private:
  struct Node {
    pid_t pid = -1;
    int port = 0;
    std::vector<std::string> args;
    std::string log_path;
    int generation = 0;
  };
  // Appends a node (under nodes_mu_); throws std::logic_error past kMaxNodes.
  Node& add_node();
  void spawn(Node& node);
  bool wait_ready(Node& node, int timeout_ms);

  std::string binary_;
  std::vector<std::string> node_args_;
  int ports_;
  int first_port_;
  TempDir dir_;
  mutable std::mutex nodes_mu_;  // guards nodes_'s size (see kMaxNodes)
  std::vector<Node> nodes_;
  std::unique_ptr<locator::PeerAuth> peer_auth_;
  std::unique_ptr<rpc::ConnectionPool<diststore::wire::StoreClient>> pool_;
  std::unique_ptr<rpc::ConnectionPool<diststore::wire::StoreClient>> client_pool_;
};

// A storeserver cluster whose nodes keep one copy of each key (--replicas=1): for the tests of
// where that copy lives (placement, handoff on a join or leave, routing to the owner, one
// node's limits), which count keys per node. Replication has its own tests.
class SingleCopyCluster : public Cluster {
 public:
  explicit SingleCopyCluster(int ports = 40) : Cluster("storeserver", ports, {"--replicas=1"}) {}
};

}  // namespace thrifty::testing
