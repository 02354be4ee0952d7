#include "diststore/client/cluster_client.h"

#include "locator/membership/member_table.h"

namespace thrifty::client {

using membership::MemberName;
using membership::NowMs;

namespace {

std::vector<locator::wire::Member> RingMembers(const locator::wire::View& view) {
  return membership::InRingMembers(view.members);
}

// Runs fn() and returns its result; every failure leaves as a ClientError carrying the
// node's message (StoreError) or the transport's.
template <typename Fn>
auto AsClientError(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const diststore::wire::StoreError& e) {
    throw ClientError(e.message);
  } catch (const diststore::wire::Unavailable& e) {
    throw ClientError(e.message);
  } catch (const diststore::wire::TimedOut& e) {
    throw ClientError(e.message);
  } catch (const ClientError&) {
    throw;
  } catch (const std::exception& e) {
    throw ClientError(e.what());
  }
}

// A call that timed out may be running on its node: sending it again elsewhere could apply it
// twice (the pool's own rule), so the caller hears that the outcome is unknown instead.
void ThrowIfTimedOut(const Location& node, const apache::thrift::transport::TTransportException& e) {
  if (e.getType() != apache::thrift::transport::TTransportException::TIMED_OUT) return;
  throw ClientError(rpc::ToString(node) + " did not answer in time (" + e.what() +
                    "); the request may or may not have been applied");
}

}  // namespace

ClusterClient::ClusterClient(ClientOptions options)
    : options_(std::move(options)), pool_(options_.pool), fan_out_(8) {
  if (options_.seeds.empty()) throw ClientError("no node to connect to");
  snapshot_ = fetch();
  try {
    std::map<std::string, int64_t> stats;
    pool_.call(entry_node(), [&](diststore::wire::StoreClient& c) { c.stats(stats); });
    limits_ = diststore::ImportLimits(stats);
    // A node closes the connection on a frame over its limit without saying why: send none.
    const auto frame_limit = stats.find("rpc_max_frame_bytes");
    if (frame_limit != stats.end() && frame_limit->second > 0 &&
        frame_limit->second < pool_.max_request_bytes()) {
      pool_.set_max_request_bytes(static_cast<int32_t>(frame_limit->second));
    }
  } catch (const std::exception&) {
    // keep the documented defaults; the nodes check again anyway
  }
}

std::shared_ptr<const ClusterClient::Snapshot> ClusterClient::fetch() {
  std::vector<Location> candidates = options_.seeds;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (snapshot_) {
      for (const auto& m : RingMembers(snapshot_->view)) candidates.push_back(m.location);
    }
  }
  std::string last_error = "no node given";
  for (const Location& node : candidates) {
    try {
      auto snap = std::make_shared<Snapshot>();
      pool_.call(node, [&](diststore::wire::StoreClient& c) { c.get_view(snap->view); });
      snap->ring = std::make_shared<const locator::Ring>(RingMembers(snap->view), snap->view.placement);
      snap->fetched_ms = NowMs();
      return snap;
    } catch (const std::exception& e) {
      last_error = rpc::ToString(node) + ": " + e.what();
    }
  }
  throw ClientError("cannot reach the cluster (" + last_error + ")");
}

std::shared_ptr<const ClusterClient::Snapshot> ClusterClient::snapshot(bool force_refresh) {
  std::shared_ptr<const Snapshot> current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    current = snapshot_;
  }
  if (!force_refresh && NowMs() - current->fetched_ms < options_.refresh_interval_ms) return current;
  // Single flight: one refresh at a time; whoever waited for it takes its result instead of
  // asking the cluster again (a burst of failing requests would otherwise refresh once each).
  std::lock_guard<std::mutex> refreshing(refresh_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (snapshot_ != current) return snapshot_;
  }
  auto fresh = fetch();
  ++refreshes_;
  std::lock_guard<std::mutex> lock(mu_);
  snapshot_ = fresh;
  return fresh;
}

locator::wire::View ClusterClient::view() { return snapshot(true)->view; }

Location ClusterClient::owner(const std::string& key) {
  auto snap = snapshot(false);
  if (snap->ring->empty()) throw ClientError("the cluster's ring is empty");
  return snap->ring->owner(key);
}

Location ClusterClient::entry_node() {
  auto snap = snapshot(false);
  if (!snap->ring->empty()) return snap->ring->nodes().front();
  return options_.seeds.front();
}

ClientError ClusterClient::too_large(const rpc::RequestTooLarge& e) const {
  return ClientError(std::string(e.what()) + "; the cluster's nodes refuse keys over " +
                     std::to_string(limits_.max_key_bytes) + " bytes (--max-key-bytes) and values over " +
                     std::to_string(limits_.max_value_bytes) + " bytes (--max-value-bytes)");
}

template <typename Fn>
auto ClusterClient::with_owner(const std::string& key, Fn&& fn)
    -> decltype(fn(std::declval<diststore::wire::StoreClient&>())) {
  using apache::thrift::transport::TTransportException;
  Location target = options_.ring_aware ? owner(key) : options_.seeds.front();
  std::string last_error;
  try {
    return pool_.call(target, fn);
  } catch (const rpc::RequestTooLarge& e) {
    throw too_large(e);  // not sent, and no other node would take it
  } catch (const TTransportException& e) {
    ThrowIfTimedOut(target, e);
    // Otherwise the owner is gone or restarting: refresh and let another node forward.
    last_error = rpc::ToString(target) + ": " + e.what();
  }
  auto snap = snapshot(true);
  for (const Location& node : snap->ring->nodes()) {
    if (MemberName(node) == MemberName(target)) continue;
    try {
      return pool_.call(node, fn);
    } catch (const rpc::RequestTooLarge& e) {
      throw too_large(e);
    } catch (const TTransportException& e) {
      ThrowIfTimedOut(node, e);
      last_error = rpc::ToString(node) + ": " + e.what();
    }
  }
  throw ClientError("no node of the cluster answered (" + last_error + ")");
}

std::optional<std::string> ClusterClient::get(const std::string& key) {
  return AsClientError([&]() -> std::optional<std::string> {
    try {
      return with_owner(key, [&](diststore::wire::StoreClient& c) {
        std::string value;
        c.get(value, key, options_.consistency);
        return std::optional<std::string>(std::move(value));
      });
    } catch (const diststore::wire::NotFound&) {
      return std::nullopt;
    }
  });
}

void ClusterClient::put(const std::string& key, const std::string& value) {
  AsClientError([&] { with_owner(key, [&](diststore::wire::StoreClient& c) { c.put(key, value, options_.consistency); }); });
}

void ClusterClient::erase(const std::string& key) {
  AsClientError([&] { with_owner(key, [&](diststore::wire::StoreClient& c) { c.erase(key, options_.consistency); }); });
}

std::map<std::string, std::string> ClusterClient::multi_get(const std::vector<std::string>& keys) {
  std::map<std::string, std::vector<std::string>> by_owner;
  for (const auto& key : keys) {
    by_owner[options_.ring_aware ? MemberName(owner(key)) : std::string()].push_back(key);
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> groups(by_owner.begin(), by_owner.end());
  auto results = fan_out_.map(groups, [&](const auto& group) {
    return with_owner(group.second.front(), [&](diststore::wire::StoreClient& c) {
      std::map<std::string, std::string> out;
      c.multi_get(out, group.second, options_.consistency);
      return out;
    });
  });
  std::map<std::string, std::string> out;
  for (auto& r : results) {
    auto part = AsClientError([&] { return r.get(); });
    out.insert(std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  return out;
}

void ClusterClient::multi_put(const std::vector<diststore::wire::Entry>& entries) {
  try {
    diststore::CheckBatch(limits_, entries.size());
    for (const auto& e : entries) {
      diststore::CheckKey(limits_, e.key);
      diststore::CheckValue(limits_, e.key, e.value);
    }
  } catch (const diststore::wire::StoreError& e) {
    throw ClientError(e.message);
  }
  std::map<std::string, std::vector<diststore::wire::Entry>> by_owner;
  for (const auto& e : entries) {
    by_owner[options_.ring_aware ? MemberName(owner(e.key)) : std::string()].push_back(e);
  }
  std::vector<std::pair<std::string, std::vector<diststore::wire::Entry>>> groups(by_owner.begin(), by_owner.end());
  auto results = fan_out_.map(groups, [&](const auto& group) {
    with_owner(group.second.front().key, [&](diststore::wire::StoreClient& c) { c.multi_put(group.second, options_.consistency); });
  });
  for (auto& r : results) AsClientError([&] { r.get(); });
}

std::map<std::string, int64_t> ClusterClient::stats(const Location& node) {
  std::map<std::string, int64_t> out;
  pool_.call(node, [&](diststore::wire::StoreClient& c) { c.stats(out); });
  return out;
}

}  // namespace thrifty::client
