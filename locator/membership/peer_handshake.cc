#include "locator/membership/peer_handshake.h"

#include <stdexcept>

#include <openssl/rand.h>

namespace thrifty::membership {

namespace {

constexpr std::string_view kDomain = "thrifty/peer-auth/1";

// Role, then both nonces. Nonces have a fixed size once checked, and the role is one of two
// labels of different length followed by a separator, so no two inputs collide.
std::string Message(std::string_view role, std::string_view client_nonce,
                    std::string_view server_nonce) {
  std::string msg;
  msg.reserve(role.size() + 1 + client_nonce.size() + server_nonce.size());
  msg.append(role.data(), role.size());
  msg.push_back('\0');
  msg.append(client_nonce.data(), client_nonce.size());
  msg.append(server_nonce.data(), server_nonce.size());
  return msg;
}

std::string Prove(const KeyRing& keys, std::string_view role, std::string_view client_nonce,
                  std::string_view server_nonce) {
  const KeyRing::Mac mac = keys.sign(kDomain, Message(role, client_nonce, server_nonce));
  return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

bool Check(const KeyRing& keys, std::string_view role, std::string_view client_nonce,
           std::string_view server_nonce, std::string_view proof) {
  if (client_nonce.size() != PeerHandshake::kNonceSize ||
      server_nonce.size() != PeerHandshake::kNonceSize || proof.size() != KeyRing::kMacSize) {
    return false;
  }
  return keys.verify(kDomain, Message(role, client_nonce, server_nonce),
                     reinterpret_cast<const uint8_t*>(proof.data()), proof.size());
}

}  // namespace

std::string PeerHandshake::NewNonce() {
  std::string nonce(kNonceSize, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(kNonceSize)) !=
      1) {
    throw std::runtime_error("no random bytes for a handshake nonce (OpenSSL RAND_bytes failed)");
  }
  return nonce;
}

std::string PeerHandshake::NodeProof(const KeyRing& keys, std::string_view client_nonce,
                                     std::string_view server_nonce) {
  return Prove(keys, "node", client_nonce, server_nonce);
}

std::string PeerHandshake::CallerProof(const KeyRing& keys, std::string_view client_nonce,
                                       std::string_view server_nonce) {
  return Prove(keys, "caller", client_nonce, server_nonce);
}

bool PeerHandshake::VerifyNode(const KeyRing& keys, std::string_view client_nonce,
                               std::string_view server_nonce, std::string_view proof) {
  return Check(keys, "node", client_nonce, server_nonce, proof);
}

bool PeerHandshake::VerifyCaller(const KeyRing& keys, std::string_view client_nonce,
                                 std::string_view server_nonce, std::string_view proof) {
  return Check(keys, "caller", client_nonce, server_nonce, proof);
}

}  // namespace thrifty::membership
