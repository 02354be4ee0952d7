// KeyRing: the cluster keys that authenticate gossip packets and Thrift membership calls with
// HMAC-SHA256.
//
// Key file (--cluster-key-file): one key per line, hex-encoded (e.g. `openssl rand -hex 32`),
// at least 16 bytes (32 hex digits) and at most 256 bytes; blank lines and lines starting
// with '#' are ignored; surrounding whitespace is trimmed. The FIRST key signs, EVERY key
// verifies. To rotate without a flag day: (1) add the new key as a second line on every
// node, (2) move it to the first line on every node, (3) remove the old key.
//
// Thread-safe: all methods are const and may be called concurrently.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace thrifty::membership {

class KeyRing {
 public:
  static constexpr size_t kMacSize = 32;
  static constexpr size_t kMinKeySize = 16;
  static constexpr size_t kMaxKeySize = 256;
  using Mac = std::array<uint8_t, kMacSize>;

  // Reads and parses a key file. Throws std::runtime_error naming the file and, for a bad
  // line, its number (never the key itself).
  static KeyRing FromFile(const std::string& path);

  // Parses key file content; `origin` names it in errors.
  static KeyRing Parse(std::string_view text, const std::string& origin = "cluster key");

  // A fixed, publicly known key: it only keeps packets of unrelated test clusters apart. Use
  // it only when every member listens on loopback (see IsLoopback); the node warns.
  static KeyRing DevelopmentKey();

  // Raw keys, the signing key first. Throws std::invalid_argument if empty or a key is
  // shorter than kMinKeySize or longer than kMaxKeySize.
  explicit KeyRing(std::vector<std::string> keys);

  bool is_development() const { return development_; }
  size_t size() const { return keys_.size(); }

  // HMAC-SHA256 under the signing key of `purpose` and `data`. `purpose` separates the uses
  // of one key (gossip packets, join proofs) so that a MAC made for one never verifies as the
  // other; it is length-prefixed, so no (purpose, data) pair can imitate another.
  Mac sign(std::string_view purpose, std::string_view data) const;

  // True if `mac` is the MAC of (purpose, data) under any key of the ring. Compares in
  // constant time (CRYPTO_memcmp). A mac of the wrong length is false.
  bool verify(std::string_view purpose, std::string_view data, const uint8_t* mac,
              size_t mac_size) const;

  // First 8 hex digits of SHA-256 of the signing key: tells in logs which key a node signs
  // with, without revealing it.
  std::string fingerprint() const;

 private:
  struct Contexts;
  KeyRing(std::vector<std::string> keys, bool development);
  Mac compute(size_t key_index, std::string_view purpose, std::string_view data) const;

  std::vector<std::string> keys_;
  bool development_ = false;
  // One keyed HMAC context per key, duplicated for each MAC: the key schedule and the digest
  // lookup happen once, not per packet. Never modified after construction.
  std::shared_ptr<const Contexts> contexts_;
};

// True for literal loopback addresses (127.0.0.0/8, ::1, ::ffff:127.x.y.z) and "localhost".
// Other host names are false: whether they resolve to loopback is not known here.
bool IsLoopback(const std::string& address);

}  // namespace thrifty::membership
