// The C++ cluster client against real nodes: what it resends, and how often it refreshes.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "diststore/client/cluster_client.h"
#include "locator/rpc/address.h"
#include "tests/cluster/harness.h"
#include "tests/cluster/store_checks.h"

namespace thrifty::testing {
namespace {

// A TCP port on 127.0.0.1 that accepts connections and never answers: a stalled node.
class StalledNode {
 public:
  StalledNode() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~StalledNode() { ::close(fd_); }  // the kernel completes handshakes into the backlog
  locator::wire::Location at() const { return rpc::MakeLocation("127.0.0.1", port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

int64_t Puts(Cluster& cluster, int i) {
  std::map<std::string, int64_t> stats;
  cluster.pool().call(cluster.location(i),
                      [&](diststore::wire::StoreClient& c) { c.stats(stats); });
  return stats.at("puts");
}

// A call that timed out may be running on its node: the client used to send it again to
// every other node of the ring (a put applied twice, an erase after a later put). Now it says
// the outcome is unknown, and sends nothing more.
TEST(ClusterClient, ATimedOutRequestIsNotSentAgainElsewhere) {
  Cluster cluster;
  const int a = cluster.start(RocksArgs(cluster, "a"));
  ASSERT_GE(a, 0);
  StalledNode stalled;
  client::ClientOptions options;
  options.seeds = {stalled.at(), cluster.location(a)};  // the view comes from the second
  options.ring_aware = false;                           // requests go to the first seed
  options.pool.connect_timeout_ms = 500;
  options.pool.call_timeout_ms = 300;
  client::ClusterClient client(options);
  try {
    client.put("k", "v");
    ADD_FAILURE() << "a put to a stalled node succeeded";
  } catch (const client::ClientError& e) {
    EXPECT_NE(std::string(e.what()).find("may or may not have been applied"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(Puts(cluster, a), 0) << "the timed-out put was sent again to the live node";
}

// Many requests that need a fresh view at once fetch it once, not once each. The first seed
// stalls, so every fetch takes at least its call deadline (300 ms): the threads all arrive
// while the first fetch is in flight.
TEST(ClusterClient, ConcurrentRefreshesAreOneFetch) {
  Cluster cluster;
  const int a = cluster.start(RocksArgs(cluster, "a"));
  ASSERT_GE(a, 0);
  StalledNode stalled;
  client::ClientOptions options;
  options.seeds = {stalled.at(), cluster.location(a)};
  options.pool.connect_timeout_ms = 500;
  options.pool.call_timeout_ms = 300;
  client::ClusterClient client(options);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      ++ready;
      while (ready.load() < 8) std::this_thread::yield();
      client.view();  // each asks for a fresh view
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(client.refreshes(), 1);
  EXPECT_LE(client.refreshes(), 2) << "the threads fetched the view one each";
}

}  // namespace
}  // namespace thrifty::testing
