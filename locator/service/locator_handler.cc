#include "locator/service/locator_handler.h"

#include "locator/placement/placement.h"

namespace thrifty::locator {

void LocatorHandler::join(wire::View& out, const wire::Location& location,
                          const wire::JoinInfo& info) {
  require_peer("join");
  out = node_.handle_join(location, info);
}

void LocatorHandler::add(const wire::Location& location,
                         const std::vector<wire::Location>& authorities,
                         const wire::JoinInfo& info) {
  require_peer("add");
  node_.handle_add(location, authorities, info);
}

void LocatorHandler::remove(const wire::Location& location,
                            const std::vector<wire::Location>& authorities,
                            const std::string& proof) {
  require_peer("remove");
  node_.handle_remove(location, authorities, proof);
}

void LocatorHandler::get_all(std::vector<wire::Location>& out) { out = node_.ring()->nodes(); }

void LocatorHandler::get_node(wire::Location& out, const std::string& key) {
  auto ring = node_.ring();
  if (ring->empty()) {
    wire::NoNodes error;
    error.message = "the ring is empty: no node can own a key";
    throw error;
  }
  out = ring->owner(key);
}

void LocatorHandler::get_nodes(std::vector<wire::Location>& out, const std::string& key,
                               int32_t n) {
  if (n <= 0) {
    wire::LocatorError error;
    error.message = "get_nodes: n must be >= 1, got " + std::to_string(n);
    throw error;
  }
  auto ring = node_.ring();
  if (ring->empty()) {
    wire::NoNodes error;
    error.message = "the ring is empty: no node can own a key";
    throw error;
  }
  out = ring->preference_list(key, static_cast<size_t>(n));
}

void LocatorHandler::members(std::vector<wire::Member>& out) { out = node_.members().all(); }

void LocatorHandler::sync(wire::View& out, const std::vector<wire::Member>& members,
                          const std::string& proof) {
  require_peer("sync");
  out = node_.handle_sync(members, proof);
}

void LocatorHandler::stats(std::map<std::string, int64_t>& out) { out = node_.stats(); }

}  // namespace thrifty::locator
