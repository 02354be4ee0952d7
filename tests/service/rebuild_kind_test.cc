// RebuildKindOf: a first join told apart from a wiped return by what the cluster knew of the
// node's address when it joined.
#include "diststore/service/rebuild_kind.h"

#include <gtest/gtest.h>

#include "locator/service/locator_node.h"

namespace thrifty::diststore {
namespace {

using locator::wire::Member;
using locator::wire::MemberState;

Member Known(MemberState::type state, const std::string& host_id) {
  Member m;
  m.location.address = "127.0.0.1";
  m.location.port = 9900;
  m.state = state;
  if (!host_id.empty()) m.metadata[locator::kHostIdMetadataKey] = host_id;
  return m;
}

TEST(RebuildKind, AnAddressTheClusterNeverHadOrOneThatLeftIsAFirstJoin) {
  EXPECT_EQ(RebuildKindOf(true, true, true, "new", std::nullopt), RebuildKind::kFirstJoin);
  EXPECT_EQ(RebuildKindOf(true, true, true, "new", Known(MemberState::LEFT, "old")),
            RebuildKind::kFirstJoin);
}

TEST(RebuildKind, AnAddressKnownWithAnotherHostIdIsAWipedReturnInAnyStateButLeft) {
  for (auto state : {MemberState::ALIVE, MemberState::SUSPECT, MemberState::DEAD}) {
    EXPECT_EQ(RebuildKindOf(true, true, true, "new", Known(state, "old")),
              RebuildKind::kWipedReturn);
    // A member that did not say who it was: its acknowledgements may have counted.
    EXPECT_EQ(RebuildKindOf(true, true, true, "new", Known(state, "")), RebuildKind::kWipedReturn);
  }
}

TEST(RebuildKind, AKeptHostIdOneCopyOrNoClusterTakesNothing) {
  EXPECT_EQ(RebuildKindOf(true, true, false, "same", Known(MemberState::DEAD, "same")),
            RebuildKind::kNone);
  EXPECT_EQ(RebuildKindOf(false, true, true, "new", Known(MemberState::DEAD, "old")),
            RebuildKind::kNone);
  EXPECT_EQ(RebuildKindOf(true, false, true, "new", std::nullopt), RebuildKind::kNone);
  EXPECT_EQ(RebuildKindOf(true, true, true, "same", Known(MemberState::ALIVE, "same")),
            RebuildKind::kNone);
}

}  // namespace
}  // namespace thrifty::diststore
