#include "diststore/service/store_handler.h"

namespace thrifty::diststore {

void StoreHandler::get(std::string& out, const std::string& key) { out = coordinator_.get(key); }

void StoreHandler::put(const std::string& key, const std::string& value) {
  coordinator_.put(key, value);
}

void StoreHandler::erase(const std::string& key) { coordinator_.erase(key); }

void StoreHandler::multi_get(std::map<std::string, std::string>& out,
                             const std::vector<std::string>& keys) {
  out = coordinator_.multi_get(keys);
}

void StoreHandler::multi_put(const std::vector<rpc::Entry>& entries) {
  coordinator_.multi_put(entries);
}

void StoreHandler::owner_get(std::vector<rpc::Record>& out, const std::vector<std::string>& keys,
                             bool fallback) {
  require_peer("owner_get");
  out = coordinator_.owner_get(keys, fallback);
}

void StoreHandler::owner_put(const std::vector<rpc::Record>& records) {
  require_peer("owner_put");
  coordinator_.owner_put(records);
}

void StoreHandler::handoff(rpc::HandoffAck& out, const std::vector<rpc::Record>& records,
                           const rpc::Location& sender) {
  require_peer("handoff");
  out = coordinator_.handoff(records, sender);
}

void StoreHandler::stats(std::map<std::string, int64_t>& out) {
  out = node_.stats();
  for (const auto& [k, v] : coordinator_.stats()) out[k] = v;
  for (const auto& [k, v] : handoff_.stats()) out[k] = v;
  ExportLimits(coordinator_.limits(), &out);
  try {
    out["keys"] = static_cast<int64_t>(coordinator_.engine().count_live());
  } catch (const std::exception&) {
    out["keys"] = -1;
  }
}

}  // namespace thrifty::diststore
