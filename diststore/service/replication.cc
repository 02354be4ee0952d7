#include "diststore/service/replication.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "locator/membership/member_table.h"

namespace thrifty::diststore {

std::string ReplicationOptions::validate() const {
  if (replicas < 1 || replicas > 7) return "--replicas must be in 1..7";
  for (Consistency level : {read, write}) {
    if (level != wire::Consistency::ONE && level != wire::Consistency::QUORUM &&
        level != wire::Consistency::ALL) {
      return "--read-consistency and --write-consistency must be one, quorum or all";
    }
  }
  if (anti_entropy_interval_ms < 0 || anti_entropy_interval_ms > 7LL * 86400 * 1000) {
    return "--anti-entropy-interval-s must be in 0..604800 (0: only on demand)";
  }
  if (speculative_retry_ms < 0 || speculative_retry_ms > 60000) {
    return "--speculative-retry-ms must be in 0..60000 (0: ask every replica at once)";
  }
  if (gc_grace_ms < 1000 || gc_grace_ms > 3650LL * 86400 * 1000) {
    return "--gc-grace-s must be in 1..315360000";
  }
  return {};
}

size_t RequiredReplies(Consistency level, size_t n) {
  switch (level) {
    case wire::Consistency::ONE:
      return 1;
    case wire::Consistency::ALL:
      return n;
    case wire::Consistency::QUORUM:
    default:
      return n / 2 + 1;
  }
}

Consistency Resolve(Consistency level, Consistency fallback) {
  return level == wire::Consistency::DEFAULT ? fallback : level;
}

Consistency LevelFromWire(int32_t value) {
  if (value < wire::Consistency::DEFAULT || value > wire::Consistency::ALL) {
    wire::StoreError e;
    e.message = "unknown consistency level " + std::to_string(value) +
                " (use ONE = 1, QUORUM = 2, ALL = 3, or leave it out for the node's default); "
                "nothing was done";
    throw e;
  }
  return static_cast<Consistency>(value);
}

std::string ConsistencyName(Consistency level) {
  switch (level) {
    case wire::Consistency::ONE:
      return "one";
    case wire::Consistency::QUORUM:
      return "quorum";
    case wire::Consistency::ALL:
      return "all";
    default:
      return "default";
  }
}

Consistency ParseConsistency(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "one") return wire::Consistency::ONE;
  if (lower == "quorum") return wire::Consistency::QUORUM;
  if (lower == "all") return wire::Consistency::ALL;
  throw std::invalid_argument("unknown consistency level '" + text +
                              "' (expected one, quorum or all)");
}

std::string ReplicationMismatch(const locator::wire::Location& location, const locator::wire::JoinInfo& joiner,
                                const std::vector<locator::wire::Member>& members) {
  auto mine = joiner.metadata.find(kReplicasKey);
  if (mine == joiner.metadata.end()) return {};
  const std::string name = membership::MemberName(location);
  for (const locator::wire::Member& m : members) {
    if (!membership::InRing(m.state)) continue;
    const std::string other = membership::MemberName(m.location);
    if (other == name) continue;
    auto theirs = m.metadata.find(kReplicasKey);
    if (theirs == m.metadata.end() || theirs->second == mine->second) continue;
    return "the joining node " + name + " keeps " + mine->second +
           " copies of each key (--replicas " + mine->second + "), but cluster member " + other +
           " keeps " + theirs->second + ": every node of a cluster must run with the same --replicas";
  }
  return {};
}

void ThrowUnavailable(const std::string& what, size_t required, size_t alive) {
  wire::Unavailable e;
  e.message = what + ": " + std::to_string(required) + " replicas required, " +
              std::to_string(alive) + " alive; nothing was done (retry when replicas are back, " +
              "or use a lower consistency level)";
  e.replicas_required = static_cast<int32_t>(required);
  e.replicas_alive = static_cast<int32_t>(alive);
  throw e;
}

void ThrowTimedOut(const std::string& what, size_t required, size_t acknowledged) {
  wire::TimedOut e;
  e.message = what + ": " + std::to_string(acknowledged) + " of the " + std::to_string(required) +
              " replicas required acknowledged; the write may or may not survive (retrying it "
              "is safe)";
  e.replicas_required = static_cast<int32_t>(required);
  e.replicas_acknowledged = static_cast<int32_t>(acknowledged);
  throw e;
}

}  // namespace thrifty::diststore
