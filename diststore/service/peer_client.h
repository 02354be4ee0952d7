// PeerClient: the node-to-node calls of the Store service, one method per RPC, to any peer.
//
// A seam: the node uses PooledPeerClient (pooled connections that prove the cluster key);
// unit tests pass fakes that answer from maps or fail on demand. Thread-safe.
//
// Every method throws wire::StoreError when the peer answered with one (its own words, for
// the client), and anything else (TTransportException, locator::wire::Unauthorized, ...) when the call
// failed: the peer is unreachable, too slow, or not a member.
#pragma once

#include <string>
#include <vector>

#include "Store.h"
#include "locator/rpc/connection_pool.h"

namespace thrifty::diststore {

using locator::wire::Location;

class PeerClient {
 public:
  virtual ~PeerClient() = default;
  virtual std::vector<wire::Record> owner_get(const Location& peer,
                                             const std::vector<std::string>& keys,
                                             bool fallback) = 0;
  // `consistency`: how many replicas a write this peer leads waits for (records of version 0,
  // --replicas > 1); versioned records are the peer's own copy and ignore it.
  virtual void owner_put(const Location& peer, const std::vector<wire::Record>& records,
                         wire::Consistency::type consistency) = 0;
  virtual wire::HandoffAck handoff(const Location& peer, const std::vector<wire::Record>& records,
                                  const Location& sender) = 0;
};

class PooledPeerClient : public PeerClient {
 public:
  // `options` should authenticate its connections (PeerAuth::pool_options).
  explicit PooledPeerClient(rpc::PoolOptions options) : pool_(std::move(options)) {}
  std::vector<wire::Record> owner_get(const Location& peer, const std::vector<std::string>& keys,
                                     bool fallback) override {
    std::vector<wire::Record> records;
    pool_.call(peer, [&](wire::StoreClient& c) { c.owner_get(records, keys, fallback); });
    return records;
  }
  void owner_put(const Location& peer, const std::vector<wire::Record>& records,
                 wire::Consistency::type consistency) override {
    pool_.call(peer, [&](wire::StoreClient& c) { c.owner_put(records, consistency); });
  }
  wire::HandoffAck handoff(const Location& peer, const std::vector<wire::Record>& records,
                          const Location& sender) override {
    wire::HandoffAck ack;
    pool_.call(peer, [&](wire::StoreClient& c) { c.handoff(ack, records, sender); });
    return ack;
  }

 private:
  rpc::ConnectionPool<wire::StoreClient> pool_;
};

}  // namespace thrifty::diststore
