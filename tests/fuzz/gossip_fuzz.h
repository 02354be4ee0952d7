// Shared by the libFuzzer target, its seed writer and the plain driver.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "locator/membership/gossip_codec.h"
#include "locator/membership/key_ring.h"

namespace thrifty::membership::fuzz {

// The wall clock the fuzzed decoder runs at: packets stamped near it are not stale.
constexpr int64_t kFuzzNowMs = 1'700'000'000'000;

inline KeyRing FuzzKeys() { return KeyRing::DevelopmentKey(); }

// body + HMAC trailer: a datagram as a member holding the key would send it.
inline std::string SignBody(const KeyRing& keys, const std::string& body) {
  const auto mac = keys.sign(GossipCodec::kMacPurpose, body);
  return body + std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

// Struct bytes (no MAC) of valid packets of every type, with and without updates.
std::vector<std::string> SeedBodies();

// The checks of one input (the body of LLVMFuzzerTestOneInput). Aborts on a broken invariant.
int RunOne(const uint8_t* data, size_t size);

}  // namespace thrifty::membership::fuzz
