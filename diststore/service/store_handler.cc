#include "diststore/service/store_handler.h"

#include <glog/logging.h>

#include "diststore/limits/store_limits.h"
#include "diststore/service/replication.h"
#include "diststore/service/store_node.h"
#include "locator/metrics/latency_histogram.h"

namespace thrifty::diststore {

StoreHandler::StoreHandler(StoreNode& store, const rpc::ConnectionPeer& peer)
    : LocatorHandler(store.node(), peer), store_(store) {}

using metrics::ScopedLatency;

void StoreHandler::get(std::string& out, const std::string& key, int32_t level) {
  ScopedLatency timer(store_.latency().of(ClientOp::kGet));
  out = store_.router().get(key, LevelFromWire(level));
}

void StoreHandler::put(const std::string& key, const std::string& value,
                       int32_t level) {
  ScopedLatency timer(store_.latency().of(ClientOp::kPut));
  store_.router().put(key, value, LevelFromWire(level));
}

void StoreHandler::erase(const std::string& key, int32_t level) {
  ScopedLatency timer(store_.latency().of(ClientOp::kErase));
  store_.router().erase(key, LevelFromWire(level));
}

void StoreHandler::multi_get(std::map<std::string, std::string>& out,
                             const std::vector<std::string>& keys, int32_t level) {
  ScopedLatency timer(store_.latency().of(ClientOp::kMultiGet));
  out = store_.router().multi_get(keys, LevelFromWire(level));
}

void StoreHandler::multi_put(const std::vector<wire::Entry>& entries,
                             int32_t level) {
  ScopedLatency timer(store_.latency().of(ClientOp::kMultiPut));
  store_.router().multi_put(entries, LevelFromWire(level));
}

void StoreHandler::owner_get(std::vector<wire::Record>& out, const std::vector<std::string>& keys,
                             bool fallback) {
  require_peer("owner_get");
  out = store_.owner().owner_get(keys, fallback);
}

void StoreHandler::owner_put(const std::vector<wire::Record>& records,
                             int32_t level) {
  require_peer("owner_put");
  store_.router().owner_put(records, LevelFromWire(level));
}

void StoreHandler::handoff(wire::HandoffAck& out, const std::vector<wire::Record>& records,
                           const locator::wire::Location& sender) {
  require_peer("handoff");
  out = store_.owner().handoff(records, sender);
}

void StoreHandler::keep_hints(const std::vector<wire::Record>& records,
                              const std::string& target_host_id,
                              const locator::wire::Location& target) {
  require_peer("keep_hints");
  const std::string call = "keep_hints for " + rpc::ToString(target);
  for (const auto& r : records) {
    if (r.version == 0) ThrowStoreError(call + ": the key '" + r.key + "' has no version");
  }
  store_.owner().check_versions(records, call);
  store_.hints().hold(target_host_id, rpc::ToString(target), records);
}

void StoreHandler::repair_roots(wire::RangeRoots& out, const locator::wire::Location& asker,
                                int64_t ring_fingerprint) {
  require_peer("repair_roots");
  out = store_.anti_entropy().roots_for(asker, ring_fingerprint);
}

void StoreHandler::repair_tree(std::vector<int64_t>& out, int64_t range_id, int32_t level,
                               const std::vector<int32_t>& indexes, int64_t ring_fingerprint) {
  require_peer("repair_tree");
  out = store_.anti_entropy().tree_hashes(range_id, level, indexes, ring_fingerprint);
}

void StoreHandler::repair_leaves(wire::LeafPage& out, const std::vector<wire::LeafRef>& leaves,
                                 const std::string& after_key, int64_t ring_fingerprint) {
  require_peer("repair_leaves");
  out = store_.anti_entropy().leaf_page(leaves, after_key, ring_fingerprint);
}

void StoreHandler::repair(wire::RepairReport& out) {
  try {
    out = store_.anti_entropy().repair_now();
  } catch (const wire::StoreError&) {
    throw;
  } catch (const std::exception& e) {
    ThrowStoreError("repair on " + store_.node().self_name() + " failed: " + e.what());
  }
}

int32_t StoreHandler::remove_node(const locator::wire::Location& node) {
  require_peer("remove_node");
  std::vector<std::string> untold;
  try {
    const int told = store_.node().remove_dead_member(node, &untold);
    if (!untold.empty()) {
      LOG(WARNING) << "remove_node: " << untold.size() << " members not told at once";
    }
    return told;
  } catch (const locator::wire::LocatorError& e) {
    ThrowStoreError(e.message);
  }
}

bool StoreHandler::finish_rebuild() {
  require_peer("finish_rebuild");
  return store_.anti_entropy().finish_rebuild_with_live();
}

void StoreHandler::stats(std::map<std::string, int64_t>& out) { out = store_.stats(); }

}  // namespace thrifty::diststore
