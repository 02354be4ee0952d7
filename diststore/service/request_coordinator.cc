#include "diststore/service/request_coordinator.h"

#include <algorithm>
#include <future>

#include <glog/logging.h>

#include "locator/membership/member_table.h"

namespace thrifty::diststore {

using membership::MemberName;
using membership::NowMs;

namespace {
// After a ring change, misses are checked on the alternate holder for this long; handoff
// traffic arriving keeps the window open.
constexpr int64_t kFallbackWindowMs = 30000;
constexpr int64_t kFallbackAfterHandoffMs = 10000;
// A restarted node's own data may be older than copies written elsewhere while it was away:
// until the handoff back to it has quietened (or this long after its start), it compares.
constexpr int64_t kFreshAfterHandoffMs = 10 * 60 * 1000;
bool HoldsAnyRecord(storage::Engine& engine) {
  bool any = false;
  engine.scan([&any](std::string_view, const storage::Record&) {
    any = true;
    return false;  // one record is enough
  });
  return any;
}

}  // namespace

rpc::Record ToRpc(const std::string& key, const storage::Record& record) {
  rpc::Record out;
  out.key = key;
  out.value = record.value;
  out.version = record.version;
  out.tombstone = record.tombstone;
  return out;
}

storage::Record FromRpc(const rpc::Record& record) {
  return storage::Record{record.value, record.version, record.tombstone};
}

RequestCoordinator::RequestCoordinator(locator::LocatorNode& node, storage::Engine& engine,
                                       StoreLimits limits, rpc::PoolOptions pool_options)
    : node_(node),
      engine_(engine),
      limits_(limits),
      clock_(limits.max_clock_drift_ms),
      pool_(node.peer_auth().pool_options(std::move(pool_options))),
      fan_out_(32),
      self_name_(node.self_name()),
      created_ms_(NowMs()),
      started_with_data_(HoldsAnyRecord(engine)) {
  on_ring_change();
}

bool RequestCoordinator::is_self(const Location& location) const {
  return MemberName(location) == self_name_;
}

void RequestCoordinator::on_ring_change() { last_ring_change_ms_ = NowMs(); }

void RequestCoordinator::note_handoff_received() { last_handoff_received_ms_ = NowMs(); }

std::shared_ptr<const locator::Ring> RequestCoordinator::others_ring() const {
  return node_.snapshot()->ring_without_self();
}

std::shared_ptr<const locator::Ring> RequestCoordinator::routing_ring() const {
  if (draining_.load()) {
    auto others = others_ring();
    if (!others->empty()) return others;
  }
  return node_.ring();
}

void RequestCoordinator::start_draining() {
  draining_ = true;
  LOG(INFO) << "draining: requests now go to the ring without this node";
}

bool RequestCoordinator::fallback_open() const {
  const int64_t now = NowMs();
  return draining_.load() || now - last_ring_change_ms_.load() < kFallbackWindowMs ||
         now - last_handoff_received_ms_.load() < kFallbackAfterHandoffMs;
}

void RequestCoordinator::owner_failed(const Location& owner, const std::exception& e) {
  ++errors_;
  node_.note_peer_failure(owner);
  LOG(WARNING) << "owner " << rpc::ToString(owner) << " unreachable: " << e.what();
  ThrowStoreError("owner " + rpc::ToString(owner) + " of the key is unreachable (" + e.what() +
                  "); try again once the cluster has noticed");
}

template <typename Fn>
void RequestCoordinator::call_owner(const Location& owner, Fn&& fn) {
  try {
    pool_.call(owner, std::forward<Fn>(fn));
  } catch (const rpc::StoreError&) {
    throw;  // the owner's own answer, already worded for the client
  } catch (const std::exception& e) {
    owner_failed(owner, e);
  }
}

template <typename Fn>
auto RequestCoordinator::routed(Fn&& fn) -> decltype(fn(std::declval<const locator::Ring&>())) {
  auto ring = routing_ring();
  if (ring->empty()) ThrowStoreError("no node in the ring");
  try {
    return fn(*ring);
  } catch (const rpc::StoreError&) {
    // An owner failed while the ring changed under the request (it left or died, and this node
    // heard of it meanwhile): route the request once more, on the new ring.
    auto now = routing_ring();
    if (now->empty() || now->signature() == ring->signature()) throw;
    ++rerouted_;
    return fn(*now);
  }
}

// ---- reads ----

void RequestCoordinator::merge_newer_from(const std::map<std::string, Location>& holders,
                                          const std::map<std::string, std::vector<size_t>>& asked,
                                          const std::vector<std::string>& keys,
                                          std::vector<std::optional<storage::Record>>& found) {
  // Every holder at once: the slowest one, not their sum, bounds the read.
  std::vector<std::pair<const std::vector<size_t>*, std::future<std::vector<rpc::Record>>>> calls;
  for (const auto& [name, indexes] : asked) {
    const Location holder = holders.at(name);
    std::vector<std::string> batch;
    batch.reserve(indexes.size());
    for (size_t i : indexes) batch.push_back(keys[i]);
    auto ask = [this, holder, batch = std::move(batch)] {
      std::vector<rpc::Record> records;
      pool_.call(holder, [&](rpc::StoreClient& client) { client.owner_get(records, batch, false); });
      return records;
    };
    // The first runs on this thread when its result is needed, the others meanwhile.
    calls.emplace_back(&indexes, calls.empty() ? std::async(std::launch::deferred, std::move(ask))
                                               : fan_out_.submit(std::move(ask)));
  }
  for (auto& [indexes, future] : calls) {
    std::vector<rpc::Record> records;
    try {
      records = future.get();
    } catch (const std::exception& e) {
      VLOG(1) << "read of " << indexes->size() << " keys on another holder failed: " << e.what();
      continue;  // the holder may have left; what we have is the best answer
    }
    std::map<std::string, storage::Record> theirs;
    for (auto& r : records) theirs.emplace(r.key, FromRpc(r));
    for (size_t i : *indexes) {
      auto it = theirs.find(keys[i]);
      if (it != theirs.end() && (!found[i] || storage::Supersedes(it->second, *found[i]))) {
        found[i] = std::move(it->second);
      }
    }
  }
}

std::vector<std::optional<storage::Record>> RequestCoordinator::read_owned(
    const std::vector<std::string>& keys, bool fallback) {
  std::vector<std::optional<storage::Record>> found;
  try {
    found = engine_.multi_get(keys);
  } catch (const std::exception& e) {
    ++errors_;
    ThrowStoreError(std::string("storage failure on ") + self_name_ + ": " + e.what());
  }
  if (!fallback) return found;

  std::map<std::string, Location> holders;
  std::map<std::string, std::vector<size_t>> asked;  // holder name -> key indexes
  std::vector<bool> asked_elsewhere(keys.size(), false);
  auto ask = [&](const Location& holder, size_t i) {
    const std::string name = MemberName(holder);
    holders.emplace(name, holder);
    asked[name].push_back(i);
    asked_elsewhere[i] = true;
  };

  // A sender whose view differs from ours sent keys our ring gives to another node (it heard
  // of a ring change before us, or after): that node may hold the newer copy. It answers from
  // its own data only, so this never loops.
  auto routing = routing_ring();
  for (size_t i = 0; !routing->empty() && i < keys.size(); ++i) {
    const Location& owner = routing->owner(keys[i]);
    if (!is_self(owner)) ask(owner, i);
  }
  forwarded_ += static_cast<int64_t>(asked.size());

  if (fallback_open()) {
    // While keys move, a key we lack, or one we only just took over, may still be where it was
    // (a handoff in flight; after a restart our own copy may be older than one written
    // elsewhere meanwhile). Where it was: on its owner in the previous ring and, for a node
    // that just started (the previous ring is then only part of the view it learned), on the
    // node that would own it without this one. With weighted ketama a ring change also moves
    // keys between older nodes, so the previous ring's owner is asked whenever it differs.
    // The newer record wins.
    auto others = others_ring();
    auto previous = node_.previous_ring();
    const int64_t now = NowMs();
    // Only a node that restarted on data it held before can hold a stale copy of a key it
    // owns; one that started empty gets every key by handoff or as its owner.
    const bool fresh = started_with_data_ &&
                       (previous->size() <= 1 || now - created_ms_ < kFallbackWindowMs ||
                        (now - created_ms_ < kFreshAfterHandoffMs &&
                         now - last_handoff_received_ms_.load() < kFallbackAfterHandoffMs));
    const size_t asked_before = asked.size();
    for (size_t i = 0; i < keys.size(); ++i) {
      std::optional<Location> before;
      if (!previous->empty()) {
        const Location& previous_owner = previous->owner(keys[i]);
        if (!is_self(previous_owner)) before = previous_owner;
      }
      if (found[i] && !fresh && !before) continue;
      if (before) ask(*before, i);
      if (fresh || !found[i]) {
        if (!others->empty() && !is_self(others->owner(keys[i]))) ask(others->owner(keys[i]), i);
      }
    }
    fallback_reads_ += static_cast<int64_t>(asked.size() - asked_before);
  }
  if (asked.empty()) {
    check_unavailable(keys, found);
    return found;
  }
  for (auto& [name, indexes] : asked) {  // a key can be asked of one holder for two reasons
    std::sort(indexes.begin(), indexes.end());
    indexes.erase(std::unique(indexes.begin(), indexes.end()), indexes.end());
  }
  merge_newer_from(holders, asked, keys, found);
  // A handoff may have delivered a key between our read and the holder's (the holder deletes
  // only after we acknowledged it), so the holder no longer has it and our first read had an
  // older copy or none: read once more what we asked about, and keep the newer.
  std::vector<size_t> again;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (asked_elsewhere[i]) again.push_back(i);
  }
  std::vector<std::string> again_keys;
  again_keys.reserve(again.size());
  for (size_t i : again) again_keys.push_back(keys[i]);
  try {
    auto now_here = engine_.multi_get(again_keys);
    for (size_t j = 0; j < again.size(); ++j) {
      auto& mine = found[again[j]];
      if (now_here[j] && (!mine || storage::Supersedes(*now_here[j], *mine))) mine = now_here[j];
    }
  } catch (const std::exception& e) {
    ++errors_;
    ThrowStoreError(std::string("storage failure on ") + self_name_ + ": " + e.what());
  }
  check_unavailable(keys, found);
  return found;
}

void RequestCoordinator::check_unavailable(
    const std::vector<std::string>& keys,
    const std::vector<std::optional<storage::Record>>& found) const {
  const auto snapshot = node_.snapshot();
  const auto& with_dead = snapshot->ring_with_dead();
  if (!with_dead) return;
  const std::set<std::string>& dead = snapshot->dead();
  size_t unavailable = 0;
  std::string first_key, first_owner;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (found[i]) continue;
    const std::string owner = MemberName(with_dead->owner(keys[i]));
    if (dead.count(owner) == 0) continue;
    if (unavailable++ == 0) {
      first_key = keys[i];
      first_owner = owner;
    }
  }
  if (unavailable == 0) return;
  ++errors_;
  ThrowStoreError("key '" + first_key + "'" +
                  (unavailable > 1 ? " (and " + std::to_string(unavailable - 1) + " more)" : "") +
                  " is held by " + first_owner +
                  ", which is DEAD (unreachable): unavailable until it returns");
}

std::string RequestCoordinator::get(const std::string& key) {
  CheckKey(limits_, key);
  ++gets_;
  return routed([&](const locator::Ring& ring) { return get_on(ring, key); });
}

std::string RequestCoordinator::get_on(const locator::Ring& ring, const std::string& key) {
  const Location& owner = ring.owner(key);
  std::optional<storage::Record> record;
  if (is_self(owner)) {
    record = read_owned({key}, true)[0];
  } else {
    ++forwarded_;
    std::vector<rpc::Record> records;
    call_owner(owner, [&](rpc::StoreClient& client) { client.owner_get(records, {key}, true); });
    if (!records.empty()) record = FromRpc(records.front());
  }
  if (!record || record->tombstone) {
    ++not_found_;
    rpc::NotFound missing;
    missing.key = key;
    throw missing;
  }
  return std::move(record->value);
}

std::map<std::string, std::string> RequestCoordinator::multi_get(
    const std::vector<std::string>& keys) {
  CheckBatch(limits_, keys.size());
  for (const auto& key : keys) CheckKey(limits_, key);
  gets_ += static_cast<int64_t>(keys.size());
  return routed([&](const locator::Ring& ring) { return multi_get_on(ring, keys); });
}

std::map<std::string, std::string> RequestCoordinator::multi_get_on(
    const locator::Ring& ring, const std::vector<std::string>& keys) {
  std::map<std::string, std::vector<std::string>> by_owner;
  std::map<std::string, Location> owners;
  for (const auto& key : keys) {
    const Location& owner = ring.owner(key);
    const std::string name = MemberName(owner);
    by_owner[name].push_back(key);
    owners.emplace(name, owner);
  }
  std::map<std::string, std::string> out;
  auto keep = [&out](const std::string& key, const std::optional<storage::Record>& r) {
    if (r && !r->tombstone) out[key] = r->value;
  };
  // Remote owners in parallel on the pool; our own share on this thread meanwhile, or, with
  // none, the first remote owner's (a single-owner batch never leaves this thread).
  const bool share_here = by_owner.count(self_name_) != 0;
  std::vector<std::pair<Location, std::future<std::vector<rpc::Record>>>> remote;
  for (auto& [name, owner_keys] : by_owner) {
    if (name == self_name_) continue;
    const Location owner = owners[name];
    const std::vector<std::string>* batch = &owner_keys;
    ++forwarded_;
    auto call = [this, owner, batch] {
      std::vector<rpc::Record> records;
      pool_.call(owner, [&](rpc::StoreClient& client) { client.owner_get(records, *batch, true); });
      return records;
    };
    remote.emplace_back(owner, share_here || !remote.empty()
                                   ? fan_out_.submit(std::move(call))
                                   : std::async(std::launch::deferred, std::move(call)));
  }
  if (auto mine = by_owner.find(self_name_); mine != by_owner.end()) {
    auto found = read_owned(mine->second, true);
    for (size_t i = 0; i < found.size(); ++i) keep(mine->second[i], found[i]);
  }
  std::optional<std::pair<Location, std::string>> failure;
  for (auto& [owner, future] : remote) {
    try {
      for (const auto& r : future.get()) {
        if (!r.tombstone) out[r.key] = r.value;
      }
    } catch (const rpc::StoreError& e) {
      if (!failure) failure.emplace(owner, e.message);
    } catch (const std::exception& e) {
      node_.note_peer_failure(owner);
      if (!failure) failure.emplace(owner, e.what());
    }
  }
  if (failure) {
    ++errors_;
    ThrowStoreError("multi_get: owner " + rpc::ToString(failure->first) + " failed (" +
                    failure->second + ")");
  }
  not_found_ += static_cast<int64_t>(keys.size() - out.size());
  return out;
}

std::vector<rpc::Record> RequestCoordinator::owner_get(const std::vector<std::string>& keys,
                                                       bool fallback) {
  CheckBatch(limits_, keys.size());
  auto found = read_owned(keys, fallback);
  std::vector<rpc::Record> out;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (found[i]) out.push_back(ToRpc(keys[i], *found[i]));
  }
  return out;
}

// ---- writes ----

void RequestCoordinator::write_local(std::vector<std::pair<std::string, storage::Record>> records) {
  try {
    engine_.merge_batch(records);
  } catch (const std::exception& e) {
    ++errors_;
    ThrowStoreError(std::string("storage failure on ") + self_name_ + ": " + e.what());
  }
}

void RequestCoordinator::put(const std::string& key, const std::string& value) {
  CheckKey(limits_, key);
  CheckValue(limits_, key, value);
  ++puts_;
  rpc::Entry entry;
  entry.key = key;
  entry.value = value;
  multi_put({entry});
}

void RequestCoordinator::erase(const std::string& key) {
  CheckKey(limits_, key);
  ++erases_;
  rpc::Record record;
  record.key = key;
  record.tombstone = true;
  record.version = 0;
  routed([&](const locator::Ring& ring) { erase_on(ring, record); });
}

void RequestCoordinator::erase_on(const locator::Ring& ring, const rpc::Record& record) {
  const Location& owner = ring.owner(record.key);
  if (is_self(owner)) {
    owner_put({record});
    return;
  }
  ++forwarded_;
  call_owner(owner, [&](rpc::StoreClient& client) { client.owner_put({record}); });
}

void RequestCoordinator::multi_put(const std::vector<rpc::Entry>& entries) {
  CheckBatch(limits_, entries.size());
  for (const auto& e : entries) {
    CheckKey(limits_, e.key);
    CheckValue(limits_, e.key, e.value);
  }
  if (entries.size() > 1) puts_ += static_cast<int64_t>(entries.size());
  routed([&](const locator::Ring& ring) { multi_put_on(ring, entries); });
}

void RequestCoordinator::multi_put_on(const locator::Ring& ring,
                                      const std::vector<rpc::Entry>& entries) {
  std::map<std::string, std::vector<rpc::Record>> by_owner;
  std::map<std::string, Location> owners;
  for (const auto& e : entries) {
    const Location& owner = ring.owner(e.key);
    const std::string name = MemberName(owner);
    rpc::Record r;
    r.key = e.key;
    r.value = e.value;
    r.version = 0;  // stamped by the owner
    by_owner[name].push_back(std::move(r));
    owners.emplace(name, owner);
  }
  // Remote owners in parallel on the pool; our own share on this thread meanwhile, or, with
  // none, the first remote owner's (a single-key put never leaves this thread).
  const bool share_here = by_owner.count(self_name_) != 0;
  std::vector<std::pair<Location, std::future<void>>> remote;
  for (auto& [name, records] : by_owner) {
    if (name == self_name_) continue;
    const Location owner = owners[name];
    const std::vector<rpc::Record>* batch = &records;
    ++forwarded_;
    auto call = [this, owner, batch] {
      pool_.call(owner, [&](rpc::StoreClient& client) { client.owner_put(*batch); });
    };
    remote.emplace_back(owner, share_here || !remote.empty()
                                   ? fan_out_.submit(std::move(call))
                                   : std::async(std::launch::deferred, std::move(call)));
  }
  std::optional<std::string> local_error;
  if (auto mine = by_owner.find(self_name_); mine != by_owner.end()) {
    try {
      owner_put(std::move(mine->second));
    } catch (const rpc::StoreError& e) {
      local_error = e.message;
    }
  }
  std::optional<std::pair<Location, std::string>> failure;
  for (auto& [owner, future] : remote) {
    try {
      future.get();
    } catch (const rpc::StoreError& e) {
      if (!failure) failure.emplace(owner, e.message);
    } catch (const std::exception& e) {
      node_.note_peer_failure(owner);
      if (!failure) failure.emplace(owner, e.what());
    }
  }
  if (local_error) ThrowStoreError(*local_error);
  if (failure) {
    ++errors_;
    ThrowStoreError("write to owner " + rpc::ToString(failure->first) + " failed (" +
                    failure->second + "); keys of other owners were written");
  }
}

void RequestCoordinator::check_versions(const std::vector<rpc::Record>& records,
                                        const std::string& call) {
  for (const auto& r : records) {
    if (r.version == 0) continue;  // to be stamped here
    const auto admission = clock_.check(r.version);
    if (admission == storage::HybridLogicalClock::Admission::ok) continue;
    ++versions_refused_;
    std::string why;
    if (admission == storage::HybridLogicalClock::Admission::out_of_range) {
      why = "is not a hybrid-logical-clock timestamp (must be in 1.." +
            std::to_string(storage::HybridLogicalClock::kMaxTimestamp) + ")";
    } else {
      const int64_t ahead = storage::HybridLogicalClock::physical_ms(r.version) -
                            clock_.physical_now_ms();
      why = "is " + std::to_string(ahead) + " ms ahead of this node's clock (limit " +
            "--max-clock-drift-ms=" + std::to_string(clock_.max_offset_ms()) +
            "; is a clock wrong?)";
    }
    LOG_EVERY_T(WARNING, 1) << call << ": refused version " << r.version << " of key '"
                            << r.key << "': it " << why;
    ThrowStoreError(call + " refused on " + self_name_ + ": the version " +
                    std::to_string(r.version) + " of key '" + r.key + "' " + why +
                    "; nothing of the batch was written");
  }
}

void RequestCoordinator::owner_put(std::vector<rpc::Record> records) {
  CheckBatch(limits_, records.size());
  check_versions(records, "owner_put");
  auto ring = routing_ring();
  std::vector<std::pair<std::string, storage::Record>> mine;
  std::map<std::string, std::vector<rpc::Record>> elsewhere;
  std::map<std::string, Location> owners;
  for (auto& r : records) {
    CheckKey(limits_, r.key);
    if (!r.tombstone) CheckValue(limits_, r.key, r.value);
    if (r.version < 0) {
      ThrowStoreError("owner_put: negative version for key '" + r.key + "'; nothing stored");
    }
    if (r.version == 0) {
      r.version = clock_.now();
    } else {
      clock_.observe(r.version);
    }
    if (!ring->empty()) {
      const Location& owner = ring->owner(r.key);
      if (!is_self(owner)) {
        const std::string name = MemberName(owner);
        owners.emplace(name, owner);
        elsewhere[name].push_back(std::move(r));
        continue;
      }
    }
    mine.emplace_back(r.key, FromRpc(r));
  }
  if (!mine.empty()) write_local(std::move(mine));
  // The sender thought we own these; our newer view says otherwise. Hand them on (merge only,
  // the receiver never forwards a handoff): one extra hop at most.
  for (const auto& entry : elsewhere) {
    const std::vector<rpc::Record>& batch = entry.second;
    const Location& owner = owners[entry.first];
    ++forwarded_;
    rpc::HandoffAck ack;
    call_owner(owner, [&](rpc::StoreClient& client) {
      client.handoff(ack, batch, node_.self_location());
    });
  }
}

rpc::HandoffAck RequestCoordinator::handoff(const std::vector<rpc::Record>& records,
                                            const Location& sender) {
  CheckBatch(limits_, records.size());
  check_versions(records, "handoff from " + rpc::ToString(sender));
  note_handoff_received();
  std::vector<std::pair<std::string, storage::Record>> batch;
  batch.reserve(records.size());
  for (const auto& r : records) {
    CheckKey(limits_, r.key);
    if (r.version <= 0) ThrowStoreError("handoff from " + rpc::ToString(sender) +
                                        ": record without a version for key '" + r.key + "'");
    clock_.observe(r.version);
    batch.emplace_back(r.key, FromRpc(r));
  }
  size_t applied = 0;
  try {
    applied = engine_.merge_batch(batch);
  } catch (const std::exception& e) {
    ++errors_;
    ThrowStoreError(std::string("storage failure on ") + self_name_ + ": " + e.what());
  }
  handoff_records_in_ += static_cast<int64_t>(records.size());

  rpc::HandoffAck ack;
  ack.applied = static_cast<int64_t>(applied);
  ack.skipped = static_cast<int64_t>(records.size() - applied);
  return ack;
}

std::map<std::string, int64_t> RequestCoordinator::stats() const {
  return {{"gets", gets_.load()},
          {"puts", puts_.load()},
          {"erases", erases_.load()},
          {"forwarded", forwarded_.load()},
          {"rerouted", rerouted_.load()},
          {"fallback_reads", fallback_reads_.load()},
          {"not_found", not_found_.load()},
          {"errors", errors_.load()},
          {"handoff_records_in", handoff_records_in_.load()},
          {"versions_refused", versions_refused_.load()}};
}

}  // namespace thrifty::diststore
