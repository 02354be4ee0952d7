#include "locator/membership/join_proof.h"

#include <openssl/sha.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

namespace thrifty::membership {

namespace {

constexpr std::string_view kDomain = "thrifty/join-proof/1";

std::string Stamp(int64_t ms) {
  std::string out(8, '\0');
  const auto u = static_cast<uint64_t>(ms);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(u >> (56 - 8 * i));
  return out;
}

// The MAC input: each part length-prefixed so that "ad"+"d:1" never equals "add"+":1".
std::string Message(std::string_view purpose, std::string_view caller, const std::string& stamp) {
  std::string msg;
  for (std::string_view part : {purpose, caller, std::string_view(stamp)}) {
    msg += Stamp(static_cast<int64_t>(part.size()));
    msg.append(part.data(), part.size());
  }
  return msg;
}

}  // namespace

std::string JoinProof::Make(const KeyRing& keys, std::string_view purpose,
                            std::string_view caller, int64_t now_ms) {
  const std::string stamp = Stamp(now_ms);
  const KeyRing::Mac mac = keys.sign(kDomain, Message(purpose, caller, stamp));
  return stamp + std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

JoinProof::Result JoinProof::Verify(const KeyRing& keys, std::string_view purpose,
                                    std::string_view caller, std::string_view proof,
                                    int64_t now_ms, int64_t window_ms) {
  if (proof.size() != kSize) return Result::malformed;
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>(proof[i]);
  const auto stamp_ms = static_cast<int64_t>(u);
  // Compare in a way that cannot overflow for absurd stamps.
  const bool too_old = stamp_ms < now_ms && static_cast<uint64_t>(now_ms) -
                                                    static_cast<uint64_t>(stamp_ms) >
                                                static_cast<uint64_t>(window_ms);
  const bool too_new = stamp_ms > now_ms && static_cast<uint64_t>(stamp_ms) -
                                                    static_cast<uint64_t>(now_ms) >
                                                static_cast<uint64_t>(window_ms);
  if (too_old || too_new) return Result::expired;
  const std::string stamp(proof.substr(0, 8));
  const auto* mac = reinterpret_cast<const uint8_t*>(proof.data() + 8);
  if (!keys.verify(kDomain, Message(purpose, caller, stamp), mac, KeyRing::kMacSize)) {
    return Result::bad_mac;
  }
  return Result::ok;
}

std::string JoinProof::SyncDigest(const std::vector<locator::wire::Member>& members) {
  auto buffer = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
  apache::thrift::protocol::TBinaryProtocol protocol(buffer);
  protocol.writeListBegin(apache::thrift::protocol::T_STRUCT, static_cast<uint32_t>(members.size()));
  for (const auto& m : members) m.write(&protocol);
  protocol.writeListEnd();
  uint8_t* data = nullptr;
  uint32_t size = 0;
  buffer->getBuffer(&data, &size);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(data, size, digest);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += hex[b >> 4];
    out += hex[b & 0xf];
  }
  return out;
}

const char* JoinProof::ResultName(Result result) {
  switch (result) {
    case Result::ok: return "ok";
    case Result::malformed: return "malformed proof";
    case Result::expired: return "proof outside the time window (clock skew or replay)";
    case Result::bad_mac: return "proof not made with the cluster key";
  }
  return "?";
}

}  // namespace thrifty::membership
