// PeerAuth: who may make node-to-node calls.
//
// Trust model. A client (anyone who can reach the port) may call the client API (get, put,
// erase, multi_*, and every Locator query). Node-to-node calls (join, add, remove, sync, and a
// store's owner_get, owner_put, handoff) change what a node stores or believes about the
// cluster; they are served only on a connection that proved the cluster key with the
// PeerHandshake (membership/peer_handshake.h). Holders of the key are trusted peers: the key
// is what separates a peer from a client. Without --cluster-key-file every node on loopback
// uses the public development key, which keeps test clusters apart and stops accidental
// calls, not an attacker.
//
// One PeerSession per connection: each connection gets its own handler (see
// rpc/per_connection.h) and so its own session. The calls of one connection are served one
// after another, so a session needs no lock; PeerAuth itself is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "Base.h"
#include "locator/membership/key_ring.h"
#include "locator/rpc/connection_pool.h"
#include "locator/rpc/peer_channel.h"

namespace thrifty::locator {

// What one connection has proved, and the nonces of its handshake in progress.
struct PeerSession {
  std::string peer;  // "host:port" of the remote end, for logs
  std::string client_nonce;
  std::string server_nonce;
  bool authenticated = false;
};

class PeerAuth {
 public:
  // `keys` must not be null.
  explicit PeerAuth(std::shared_ptr<const membership::KeyRing> keys);

  // ---- node side (the connection's handler) ----
  // Starts (or restarts) the handshake: remembers both nonces and returns this node's nonce
  // and proof. Throws wire::Unauthorized for a nonce of the wrong size.
  wire::PeerChallenge begin(PeerSession& session, const std::string& client_nonce);
  // Checks the caller's proof over the session's nonces; the session is authenticated from
  // then on. Throws wire::Unauthorized (session not authenticated) if there was no begin() or
  // the proof is wrong. A session gets one try per begin().
  void finish(PeerSession& session, const std::string& proof);
  // The session's connection presented a TLS certificate of the cluster's CA: authenticated
  // without the handshake. Counted (peer_auth_certificate).
  void certified(PeerSession& session);
  // Throws wire::Unauthorized naming `call` unless the session is authenticated. Counted.
  void require(const PeerSession& session, const char* call);

  // ---- caller side ----
  // Runs the handshake on a freshly opened connection. Throws wire::Unauthorized when the node
  // does not prove the key (or refuses ours), and whatever the transport throws.
  void authenticate(wire::BaseIf& node) const;
  // `base` with authenticate() run on every new connection of the pool.
  rpc::PoolOptions pool_options(rpc::PoolOptions base) const;
  // The same handshake as a peer channel's prologue (rpc/peer_channel.h): run on every new
  // channel connection, without blocking its loop. This object must outlive the channels.
  rpc::Prologue channel_prologue(const rpc::RpcLimits& limits) const;

  const membership::KeyRing& keys() const { return *keys_; }
  // peer_auth_ok, peer_auth_failed, peer_auth_certificate, peer_calls_refused.
  std::map<std::string, int64_t> stats() const;

 private:
  std::shared_ptr<const membership::KeyRing> keys_;
  std::atomic<int64_t> ok_{0}, failed_{0}, refused_{0}, certified_{0};
};

}  // namespace thrifty::locator
