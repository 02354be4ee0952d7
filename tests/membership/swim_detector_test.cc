// The detector's behaviour in small simulated clusters (virtual time, so fast and exact).
#include "locator/membership/swim_detector.h"

#include <glog/logging.h>
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "tests/membership/sim/sim_cluster.h"

namespace thrifty::membership {
namespace {

using sim::SimCluster;
using sim::SimOptions;

class SwimDetectorTest : public ::testing::Test {
 protected:
  void SetUp() override { FLAGS_minloglevel = 2; }

  static SimOptions Options(size_t n, uint64_t seed = 1) {
    SimOptions o;
    o.nodes = n;
    o.seed = seed;
    return o;
  }
  static bool Everyone(SimCluster& c, size_t subject, MemberState::type state) {
    for (size_t i = 0; i < c.size(); ++i) {
      if (i != subject && !c.crashed(i) && c.view(i, subject) != state) return false;
    }
    return true;
  }
  // A packet as member `sender` would send it, signed with the cluster key.
  static std::string Craft(SimCluster& c, GossipPacket p) {
    GossipCodec codec(SwimConfig(), c.keys());
    std::string bytes;
    EXPECT_GE(codec.encode(p, &bytes), 0);
    return bytes;
  }
  static GossipPacket Ping(SimCluster& c, const Location& sender, const Location& target) {
    GossipPacket p;
    p.type = GossipType::PING;
    p.seq = 7;
    p.sender = sender;
    p.__set_target(target);
    p.sent_ms = sim::kSimEpochMs + c.now();
    return p;
  }
  static Location Loc(const std::string& address, int port) {
    Location l;
    l.address = address;
    l.port = port;
    return l;
  }
  static int64_t Stat(SimCluster& c, size_t i, const std::string& name) {
    return c.detector(i).stats().at(name);
  }
};

TEST_F(SwimDetectorTest, HealthyClusterStaysAliveAndQuiet) {
  SimCluster c(Options(8));
  c.run_for(60'000);
  for (size_t j = 0; j < c.size(); ++j) EXPECT_TRUE(Everyone(c, j, MemberState::ALIVE));
  EXPECT_EQ(c.total("swim_suspicions"), 0);
  EXPECT_EQ(c.total("swim_probe_failures"), 0);
  // About one probe per member per period.
  const double probes = static_cast<double>(c.total("swim_probes")) / (8 * 60);
  EXPECT_GT(probes, 0.95);
  EXPECT_LE(probes, 1.0);
  // Every probe is answered (those of the last few ms may still be in flight).
  EXPECT_GE(c.total("swim_acks_received"), c.total("swim_probes") - 8);
  EXPECT_LE(c.total("swim_acks_received"), c.total("swim_probes"));
}

TEST_F(SwimDetectorTest, ProbesAreSpreadEvenly) {
  SimCluster c(Options(6));
  // Count the PINGs member 0 sends by watching who ACKs: every other member once per round
  // of 5 periods, so over 50 periods each exactly 10 times (+-1 at the edges).
  const int64_t before = Stat(c, 0, "swim_pings_sent");
  c.run_for(50'000);
  EXPECT_NEAR(Stat(c, 0, "swim_pings_sent") - before, 50, 1);
  for (size_t j = 1; j < c.size(); ++j) {
    EXPECT_NEAR(Stat(c, j, "swim_acks_sent"), Stat(c, 0, "swim_acks_sent"), 12);
  }
}

TEST_F(SwimDetectorTest, CrashIsSuspectedThenDead) {
  SimCluster c(Options(8));
  c.run_for(5'000);
  c.crash(3);
  ASSERT_TRUE(c.run_until([&] { return Everyone(c, 3, MemberState::DEAD); }, 60'000));
  EXPECT_GE(c.total("swim_suspicions"), 1);
  EXPECT_GE(c.total("swim_deaths"), 1);
  EXPECT_GE(c.total("swim_indirect_probes"), 1);
  EXPECT_GE(c.total("swim_nacks_received"), 1) << "helpers report their failed probes";
  for (size_t j = 0; j < c.size(); ++j) {
    if (j != 3) {
      EXPECT_TRUE(Everyone(c, j, MemberState::ALIVE)) << j;
    }
  }
  // A dead member is no longer probed: no new failures.
  const int64_t failures = c.total("swim_probe_failures");
  c.run_for(30'000);
  EXPECT_EQ(c.total("swim_probe_failures"), failures);
}

TEST_F(SwimDetectorTest, SuspicionIsRefutedByTheSuspect) {
  SimCluster c(Options(8));
  c.run_for(3'000);
  const int64_t incarnation = c.table(5).self().incarnation;
  // Another thread (say a Thrift call) marks member 5 SUSPECT on member 1.
  ASSERT_TRUE(c.table(1).mark(c.name(5), MemberState::SUSPECT));
  ASSERT_TRUE(c.run_until(
      [&] {
        for (size_t i = 0; i < c.size(); ++i) {
          auto m = c.table(i).find(c.name(5));
          if (!m || m->state != MemberState::ALIVE || m->incarnation <= incarnation) return false;
        }
        return true;
      },
      20'000));
  EXPECT_GT(c.table(5).self().incarnation, incarnation);
  EXPECT_GE(Stat(c, 5, "swim_refutations"), 1);
  EXPECT_EQ(c.total("swim_deaths"), 0);
}

TEST_F(SwimDetectorTest, MetadataChangesSpreadToEveryone) {
  SimCluster c(Options(12));
  c.run_for(2'000);
  c.table(4).set_self_metadata("weight", "3");
  ASSERT_TRUE(c.run_until(
      [&] {
        for (size_t i = 0; i < c.size(); ++i) {
          auto m = c.table(i).find(c.name(4));
          if (!m || m->metadata.count("weight") == 0 || m->metadata.at("weight") != "3") {
            return false;
          }
        }
        return true;
      },
      15'000));
}

TEST_F(SwimDetectorTest, NewMemberJoiningThroughOneIsLearnedByAll) {
  SimCluster c(Options(10));
  c.run_for(2'000);
  const size_t fresh = c.add_node(/*seed_node=*/2);
  ASSERT_TRUE(c.run_until(
      [&] {
        for (size_t i = 0; i < c.size(); ++i) {
          if (c.view(i, fresh) != MemberState::ALIVE) return false;
          if (c.view(fresh, i) != MemberState::ALIVE) return false;
        }
        return true;
      },
      20'000));
  // And it is probed like everyone else, without false suspicions.
  c.run_for(20'000);
  EXPECT_EQ(c.total("swim_suspicions"), 0);
}

TEST_F(SwimDetectorTest, LeaveIsAcknowledgedAndSpread) {
  SimCluster c(Options(10));
  c.run_for(2'000);
  int calls = 0;
  bool told = false;
  const int64_t start = c.now();
  c.detector(6).leave(5'000, [&](bool ok) {
    ++calls;
    told = ok;
  });
  c.run_for(100);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(told);
  EXPECT_LT(c.now() - start, 1'000);
  EXPECT_EQ(c.table(6).self().state, MemberState::LEFT);
  ASSERT_TRUE(c.run_until([&] { return Everyone(c, 6, MemberState::LEFT); }, 15'000));
  c.crash(6);  // the process exits
  c.run_for(30'000);
  EXPECT_TRUE(Everyone(c, 6, MemberState::LEFT)) << "not resurrected, not DEAD";
  EXPECT_EQ(c.total("swim_suspicions"), 0);
  EXPECT_EQ(calls, 1);
}

TEST_F(SwimDetectorTest, LeaveWithNobodyToTellOrNobodyAnswering) {
  SimCluster alone(Options(1));
  bool told = false;
  alone.detector(0).leave(1'000, [&](bool ok) { told = ok; });
  EXPECT_TRUE(told) << "nobody to tell";

  SimCluster c(Options(3));
  c.run_for(2'000);
  c.partition([](size_t i) { return i == 0 ? 1 : 2; });
  int calls = 0;
  told = true;
  c.detector(0).leave(2'000, [&](bool ok) {
    ++calls;
    told = ok;
  });
  c.run_for(1'999);
  EXPECT_EQ(calls, 0);
  c.run_for(2);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(told) << "deadline passed without an ACK";
}

TEST_F(SwimDetectorTest, BadPacketsAreCountedAndDropped) {
  SimCluster c(Options(4));
  c.run_for(2'000);
  const Location from = Loc("10.9.9.9", 5555);
  std::mt19937_64 rng(3);
  std::string garbage(200, '\0');
  for (auto& ch : garbage) ch = static_cast<char>(rng());
  c.inject(0, from, "");
  c.inject(0, from, "tiny");
  c.inject(0, from, garbage);
  c.inject(0, from, std::string(5000, 'x'));
  // Signed by another cluster.
  GossipCodec foreign(SwimConfig(), KeyRing::Parse(std::string(64, 'c')));
  std::string bytes;
  foreign.encode(Ping(c, Loc("10.0.0.1", 9000), Loc("10.0.0.0", 9000)), &bytes);
  c.inject(0, from, bytes);
  // Our key, but from long ago.
  GossipPacket old = Ping(c, Loc("10.0.0.1", 9000), Loc("10.0.0.0", 9000));
  old.sent_ms -= 10 * 60 * 1000;
  c.inject(0, from, Craft(c, old));
  // Our key over bytes that are not a packet.
  const auto mac = c.keys().sign(GossipCodec::kMacPurpose, garbage);
  c.inject(0, from, garbage + std::string(reinterpret_cast<const char*>(mac.data()), 32));

  EXPECT_EQ(Stat(c, 0, "swim_dropped_too_short"), 2);
  EXPECT_EQ(Stat(c, 0, "swim_dropped_bad_mac"), 2);
  EXPECT_EQ(Stat(c, 0, "swim_dropped_too_large"), 1);
  EXPECT_EQ(Stat(c, 0, "swim_dropped_stale"), 1);
  EXPECT_EQ(Stat(c, 0, "swim_dropped_malformed"), 1);
  c.run_for(20'000);
  for (size_t j = 0; j < c.size(); ++j) EXPECT_TRUE(Everyone(c, j, MemberState::ALIVE));
}

TEST_F(SwimDetectorTest, StrangersAreHeardOnlyWhenTheyIntroduceThemselves) {
  SimCluster c(Options(4));
  c.run_for(2'000);
  const Location stranger = Loc("10.7.7.7", 9000);
  const Location to = Loc("10.0.0.0", 9000);
  const int64_t acks = Stat(c, 0, "swim_acks_sent");
  c.inject(0, Loc("10.7.7.7", 7946), Craft(c, Ping(c, stranger, to)));
  EXPECT_EQ(Stat(c, 0, "swim_dropped_unknown_sender"), 1);
  EXPECT_EQ(Stat(c, 0, "swim_acks_sent"), acks);
  EXPECT_FALSE(c.table(0).find("10.7.7.7:9000"));

  GossipPacket hello = Ping(c, stranger, to);
  MemberUpdate self;
  self.member.location = stranger;
  self.member.gossip_port = 7946;
  self.member.incarnation = 1;
  hello.updates.push_back(self);
  c.inject(0, Loc("10.7.7.7", 7946), Craft(c, hello));
  EXPECT_EQ(Stat(c, 0, "swim_dropped_unknown_sender"), 1);
  EXPECT_EQ(Stat(c, 0, "swim_acks_sent"), acks + 1);
  EXPECT_EQ(c.table(0).find("10.7.7.7:9000")->state, MemberState::ALIVE);
}

TEST_F(SwimDetectorTest, PingForSomeoneElseIsNotAnswered) {
  SimCluster c(Options(4));
  c.run_for(2'000);
  const int64_t acks = Stat(c, 0, "swim_acks_sent");
  // Member 1 pings "10.0.0.2" but the datagram reaches member 0 (a reused endpoint).
  c.inject(0, Loc("10.0.0.1", 7946), Craft(c, Ping(c, Loc("10.0.0.1", 9000), Loc("10.0.0.2", 9000))));
  EXPECT_EQ(Stat(c, 0, "swim_dropped_misdirected"), 1);
  EXPECT_EQ(Stat(c, 0, "swim_acks_sent"), acks);
  // Nor is a packet claiming to come from member 0 itself.
  c.inject(0, Loc("10.0.0.1", 7946), Craft(c, Ping(c, Loc("10.0.0.0", 9000), Loc("10.0.0.0", 9000))));
  EXPECT_EQ(Stat(c, 0, "swim_dropped_misdirected"), 2);
}

TEST_F(SwimDetectorTest, ReplayedPacketsAreDroppedAndNotAnswered) {
  SimCluster c(Options(4));
  c.run_for(2'000);
  const Location from = Loc("10.0.0.1", 7946);
  // Eight PINGs as member 1 sends them to member 0, each answered once.
  std::vector<std::string> captured;
  for (int64_t seq = 100; seq < 108; ++seq) {
    GossipPacket p = Ping(c, Loc("10.0.0.1", 9000), Loc("10.0.0.0", 9000));
    p.seq = seq;
    captured.push_back(Craft(c, p));
  }
  const int64_t acks = Stat(c, 0, "swim_acks_sent");
  for (const auto& bytes : captured) c.inject(0, from, bytes);
  EXPECT_EQ(Stat(c, 0, "swim_acks_sent"), acks + 8);
  EXPECT_EQ(Stat(c, 0, "swim_dropped_replay"), 0);

  // Captured on the way and sent again, 50 times each, from member 1's endpoint or anywhere.
  const int64_t stale = Stat(c, 0, "swim_dropped_stale");
  for (int round = 0; round < 50; ++round) {
    for (const auto& bytes : captured) c.inject(0, round % 2 ? from : Loc("10.6.6.6", 7946), bytes);
  }
  EXPECT_EQ(Stat(c, 0, "swim_dropped_replay"), 50 * 8);
  EXPECT_EQ(Stat(c, 0, "swim_acks_sent"), acks + 8) << "a replay is not answered";
  EXPECT_EQ(Stat(c, 0, "swim_dropped_stale"), stale);

  // At the end of the window (sent_ms + 60 s) a replay is still recognised; after it, the
  // codec drops it as stale.
  c.run_for(59'000);
  int64_t acks_now = Stat(c, 0, "swim_acks_sent");
  c.inject(0, from, captured[0]);
  EXPECT_EQ(Stat(c, 0, "swim_dropped_replay"), 50 * 8 + 1);
  EXPECT_EQ(Stat(c, 0, "swim_acks_sent"), acks_now);
  c.run_for(2'000);
  acks_now = Stat(c, 0, "swim_acks_sent");
  c.inject(0, from, captured[1]);
  EXPECT_EQ(Stat(c, 0, "swim_dropped_stale"), stale + 1);
  EXPECT_EQ(Stat(c, 0, "swim_acks_sent"), acks_now);
  // The cluster's own traffic was never taken for a replay.
  EXPECT_EQ(c.total("swim_dropped_replay"), 50 * 8 + 1);
  for (size_t j = 0; j < c.size(); ++j) EXPECT_TRUE(Everyone(c, j, MemberState::ALIVE));
}

TEST_F(SwimDetectorTest, LossyMemberIsHelpedByIndirectProbes) {
  // 20% loss: direct probes fail often, PING_REQ through three helpers saves most of them.
  SimOptions o = Options(10, 4);
  o.loss = 0.2;
  SimCluster c(o);
  c.run_for(120'000);
  EXPECT_GT(c.total("swim_indirect_probes"), 50);
  EXPECT_GT(c.total("swim_relayed_probes"), 100);
  EXPECT_LT(c.total("swim_probe_failures"), c.total("swim_indirect_probes") / 2);
  EXPECT_EQ(c.total("swim_deaths"), 0);
}

TEST_F(SwimDetectorTest, StatsNameEveryCounter) {
  SimCluster c(Options(2));
  const auto stats = c.detector(0).stats();
  for (const char* name :
       {"swim_packets_sent", "swim_packets_received", "swim_acks_received", "swim_nacks_received",
        "swim_suspicions", "swim_deaths", "swim_refutations", "swim_dropped_bad_mac",
        "swim_dropped_malformed", "swim_dropped_too_large", "swim_dropped_stale",
        "swim_dropped_unknown_sender", "swim_dropped_replay", "swim_awareness"}) {
    EXPECT_EQ(stats.count(name), 1u) << name;
  }
}

TEST_F(SwimDetectorTest, RejectsBadConfig) {
  SwimConfig bad;
  bad.probe_timeout_ms = 5000;
  Member self;
  self.location = Loc("10.0.0.1", 9000);
  MemberTable table(self);
  KeyRing keys = KeyRing::DevelopmentKey();
  struct Null : Scheduler, PacketTransport {
    int64_t now_ms() override { return 0; }
    int64_t wall_ms() override { return 0; }
    void schedule(int64_t, std::function<void()>) override {}
    void send(const Location&, const std::string&) override {}
  } env;
  EXPECT_THROW(SwimDetector(bad, table, keys, env, env, 1), std::invalid_argument);
}

}  // namespace
}  // namespace thrifty::membership
