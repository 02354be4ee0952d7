#include "diststore/service/durability.h"

#include "locator/membership/member_table.h"

namespace thrifty::diststore {

namespace {

// "true", "false", or "" for a member that does not say.
std::string Durable(const std::map<std::string, std::string>& metadata) {
  auto it = metadata.find(kDurableKey);
  return it == metadata.end() ? std::string() : it->second;
}

std::string Describe(const std::string& durable) {
  return durable == "true" ? "keeps its data on disk" : "keeps its data in memory only (--memory)";
}

}  // namespace

std::string DurabilityMismatch(const locator::wire::Location& location,
                               const locator::wire::JoinInfo& joiner,
                               const std::vector<locator::wire::Member>& members) {
  const std::string mine = Durable(joiner.metadata);
  if (mine.empty()) return {};
  const std::string name = membership::MemberName(location);
  for (const locator::wire::Member& m : members) {
    if (!membership::InRing(m.state)) continue;
    const std::string other = membership::MemberName(m.location);
    if (other == name) continue;
    const std::string theirs = Durable(m.metadata);
    if (theirs.empty() || theirs == mine) continue;
    return "the joining node " + name + " " + Describe(mine) + ", but cluster member " + other +
           " " + Describe(theirs) +
           "; with one copy per key a --memory node would lose the keys it takes over at its "
           "first crash: run every node of a cluster with a data dir, or every node with "
           "--memory";
  }
  return {};
}

}  // namespace thrifty::diststore
