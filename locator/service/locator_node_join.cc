// LocatorNode, the membership calls: joining through a seed, and the join, add and remove
// RPCs other nodes make (admission first, then the member table, then the snapshot).
#include "locator/service/locator_node.h"

#include <chrono>

#include <glog/logging.h>

#include "locator/rpc/address.h"
#include "locator/service/admission.h"

namespace thrifty::locator {

using membership::MemberName;
using membership::NowMs;
using wire::Location;
using wire::Member;
using wire::MemberState;

void LocatorNode::note_join_error(const Location& seed, const std::string& why) {
  LOG(ERROR) << "join through " << rpc::ToString(seed) << " failed: " << why;
  std::lock_guard<std::mutex> lock(join_error_mu_);
  last_join_error_ = rpc::ToString(seed) + ": " + why;
}

bool LocatorNode::join_through(const Location& seed) {
  try {
    View view;
    // Learn the cluster before it learns of us: the moment the seed admits this node, others
    // route requests here, and this node must already know the ring to answer them.
    pool_.call(seed, [&](wire::LocatorClient& client) { client.get_view(view); });
    if (view.placement != options_.placement) {
      LOG(ERROR) << "join: " << rpc::ToString(seed) << " uses placement " << view.placement
                 << ", this node " << options_.placement;
      return false;
    }
    for (const Member& member : view.members) {
      if (MemberName(member.location) == self_name()) {
        std::lock_guard<std::mutex> lock(join_error_mu_);
        self_before_join_ = member;
      }
    }
    // learn: DEAD members too, which keep their place among the replicas on the others.
    for (const Member& member : view.members) table_->learn(member);
    JoinInfo info = self_join_info();
    info.proof = make_proof(membership::JoinProof::kJoin, self_name());
    pool_.call(seed, [&](wire::LocatorClient& client) { client.join(view, self_, info); });
    for (const Member& member : view.members) table_->learn(member);
    publish();
    LOG(INFO) << "joined through " << rpc::ToString(seed) << ": " << view.members.size()
              << " members";
    return true;
  } catch (const wire::LocatorError& e) {
    note_join_error(seed, e.message);
  } catch (const wire::Unauthorized& e) {
    note_join_error(seed, e.message);
  } catch (const std::exception& e) {
    note_join_error(seed, e.what());
  }
  return false;
}

std::string LocatorNode::join_by_etcd() {
  discovery::MemberRecord self;
  self.address = self_.address;
  self.port = self_.port;
  self.service_type = service_type();
  const Member me = table_->self();
  if (const auto id = me.metadata.find(kHostIdMetadataKey); id != me.metadata.end()) {
    self.host_id = id->second;
  }
  std::vector<discovery::MemberRecord> seeds;
  try {
    seeds = etcd_->begin(std::move(self));
  } catch (const std::exception&) {
    stop();
    throw;
  }
  const std::string found = std::to_string(seeds.size()) + " node(s) registered in " + etcd_->url();
  for (const discovery::MemberRecord& seed : seeds) {
    const Location where = rpc::MakeLocation(seed.address, seed.port);
    if (join_through(where)) return found + "; joined through " + rpc::ToString(where);
  }
  if (seeds.empty()) return "no node registered in " + etcd_->url() + "; started a new cluster";
  LOG(WARNING) << "none of the " << found << " admitted this node; starting a new cluster";
  return found + ", none admitted this node; started a new cluster";
}

JoinInfo LocatorNode::self_join_info() const {
  const Member self = table_->self();
  JoinInfo info;
  info.incarnation = self.incarnation;
  info.metadata = self.metadata;
  info.gossip_port = self.gossip_port;
  info.placement = options_.placement;
  info.service_type = service_type();
  return info;
}

// ---- the Locator RPCs that change membership ----

std::string LocatorNode::make_proof(const char* purpose, const std::string& caller) const {
  return membership::JoinProof::Make(*keys_, purpose, caller, NowMs());
}

void LocatorNode::check_proof(const char* purpose, const std::string& caller,
                              const std::string& proof, const char* call) const {
  const auto result = membership::JoinProof::Verify(*keys_, purpose, caller, proof, NowMs());
  if (result == membership::JoinProof::Result::ok) return;
  LOG(WARNING) << call << " for " << caller << " refused: proof of the cluster key is "
               << membership::JoinProof::ResultName(result);
  wire::Unauthorized denied;
  denied.message = std::string(call) + " refused: the proof of the cluster key is " +
                   membership::JoinProof::ResultName(result) +
                   " (do both nodes use the same --cluster-key-file and a correct clock?)";
  throw denied;
}

View LocatorNode::handle_join(const Location& location, const JoinInfo& info) {
  check_proof(membership::JoinProof::kJoin, MemberName(location), info.proof, "join");
  RefuseBadLocation("join", location);
  RefuseOtherPlacement("join", options_.placement, info);
  if (!info.service_type.empty() && info.service_type != service_type()) {
    wire::LocatorError error;
    error.message = "join refused: this cluster serves '" + service_type() +
                    "', the joining node '" + info.service_type + "'";
    throw error;
  }
  if (MemberName(location) == self_name()) {
    wire::LocatorError error;
    error.message = "join refused: " + rpc::ToString(location) + " is this node's own address";
    throw error;
  }
  RefuseBadWeight("join", location, info, options_.placement);
  if (options_.admit) {
    const std::string why = options_.admit(location, info, table_->all());
    if (!why.empty()) {
      ++joins_refused_;
      LOG(WARNING) << "join of " << rpc::ToString(location) << " refused: " << why;
      wire::LocatorError error;
      error.message = "join refused: " + why;
      throw error;
    }
  }
  ++joins_handled_;
  admit_member(location, info);  // the join returns with the joiner in this node's ring
  LOG(INFO) << "join: admitted " << rpc::ToString(location);
  JoinInfo forwarded = info;
  forwarded.proof = make_proof(membership::JoinProof::kAdd, MemberName(location));
  // A join returns once every established member has heard of it, so the joiner's first
  // requests find it known. A member that is itself still joining answers only when its own
  // join returns: that wait is capped, and the call goes on in the background (gossip and
  // anti-entropy spread the join too).
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(options_.join_broadcast_wait_ms);
  for (auto& call : broadcast_add(location, forwarded, {self_, location})) {
    if (call.wait_until(deadline) != std::future_status::ready) {
      LOG(INFO) << "join of " << rpc::ToString(location)
                << ": not every member confirmed it yet; the rest continues in the background";
      break;
    }
  }
  return view();
}

std::vector<std::future<void>> LocatorNode::broadcast_add(
    const Location& location, const JoinInfo& info, const std::vector<Location>& authorities) {
  std::vector<std::future<void>> calls;
  for (const Location& peer : other_ring_members()) {
    bool told = false;
    for (const Location& a : authorities) told = told || MemberName(a) == MemberName(peer);
    if (told) continue;
    calls.push_back(fan_out_.submit([this, peer, location, info, authorities] {
      try {
        pool_.call(peer, [&](wire::LocatorClient& client) {
          client.add(location, authorities, info);
        });
        note_peer_success(peer);
      } catch (const std::exception& e) {
        LOG(WARNING) << "could not tell " << rpc::ToString(peer) << " about "
                     << rpc::ToString(location) << ": " << e.what();
        note_peer_failure(peer);
      }
    }));
  }
  return calls;
}

void LocatorNode::handle_add(const Location& location, const std::vector<Location>&,
                             const JoinInfo& info) {
  check_proof(membership::JoinProof::kAdd, MemberName(location), info.proof, "add");
  RefuseBadLocation("add", location);
  RefuseOtherPlacement("add", options_.placement, info);
  RefuseBadWeight("add", location, info, options_.placement);
  admit_member(location, info);
}

void LocatorNode::admit_member(const Location& location, const JoinInfo& info) {
  Member member;
  member.location = location;
  member.state = MemberState::ALIVE;
  member.incarnation = info.incarnation;
  member.metadata = info.metadata;
  member.gossip_port = info.gossip_port;
  table_->apply(member);
  publish();
  note_peer_success(location);
}

std::optional<Member> LocatorNode::self_before_join() const {
  std::lock_guard<std::mutex> lock(join_error_mu_);
  return self_before_join_;
}

int LocatorNode::remove_dead_member(const Location& location, std::vector<std::string>* untold) {
  RefuseBadLocation("remove", location);
  const std::string name = MemberName(location);
  auto refuse = [&](const std::string& why) {
    wire::LocatorError error;
    error.message = "cannot remove " + name + ": " + why;
    throw error;
  };
  if (name == self_name()) refuse("it is the node asked; stop it and ask another member");
  const auto known = table_->find(name);
  if (!known) refuse("no member of this cluster has that address (see storectl members)");
  if (known->state != MemberState::DEAD) {
    refuse(std::string("it is ") + membership::StateName(known->state) +
           (known->state == MemberState::LEFT
                ? ", it left already"
                : " in " + self_name() +
                      "'s view; only a DEAD member can be removed: stop it for good, or let it "
                      "leave cleanly (SIGTERM), which hands its keys on"));
  }
  Member statement = *known;
  statement.state = MemberState::LEFT;
  ++statement.incarnation;  // LEFT ranks with DEAD: only a higher incarnation replaces it
  table_->apply(statement);
  publish();
  LOG(WARNING) << "removed DEAD member " << name << " for good: its ranges move to the next nodes";
  const auto peers = other_ring_members();
  const std::string proof = make_proof(membership::JoinProof::kRemove, name);
  auto results = fan_out_.map(peers, [&](const Location& peer) {
    pool_.call(peer, [&](wire::LocatorClient& client) {
      client.remove(location, std::vector<Location>{self_}, proof);
    });
  });
  int told = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    try {
      results[i].get();
      ++told;
    } catch (const std::exception& e) {
      LOG(WARNING) << "remove of " << name << ": " << rpc::ToString(peers[i])
                   << " was not told (gossip will tell it): " << e.what();
      if (untold) untold->push_back(MemberName(peers[i]));
    }
  }
  return told;
}

void LocatorNode::handle_remove(const Location& location, const std::vector<Location>&,
                                const std::string& proof) {
  check_proof(membership::JoinProof::kRemove, MemberName(location), proof, "remove");
  RefuseBadLocation("remove", location);
  const std::string name = MemberName(location);
  auto known = table_->find(name);
  if (!known) return;  // nothing to forget
  Member statement = *known;
  statement.state = MemberState::LEFT;
  // A DEAD member removed by an operator: LEFT ranks with DEAD, so only a higher incarnation
  // replaces it (the member, if it comes back, refutes that one too).
  if (known->state == MemberState::DEAD) ++statement.incarnation;
  table_->apply(statement);  // refuted by the member itself if it is still alive
  publish();
}

}  // namespace thrifty::locator
