// Discovery through etcd (--discovery) with a real etcd and real storeservers on 127.0.0.1:
// nodes started together form one cluster through it, register and deregister (a clean stop at
// once, a crash with its lease), a later node joins through it, the nodes ride out etcd going
// away and register again when it comes back; bad URLs and an unreachable etcd are clear errors.
//
// etcd comes from the Debian package etcd-server (scripts/deps installs it); without it the
// test fails, saying so.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "locator/discovery/etcd_client.h"
#include "locator/discovery/member_record.h"
#include "locator/rpc/address.h"
#include "tests/cluster/harness.h"
#include "tests/cluster/store_checks.h"
#include "tests/http/http_get.h"

namespace thrifty::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kPrefix[] = "/thrifty-test";
constexpr int kTtlS = 3;  // etcd's minimum is 2 s with its default timing

// The etcd binary on PATH, or "".
std::string FindEtcd() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/etcd";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// One etcd member on 127.0.0.1 with free client and peer ports and a data dir under `dir`,
// killed (SIGKILL, by pid) by kill9() or the destructor.
class Etcd {
 public:
  Etcd(std::string binary, std::string dir)
      : binary_(std::move(binary)), dir_(std::move(dir)), client_port_(FreePortRange(2)) {}
  ~Etcd() { kill9(); }

  // Starts etcd on the data dir `data` (a fresh one is a new, empty etcd) and waits until its
  // /health says so. False (with the log in the failure) after `timeout_ms`.
  bool start(const std::string& data, int timeout_ms = 15000) {
    const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
    const std::string peer = "http://127.0.0.1:" + std::to_string(client_port_ + 1);
    log_ = dir_ + "/etcd-" + data + ".log";
    pid_ = StartProcess({binary_, "--name=default", "--data-dir=" + dir_ + "/" + data,
                         "--listen-client-urls=" + client, "--advertise-client-urls=" + client,
                         "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
                         "--initial-cluster=default=" + peer, "--log-level=warn"},
                        log_);
    return WaitFor(
        [&] {
          const HttpReply reply = HttpGet(client_port_, "/health", 1000);
          return reply.status == 200 && reply.body.find("true") != std::string::npos;
        },
        timeout_ms, 100);
  }
  void kill9() {
    if (pid_ > 0) StopProcess(pid_, SIGKILL);
    pid_ = -1;
  }

  int port() const { return client_port_; }
  std::string url() const {
    return "etcd://127.0.0.1:" + std::to_string(client_port_) + kPrefix;
  }
  discovery::EtcdClient client() const { return discovery::EtcdClient("127.0.0.1", client_port_); }

 private:
  std::string binary_;
  std::string dir_;
  int client_port_;  // the peer port is the next one
  pid_t pid_ = -1;
  std::string log_;
};

// The member entries in etcd: key -> record. Empty if etcd does not answer.
std::map<std::string, discovery::MemberRecord> Entries(const Etcd& etcd) {
  std::map<std::string, discovery::MemberRecord> out;
  try {
    for (const auto& kv : etcd.client().range_prefix(std::string(kPrefix) + "/members/")) {
      const auto record = discovery::DecodeMemberRecord(kv.value);
      if (record) out[kv.key] = *record;
    }
  } catch (const std::exception&) {
  }
  return out;
}

std::string KeyOf(Cluster& cluster, int i) {
  return std::string(kPrefix) + "/members/127.0.0.1:" + std::to_string(cluster.port(i));
}

bool Registered(const Etcd& etcd, Cluster& cluster, int i) {
  const auto entries = Entries(etcd);
  const auto it = entries.find(KeyOf(cluster, i));
  return it != entries.end() && it->second.port == cluster.port(i) &&
         it->second.address == "127.0.0.1" && it->second.service_type == "diststore.Store";
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TEST(EtcdDiscovery, NodesFindEachOtherThroughEtcdAndKeepTheirEntries) {
  const std::string binary = FindEtcd();
  ASSERT_FALSE(binary.empty())
      << "etcd is not installed (not on PATH): scripts/deps installs it (Debian package "
         "etcd-server); this test needs a real etcd";
  Cluster cluster("storeserver");
  Etcd etcd(binary, cluster.dir());
  ASSERT_TRUE(etcd.start("data-1")) << "etcd did not become healthy on 127.0.0.1:" << etcd.port();
  const std::vector<std::string> args = {"--memory", "--discovery=" + etcd.url(),
                                         "--discovery-ttl-s=" + std::to_string(kTtlS)};

  // Three nodes started at once, --discovery only: one starts the cluster, the others join it
  // (the start lock lets one at a time list and join).
  const std::vector<int> first = cluster.start_together(3, args);
  ASSERT_EQ(first.size(), 3u);
  ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster, first, first); }, 5000))
      << "three nodes did not form one cluster; logs:\n"
      << cluster.log(0) << cluster.log(1) << cluster.log(2);
  int started = 0, joined = 0;
  for (int i : first) {
    started += Count(cluster.log(i), "started a new cluster");
    joined += Count(cluster.log(i), "; joined through 127.0.0.1:");
  }
  EXPECT_EQ(started, 1);
  EXPECT_EQ(joined, 2);
  for (int i : first) EXPECT_TRUE(Registered(etcd, cluster, i)) << "node " << i;
  EXPECT_EQ(Entries(etcd).size(), 3u);

  // A key put through one node is read through another.
  cluster.client_pool().call(cluster.location(0), [](diststore::wire::StoreClient& c) {
    c.put("etcd-key", "etcd-value", diststore::wire::Consistency::DEFAULT);
  });
  std::string value;
  cluster.client_pool().call(cluster.location(1), [&](diststore::wire::StoreClient& c) {
    c.get(value, "etcd-key", diststore::wire::Consistency::DEFAULT);
  });
  EXPECT_EQ(value, "etcd-value");

  // A clean stop revokes the node's lease: its entry is gone when it has exited.
  EXPECT_EQ(cluster.terminate(1), 0) << cluster.log(1);
  EXPECT_FALSE(Registered(etcd, cluster, 1)) << "the entry of a node that left is still there";
  EXPECT_TRUE(Registered(etcd, cluster, 0));
  EXPECT_TRUE(Registered(etcd, cluster, 2));

  // A crashed node's entry stays until its lease expires, then goes.
  cluster.kill9(2);
  const auto killed = Clock::now();
  EXPECT_TRUE(Registered(etcd, cluster, 2)) << "the entry went before its lease expired";
  // Its last renewal was at most a third of the TTL before the kill; etcd checks for expired
  // leases every 500 ms.
  ASSERT_TRUE(WaitFor([&] { return !Registered(etcd, cluster, 2); }, (kTtlS + 2) * 1000, 100))
      << "the entry of a killed node outlived its lease of " << kTtlS << " s by 2 s";
  std::cout << "a killed node's entry went " << Since(killed) << " s after the kill (lease "
            << kTtlS << " s)" << std::endl;

  // A node started later finds the cluster through etcd.
  const int late = cluster.start(args);
  ASSERT_GE(late, 0);
  EXPECT_NE(cluster.log(late).find("1 node(s) registered in " + etcd.url() +
                                   "; joined through " + rpc::ToString(cluster.location(0))),
            std::string::npos)
      << cluster.log(late);
  ASSERT_TRUE(WaitFor(
      [&] {
        try {
          const auto ring = RingOf(cluster, late);
          const std::string a = rpc::ToString(cluster.location(0));
          const std::string b = rpc::ToString(cluster.location(late));
          return ring.count(a) && ring.count(b) && RingOf(cluster, 0).count(b);
        } catch (const std::exception&) {
          return false;
        }
      },
      5000))
      << cluster.log(late);
  EXPECT_TRUE(Registered(etcd, cluster, late));

  // etcd goes away: the nodes go on serving, log the failed renewals (rate-limited) and
  // register again once an etcd answers there, here a new one that knows nothing.
  etcd.kill9();
  const std::string failed = "keeping the registration alive failed";
  ASSERT_TRUE(WaitFor([&] { return Count(cluster.log(0), failed) > 0; }, (kTtlS + 2) * 1000))
      << cluster.log(0);
  // A key whose owner is alive (the killed node may still be in the rings).
  std::string key;
  for (int k = 0; key.empty() && k < 100; ++k) {
    locator::wire::Location owner;
    const std::string candidate = "away-" + std::to_string(k);
    cluster.client_pool().call(cluster.location(0), [&](diststore::wire::StoreClient& c) {
      c.get_node(owner, candidate);
    });
    if (owner.port == cluster.port(0) || owner.port == cluster.port(late)) key = candidate;
  }
  ASSERT_FALSE(key.empty());
  for (int i : {0, late}) {
    const auto asked = Clock::now();
    cluster.client_pool().call(cluster.location(i), [&](diststore::wire::StoreClient& c) {
      c.put(key, "still-serving", diststore::wire::Consistency::DEFAULT);
    });
    EXPECT_LT(Since(asked), 2.0) << "node " << i << " stalled without etcd";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // more failed renewals
  ASSERT_TRUE(etcd.start("data-2")) << "etcd did not come back";
  ASSERT_TRUE(WaitFor([&] { return Registered(etcd, cluster, 0) && Registered(etcd, cluster, late); },
                      5000, 100))
      << "the nodes did not register again in the new etcd;\n"
      << cluster.log(0);
  for (int i : {0, late}) {
    const std::string log = cluster.log(i);
    EXPECT_EQ(Count(log, failed), 1) << "failures are logged at most once per 30 s\n" << log;
    EXPECT_NE(log.find("registering again"), std::string::npos) << log;
    EXPECT_NE(log.find("answers again"), std::string::npos) << log;
    EXPECT_TRUE(cluster.running(i)) << log;
  }
  EXPECT_EQ(Entries(etcd).size(), 2u);
  const auto stats = Stats(cluster, 0);
  EXPECT_GE(stats.at("discovery_keepalives"), 1);
  EXPECT_GE(stats.at("discovery_keepalive_failures"), 1);
  EXPECT_GE(stats.at("discovery_re_registrations"), 1);
}

// Runs storeserver with `args` (local discovery confined to a port where nothing listens).
CommandResult RunStoreserver(std::vector<std::string> args) {
  static const int nowhere = FreePortRange(1);
  std::vector<std::string> argv = {BinDir() + "/storeserver", "--memory",
                                   "--discover-from=" + std::to_string(nowhere),
                                   "--discover-to=" + std::to_string(nowhere)};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, "", 20000);
}

int Lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

TEST(EtcdDiscovery, BadUrlsAndUnreachableEtcdAreClearErrors) {
  const struct {
    std::vector<std::string> args;
    std::string says;
  } usage_errors[] = {
      {{"--discovery=http://127.0.0.1:2379/p"}, "'http' is not supported"},
      {{"--discovery=127.0.0.1:2379"}, "no scheme"},
      {{"--discovery=etcd://127.0.0.1:99999/p"}, "not in 1..65535"},
      {{"--discovery=etcd://127.0.0.1:2379/a/../b"}, "'..' segment"},
      {{"--discovery=etcd:///p"}, "no host"},
      {{"--discovery=etcd://127.0.0.1:2379/p", "--peer=127.0.0.1:9"}, "cannot be combined"},
      {{"--discovery=etcd://127.0.0.1:2379/p", "--discovery-ttl-s=1"}, "2..3600"},
      {{"--discovery-ttl-s=5"}, "needs --discovery"},
  };
  for (const auto& c : usage_errors) {
    const CommandResult r = RunStoreserver(c.args);
    EXPECT_EQ(r.status, 2) << c.args.front() << "\n" << r.err;
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("--discovery"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }

  // Nothing listens on this port: the node says which etcd it could not reach, and exits 1.
  const int closed = FreePortRange(1);
  const std::string where = "127.0.0.1:" + std::to_string(closed);
  const auto started = Clock::now();
  const CommandResult r = RunStoreserver({"--discovery=etcd://" + where + "/p"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_LT(Since(started), 10.0);
  const std::string last = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
  EXPECT_EQ(last.rfind("storeserver: ", 0), 0u) << r.err;
  EXPECT_NE(last.find("etcd at http://" + where), std::string::npos) << r.err;
  EXPECT_NE(last.find("etcd://" + where + "/p"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace thrifty::testing
