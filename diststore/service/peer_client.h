// PeerClient: the node-to-node calls of the Store service, one method per RPC, to any peer.
//
// A seam: the node uses PooledPeerClient (pooled connections that prove the cluster key);
// unit tests pass fakes that answer from maps or fail on demand. Thread-safe.
//
// Every method throws wire::StoreError when the peer answered with one (its own words, for
// the client), and anything else (TTransportException, locator::wire::Unauthorized, ...) when the call
// failed: the peer is unreachable, too slow, or not a member.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "Store.h"
#include "locator/rpc/address.h"
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
  // Keeps `records` here as hints for the DEAD replica `target` (--hints-count-for-w). A client
  // without it (a unit test's fake) throws std::runtime_error.
  virtual void keep_hints(const Location& peer, const std::vector<wire::Record>& records,
                          const std::string& target_host_id, const Location& target) {
    (void)records, (void)target_host_id, (void)target;
    throw std::runtime_error("keep_hints: not supported by this client of " + rpc::ToString(peer));
  }
  // Anti-entropy (anti_entropy.h). A client without them (a unit test's fake) throws
  // std::runtime_error.
  virtual wire::RangeRoots repair_roots(const Location& peer, const Location& asker,
                                        int64_t fingerprint) {
    (void)asker, (void)fingerprint;
    throw std::runtime_error("repair_roots: not supported by this client of " + rpc::ToString(peer));
  }
  virtual std::vector<int64_t> repair_tree(const Location& peer, int64_t range, int32_t level,
                                           const std::vector<int32_t>& indexes,
                                           int64_t fingerprint) {
    (void)range, (void)level, (void)indexes, (void)fingerprint;
    throw std::runtime_error("repair_tree: not supported by this client of " + rpc::ToString(peer));
  }
  virtual wire::LeafPage repair_leaves(const Location& peer, const std::vector<wire::LeafRef>& leaves,
                                       const std::string& after_key, int64_t fingerprint) {
    (void)leaves, (void)after_key, (void)fingerprint;
    throw std::runtime_error("repair_leaves: not supported by this client of " + rpc::ToString(peer));
  }
  // The peer's counters (Locator.stats): a joining node reads handoff_settled_ring there.
  virtual std::map<std::string, int64_t> stats(const Location& peer) {
    throw std::runtime_error("stats: not supported by this client of " + rpc::ToString(peer));
  }
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
  void keep_hints(const Location& peer, const std::vector<wire::Record>& records,
                  const std::string& target_host_id, const Location& target) override {
    pool_.call(peer, [&](wire::StoreClient& c) { c.keep_hints(records, target_host_id, target); });
  }
  wire::RangeRoots repair_roots(const Location& peer, const Location& asker,
                                int64_t fingerprint) override {
    wire::RangeRoots roots;
    pool_.call(peer, [&](wire::StoreClient& c) { c.repair_roots(roots, asker, fingerprint); });
    return roots;
  }
  std::vector<int64_t> repair_tree(const Location& peer, int64_t range, int32_t level,
                                   const std::vector<int32_t>& indexes,
                                   int64_t fingerprint) override {
    std::vector<int64_t> hashes;
    pool_.call(peer, [&](wire::StoreClient& c) {
      c.repair_tree(hashes, range, level, indexes, fingerprint);
    });
    return hashes;
  }
  wire::LeafPage repair_leaves(const Location& peer, const std::vector<wire::LeafRef>& leaves,
                               const std::string& after_key, int64_t fingerprint) override {
    wire::LeafPage page;
    pool_.call(peer, [&](wire::StoreClient& c) {
      c.repair_leaves(page, leaves, after_key, fingerprint);
    });
    return page;
  }
  std::map<std::string, int64_t> stats(const Location& peer) override {
    std::map<std::string, int64_t> out;
    pool_.call(peer, [&](wire::StoreClient& c) { c.stats(out); });
    return out;
  }

 private:
  rpc::ConnectionPool<wire::StoreClient> pool_;
};

}  // namespace thrifty::diststore
