#include "diststore/service/inline_calls.h"

#include <memory>

#include "Store.h"
#include "diststore/service/replica_set.h"
#include "locator/membership/member_table.h"
#include "locator/rpc/call_runner.h"
#include "locator/rpc/frame_parser.h"

namespace thrifty::diststore {

namespace {

bool OnlySelf(const locator::Ring* ring, const std::string& self) {
  return ring == nullptr || ring->empty() || (ring->size() == 1 && ring->contains(self));
}

}  // namespace

InlineCalls::InlineCalls(ClusterView& cluster, const MovingKeys& moving,
                         const ReplicationOptions& replication, const rpc::RpcLimits& limits,
                         bool sync)
    : cluster_(cluster), moving_(moving), replication_(replication), limits_(limits), sync_(sync) {}

bool InlineCalls::runs_inline(const std::string& frame) const {
  const auto head = rpc::PeekMessageHead(frame);
  if (!head) return false;
  const std::string& method = head->name;
  if (method == "ping") return true;
  const bool replicated = replication_.replicas > 1;
  if (method == "owner_get") return replicated;
  if (method == "owner_put") return replicated && !sync_ && replica_copies_here(frame);
  const bool read = method == "get" || method == "multi_get";
  const bool write = method == "put" || method == "erase" || method == "multi_put";
  return (read || (write && !sync_)) && whole_cluster_is_self();
}

bool InlineCalls::whole_cluster_is_self() const {
  if (moving_.draining() || moving_.fallback_open()) return false;
  const auto snapshot = cluster_.snapshot();
  const std::string& self = snapshot->self_name();
  return OnlySelf(snapshot->ring().get(), self) && OnlySelf(snapshot->ring_with_dead().get(), self) &&
         OnlySelf(snapshot->previous_ring().get(), self);
}

bool InlineCalls::replica_copies_here(const std::string& frame) const {
  // One reader per loop thread: it holds the frame only while reading it.
  thread_local std::unique_ptr<rpc::CallArgsReader> reader;
  if (!reader) reader = std::make_unique<rpc::CallArgsReader>(limits_);
  wire::Store_owner_put_args args;
  if (!reader->read(frame, "owner_put", &args)) return false;
  if (moving_.draining()) return false;
  const auto snapshot = cluster_.snapshot();
  const ReplicaPlacement placement(*snapshot, static_cast<size_t>(replication_.replicas), false);
  for (const auto& record : args.records) {
    if (record.version == 0) return false;  // to lead: it fans out
    if (!placement.of(record.key).contains(snapshot->self_name())) return false;
  }
  return true;
}

}  // namespace thrifty::diststore
