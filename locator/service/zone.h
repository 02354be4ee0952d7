// Zones: the failure domain a member says it is in (a rack, a host, an availability zone), so
// that a key's replicas can be spread over distinct zones (diststore's ReplicaPlacement).
//
// A member's zone is its "zone" metadata; a member without one is in the zone "" (so a
// cluster where no node names a zone is one zone, and replicas follow the preference list).
// Zones are compared as exact strings. Pure functions, thread-safe.
#pragma once

#include <string>

#include "locator_types.h"

namespace thrifty::locator {

// Metadata key holding a member's zone name.
inline constexpr const char* kZoneKey = "zone";
// The longest zone name accepted.
inline constexpr size_t kMaxZoneBytes = 64;

// The member's zone: its "zone" metadata, "" when absent.
std::string MemberZone(const wire::Member& member);

// Empty when `zone` may name a zone: "" (no zone) or 1..64 bytes of ASCII letters, digits, '.',
// '_' and '-'. Otherwise says what is wrong with it, quoting (a printable prefix of) it.
std::string ZoneProblem(const std::string& zone);

}  // namespace thrifty::locator
