// The ring's picture: ketama's arcs are exactly where its keys go; other placements get one arc
// per node as long as its share.
#include "diststore/ops/ring_picture.h"

#include <gtest/gtest.h>

#include "locator/placement/ketama.h"
#include "locator/rpc/address.h"

namespace thrifty::diststore {
namespace {

std::vector<locator::wire::Member> Members(const std::vector<std::pair<int, std::string>>& nodes) {
  std::vector<locator::wire::Member> out;
  for (const auto& [port, weight] : nodes) {
    locator::wire::Member m;
    m.location = rpc::MakeLocation("127.0.0.1", port);
    m.state = locator::wire::MemberState::ALIVE;
    m.metadata[locator::kWeightKey] = weight;
    out.push_back(m);
  }
  return out;
}

void ExpectCoversTheCircle(const RingPicture& picture) {
  ASSERT_FALSE(picture.arcs.empty());
  EXPECT_EQ(picture.arcs.front().start, 0.0);
  EXPECT_EQ(picture.arcs.back().end, 1.0);
  for (size_t i = 0; i < picture.arcs.size(); ++i) {
    EXPECT_LT(picture.arcs[i].start, picture.arcs[i].end);
    EXPECT_LT(picture.arcs[i].node, picture.nodes.size());
    if (i > 0) {
      EXPECT_EQ(picture.arcs[i].start, picture.arcs[i - 1].end);
      EXPECT_NE(picture.arcs[i].node, picture.arcs[i - 1].node) << "adjacent arcs of one node are merged";
    }
  }
  double total = 0;
  for (double share : picture.shares) total += share;
  EXPECT_NEAR(total, 1.0, 1e-9);
}

TEST(RingPicture, KetamaArcsAreWhereItsKeysGo) {
  const locator::Ring ring(Members({{9001, "1"}, {9002, "1"}, {9003, "2"}}), "ketama");
  const RingPicture picture = DrawRing(ring);
  EXPECT_TRUE(picture.exact);
  EXPECT_EQ(picture.nodes, (std::vector<std::string>{"127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"}));
  ExpectCoversTheCircle(picture);
  // Every key's owner is the node of the arc that holds the key's hash.
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 20000; ++i) {
    const std::string key = "key-" + std::to_string(i);
    const double at = placement::KetamaPlacement::KeyHash(key) / 4294967296.0;
    size_t arc = 0;
    while (picture.arcs[arc].end <= at) ++arc;
    const std::string& owner = picture.nodes[picture.arcs[arc].node];
    ASSERT_EQ(owner, rpc::ToString(ring.owner(key))) << key;
    ++counts[picture.arcs[arc].node];
  }
  // And the shares are the arcs' lengths: the keys follow them.
  for (size_t n = 0; n < 3; ++n) EXPECT_NEAR(counts[n] / 20000.0, picture.shares[n], 0.02);
  EXPECT_GT(picture.shares[2], picture.shares[0]) << "weight 2 owns more";
}

TEST(RingPicture, OtherPlacementsGetOneArcPerNodeAsLongAsItsShare) {
  const locator::Ring ring(Members({{9001, "1"}, {9002, "3"}}), "rendezvous/xxh3");
  const RingPicture picture = DrawRing(ring, 10000);
  EXPECT_FALSE(picture.exact);
  ExpectCoversTheCircle(picture);
  ASSERT_EQ(picture.arcs.size(), 2u);
  EXPECT_NEAR(picture.arcs[0].end - picture.arcs[0].start, picture.shares[0], 1e-9);
  EXPECT_NEAR(picture.shares[1], 0.75, 0.03);
}

TEST(RingPicture, OneNodeOwnsTheWholeCircleAndNoNodesDrawNothing) {
  const RingPicture one = DrawRing(locator::Ring(Members({{9001, "1"}}), "ketama"));
  ASSERT_EQ(one.arcs.size(), 1u);
  EXPECT_EQ(one.arcs[0].start, 0.0);
  EXPECT_EQ(one.arcs[0].end, 1.0);
  EXPECT_DOUBLE_EQ(one.shares[0], 1.0);
  const RingPicture none = DrawRing(locator::Ring({}, "ketama"));
  EXPECT_TRUE(none.nodes.empty());
  EXPECT_TRUE(none.arcs.empty());
}

}  // namespace
}  // namespace thrifty::diststore
