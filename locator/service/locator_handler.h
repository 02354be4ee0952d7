// LocatorHandler: the Locator service of a LocatorNode, for one connection. Services that
// extend locator.Locator derive from it (`class MineHandler : public LocatorHandler, virtual
// public MineIf`), which is why it inherits LocatorIf virtually.
//
// One handler per connection (serve it with rpc::PerConnection): it holds the connection's
// PeerSession, and node-to-node calls (join, add, remove, sync, and a derived service's own)
// are refused with wire::Unauthorized until the connection proved the cluster key.
#pragma once

#include <string>
#include <vector>

#include "Locator.h"
#include "locator/rpc/per_connection.h"
#include "locator/service/locator_node.h"

namespace thrifty::locator {

class LocatorHandler : virtual public wire::LocatorIf {
 public:
  // `peer`: the remote "host:port", for logs.
  explicit LocatorHandler(LocatorNode& node, std::string peer = {}) : node_(node) {
    session_.peer = std::move(peer);
  }
  // A connection's handler: a peer certified by the cluster's CA (TLS) is authenticated from
  // the start, as if it had made the handshake.
  LocatorHandler(LocatorNode& node, const rpc::ConnectionPeer& peer) : node_(node) {
    session_.peer = peer.address();
    if (peer.certified()) node_.peer_auth().certified(session_);
  }

  void ping() override {}
  void service_type(std::string& out) override { out = node_.service_type(); }
  void service_types(std::vector<std::string>& out) override { out = node_.service_types(); }
  void debug(std::string& out) override { out = node_.debug(); }
  void auth_begin(wire::PeerChallenge& out, const std::string& client_nonce) override {
    out = node_.peer_auth().begin(session_, client_nonce);
  }
  void auth_finish(const std::string& proof) override { node_.peer_auth().finish(session_, proof); }

  void join(wire::View& out, const wire::Location& location, const wire::JoinInfo& info) override;
  void add(const wire::Location& location, const std::vector<wire::Location>& authorities,
           const wire::JoinInfo& info) override;
  void remove(const wire::Location& location, const std::vector<wire::Location>& authorities,
              const std::string& proof) override;
  void get_all(std::vector<wire::Location>& out) override;
  void get_node(wire::Location& out, const std::string& key) override;
  void get_nodes(std::vector<wire::Location>& out, const std::string& key, int32_t n) override;
  void members(std::vector<wire::Member>& out) override;
  void get_view(wire::View& out) override { out = node_.view(); }
  void sync(wire::View& out, const std::vector<wire::Member>& members,
            const std::string& proof) override;
  void stats(std::map<std::string, int64_t>& out) override;

  // Whether this connection proved the cluster key (node-to-node calls are served).
  bool proved_peer() const { return session_.authenticated; }

 protected:
  // Throws wire::Unauthorized unless this connection proved the cluster key.
  void require_peer(const char* call) { node_.peer_auth().require(session_, call); }

  LocatorNode& node_;
  PeerSession session_;
};

}  // namespace thrifty::locator
