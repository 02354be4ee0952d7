#include "locator/service/locator_handler.h"

#include "locator/placement/placement.h"

namespace thrifty::locator {

void LocatorHandler::join(rpc::View& out, const rpc::Location& location,
                          const rpc::JoinInfo& info) {
  require_peer("join");
  out = node_.handle_join(location, info);
}

void LocatorHandler::add(const rpc::Location& location,
                         const std::vector<rpc::Location>& authorities, const rpc::JoinInfo& info) {
  require_peer("add");
  node_.handle_add(location, authorities, info);
}

void LocatorHandler::remove(const rpc::Location& location,
                            const std::vector<rpc::Location>& authorities,
                            const std::string& proof) {
  require_peer("remove");
  node_.handle_remove(location, authorities, proof);
}

void LocatorHandler::get_all(std::vector<rpc::Location>& out) { out = node_.ring()->nodes(); }

void LocatorHandler::get_node(rpc::Location& out, const std::string& key) {
  auto ring = node_.ring();
  if (ring->empty()) {
    rpc::NoNodes error;
    error.message = "the ring is empty: no node can own a key";
    throw error;
  }
  out = ring->owner(key);
}

void LocatorHandler::get_nodes(std::vector<rpc::Location>& out, const std::string& key,
                               int32_t n) {
  if (n <= 0) {
    rpc::LocatorError error;
    error.message = "get_nodes: n must be >= 1, got " + std::to_string(n);
    throw error;
  }
  auto ring = node_.ring();
  if (ring->empty()) {
    rpc::NoNodes error;
    error.message = "the ring is empty: no node can own a key";
    throw error;
  }
  out = ring->preference_list(key, static_cast<size_t>(n));
}

void LocatorHandler::members(std::vector<rpc::Member>& out) { out = node_.members().all(); }

void LocatorHandler::sync(rpc::View& out, const std::vector<rpc::Member>& members,
                          const std::string& proof) {
  require_peer("sync");
  out = node_.handle_sync(members, proof);
}

void LocatorHandler::stats(std::map<std::string, int64_t>& out) { out = node_.stats(); }

}  // namespace thrifty::locator
