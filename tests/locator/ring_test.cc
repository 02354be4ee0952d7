// Ring: the snapshot of who owns a key, built from members with their weights in metadata.
#include "locator/service/ring.h"

#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "locator/membership/member_table.h"
#include "locator/placement/placement.h"
#include "locator/rpc/address.h"

namespace thrifty::locator {
namespace {

using membership::MemberName;

Member MakeMember(int port, const char* weight = nullptr) {
  Member m;
  m.location = rpc::MakeLocation("127.0.0.1", port);
  m.state = wire::MemberState::ALIVE;
  m.incarnation = 1;
  if (weight) m.metadata[kWeightKey] = weight;
  return m;
}

std::string Key(int i) { return "key-" + std::to_string(i); }

TEST(MemberWeight, ReadsTheWeightMetadata) {
  EXPECT_EQ(MemberWeight(MakeMember(1)), 1.0);  // absent
  EXPECT_EQ(MemberWeight(MakeMember(1, "1")), 1.0);
  EXPECT_EQ(MemberWeight(MakeMember(1, "2")), 2.0);
  EXPECT_EQ(MemberWeight(MakeMember(1, "2.5")), 2.5);
  EXPECT_EQ(MemberWeight(MakeMember(1, "0.25")), 0.25);
  // Other metadata is not a weight.
  Member m = MakeMember(1);
  m.metadata["zone"] = "7";
  EXPECT_EQ(MemberWeight(m), 1.0);
}

TEST(MemberWeight, BadValuesCountAsOne) {
  for (const char* bad : {"", "abc", "0", "-1", "-0.5", "inf", "-inf", "nan", "1e999", "  "}) {
    EXPECT_EQ(MemberWeight(MakeMember(1, bad)), 1.0) << "weight '" << bad << "'";
  }
}

// "Decimal text": a number followed by anything else, or written in hex, is not a weight.
TEST(MemberWeight, TextThatIsNotWhollyADecimalNumberCountsAsOne) {
  for (const char* bad : {"3x", "2 apples", "0x10", "1,5"}) {
    EXPECT_EQ(MemberWeight(MakeMember(1, bad)), 1.0) << "weight '" << bad << "'";
  }
}

TEST(Ring, AgreesWithItsPlacement) {
  const std::vector<Member> members = {MakeMember(7001), MakeMember(7002, "2"),
                                       MakeMember(7003, "0.5"), MakeMember(7004, "1")};
  for (const std::string spec : {"ketama", "rendezvous/siphash", "rendezvous/xxh3"}) {
    Ring ring(members, spec);
    auto placement = placement::MakePlacement(spec);
    for (const auto& m : members) placement->add(MemberName(m.location), MemberWeight(m));
    EXPECT_EQ(ring.size(), 4u);
    EXPECT_EQ(ring.placement_spec(), spec);
    for (int i = 0; i < 5000; ++i) {
      const std::string key = Key(i);
      ASSERT_EQ(MemberName(ring.owner(key)), placement->owner(key)) << spec << " " << key;
      const auto list = ring.preference_list(key, 3);
      const auto expected = placement->preference_list(key, 3);
      ASSERT_EQ(list.size(), 3u);
      for (size_t j = 0; j < 3; ++j) {
        ASSERT_EQ(MemberName(list[j]), expected[j]) << spec << " " << key << " #" << j;
      }
    }
  }
}

TEST(Ring, PreferenceListsAreDistinctAndStartWithTheOwner) {
  const std::vector<Member> members = {MakeMember(7001), MakeMember(7002), MakeMember(7003)};
  Ring ring(members, "ketama");
  for (int i = 0; i < 1000; ++i) {
    const auto list = ring.preference_list(Key(i), 10);
    ASSERT_EQ(list.size(), 3u) << "min(n, size())";
    EXPECT_EQ(MemberName(list[0]), MemberName(ring.owner(Key(i))));
    std::set<std::string> names;
    for (const auto& l : list) names.insert(MemberName(l));
    EXPECT_EQ(names.size(), 3u);
    EXPECT_EQ(ring.preference_list(Key(i), 1).size(), 1u);
  }
}

TEST(Ring, WeightsShareTheKeys) {
  const std::vector<Member> members = {MakeMember(7001, "1"), MakeMember(7002, "2"),
                                       MakeMember(7003, "1")};
  Ring ring(members, "ketama");
  std::map<std::string, int> count;
  constexpr int kKeys = 40000;
  for (int i = 0; i < kKeys; ++i) ++count[MemberName(ring.owner(Key(i)))];
  const double heavy = count["127.0.0.1:7002"];
  const double light = (count["127.0.0.1:7001"] + count["127.0.0.1:7003"]) / 2.0;
  EXPECT_GT(heavy / light, 1.6);
  EXPECT_LT(heavy / light, 2.4);
  EXPECT_EQ(ring.signature().at("127.0.0.1:7002"), 2.0);
  EXPECT_EQ(ring.signature().at("127.0.0.1:7001"), 1.0);
}

TEST(Ring, NodesAndSignature) {
  Ring ring({MakeMember(7003), MakeMember(7001, "3")}, "ketama");
  ASSERT_EQ(ring.nodes().size(), 2u);
  EXPECT_EQ(ring.nodes()[0].port, 7001);  // by name
  EXPECT_EQ(ring.nodes()[1].port, 7003);
  EXPECT_TRUE(ring.contains("127.0.0.1:7001"));
  EXPECT_FALSE(ring.contains("127.0.0.1:7002"));
  // Same members and weights in another order: same signature, same owners.
  Ring again({MakeMember(7001, "3"), MakeMember(7003)}, "ketama");
  EXPECT_EQ(ring.signature(), again.signature());
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(MemberName(ring.owner(Key(i))), MemberName(again.owner(Key(i))));
  }
  // Another weight: another signature.
  Ring heavier({MakeMember(7001, "4"), MakeMember(7003)}, "ketama");
  EXPECT_NE(ring.signature(), heavier.signature());
}

TEST(Ring, EmptyRingThrowsPlacementError) {
  Ring ring({}, "ketama");
  EXPECT_TRUE(ring.empty());
  EXPECT_THROW(ring.owner("k"), placement::PlacementError);
  EXPECT_THROW(ring.preference_list("k", 1), placement::PlacementError);
}

TEST(Ring, UnknownPlacementSpecThrowsPlacementErrorNamingIt) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"no-such-scheme", "no-such-scheme"}, {"ketama/sha1", "sha1"}, {"rendezvous/", "rendezvous/"}};
  for (const auto& [spec, named] : cases) {
    try {
      Ring ring({MakeMember(7001)}, spec);
      ADD_FAILURE() << "built a ring with placement '" << spec << "'";
    } catch (const placement::PlacementError& e) {
      EXPECT_NE(std::string(e.what()).find(named), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(Ring({}, ""), placement::PlacementError);
}

TEST(WeightProblem, NamesTheValueAndWhyTheRingCannotTakeIt) {
  EXPECT_EQ(WeightProblem(MakeMember(1), "ketama"), "");
  EXPECT_EQ(WeightProblem(MakeMember(1, "2.5"), "ketama"), "");
  EXPECT_EQ(WeightProblem(MakeMember(1, "1"), "jump"), "");
  const std::string garbage = WeightProblem(MakeMember(1, "heavy"), "ketama");
  EXPECT_NE(garbage.find("'heavy'"), std::string::npos) << garbage;
  const std::string too_big = WeightProblem(MakeMember(1, "5e9"), "ketama");
  EXPECT_NE(too_big.find("'5e9'"), std::string::npos) << too_big;
  EXPECT_NE(too_big.find("ketama"), std::string::npos) << too_big;
  EXPECT_NE(WeightProblem(MakeMember(1, "2"), "jump"), "");
  EXPECT_NE(WeightProblem(MakeMember(1, "0"), "rendezvous"), "");
}

// A weight that arrived by gossip is not checked the way a join is; the ring must still build
// (the same way on every node) rather than throw inside a membership listener.
TEST(Ring, AWeightThePlacementRefusesIsPlacedAsOne) {
  for (const char* spec : {"ketama", "jump"}) {
    const std::vector<Member> members = {MakeMember(1), MakeMember(2, "5e9"), MakeMember(3)};
    std::unique_ptr<Ring> ring;
    ASSERT_NO_THROW(ring = std::make_unique<Ring>(members, spec)) << spec;
    EXPECT_EQ(ring->size(), 3u);
    EXPECT_EQ(ring->signature().at(MemberName(members[1].location)), 1.0) << spec;
    const Ring plain({MakeMember(1), MakeMember(2), MakeMember(3)}, spec);
    for (int i = 0; i < 1000; ++i) {
      ASSERT_EQ(MemberName(ring->owner(Key(i))), MemberName(plain.owner(Key(i)))) << spec;
    }
  }
}

}  // namespace
}  // namespace thrifty::locator
