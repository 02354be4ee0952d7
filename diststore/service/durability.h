// Durability: which nodes may share a cluster, by whether they keep their data.
//
// With one copy per key, a node that keeps its data in memory only (--memory) loses the keys
// it owns when it stops; in a cluster of disk nodes it would take about 1/N of their keys by
// handoff (the disk nodes delete their copies once it acknowledged) and lose them at its first
// crash. So a cluster is either all durable or all --memory, as it has one placement: a join
// that would mix them is refused with a message naming both. Every store node says which it
// is in its member metadata (kDurableKey), with its host ID (kHostIdKey, see
// storage/host_id.h). Members that say nothing (bare locators) are not counted.
#pragma once

#include <string>
#include <vector>

#include "Locator.h"

namespace thrifty::diststore {

constexpr char kDurableKey[] = "durable";  // "true" or "false"
constexpr char kHostIdKey[] = "host_id";

// Empty when `joiner` (at `location`) may join a cluster of `members`; otherwise why not, in
// words an operator can act on. Only ALIVE and SUSPECT members other than `location` count.
std::string DurabilityMismatch(const locator::wire::Location& location,
                               const locator::wire::JoinInfo& joiner,
                               const std::vector<locator::wire::Member>& members);

}  // namespace thrifty::diststore
