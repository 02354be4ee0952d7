// PeerHandshake: the challenge-response by which two holders of the cluster key recognise each
// other on one Thrift connection, before node-to-node calls are served on it.
//
//   caller -> node:  auth_begin(client_nonce)            32 random bytes
//   node -> caller:  PeerChallenge{server_nonce, server_proof}
//   caller -> node:  auth_finish(client_proof)
//
//   server_proof = HMAC(key, "thrifty/peer-auth/1", "node"   | client_nonce | server_nonce)
//   client_proof = HMAC(key, "thrifty/peer-auth/1", "caller" | client_nonce | server_nonce)
//
// Both sides contribute a fresh nonce, so a proof is good for one connection only: replayed on
// another it fails, whichever side replays it. The role label keeps a node's own answer from
// being sent back to it as the caller's proof. The caller checks the node's proof first, so a
// process that merely listens on a member's port cannot take handoffs from it.
// Proofs are made with the ring's signing key and checked with every key (rotation, see
// key_ring.h).
//
// Thread-safe: stateless functions over a const KeyRing.
#pragma once

#include <string>
#include <string_view>

#include "locator/membership/key_ring.h"

namespace thrifty::membership {

class PeerHandshake {
 public:
  static constexpr size_t kNonceSize = 32;

  // kNonceSize bytes from OpenSSL's CSPRNG. Throws std::runtime_error if it fails.
  static std::string NewNonce();

  static std::string NodeProof(const KeyRing& keys, std::string_view client_nonce,
                               std::string_view server_nonce);
  static std::string CallerProof(const KeyRing& keys, std::string_view client_nonce,
                                 std::string_view server_nonce);

  // Constant-time checks; false for a proof of the wrong size or made with no key of the ring.
  static bool VerifyNode(const KeyRing& keys, std::string_view client_nonce,
                         std::string_view server_nonce, std::string_view proof);
  static bool VerifyCaller(const KeyRing& keys, std::string_view client_nonce,
                           std::string_view server_nonce, std::string_view proof);
};

}  // namespace thrifty::membership
