// A flat locator cluster of real processes: autodiscovery, agreement, clean leaves.
#include <algorithm>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"
#include "tests/cluster/harness.h"

namespace thrifty::testing {
namespace {

std::set<std::string> RingOf(Cluster& cluster, int i) {
  std::vector<locator::wire::Location> all;
  cluster.pool().call(cluster.location(i),
                      [&](diststore::wire::StoreClient& c) { c.get_all(all); });
  std::set<std::string> names;
  for (const auto& l : all) names.insert(rpc::ToString(l));
  return names;
}

std::set<std::string> Expected(Cluster& cluster, const std::vector<int>& live) {
  std::set<std::string> names;
  for (int i : live) names.insert(rpc::ToString(cluster.location(i)));
  return names;
}

bool AllAgree(Cluster& cluster, const std::vector<int>& live) {
  const auto expected = Expected(cluster, live);
  for (int i : live) {
    try {
      if (RingOf(cluster, i) != expected) return false;
    } catch (const std::exception&) {
      return false;
    }
  }
  return true;
}

TEST(LocatorCluster, EightNodesByAutodiscoveryAgreeAndSurviveTwoLeaves) {
  Cluster cluster("locator");
  std::vector<int> live;
  for (int i = 0; i < 8; ++i) {
    const int node = cluster.start();  // no --peer, no --port: discovery only
    ASSERT_GE(node, 0);
    live.push_back(node);
  }
  // The first started a cluster; every later one discovered a node and joined.
  EXPECT_NE(cluster.log(0).find("started a new cluster"), std::string::npos);
  for (int i = 1; i < 8; ++i) {
    EXPECT_NE(cluster.log(i).find("and joined its cluster"), std::string::npos) << cluster.log(i);
  }
  ASSERT_TRUE(WaitFor([&] { return AllAgree(cluster, live); }, 2000))
      << "views did not agree within 2 s of the last join";

  // Every node names the same owner for every key.
  for (int k = 0; k < 1000; ++k) {
    const std::string key = "key-" + std::to_string(k);
    std::set<std::string> owners;
    for (int i : live) {
      locator::wire::Location owner;
      cluster.pool().call(cluster.location(i), [&](diststore::wire::StoreClient& c) { c.get_node(owner, key); });
      owners.insert(rpc::ToString(owner));
    }
    ASSERT_EQ(owners.size(), 1u) << "nodes disagree on the owner of " << key;
  }

  // Two clean leaves: exit 0, and the survivors converge on the six that remain.
  EXPECT_EQ(cluster.terminate(2), 0) << cluster.log(2);
  EXPECT_EQ(cluster.terminate(5), 0) << cluster.log(5);
  live = {0, 1, 3, 4, 6, 7};
  EXPECT_TRUE(WaitFor([&] { return AllAgree(cluster, live); }, 2000))
      << "views did not converge within 2 s of the leaves";
  // The leavers are known as LEFT.
  std::vector<locator::wire::Member> members;
  cluster.pool().call(cluster.location(0),
                      [&](diststore::wire::StoreClient& c) { c.members(members); });
  int left = 0;
  for (const auto& m : members) left += m.state == locator::wire::MemberState::LEFT;
  EXPECT_EQ(left, 2);
}

TEST(LocatorCluster, StoreselectLiveModeAgreesWithTheNodes) {
  Cluster cluster("locator");
  for (int i = 0; i < 3; ++i) {
    ASSERT_GE(cluster.start(i == 2 ? std::vector<std::string>{"--weight=2"}
                                   : std::vector<std::string>{}), 0);
  }
  std::vector<int> live = {0, 1, 2};
  ASSERT_TRUE(WaitFor([&] { return AllAgree(cluster, live); }, 2000));
  std::string input;
  for (int k = 0; k < 200; ++k) input += "key-" + std::to_string(k) + "\n";
  const auto result = RunCommand(
      {BinDir() + "/storeselect", "--peer=" + rpc::ToString(cluster.location(1))}, input);
  ASSERT_EQ(result.status, 0) << result.err;
  std::istringstream lines(result.out);
  std::string line;
  int checked = 0;
  while (std::getline(lines, line)) {
    const auto tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    locator::wire::Location owner;
    const std::string key = line.substr(0, tab);
    cluster.pool().call(cluster.location(0),
                        [&](diststore::wire::StoreClient& c) { c.get_node(owner, key); });
    EXPECT_EQ(line.substr(tab + 1), rpc::ToString(owner)) << key;
    ++checked;
  }
  EXPECT_EQ(checked, 200);
  // No node at --peer: one line on stderr, exit 2.
  const auto missing = RunCommand({BinDir() + "/storeselect", "--peer=127.0.0.1:1", "k"});
  EXPECT_EQ(missing.status, 2);
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
}

}  // namespace
}  // namespace thrifty::testing
