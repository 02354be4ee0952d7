// Trust boundaries of a store node, with real storeserver processes: who may call the
// node-to-node RPCs, which versions a node accepts, and which nodes may share a cluster.
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "diststore/storage/hlc.h"
#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"
#include "tests/cluster/harness.h"
#include "tests/cluster/store_checks.h"

namespace thrifty::testing {
namespace {

using storage::HybridLogicalClock;

int64_t StatOf(Cluster& cluster, int i, const std::string& name) {
  std::map<std::string, int64_t> stats;
  cluster.pool().call(cluster.location(i), [&](diststore::wire::StoreClient& c) { c.stats(stats); });
  auto it = stats.find(name);
  return it == stats.end() ? -1 : it->second;
}

std::string Get(Cluster& cluster, int i, const std::string& key) {
  std::string value;
  cluster.client_pool().call(cluster.location(i), [&](diststore::wire::StoreClient& c) { c.get(value, key, diststore::wire::Consistency::DEFAULT); });
  return value;
}

void Put(Cluster& cluster, int i, const std::string& key, const std::string& value) {
  cluster.client_pool().call(cluster.location(i), [&](diststore::wire::StoreClient& c) { c.put(key, value, diststore::wire::Consistency::DEFAULT); });
}

diststore::wire::Record Forged(const std::string& key, int64_t version) {
  diststore::wire::Record r;
  r.key = key;
  r.value = "forged";
  r.version = version;
  return r;
}

// Finding: any client could call owner_put with version INT64_MAX; every later put of the key
// was acknowledged and silently dropped. Now a plain client is refused, and even a peer's
// version must be a clock value not far ahead of the receiver's clock.
TEST(Trust, NodeToNodeWritesNeedAProvenKeyAndABoundedVersion) {
  Cluster cluster;
  const int a = cluster.start(RocksArgs(cluster, "a"));
  ASSERT_GE(a, 0);
  Put(cluster, a, "k", "real");

  // A plain client: Unauthorized, with what to do, and nothing changes.
  for (const char* call : {"owner_put", "handoff", "owner_get"}) {
    try {
      cluster.client_pool().call(cluster.location(a), [&](diststore::wire::StoreClient& c) {
        if (std::string(call) == "owner_put") c.owner_put({Forged("k", INT64_MAX)}, diststore::wire::Consistency::DEFAULT);
        if (std::string(call) == "handoff") {
          diststore::wire::HandoffAck ack;
          c.handoff(ack, {Forged("k", INT64_MAX)}, cluster.location(a));
        }
        if (std::string(call) == "owner_get") {
          std::vector<diststore::wire::Record> records;
          c.owner_get(records, {"k"}, false);
        }
      });
      ADD_FAILURE() << call << " was served on a connection that did not prove the key";
    } catch (const locator::wire::Unauthorized& e) {
      EXPECT_NE(e.message.find(std::string(call) + " is a node-to-node call"), std::string::npos)
          << e.message;
    }
  }
  EXPECT_EQ(StatOf(cluster, a, "peer_calls_refused"), 3);
  EXPECT_EQ(Get(cluster, a, "k"), "real");

  // A peer (the harness pool proves the development key) with versions out of bounds.
  const int64_t now_ms = membership::NowMs();
  const std::vector<int64_t> bad = {
      INT64_MAX, HybridLogicalClock::kMaxTimestamp + 1,
      HybridLogicalClock::make(now_ms + 10 * 60 * 1000, 0),  // 10 min ahead: past 60 s
      -5};
  for (int64_t version : bad) {
    for (bool handoff : {false, true}) {
      try {
        cluster.pool().call(cluster.location(a), [&](diststore::wire::StoreClient& c) {
          // A good record first: a refused batch writes none of it.
          std::vector<diststore::wire::Record> batch = {Forged("other", 0), Forged("k", version)};
          if (handoff) {
            batch[0].version = HybridLogicalClock::make(now_ms, 1);
            diststore::wire::HandoffAck ack;
            c.handoff(ack, batch, cluster.location(a));
          } else {
            c.owner_put(batch, diststore::wire::Consistency::DEFAULT);
          }
        });
        ADD_FAILURE() << "version " << version << " was accepted (handoff=" << handoff << ")";
      } catch (const diststore::wire::StoreError& e) {
        if (version > 0) {
          EXPECT_NE(e.message.find(std::to_string(version)), std::string::npos) << e.message;
          EXPECT_NE(e.message.find("nothing of the batch was written"), std::string::npos)
              << e.message;
        }
        if (version == bad[2]) {
          EXPECT_NE(e.message.find("--max-clock-drift-ms=60000"), std::string::npos) << e.message;
        }
      }
    }
  }
  EXPECT_GE(StatOf(cluster, a, "versions_refused"), 6);
  EXPECT_THROW(Get(cluster, a, "other"), diststore::wire::NotFound);
  // Acknowledged writes after all of it are read back: nothing froze the key.
  Put(cluster, a, "k", "later");
  EXPECT_EQ(Get(cluster, a, "k"), "later");

  // Within the drift limit a peer's version is taken, and the clock moves past it: the next
  // client write still wins.
  const int64_t ahead = HybridLogicalClock::make(now_ms + 20000, 0);
  cluster.pool().call(cluster.location(a),
                      [&](diststore::wire::StoreClient& c) { c.owner_put({Forged("k", ahead)}, diststore::wire::Consistency::DEFAULT); });
  EXPECT_EQ(Get(cluster, a, "k"), "forged");
  Put(cluster, a, "k", "newest");
  EXPECT_EQ(Get(cluster, a, "k"), "newest");
}

TEST(Trust, TheDriftLimitIsAFlag) {
  Cluster cluster;
  auto args = RocksArgs(cluster, "a");
  args.push_back("--max-clock-drift-ms=1000");
  const int a = cluster.start(args);
  ASSERT_GE(a, 0);
  const int64_t version = HybridLogicalClock::make(membership::NowMs() + 20000, 0);
  try {
    cluster.pool().call(cluster.location(a),
                        [&](diststore::wire::StoreClient& c) { c.owner_put({Forged("k", version)}, diststore::wire::Consistency::DEFAULT); });
    ADD_FAILURE() << "20 s ahead was accepted with --max-clock-drift-ms=1000";
  } catch (const diststore::wire::StoreError& e) {
    EXPECT_NE(e.message.find("--max-clock-drift-ms=1000"), std::string::npos) << e.message;
  }
  const auto bad = RunCommand({BinDir() + "/storeserver", "--max-clock-drift-ms=0", "--memory"});
  EXPECT_EQ(bad.status, 2) << bad.err;
  EXPECT_NE(bad.err.find("--max-clock-drift-ms"), std::string::npos) << bad.err;
}

std::map<std::string, std::string> MetadataOf(Cluster& cluster, int from, int who) {
  std::vector<locator::wire::Member> members;
  cluster.pool().call(cluster.location(from), [&](diststore::wire::StoreClient& c) { c.members(members); });
  for (const auto& m : members) {
    if (membership::MemberName(m.location) == membership::MemberName(cluster.location(who))) {
      return m.metadata;
    }
  }
  return {};
}

// Finding: a --memory node joining a RocksDB cluster took ~1/N of the keys, the disk nodes
// deleted their copies, and a kill -9 of it lost them for good. Mixing is now refused.
TEST(Trust, AMemoryNodeCannotJoinADurableClusterNorTheOtherWayRound) {
  Cluster disk;
  const int a = disk.start(RocksArgs(disk, "a"));
  ASSERT_GE(a, 0);
  const std::string peer = "--peer=" + rpc::ToString(disk.location(a));
  const std::string port = "--port=" + std::to_string(disk.first_port() + 39);
  const auto refused = RunCommand({BinDir() + "/storeserver", "--memory", peer, port}, "", 30000);
  EXPECT_EQ(refused.status, 1) << refused.err;
  EXPECT_NE(refused.err.find("in memory only"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("on disk"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find(membership::MemberName(disk.location(a))), std::string::npos)
      << refused.err;
  EXPECT_EQ(StatOf(disk, a, "joins_refused"), 1);
  EXPECT_EQ(StatOf(disk, a, "members_alive"), 1);

  Cluster memory;
  const int m = memory.start({"--memory"});
  ASSERT_GE(m, 0);
  const auto durable = RunCommand(
      {BinDir() + "/storeserver", "--data-dir=" + disk.dir() + "/joiner",
       "--peer=" + rpc::ToString(memory.location(m)),
       "--port=" + std::to_string(memory.first_port() + 39)},
      "", 30000);
  EXPECT_EQ(durable.status, 1) << durable.err;
  EXPECT_NE(durable.err.find("in memory only"), std::string::npos) << durable.err;

  // An all-memory cluster is fine.
  const int m2 = memory.start({"--memory"});
  ASSERT_GE(m2, 0);
  EXPECT_TRUE(WaitFor([&] { return StatOf(memory, m, "members_alive") == 2; }, 10000));
  EXPECT_EQ(MetadataOf(memory, m, m2).at("durable"), "false");
  EXPECT_EQ(MetadataOf(disk, a, a).at("durable"), "true");
}

// Each node has a host ID: kept with its data across restarts, new with a new data dir (or
// every start with --memory), shown in storectl members; the others notice the change.
TEST(Trust, HostIdsSurviveRestartsAndAWipedNodeIsANewNode) {
  Cluster cluster;
  const int a = cluster.start(RocksArgs(cluster, "a"));
  const int b = cluster.start(RocksArgs(cluster, "b"));
  ASSERT_GE(b, 0);
  ASSERT_TRUE(WaitFor([&] { return StatOf(cluster, a, "members_alive") == 2; }, 10000));
  const std::string id = MetadataOf(cluster, a, b)["host_id"];
  ASSERT_EQ(id.size(), 36u) << id;
  EXPECT_NE(id, MetadataOf(cluster, a, a)["host_id"]);

  const auto shown = RunCommand({BinDir() + "/storectl", "--peer=" + rpc::ToString(cluster.location(a)),
                                 "members"});
  EXPECT_EQ(shown.status, 0) << shown.err;
  EXPECT_NE(shown.out.find("host_id=" + id), std::string::npos) << shown.out;

  // Same data dir: same host ID.
  cluster.kill9(b);
  cluster.restart(b);
  ASSERT_TRUE(WaitFor([&] { return MetadataOf(cluster, a, b)["host_id"] == id &&
                                   StatOf(cluster, a, "members_alive") == 2; }, 15000));
  EXPECT_EQ(StatOf(cluster, a, "host_id_changes"), 0);

  // A wiped data dir: a new host ID, and the others count the change.
  cluster.kill9(b);
  std::filesystem::remove_all(cluster.dir() + "/b");
  cluster.restart(b);
  std::string now;
  ASSERT_TRUE(WaitFor([&] {
    now = MetadataOf(cluster, a, b)["host_id"];
    return now.size() == 36 && now != id;
  }, 15000)) << now;
  EXPECT_TRUE(WaitFor([&] { return StatOf(cluster, a, "host_id_changes") == 1; }, 5000));
  std::ifstream file(cluster.dir() + "/b/HOST_ID");
  std::string stored;
  std::getline(file, stored);
  EXPECT_EQ(stored, now);
}

}  // namespace
}  // namespace thrifty::testing
