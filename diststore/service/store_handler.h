// StoreHandler: the Store service (diststore.thrift) of a StoreNode, for one connection (the
// node serves it with rpc::PerConnection). Locator calls go to the LocatorHandler it extends;
// client calls to the RequestRouter; node-to-node calls (owner_get, owner_put, handoff) to the
// OwnerStore, keep_hints to HintedHandoff and the repair_* calls to AntiEntropy, and only on a connection that proved the cluster key (else locator::wire::Unauthorized).
#pragma once

#include <cstdint>

#include "Store.h"
#include "locator/service/locator_handler.h"

namespace thrifty::diststore {

class StoreNode;

class StoreHandler : public locator::LocatorHandler, virtual public wire::StoreIf {
 public:
  // `peer`: the remote "host:port", for logs.
  StoreHandler(StoreNode& store, const rpc::ConnectionPeer& peer);

  StoreNode& store() { return store_; }

  void get(std::string& out, const std::string& key, int32_t level) override;
  void put(const std::string& key, const std::string& value,
           int32_t level) override;
  void erase(const std::string& key, int32_t level) override;
  void multi_get(std::map<std::string, std::string>& out, const std::vector<std::string>& keys,
                 int32_t level) override;
  void multi_put(const std::vector<wire::Entry>& entries, int32_t level) override;
  void owner_get(std::vector<wire::Record>& out, const std::vector<std::string>& keys,
                 bool fallback) override;
  void owner_put(const std::vector<wire::Record>& records, int32_t level) override;
  void handoff(wire::HandoffAck& out, const std::vector<wire::Record>& records,
               const locator::wire::Location& sender) override;
  void keep_hints(const std::vector<wire::Record>& records, const std::string& target_host_id,
                  const locator::wire::Location& target) override;
  void repair_roots(wire::RangeRoots& out, const locator::wire::Location& asker,
                    int64_t ring_fingerprint) override;
  void repair_tree(std::vector<int64_t>& out, int64_t range_id, int32_t level,
                   const std::vector<int32_t>& indexes, int64_t ring_fingerprint) override;
  void repair_leaves(wire::LeafPage& out, const std::vector<wire::LeafRef>& leaves,
                     const std::string& after_key, int64_t ring_fingerprint) override;
  // Any client may ask (storectl repair).
  void repair(wire::RepairReport& out) override;
  // Peers only (they change membership, or what reads count): storectl with the cluster key.
  int32_t remove_node(const locator::wire::Location& node) override;
  bool finish_rebuild() override;
  // Locator stats plus the store's (keys, requests, handoff).
  void stats(std::map<std::string, int64_t>& out) override;

 private:
  StoreNode& store_;
};

}  // namespace thrifty::diststore
