// SipHash-2-4 (Aumasson & Bernstein) with a 128-bit key and 64-bit output, from OpenSSL's
// EVP_MAC "SIPHASH". Keyed, so keys chosen by an outsider cannot be aimed at one node without
// knowing the key; placement needs every node to use the same key, so the key is configuration,
// not a secret kept from the cluster's clients.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "locator/hash/hash_function.h"

namespace thrifty::hash {

using SipHashKey = std::array<uint8_t, 16>;

// The key of "siphash" from MakeHashFunction: bytes 00 01 .. 0f, the key of the SipHash paper's
// test vectors. Fixed forever: changing it would move every key of every rendezvous/siphash ring.
inline constexpr SipHashKey kDefaultSipHashKey = {0, 1, 2,  3,  4,  5,  6,  7,
                                                  8, 9, 10, 11, 12, 13, 14, 15};

class SipHash24 final : public HashFunction {
 public:
  // Fails: std::runtime_error if OpenSSL cannot provide SIPHASH (e.g. a restricted provider).
  explicit SipHash24(const SipHashKey& key = kDefaultSipHashKey);

  // The 8 output bytes of SipHash-2-4 as the paper's test vectors print them.
  // Thread-safe. Fails: std::runtime_error only if OpenSSL does (out of memory).
  std::array<uint8_t, 8> mac(std::string_view data) const;

  // The output read as a little-endian integer (the SipHash reference's uint64 result).
  uint64_t hash(std::string_view data) const override;
  std::string_view name() const override { return "siphash"; }

 private:
  SipHashKey key_;
  // Tells a thread whether its cached OpenSSL context already holds this key. Unique per
  // instance for the life of the process (an address could be reused by a later instance).
  uint64_t id_;
};

}  // namespace thrifty::hash
