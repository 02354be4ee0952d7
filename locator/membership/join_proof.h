// JoinProof: shows a Thrift membership call (join, add, remove, sync) was made by a holder
// of the cluster key.
//
// Layout (binary, 40 bytes): 8-byte big-endian timestamp in ms since the epoch, then
// HMAC-SHA256 under the ring's signing key of ("thrifty/join-proof/1", purpose, caller,
// timestamp), each part length-prefixed. `caller` is the "host:port" Thrift location the call
// speaks for (the joining or removed member, the syncing peer); the verifier must pass the
// location named in the request, so a proof cannot be reused for another member or another
// kind of call. It is valid within `window_ms` of the verifier's clock in either direction:
// it can be replayed within the window, which is harmless because the calls it guards are
// idempotent merges of signed-off state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "locator/membership/key_ring.h"

namespace thrifty::membership {

class JoinProof {
 public:
  static constexpr size_t kSize = 8 + KeyRing::kMacSize;
  static constexpr int64_t kDefaultWindowMs = 5 * 60 * 1000;

  // Purposes of the Locator calls.
  static constexpr const char* kJoin = "join";
  static constexpr const char* kAdd = "add";
  static constexpr const char* kRemove = "remove";
  static constexpr const char* kSync = "sync";

  enum class Result { ok, malformed, expired, bad_mac };

  static std::string Make(const KeyRing& keys, std::string_view purpose, std::string_view caller,
                          int64_t now_ms);

  // Checks the length, then the time window, then the MAC (with every key of the ring).
  static Result Verify(const KeyRing& keys, std::string_view purpose, std::string_view caller,
                       std::string_view proof, int64_t now_ms,
                       int64_t window_ms = kDefaultWindowMs);

  static const char* ResultName(Result result);
};

}  // namespace thrifty::membership
