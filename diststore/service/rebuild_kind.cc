#include "diststore/service/rebuild_kind.h"

#include "locator/service/locator_node.h"

namespace thrifty::diststore {

const char* RebuildKindName(RebuildKind kind) {
  switch (kind) {
    case RebuildKind::kNone: return "none";
    case RebuildKind::kFirstJoin: return "first join";
    case RebuildKind::kWipedReturn: return "wiped return";
  }
  return "?";
}

RebuildKind RebuildKindOf(bool replicated, bool joined, bool new_host_id,
                          const std::string& host_id,
                          const std::optional<locator::wire::Member>& before_join) {
  if (!replicated || !joined || !new_host_id) return RebuildKind::kNone;
  if (!before_join || before_join->state == locator::wire::MemberState::LEFT) {
    return RebuildKind::kFirstJoin;
  }
  const auto it = before_join->metadata.find(locator::kHostIdMetadataKey);
  // Known at this address under another host ID (or none: a node that did not say who it
  // was): the cluster may have counted its acknowledgements.
  if (it == before_join->metadata.end() || it->second != host_id) return RebuildKind::kWipedReturn;
  return RebuildKind::kNone;  // the cluster knew this very host ID: not new to it
}

}  // namespace thrifty::diststore
