#include "locator/service/peer_auth.h"

#include <stdexcept>

#include <glog/logging.h>

#include "locator/membership/peer_handshake.h"
#include "locator/rpc/channel_call.h"

namespace thrifty::locator {

using membership::PeerHandshake;

namespace {

constexpr char kNodeNotProven[] =
    "the node did not prove the cluster key: it is not a member of this cluster, or it uses "
    "another --cluster-key-file";

[[noreturn]] void Deny(const std::string& message) {
  wire::Unauthorized denied;
  denied.message = message;
  throw denied;
}

}  // namespace

PeerAuth::PeerAuth(std::shared_ptr<const membership::KeyRing> keys) : keys_(std::move(keys)) {
  if (!keys_) throw std::invalid_argument("PeerAuth needs a key ring");
}

wire::PeerChallenge PeerAuth::begin(PeerSession& session, const std::string& client_nonce) {
  session.authenticated = false;
  session.client_nonce.clear();
  session.server_nonce.clear();
  if (client_nonce.size() != PeerHandshake::kNonceSize) {
    ++failed_;
    Deny("auth_begin refused: the nonce must be " + std::to_string(PeerHandshake::kNonceSize) +
         " bytes, got " + std::to_string(client_nonce.size()));
  }
  session.client_nonce = client_nonce;
  session.server_nonce = PeerHandshake::NewNonce();
  wire::PeerChallenge challenge;
  challenge.nonce = session.server_nonce;
  challenge.proof = PeerHandshake::NodeProof(*keys_, session.client_nonce, session.server_nonce);
  return challenge;
}

void PeerAuth::finish(PeerSession& session, const std::string& proof) {
  const bool begun = !session.server_nonce.empty();
  const bool good = begun && PeerHandshake::VerifyCaller(*keys_, session.client_nonce,
                                                         session.server_nonce, proof);
  // One try per challenge: a caller cannot probe proofs against one pair of nonces.
  session.client_nonce.clear();
  session.server_nonce.clear();
  if (!good) {
    session.authenticated = false;
    ++failed_;
    LOG_EVERY_T(WARNING, 1) << "peer authentication from " << session.peer << " failed: "
                            << (begun ? "the proof was not made with the cluster key"
                                      : "auth_finish without auth_begin");
    Deny(begun ? "auth_finish refused: the proof was not made with this cluster's key (do both "
                 "nodes use the same --cluster-key-file?)"
               : "auth_finish refused: call auth_begin first on this connection");
  }
  session.authenticated = true;
  ++ok_;
}

void PeerAuth::require(const PeerSession& session, const char* call) {
  if (session.authenticated) return;
  ++refused_;
  LOG_EVERY_T(WARNING, 1) << call << " from " << session.peer
                          << " refused: the connection did not prove the cluster key";
  Deny(std::string(call) +
       " is a node-to-node call and this connection did not prove the cluster key "
       "(auth_begin/auth_finish); clients use get/put/erase/multi_get/multi_put");
}

void PeerAuth::authenticate(wire::BaseIf& node) const {
  const std::string client_nonce = PeerHandshake::NewNonce();
  wire::PeerChallenge challenge;
  node.auth_begin(challenge, client_nonce);
  if (!PeerHandshake::VerifyNode(*keys_, client_nonce, challenge.nonce, challenge.proof)) {
    Deny(kNodeNotProven);
  }
  node.auth_finish(PeerHandshake::CallerProof(*keys_, client_nonce, challenge.nonce));
}

rpc::PoolOptions PeerAuth::pool_options(rpc::PoolOptions base) const {
  base.on_connect = [this](wire::BaseIf& node) { authenticate(node); };
  return base;
}

rpc::Prologue PeerAuth::channel_prologue(const rpc::RpcLimits& limits) const {
  return [this, limits](const rpc::FrameSender& send,
                        std::function<void(std::exception_ptr)> done) {
    const std::string client_nonce = PeerHandshake::NewNonce();
    rpc::ChannelCall<wire::BaseClient, wire::PeerChallenge>(
        send, limits, [client_nonce](wire::BaseClient& c) { c.send_auth_begin(client_nonce); },
        [](wire::BaseClient& c) {
          wire::PeerChallenge challenge;
          c.recv_auth_begin(challenge);
          return challenge;
        },
        [this, send, limits, client_nonce, done](rpc::Outcome<wire::PeerChallenge> begun) {
          if (!begun.value) return done(begun.error);
          const wire::PeerChallenge& challenge = *begun.value;
          if (!PeerHandshake::VerifyNode(*keys_, client_nonce, challenge.nonce, challenge.proof)) {
            wire::Unauthorized denied;
            denied.message = kNodeNotProven;
            return done(std::make_exception_ptr(denied));
          }
          const std::string proof = PeerHandshake::CallerProof(*keys_, client_nonce, challenge.nonce);
          rpc::ChannelCall<wire::BaseClient, bool>(
              send, limits, [proof](wire::BaseClient& c) { c.send_auth_finish(proof); },
              [](wire::BaseClient& c) {
                c.recv_auth_finish();
                return true;
              },
              [done](rpc::Outcome<bool> finished) { done(finished.error); });
        });
  };
}

void PeerAuth::certified(PeerSession& session) {
  session.authenticated = true;
  ++certified_;
}

std::map<std::string, int64_t> PeerAuth::stats() const {
  return {{"peer_auth_ok", ok_.load()},
          {"peer_auth_failed", failed_.load()},
          {"peer_auth_certificate", certified_.load()},
          {"peer_calls_refused", refused_.load()}};
}

}  // namespace thrifty::locator
