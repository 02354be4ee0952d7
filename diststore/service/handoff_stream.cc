#include "diststore/service/handoff_stream.h"

#include <chrono>
#include <exception>
#include <memory>
#include <vector>

#include <glog/logging.h>

#include "diststore/service/owner_store.h"
#include "diststore/service/range_digests.h"
#include "diststore/service/replica_set.h"
#include "locator/membership/member_table.h"

namespace thrifty::diststore {

using membership::MemberName;

namespace {

// Records gathered for one owner, not sent yet.
struct PendingBatch {
  Location owner;
  std::vector<wire::Record> records;
  // Parallel: delete the record here once this batch is acknowledged (its only target).
  std::vector<bool> delete_on_ack;
  size_t bytes = 0;
};

// A batch sent and not settled: what its acknowledgement lets the sweep delete.
struct SentBatch {
  Location owner;
  std::string owner_name;
  std::vector<std::pair<std::string, int64_t>> keys_versions;
  std::vector<bool> delete_on_ack;
  size_t bytes = 0;
};

// Outcomes of sent batches as they come (on a peer channel's loop thread, or on the sweep's
// own when a call is refused at once), for the sweep's thread. Shared with the callbacks.
struct Arrivals {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<uint64_t, std::exception_ptr>> done;  // batch id; null: acknowledged
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
  std::map<uint64_t, SentBatch> sent;                 // by id: sent, not settled
  std::map<std::string, size_t> in_flight_to;         // owner name -> batches in `sent`
  size_t bytes_in_flight = 0;
  uint64_t next_id = 0;
  const auto arrivals = std::make_shared<Arrivals>();
  std::map<std::string, uint64_t> sent_to;
  // Records sent to several nodes, to delete here once every one acknowledged them: key ->
  // (version, acknowledgements still missing; -1 once one failed).
  std::map<std::string, std::pair<int64_t, int>> awaiting;

  // Deletes what every target acknowledged; counts what failed.
  auto settle = [&](const SentBatch& batch, const std::exception_ptr& error) {
    const bool ok = error == nullptr;
    const size_t n = batch.keys_versions.size();
    if (ok) {
      result.sent += n;
      sent_to[batch.owner_name] += n;
      cluster_.report_success(batch.owner);
    } else {
      result.failed += n;
      ++failures_;
      cluster_.report_failure(batch.owner);
      std::string why;
      try {
        std::rethrow_exception(error);
      } catch (const wire::StoreError& e) {
        why = e.message;
      } catch (const std::exception& e) {
        why = e.what();
      } catch (...) {
        why = "unknown error";
      }
      LOG(WARNING) << "handoff of " << n << " records to " << batch.owner_name
                   << " failed (kept here, sent again by the next sweep): " << why;
    }
    std::vector<std::pair<std::string, int64_t>> acknowledged;
    for (size_t i = 0; i < n; ++i) {
      const auto& [key, version] = batch.keys_versions[i];
      if (batch.delete_on_ack[i]) {
        if (ok) acknowledged.emplace_back(key, version);
        continue;
      }
      auto it = awaiting.find(key);
      if (it == awaiting.end()) continue;  // sent, kept here
      if (!ok) it->second.second = -1;
      if (it->second.second > 0 && --it->second.second == 0) {
        acknowledged.emplace_back(key, it->second.first);
      }
      if (it->second.second <= 0) awaiting.erase(it);
    }
    if (!acknowledged.empty()) engine_.erase_batch_if_versions(acknowledged);
  };
  // Settles every outcome that arrived; with `wait`, waits for at least one first.
  auto settle_arrived = [&](bool wait) {
    std::vector<std::pair<uint64_t, std::exception_ptr>> done;
    {
      std::unique_lock<std::mutex> lock(arrivals->mu);
      if (wait) arrivals->cv.wait(lock, [&] { return !arrivals->done.empty(); });
      done.swap(arrivals->done);
    }
    for (const auto& [id, error] : done) {
      auto it = sent.find(id);
      if (it == sent.end()) continue;  // reported twice (a client that also threw)
      SentBatch batch = std::move(it->second);
      sent.erase(it);
      --in_flight_to[batch.owner_name];
      bytes_in_flight -= batch.bytes;
      settle(batch, error);
    }
  };
  auto send = [&](const std::string& name, PendingBatch&& taken) {
    settle_arrived(false);
    while (in_flight_to[name] >= options_.batches_in_flight_per_owner ||
           (bytes_in_flight > 0 && bytes_in_flight + taken.bytes > options_.bytes_in_flight)) {
      settle_arrived(true);
    }
    const uint64_t id = next_id++;
    SentBatch& batch = sent[id];
    batch.owner = taken.owner;
    batch.owner_name = name;
    batch.keys_versions.reserve(taken.records.size());
    for (const auto& r : taken.records) batch.keys_versions.emplace_back(r.key, r.version);
    batch.delete_on_ack = std::move(taken.delete_on_ack);
    batch.bytes = taken.bytes;
    ++in_flight_to[name];
    bytes_in_flight += batch.bytes;
    ++result.batches;
    ++batches_out_;
    records_out_ += static_cast<int64_t>(taken.records.size());
    auto arrived = [arrivals, id](std::exception_ptr error) {
      std::lock_guard<std::mutex> lock(arrivals->mu);
      arrivals->done.emplace_back(id, std::move(error));
      arrivals->cv.notify_one();
    };
    try {
      peers_.handoff_async(taken.owner, std::move(taken.records), cluster_.self(),
                           [arrived](rpc::Outcome<wire::HandoffAck> outcome) {
                             arrived(outcome.error);
                           });
    } catch (...) {  // a client that throws instead of reporting: settled as a failure
      arrived(std::current_exception());
    }
  };
  // Ring owners' names, computed once per owner rather than once per record.
  std::map<const Location*, std::string> owner_names;
  auto add = [&](const Location& target, const std::string& name, std::string_view key,
                 const storage::Record& record, bool delete_on_ack) {
    PendingBatch& batch = pending[name];
    batch.owner = target;
    batch.bytes += key.size() + record.value.size() + 32;
    batch.records.push_back(ToRpc(std::string(key), record));
    batch.delete_on_ack.push_back(delete_on_ack);
    if (batch.records.size() >= options_.batch_records || batch.bytes >= options_.batch_bytes) {
      send(name, std::move(batch));
      pending.erase(name);
    }
  };

  try {
    engine_.scan([&](std::string_view key_view, const storage::Record& record) {
      ++result.scanned;
      if (!placement) {
        const Location& owner = ring->owner(key_view);
        if (cluster_.is_self(owner)) return true;
        auto named = owner_names.find(&owner);
        if (named == owner_names.end()) named = owner_names.emplace(&owner, MemberName(owner)).first;
        add(owner, named->second, key_view, record, true);
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
      for (size_t i : targets) add(set.replicas[i], set.names[i], key, record, alone);
      return true;
    });
    for (auto& [name, batch] : pending) {
      if (!batch.records.empty()) send(name, std::move(batch));
    }
  } catch (...) {
    // The batches on their way still report here: settle them before the state goes.
    while (!sent.empty()) settle_arrived(true);
    throw;
  }
  while (!sent.empty()) settle_arrived(true);

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
