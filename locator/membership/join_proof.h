// JoinProof: shows a Thrift membership call (join, add, remove, sync) was made by a holder
// of the cluster key.
//
// Layout (binary, 40 bytes): 8-byte big-endian timestamp in ms since the epoch, then
// HMAC-SHA256 under the ring's signing key of ("thrifty/join-proof/1", purpose, caller,
// timestamp), each part length-prefixed. `caller` is the "host:port" Thrift location the call
// speaks for (the joining or removed member, the syncing peer); the verifier must pass the
// location named in the request, so a proof cannot be reused for another member or another
// kind of call. A sync proof binds its payload instead: its `caller` is SyncDigest(members), so
// a captured proof cannot carry another member list. It is valid within `window_ms` of the
// verifier's clock in either direction: it can be replayed within the window, but only on a
// connection that proved the cluster key (locator/service/peer_auth.h), and the calls it
// guards are idempotent merges of signed-off state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <vector>

#include "locator/membership/key_ring.h"
#include "locator_types.h"

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

  // The `caller` of a sync proof: hex SHA-256 of the members in Thrift's binary encoding (which
  // is deterministic: fields in id order, maps in key order), so the proof covers the list.
  static std::string SyncDigest(const std::vector<locator::wire::Member>& members);
};

}  // namespace thrifty::membership
