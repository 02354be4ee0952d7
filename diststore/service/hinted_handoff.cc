#include "diststore/service/hinted_handoff.h"

#include <chrono>

#include <glog/logging.h>

#include "diststore/service/durability.h"
#include "diststore/service/owner_store.h"
#include "diststore/service/tombstone_gc.h"
#include "locator/membership/member_table.h"

namespace thrifty::diststore {

using membership::MemberName;

namespace {

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string MemberHostId(const locator::wire::Member& m) {
  auto it = m.metadata.find(kHostIdKey);
  return it == m.metadata.end() ? std::string() : it->second;
}

}  // namespace

std::string HintOptions::validate() const {
  if (max_hint_window_ms < 0) return "--max-hint-window-s must be >= 0";
  if (replay_interval_ms < 1 || replay_batch < 1 || replay_records_per_s < 1) {
    return "hint replay interval, batch and rate must be >= 1";
  }
  return {};
}

HintedHandoff::HintedHandoff(ClusterView& cluster, storage::HintStore& hints, PeerClient& peers,
                             HintOptions options)
    : cluster_(cluster), hints_(hints), peers_(peers), options_(options) {
  if (options_.enabled) thread_ = std::thread([this] { worker(); });
}

HintedHandoff::~HintedHandoff() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string HintedHandoff::HostIdOf(const locator::ClusterSnapshot& snapshot,
                                    const std::string& name) {
  for (const locator::wire::Member& m : snapshot.members()) {
    if (MemberName(m.location) == name) return MemberHostId(m);
  }
  return {};
}

void HintedHandoff::keep(const std::string& host_id, const std::string& target,
                         const std::vector<wire::Record>& records) {
  if (!options_.enabled || records.empty() || host_id.empty()) return;
  try {
    hold(host_id, target, records);
  } catch (const wire::StoreError&) {
    // Logged and counted by hold(): the write's outcome does not depend on the leader's hints.
  }
}

void HintedHandoff::hold(const std::string& host_id, const std::string& target,
                         const std::vector<wire::Record>& records) {
  if (!options_.enabled) {
    ThrowStoreError("this node keeps no hints (--strict-quorum or --replicas 1); the write for " +
                    target + " was not kept");
  }
  if (host_id.empty()) {
    ThrowStoreError("a hint for " + target + " needs its host ID; nothing was kept");
  }
  try {
    const int64_t now = WallMs();
    for (const auto& r : records) hints_.add(host_id, r.key, FromRpc(r), now);
  } catch (const std::exception& e) {
    ++failed_;
    LOG_EVERY_T(ERROR, 1) << "cannot hold " << records.size() << " hints for " << target << ": "
                          << e.what();
    ThrowStoreError("cannot keep hints for " + target + ": " + e.what());
  }
  stored_ += static_cast<int64_t>(records.size());
}

void HintedHandoff::worker() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.replay_interval_ms),
                 [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    try {
      replay_once();
    } catch (const std::exception& e) {
      LOG_EVERY_T(WARNING, 10) << "hint replay: " << e.what();
    }
    lock.lock();
  }
}

int64_t HintedHandoff::replay_once() {
  std::lock_guard<std::mutex> pass(replay_mu_);
  if (options_.max_hint_window_ms > 0) {
    const size_t dropped = hints_.drop_older_than(WallMs() - options_.max_hint_window_ms);
    if (dropped > 0) {
      dropped_ += static_cast<int64_t>(dropped);
      LOG(WARNING) << "dropped " << dropped << " hints older than the hint window ("
                   << options_.max_hint_window_ms / 1000 << " s); anti-entropy must repair them";
    }
  }
  const auto pending = hints_.pending();
  if (pending.empty()) return 0;
  const auto snapshot = cluster_.snapshot();
  int64_t delivered = 0;
  for (const auto& [host_id, count] : pending) {
    // The member that carries this host ID now, if it is back.
    const locator::wire::Member* target = nullptr;
    for (const locator::wire::Member& m : snapshot->members()) {
      if (MemberHostId(m) == host_id && m.state == locator::wire::MemberState::ALIVE) target = &m;
    }
    if (!target || snapshot->dead().count(MemberName(target->location))) continue;
    const auto start = std::chrono::steady_clock::now();
    int64_t sent = 0;
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return delivered;
      }
      auto batch = hints_.peek(host_id, options_.replay_batch);
      if (batch.empty()) break;
      std::vector<wire::Record> records;
      records.reserve(batch.size());
      int64_t too_old = 0;
      for (const auto& hint : batch) {
        if (options_.gc_grace_ms > 0 &&
            OlderThanGrace(hint.record.version, WallMs(), options_.gc_grace_ms)) {
          ++too_old;
          continue;
        }
        records.push_back(ToRpc(hint.key, hint.record));
      }
      if (too_old > 0) {
        dropped_gc_grace_ += too_old;
        LOG(WARNING) << "dropped " << too_old << " hints for " << MemberName(target->location)
                     << " whose writes are older than --gc-grace-s ("
                     << options_.gc_grace_ms / 1000 << " s); anti-entropy repairs what is live";
      }
      if (records.empty()) {
        hints_.remove(host_id, batch);
        continue;
      }
      try {
        peers_.handoff(target->location, records, cluster_.self());
      } catch (const std::exception& e) {
        LOG_EVERY_T(WARNING, 5) << "replaying " << records.size() << " hints to "
                                << MemberName(target->location) << " failed: " << e.what();
        break;  // next pass
      }
      hints_.remove(host_id, batch);
      sent += static_cast<int64_t>(records.size());
      // Throttle: no faster than replay_records_per_s.
      const auto due = start + std::chrono::milliseconds(sent * 1000 / options_.replay_records_per_s);
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_until(lock, due, [this] { return stopping_; })) return delivered + sent;
    }
    if (sent > 0) {
      LOG(INFO) << "replayed " << sent << " hints to " << MemberName(target->location) << " in "
                << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
                << " s";
    }
    replayed_ += sent;
    delivered += sent;
  }
  return delivered;
}

std::map<std::string, int64_t> HintedHandoff::stats() const {
  return {{"hints_stored", stored_.load()},
          {"hints_replayed", replayed_.load()},
          {"hints_dropped", dropped_.load()},
          {"hints_dropped_gc_grace", dropped_gc_grace_.load()},
          {"hints_failed", failed_.load()},
          {"hints_pending", hints_.total()}};
}

}  // namespace thrifty::diststore
