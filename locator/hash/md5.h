// MD5 (RFC 1321). Not for security: ketama placement is defined in terms of MD5 (it must map
// keys exactly as libmemcached does), and MD5 is one of the hashes rendezvous can use.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "locator/hash/hash_function.h"

namespace thrifty::hash {

using Md5Digest = std::array<uint8_t, 16>;

// Returns the 16-byte MD5 digest of `data`.
// Thread-safe, allocation-free and fast for short inputs (ketama hashes every key with it).
Md5Digest Md5(std::string_view data);

// The 32-bit little-endian word at bytes [4*i, 4*i+4) of an MD5 digest, i in 0..3: the unit
// ketama builds its continuum and hashes its keys with.
inline uint32_t Md5Word(const Md5Digest& digest, int i) {
  const uint8_t* p = digest.data() + 4 * i;
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// Md5Word(Md5(data), 0), computed without assembling the digest: ketama's key hash.
uint32_t Md5FirstWord(std::string_view data);

// "md5": the first 8 digest bytes read as a little-endian integer.
class Md5Hash final : public HashFunction {
 public:
  Md5Hash() = default;
  uint64_t hash(std::string_view data) const override;
  std::string_view name() const override { return "md5"; }
};

}  // namespace thrifty::hash
