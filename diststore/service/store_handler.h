// StoreHandler: the Store service (diststore.thrift) of a node, for one connection (serve it
// with rpc::PerConnection). Locator calls go to the LocatorHandler it extends; store calls to
// the RequestCoordinator. owner_get, owner_put and handoff are node-to-node: refused with
// rpc::Unauthorized unless the connection proved the cluster key.
#pragma once

#include "Store.h"
#include "diststore/service/handoff_stream.h"
#include "diststore/service/request_coordinator.h"
#include "locator/service/locator_handler.h"

namespace thrifty::diststore {

class StoreHandler : public locator::LocatorHandler, virtual public rpc::StoreIf {
 public:
  StoreHandler(locator::LocatorNode& node, RequestCoordinator& coordinator,
               HandoffStream& handoff, std::string peer = {})
      : LocatorHandler(node, std::move(peer)), coordinator_(coordinator), handoff_(handoff) {}

  void get(std::string& out, const std::string& key) override;
  void put(const std::string& key, const std::string& value) override;
  void erase(const std::string& key) override;
  void multi_get(std::map<std::string, std::string>& out,
                 const std::vector<std::string>& keys) override;
  void multi_put(const std::vector<rpc::Entry>& entries) override;
  void owner_get(std::vector<rpc::Record>& out, const std::vector<std::string>& keys,
                 bool fallback) override;
  void owner_put(const std::vector<rpc::Record>& records) override;
  void handoff(rpc::HandoffAck& out, const std::vector<rpc::Record>& records,
               const rpc::Location& sender) override;
  // Locator stats plus the store's (keys, requests, handoff).
  void stats(std::map<std::string, int64_t>& out) override;

 private:
  RequestCoordinator& coordinator_;
  HandoffStream& handoff_;
};

}  // namespace thrifty::diststore
