// SWIM failure detection across real processes: a node killed with SIGKILL is declared DEAD by
// every survivor and leaves their rings; restarted, it is ALIVE again. Bad gossip is counted
// and dropped.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "gossip_types.h"
#include "locator/membership/gossip_codec.h"
#include "locator/membership/key_ring.h"
#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"
#include "tests/cluster/harness.h"

namespace thrifty::testing {
namespace {

std::optional<locator::wire::MemberState::type> StateSeenBy(Cluster& cluster, int observer,
                                                  const locator::wire::Location& subject) {
  std::vector<locator::wire::Member> members;
  cluster.pool().call(cluster.location(observer),
                      [&](diststore::wire::StoreClient& c) { c.members(members); });
  for (const auto& m : members) {
    if (rpc::ToString(m.location) == rpc::ToString(subject)) return m.state;
  }
  return std::nullopt;
}

bool InRingOf(Cluster& cluster, int observer, const locator::wire::Location& subject) {
  std::vector<locator::wire::Location> ring;
  cluster.pool().call(cluster.location(observer),
                      [&](diststore::wire::StoreClient& c) { c.get_all(ring); });
  for (const auto& l : ring) {
    if (rpc::ToString(l) == rpc::ToString(subject)) return true;
  }
  return false;
}

std::map<std::string, int64_t> Stats(Cluster& cluster, int i) {
  std::map<std::string, int64_t> stats;
  cluster.pool().call(cluster.location(i),
                      [&](diststore::wire::StoreClient& c) { c.stats(stats); });
  return stats;
}

void SendUdp(int port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr),
            static_cast<ssize_t>(bytes.size()));
  close(fd);
}

TEST(SwimCluster, KilledNodeIsDeadEverywhereWithinTenSecondsAndAliveAfterRestart) {
  Cluster cluster("storeserver");
  for (int i = 0; i < 5; ++i) ASSERT_GE(cluster.start({"--memory"}), 0);
  const locator::wire::Location victim = cluster.location(2);
  const std::vector<int> survivors = {0, 1, 3, 4};
  ASSERT_TRUE(WaitFor([&] {
    for (int i : survivors) {
      if (StateSeenBy(cluster, i, victim) != locator::wire::MemberState::ALIVE) return false;
    }
    return true;
  }, 5000));

  cluster.kill9(2);
  const auto killed_at = std::chrono::steady_clock::now();
  // With the default configuration (probe 1 s, suspicion multiplier 4) every survivor must
  // see it DEAD, and drop it from its ring, within 10 s.
  const bool dead_everywhere = WaitFor([&] {
    for (int i : survivors) {
      if (StateSeenBy(cluster, i, victim) != locator::wire::MemberState::DEAD) return false;
      if (InRingOf(cluster, i, victim)) return false;
    }
    return true;
  }, 10000, 100);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  ASSERT_TRUE(dead_everywhere) << "not DEAD on every survivor within 10 s";
  std::cout << "[ info ] DEAD on all 4 survivors after " << seconds << " s" << std::endl;

  cluster.restart(2);
  EXPECT_TRUE(WaitFor([&] {
    for (int i : survivors) {
      if (StateSeenBy(cluster, i, victim) != locator::wire::MemberState::ALIVE) return false;
      if (!InRingOf(cluster, i, victim)) return false;
    }
    return true;
  }, 5000)) << "the restarted node is not ALIVE everywhere";
}

TEST(SwimCluster, ForgedAndGarbagePacketsAreDroppedAndCounted) {
  Cluster cluster("storeserver");
  ASSERT_GE(cluster.start({"--memory"}), 0);
  ASSERT_GE(cluster.start({"--memory"}), 0);
  const int port = cluster.port(0);
  const auto before = Stats(cluster, 0);

  // A well-formed packet signed with a key the cluster does not have.
  membership::KeyRing wrong_key(std::vector<std::string>{std::string(32, 'x')});
  membership::wire::GossipPacket packet;
  packet.type = membership::wire::GossipType::PING;
  packet.seq = 1;
  packet.sender = cluster.location(1);
  packet.sent_ms = membership::NowMs();
  membership::wire::MemberUpdate update;
  update.member.location = cluster.location(1);
  update.member.state = locator::wire::MemberState::DEAD;  // a forged death notice
  update.member.incarnation = int64_t{1} << 60;
  packet.updates.push_back(update);
  std::string forged;
  membership::GossipCodec codec(membership::SwimConfig{}, wrong_key);
  ASSERT_EQ(codec.encode(packet, &forged), 1);
  for (int i = 0; i < 20; ++i) SendUdp(port, forged);

  // Random bytes of many sizes.
  std::mt19937 rng(42);
  for (int i = 0; i < 200; ++i) {
    std::string junk(1 + rng() % 1400, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    SendUdp(port, junk);
    // Paced, so a loaded machine's socket buffer does not drop them before the node reads.
    if (i % 10 == 9) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }

  auto dropped = [](const std::map<std::string, int64_t>& s) {
    int64_t total = 0;
    for (const auto& [k, v] : s) {
      if (k.rfind("swim_dropped_", 0) == 0) total += v;
    }
    return total;
  };
  // Nearly all of the 220 (UDP may lose a few on a loaded machine; none may be accepted).
  ASSERT_TRUE(WaitFor([&] { return dropped(Stats(cluster, 0)) - dropped(before) >= 200; }, 5000))
      << "dropped packets were not counted";
  EXPECT_GE(Stats(cluster, 0)["swim_dropped_bad_mac"] - before.at("swim_dropped_bad_mac"), 15);
  // The node is up, and the forged death notice changed nothing.
  EXPECT_TRUE(cluster.running(0));
  EXPECT_EQ(StateSeenBy(cluster, 0, cluster.location(1)), locator::wire::MemberState::ALIVE);
  EXPECT_TRUE(InRingOf(cluster, 0, cluster.location(1)));
}

}  // namespace
}  // namespace thrifty::testing
