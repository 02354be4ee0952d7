#include "locator/hash/md5.h"

#include <openssl/md5.h>

#include <cstring>

namespace thrifty::hash {

// OpenSSL 3 deprecates the low-level MD5 functions in favour of EVP, but EVP costs about as much
// as the digest itself on a short key (measured on a 20-byte key: EVP with a reused context
// ~270 ns, EVP_Digest ~370 ns, MD5() ~170 ns, one MD5_Transform ~115-145 ns). Ketama hashes
// every lookup's key, so we keep the low-level functions, which OpenSSL 3 still ships, and
// silence the warning here only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace {

// A message of at most 55 bytes pads to a single 64-byte block (RFC 1321 3.1-3.2: a 0x80 byte,
// zeros, the bit length as 64-bit little-endian), so one compression does it. This skips
// MD5_Init/Update/Final's buffering, a fifth of the time of a short key.
constexpr size_t kBlock = 64;
constexpr size_t kMaxOneBlock = kBlock - 1 - 8;

// Requires data.size() <= kMaxOneBlock. Leaves the digest in ctx->A..D.
inline void Md5OneBlock(std::string_view data, MD5_CTX* ctx) {
  unsigned char block[kBlock] = {};
  if (!data.empty()) std::memcpy(block, data.data(), data.size());
  block[data.size()] = 0x80;
  const uint64_t bits = uint64_t{data.size()} * 8;
  for (int i = 0; i < 8; ++i) block[kBlock - 8 + i] = static_cast<unsigned char>(bits >> (8 * i));
  // RFC 1321 3.3's initial state. MD5_Transform reads nothing else of the context, so the
  // other fields need no clearing (MD5_Init would also zero the buffer it does not use).
  ctx->A = 0x67452301;
  ctx->B = 0xefcdab89;
  ctx->C = 0x98badcfe;
  ctx->D = 0x10325476;
  MD5_Transform(ctx, block);
}

}  // namespace

Md5Digest Md5(std::string_view data) {
  Md5Digest digest;
  if (data.size() <= kMaxOneBlock) {
    MD5_CTX ctx;
    Md5OneBlock(data, &ctx);
    const MD5_LONG words[4] = {ctx.A, ctx.B, ctx.C, ctx.D};
    for (int w = 0; w < 4; ++w) {
      for (int i = 0; i < 4; ++i) digest[4 * w + i] = static_cast<uint8_t>(words[w] >> (8 * i));
    }
    return digest;
  }
  MD5(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

uint32_t Md5FirstWord(std::string_view data) {
  if (data.size() <= kMaxOneBlock) {
    MD5_CTX ctx;
    Md5OneBlock(data, &ctx);
    return ctx.A;  // the digest's first 4 bytes are A, little-endian
  }
  return Md5Word(Md5(data), 0);
}

#pragma GCC diagnostic pop

uint64_t Md5Hash::hash(std::string_view data) const {
  const Md5Digest digest = Md5(data);
  return uint64_t{Md5Word(digest, 0)} | uint64_t{Md5Word(digest, 1)} << 32;
}

}  // namespace thrifty::hash
