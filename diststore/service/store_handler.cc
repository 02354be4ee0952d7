#include "diststore/service/store_handler.h"

#include "diststore/service/store_node.h"

namespace thrifty::diststore {

StoreHandler::StoreHandler(StoreNode& store, std::string peer)
    : LocatorHandler(store.node(), std::move(peer)), store_(store) {}

void StoreHandler::get(std::string& out, const std::string& key) { out = store_.router().get(key); }

void StoreHandler::put(const std::string& key, const std::string& value) {
  store_.router().put(key, value);
}

void StoreHandler::erase(const std::string& key) { store_.router().erase(key); }

void StoreHandler::multi_get(std::map<std::string, std::string>& out,
                             const std::vector<std::string>& keys) {
  out = store_.router().multi_get(keys);
}

void StoreHandler::multi_put(const std::vector<wire::Entry>& entries) {
  store_.router().multi_put(entries);
}

void StoreHandler::owner_get(std::vector<wire::Record>& out, const std::vector<std::string>& keys,
                             bool fallback) {
  require_peer("owner_get");
  out = store_.owner().owner_get(keys, fallback);
}

void StoreHandler::owner_put(const std::vector<wire::Record>& records) {
  require_peer("owner_put");
  store_.owner().owner_put(records);
}

void StoreHandler::handoff(wire::HandoffAck& out, const std::vector<wire::Record>& records,
                           const locator::wire::Location& sender) {
  require_peer("handoff");
  out = store_.owner().handoff(records, sender);
}

void StoreHandler::stats(std::map<std::string, int64_t>& out) { out = store_.stats(); }

}  // namespace thrifty::diststore
