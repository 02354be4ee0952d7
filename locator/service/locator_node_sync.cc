// LocatorNode, anti-entropy: the periodic push-pull sync with a random member that repairs
// what gossip lost (and, without gossip, is the failure detector), and the sync RPC.
#include "locator/service/locator_node.h"

#include <chrono>
#include <random>

#include <glog/logging.h>

#include "locator/rpc/address.h"
#include "locator/service/admission.h"

namespace thrifty::locator {

using membership::MemberName;
using membership::NowMs;
using wire::Location;
using wire::Member;
using wire::MemberState;

View LocatorNode::view() const {
  View view;
  view.members = table_->all();
  view.placement = options_.placement;
  view.service_type = service_type();
  return view;
}

View LocatorNode::handle_sync(const std::vector<Member>& members, const std::string& proof) {
  check_proof(membership::JoinProof::kSync, membership::JoinProof::SyncDigest(members), proof,
              "sync");
  for (const Member& member : members) RefuseBadLocation("sync", member.location);
  for (const Member& member : members) table_->apply(member);
  publish();
  return view();
}


void LocatorNode::sync_loop() {
  while (running_.load()) {
    {
      std::unique_lock<std::mutex> lock(stop_mu_);
      stop_cv_.wait_for(lock, std::chrono::milliseconds(options_.sync_interval_ms),
                        [this] { return !running_.load(); });
    }
    if (!running_.load()) break;
    sync_once();
    table_->reap(NowMs(), options_.reap_after_ms);
  }
}

void LocatorNode::sync_once() {
  auto peers = other_ring_members();
  if (peers.empty()) return;
  static thread_local std::mt19937_64 rng(std::random_device{}());
  sync_with(peers[std::uniform_int_distribution<size_t>(0, peers.size() - 1)(rng)]);
}

void LocatorNode::sync_with(const Location& peer) {
  ++syncs_sent_;
  try {
    View theirs;
    const std::vector<Member> ours = table_->all();
    const std::string proof =
        make_proof(membership::JoinProof::kSync, membership::JoinProof::SyncDigest(ours));
    pool_.call(peer, [&](wire::LocatorClient& client) { client.sync(theirs, ours, proof); });
    note_peer_success(peer);
    for (const Member& member : theirs.members) table_->apply(member);
    publish();
  } catch (const std::exception& e) {
    ++syncs_failed_;
    VLOG(1) << "sync with " << rpc::ToString(peer) << " failed: " << e.what();
    note_peer_failure(peer);
  }
}

}  // namespace thrifty::locator
