#include "diststore/service/handoff_stream.h"

#include <chrono>
#include <future>
#include <vector>

#include <glog/logging.h>

#include "diststore/service/owner_store.h"
#include "diststore/service/range_digests.h"
#include "diststore/service/replica_set.h"
#include "locator/membership/member_table.h"

namespace thrifty::diststore {

using membership::MemberName;

namespace {

struct PendingBatch {
  Location owner;
  std::vector<wire::Record> records;
  // Parallel: delete the record here once this batch is acknowledged (its only target).
  std::vector<bool> delete_on_ack;
  size_t bytes = 0;
};

}  // namespace

HandoffStream::HandoffStream(ClusterView& cluster, storage::Engine& engine, PeerClient& peers,
                             const MovingKeys& moving, HandoffOptions options, int replicas)
    : cluster_(cluster),
      engine_(engine),
      peers_(peers),
      moving_(moving),
      options_(options),
      replicas_(replicas) {
  thread_ = std::thread([this] { worker(); });
}

HandoffStream::~HandoffStream() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void HandoffStream::request_sweep() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    requested_ = true;
  }
  cv_.notify_all();
}

void HandoffStream::worker() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait(lock, [this] { return stopping_ || requested_; });
    if (stopping_) break;
    requested_ = false;
    lock.unlock();
    SweepResult result;
    try {
      result = sweep_once();
    } catch (const std::exception& e) {
      LOG(ERROR) << "handoff sweep failed: " << e.what();
      result.failed = 1;
    }
    lock.lock();
    if (result.failed > 0 && !stopping_) {
      // Try again later (the owner may be restarting, or be declared dead meanwhile).
      cv_.wait_for(lock, std::chrono::milliseconds(options_.retry_delay_ms),
                   [this] { return stopping_; });
      requested_ = true;
    }
  }
}

bool HandoffStream::drain(int64_t deadline_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    SweepResult result = sweep_once();
    if (result.failed == 0 && result.sent == 0) return true;
    if (result.failed > 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

SweepResult HandoffStream::sweep_once() {
  std::lock_guard<std::mutex> sweep_lock(sweep_mu_);
  ++sweeps_;
  const auto start = std::chrono::steady_clock::now();
  SweepResult result;
  const auto snapshot = cluster_.snapshot();
  const auto ring = moving_.routing_ring(*snapshot);
  if (ring->empty()) return result;
  if (ring->size() == 1 && cluster_.is_self(ring->nodes().front())) return result;

  std::optional<ReplicaPlacement> placement;
  if (replicas_ > 1) {
    placement.emplace(*snapshot, static_cast<size_t>(replicas_), moving_.draining());
  }
  std::map<std::string, PendingBatch> pending;
  std::vector<std::pair<std::shared_ptr<PendingBatch>, std::future<void>>> in_flight;
  std::map<std::string, uint64_t> sent_to;
  // Records sent to several nodes, to delete here once every one acknowledged them: key ->
  // (version, acknowledgements still missing; -1 once one failed).
  std::map<std::string, std::pair<int64_t, int>> awaiting;

  // Deletes what every target acknowledged; counts what failed.
  auto settle = [&](const PendingBatch& batch, std::future<void>& done) {
    bool ok = true;
    try {
      done.get();
      result.sent += batch.records.size();
      sent_to[MemberName(batch.owner)] += batch.records.size();
      cluster_.report_success(batch.owner);
    } catch (const std::exception& e) {
      ok = false;
      result.failed += batch.records.size();
      ++failures_;
      cluster_.report_failure(batch.owner);
      LOG(WARNING) << "handoff of " << batch.records.size() << " records to "
                   << rpc::ToString(batch.owner) << " failed: " << e.what();
    }
    std::vector<std::pair<std::string, int64_t>> acknowledged;
    for (size_t i = 0; i < batch.records.size(); ++i) {
      const auto& r = batch.records[i];
      if (batch.delete_on_ack[i]) {
        if (ok) acknowledged.emplace_back(r.key, r.version);
        continue;
      }
      auto it = awaiting.find(r.key);
      if (it == awaiting.end()) continue;  // sent, kept here
      if (!ok) it->second.second = -1;
      if (it->second.second > 0 && --it->second.second == 0) {
        acknowledged.emplace_back(r.key, it->second.first);
      }
      if (it->second.second <= 0) awaiting.erase(it);
    }
    if (!acknowledged.empty()) engine_.erase_batch_if_versions(acknowledged);
  };
  auto send = [&](PendingBatch&& taken) {
    auto batch = std::make_shared<PendingBatch>(std::move(taken));
    ++result.batches;
    ++batches_out_;
    records_out_ += static_cast<int64_t>(batch->records.size());
    while (in_flight.size() >= options_.parallel_owners) {
      settle(*in_flight.front().first, in_flight.front().second);
      in_flight.erase(in_flight.begin());
    }
    auto future = std::async(std::launch::async, [this, batch] {
      peers_.handoff(batch->owner, batch->records, cluster_.self());
    });
    in_flight.emplace_back(std::move(batch), std::move(future));
  };
  auto add = [&](const Location& target, const std::string& key, const storage::Record& record,
                 bool delete_on_ack) {
    const std::string name = MemberName(target);
    PendingBatch& batch = pending[name];
    batch.owner = target;
    batch.bytes += key.size() + record.value.size() + 32;
    batch.records.push_back(ToRpc(key, record));
    batch.delete_on_ack.push_back(delete_on_ack);
    if (batch.records.size() >= options_.batch_records || batch.bytes >= options_.batch_bytes) {
      send(std::move(batch));
      pending.erase(name);
    }
  };

  engine_.scan([&](std::string_view key_view, const storage::Record& record) {
    ++result.scanned;
    if (!placement) {
      const Location& owner = ring->owner(key_view);
      if (cluster_.is_self(owner)) return true;
      add(owner, std::string(key_view), record, true);
      return true;
    }
    const std::string key(key_view);
    const ReplicaSet set = placement->of(key);
    if (set.names.empty()) return true;
    std::vector<size_t> targets;
    const bool mine = set.contains(cluster_.self_name());
    const ReplicaSet before = mine ? placement->previous_of(key) : ReplicaSet{};
    for (size_t i = 0; i < set.size(); ++i) {
      if (!set.alive[i] || set.names[i] == cluster_.self_name()) continue;
      if (mine && before.contains(set.names[i])) continue;  // had it before the change
      targets.push_back(i);
    }
    if (targets.empty()) return true;
    const bool alone = !mine && targets.size() == 1;
    if (!mine && !alone) awaiting[key] = {record.version, static_cast<int>(targets.size())};
    for (size_t i : targets) add(set.replicas[i], key, record, alone);
    return true;
  });
  for (auto& [name, batch] : pending) {
    if (!batch.records.empty()) send(std::move(batch));
  }
  for (auto& [batch, future] : in_flight) settle(*batch, future);

  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (replicas_ > 1 && result.failed == 0 && !moving_.draining()) {
    const uint64_t ring_fingerprint = ReplicaRingFingerprint(*snapshot, static_cast<size_t>(replicas_));
    if (ReplicaRingFingerprint(*cluster_.snapshot(), static_cast<size_t>(replicas_)) == ring_fingerprint) {
      settled_ring_ = static_cast<int64_t>(ring_fingerprint);
    }
  }
  if (result.sent > 0 || result.failed > 0) {
    for (const auto& [name, count] : sent_to) {
      LOG(INFO) << "handoff: " << count << " records to " << name;
    }
    LOG(INFO) << "handoff sweep: scanned " << result.scanned << ", handed off " << result.sent
              << " in " << result.batches << " batches, failed " << result.failed << ", "
              << result.seconds << " s ("
              << (result.seconds > 0 ? static_cast<int64_t>(result.sent / result.seconds) : 0)
              << " records/s)";
  }
  return result;
}

std::map<std::string, int64_t> HandoffStream::stats() const {
  return {{"handoff_sweeps", sweeps_.load()},
          {"handoff_records_out", records_out_.load()},
          {"handoff_batches_out", batches_out_.load()},
          {"handoff_failures", failures_.load()},
          {"handoff_settled_ring", settled_ring_.load()}};
}

}  // namespace thrifty::diststore
