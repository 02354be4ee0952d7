#include "diststore/service/anti_entropy.h"

#include <algorithm>
#include <chrono>

#include <glog/logging.h>

#include "diststore/limits/store_limits.h"
#include "diststore/service/tombstone_gc.h"
#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"
#include "locator/rpc/failpoints.h"

namespace thrifty::diststore {

using membership::MemberName;
using storage::ChildrenOf;
using storage::DigestTree;

// What one run learned of one range.
struct AntiEntropy::RangeStatus {
  std::vector<std::string> names;     // the replica set, sorted
  std::set<std::string> level_with;   // peers compared and brought level
  bool compared = false;
  bool differing = false;
  bool took = false;                  // this node took a newer record from a peer
};

struct AntiEntropy::RunResult {
  wire::RepairReport report;
  uint64_t fingerprint = 0;
  int64_t pulled = 0;                      // records taken from peers
  std::map<uint64_t, RangeStatus> status;  // per range id
};

AntiEntropy::AntiEntropy(ClusterView& cluster, storage::Engine& engine, OwnerStore& owner,
                         PeerClient& peers, const ReplicationOptions& replication,
                         AntiEntropyLimits limits)
    : cluster_(cluster),
      engine_(engine),
      owner_(owner),
      metered_peers_(peers),
      peers_(metered_peers_),
      replication_(replication),
      limits_(limits) {
  if (replication_.replicas > 1) {
    digests_ = std::make_unique<RangeDigests>(engine_, static_cast<size_t>(replication_.replicas));
  }
}

AntiEntropy::~AntiEntropy() { stop(); }

void AntiEntropy::start(RebuildKind rebuild) {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  rebuild_requested_ = digests_ != nullptr;
  rebuild_pending_ = rebuild != RebuildKind::kNone && digests_ != nullptr;
  if (rebuild_pending_) {
    rebuild_kind_ = rebuild;
    owner_.set_rebuilding(true);
    LOG(INFO) << (rebuild == RebuildKind::kWipedReturn
                      ? "rebuild: this node replaces one the cluster had at its address (a new "
                        "host ID); it takes its ranges from the other replicas before it counts "
                        "toward R"
                      : "rebuild: this node joins anew; it counts toward R once the previous "
                        "replicas handed its ranges over and it is level with the live replicas");
  } else {
    owner_.set_rebuilding(false);
  }
  thread_ = std::thread([this] { worker(); });
}

bool AntiEntropy::finish_rebuild_with_live() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!rebuild_pending_) return false;
    accept_live_ = true;
    attempt_now_ = true;
  }
  LOG(WARNING) << "rebuild: told to finish with the live replicas it has; DEAD replicas no longer "
                  "hold it back (a write whose other copies are only on them may be missed)";
  cv_.notify_all();
  return true;
}

void AntiEntropy::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AntiEntropy::request_rebuild() {
  if (!digests_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rebuild_requested_ = true;
  }
  cv_.notify_all();
}

int64_t AntiEntropy::now_ms() const { return owner_.clock().physical_now_ms(); }

void AntiEntropy::worker() {
  using Clock = std::chrono::steady_clock;
  const int64_t interval = replication_.anti_entropy_interval_ms;
  auto next_run = Clock::now() + std::chrono::milliseconds(interval);
  auto next_attempt = Clock::now();  // of the replica rebuild, while rebuild_pending_
  int64_t backoff_ms = 200;
  bool first = true;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const auto woken = [this] { return stopping_ || rebuild_requested_ || attempt_now_; };
    if (rebuild_pending_) {
      cv_.wait_until(lock, interval > 0 ? std::min(next_run, next_attempt) : next_attempt, woken);
    } else if (interval > 0) {
      cv_.wait_until(lock, next_run, woken);
    } else {
      cv_.wait(lock, woken);
    }
    if (stopping_) return;
    const bool rebuild = rebuild_requested_;
    rebuild_requested_ = false;
    const bool pending = rebuild_pending_;
    const bool attempt_now = attempt_now_;
    attempt_now_ = false;
    lock.unlock();
    try {
      if (rebuild) {
        // Ring changes come in bursts (a join, then gossip): one rebuild for a burst. The
        // first, at start, at once: a node rebuilding its replicas waits for it.
        if (!first) std::this_thread::sleep_for(std::chrono::milliseconds(200));
        first = false;
        ensure_trees();
      }
      if (pending && (Clock::now() >= next_attempt || attempt_now)) {
        bool done = false;
        try {
          done = rebuild_once();
        } catch (const std::exception& e) {
          LOG(WARNING) << "rebuild: " << e.what();
        }
        if (done) {
          lock.lock();
          rebuild_pending_ = false;
          lock.unlock();
        } else {
          LOG(WARNING) << "rebuild: trying again in " << backoff_ms << " ms";
          next_attempt = Clock::now() + std::chrono::milliseconds(backoff_ms);
          backoff_ms = std::min<int64_t>(backoff_ms * 2, 5000);
        }
      }
      if (interval > 0 && std::chrono::steady_clock::now() >= next_run) {
        const wire::RepairReport report = repair_now();
        next_run = std::chrono::steady_clock::now() + std::chrono::milliseconds(interval);
        (void)report;
      }
    } catch (const std::exception& e) {
      LOG_EVERY_T(WARNING, 10) << "anti-entropy: " << e.what();
      next_run = std::chrono::steady_clock::now() + std::chrono::milliseconds(interval);
    }
    lock.lock();
  }
}

uint64_t AntiEntropy::ensure_trees() {
  if (!digests_) return 0;
  std::lock_guard<std::mutex> lock(rebuild_mu_);
  auto snapshot = cluster_.snapshot();
  const uint64_t fingerprint = digests_->FingerprintOf(*snapshot);
  if (digests_->ready_fingerprint() != fingerprint) digests_->rebuild(std::move(snapshot));
  return fingerprint;
}

void AntiEntropy::check_fingerprint(int64_t fingerprint, const char* call) const {
  const uint64_t ready = digests_ ? digests_->ready_fingerprint() : 0;
  if (ready == 0 || ready != static_cast<uint64_t>(fingerprint)) {
    ThrowStoreError(std::string(call) + " refused on " + cluster_.self_name() +
                    (ready == 0 ? ": its anti-entropy trees are being built"
                                : ": its anti-entropy trees follow another ring (views differ)") +
                    "; try again later");
  }
}

// ---- served to peers ----

wire::RangeRoots AntiEntropy::roots_for(const locator::wire::Location& asker, int64_t fingerprint) {
  wire::RangeRoots out;
  if (!digests_) {
    out.ring_fingerprint = 0;
    return out;
  }
  if (static_cast<int64_t>(digests_->ready_fingerprint()) != fingerprint &&
      static_cast<int64_t>(digests_->FingerprintOf(*cluster_.snapshot())) == fingerprint) {
    ensure_trees();  // the asker saw the ring change first: follow it now, not after the worker
  }
  out.ring_fingerprint = static_cast<int64_t>(digests_->ready_fingerprint());
  if (out.ring_fingerprint == 0 || out.ring_fingerprint != fingerprint) return out;
  for (const RangeSummary& range : digests_->ranges_with(MemberName(asker))) {
    wire::RangeRoot root;
    root.range_id = static_cast<int64_t>(range.range_id);
    root.replicas = range.replicas;
    root.root_hash = static_cast<int64_t>(range.tree.root());
    out.ranges.push_back(std::move(root));
  }
  return out;
}

std::vector<int64_t> AntiEntropy::tree_hashes(int64_t range_id, int32_t level,
                                              const std::vector<int32_t>& indexes,
                                              int64_t fingerprint) {
  if (indexes.size() > limits_.max_tree_indexes) {
    ThrowStoreError("repair_tree: " + std::to_string(indexes.size()) +
                    " indexes asked, at most " + std::to_string(limits_.max_tree_indexes) +
                    " per call");
  }
  if (level < 0 || level >= DigestTree::kLevels) {
    ThrowStoreError("repair_tree: level " + std::to_string(level) + " is not in 0.." +
                    std::to_string(DigestTree::kLevels - 1));
  }
  for (int32_t index : indexes) {
    if (!DigestTree::Valid(level, index)) {
      ThrowStoreError("repair_tree: index " + std::to_string(index) + " is not in 0.." +
                      std::to_string(DigestTree::LevelSize(level) - 1) + " at level " +
                      std::to_string(level));
    }
  }
  check_fingerprint(fingerprint, "repair_tree");
  const DigestTree tree = digests_->tree(static_cast<uint64_t>(range_id));
  std::vector<int64_t> out;
  out.reserve(indexes.size());
  for (int32_t index : indexes) out.push_back(static_cast<int64_t>(tree.hash(level, index)));
  return out;
}

std::map<std::string, AntiEntropy::Entry> AntiEntropy::local_entries(
    const std::set<std::pair<uint64_t, int>>& leaves) {
  std::map<std::string, Entry> out;
  engine_.scan([&](std::string_view key_view, const storage::Record& record) {
    const std::string key(key_view);
    const auto where = digests_->range_of(key);
    if (where && leaves.count({where->range_id, where->leaf})) {
      out[key] = Entry{record.version, record.tombstone};
    }
    return true;
  });
  return out;
}

wire::LeafPage AntiEntropy::leaf_page(const std::vector<wire::LeafRef>& leaves,
                                      const std::string& after_key, int64_t fingerprint) {
  if (leaves.size() > limits_.max_leaf_refs) {
    ThrowStoreError("repair_leaves: " + std::to_string(leaves.size()) +
                    " leaves asked, at most " + std::to_string(limits_.max_leaf_refs) +
                    " per call");
  }
  std::set<std::pair<uint64_t, int>> wanted;
  for (const wire::LeafRef& ref : leaves) {
    if (!DigestTree::Valid(DigestTree::kLeafLevel, ref.leaf)) {
      ThrowStoreError("repair_leaves: leaf " + std::to_string(ref.leaf) + " is not in 0.." +
                      std::to_string(DigestTree::kLeaves - 1));
    }
    wanted.emplace(static_cast<uint64_t>(ref.range_id), ref.leaf);
  }
  check_fingerprint(fingerprint, "repair_leaves");
  wire::LeafPage page;
  page.more = false;
  size_t bytes = 0;
  // The smallest key after after_key: after_key followed by a NUL byte.
  const std::string start = after_key.empty() ? std::string() : after_key + std::string(1, '\0');
  engine_.scan_from(start, [&](std::string_view key_view, const storage::Record& record) {
    const std::string key(key_view);
    const auto where = digests_->range_of(key);
    if (!where || !wanted.count({where->range_id, where->leaf})) return true;
    if (page.entries.size() >= limits_.max_page_entries ||
        (bytes + key.size() + 16 > limits_.max_page_bytes && !page.entries.empty())) {
      page.more = true;
      return false;
    }
    wire::LeafEntry entry;
    entry.key = key;
    entry.version = record.version;
    entry.tombstone = record.tombstone;
    bytes += key.size() + 16;
    page.entries.push_back(std::move(entry));
    return true;
  });
  return page;
}

// ---- a run ----

std::optional<int64_t> AntiEntropy::agreed_ms(uint64_t range_id, uint64_t fingerprint) const {
  std::lock_guard<std::mutex> lock(agreed_mu_);
  if (agreed_fingerprint_ != fingerprint) return std::nullopt;
  const auto it = agreed_.find(range_id);
  if (it == agreed_.end()) return std::nullopt;
  return it->second;
}

bool AntiEntropy::compare_with(const locator::wire::Location& peer, uint64_t fingerprint,
                               const std::vector<RangeSummary>& mine,
                               std::map<uint64_t, RangeStatus>& status,
                               wire::RepairReport& report, int64_t& pulled) {
  const std::string name = MemberName(peer);
  const auto fp = static_cast<int64_t>(fingerprint);
  wire::RangeRoots roots = peers_.repair_roots(peer, cluster_.self(), fp);
  if (roots.ring_fingerprint != fp) {
    LOG(WARNING) << "anti-entropy: skipping " << name
                 << (roots.ring_fingerprint == 0 ? ": its trees are being built"
                                                 : ": its trees follow another ring");
    return false;
  }
  report.hashes_exchanged += static_cast<int64_t>(roots.ranges.size());

  // The ranges both hold: mine with the peer in the set, and every one the peer reported.
  struct Shared {
    const DigestTree* tree = nullptr;  // mine; null: I hold nothing of it
    uint64_t their_root = 0;
  };
  std::map<uint64_t, Shared> shared;
  for (const RangeSummary& range : mine) {
    if (std::find(range.names.begin(), range.names.end(), name) == range.names.end()) continue;
    shared[range.range_id].tree = &range.tree;
    auto& st = status[range.range_id];
    st.names = range.names;
  }
  for (const wire::RangeRoot& root : roots.ranges) {
    const auto id = static_cast<uint64_t>(root.range_id);
    shared[id].their_root = static_cast<uint64_t>(root.root_hash);
    auto& st = status[id];
    if (st.names.empty()) {
      for (const auto& l : root.replicas) st.names.push_back(MemberName(l));
      std::sort(st.names.begin(), st.names.end());
    }
  }
  const DigestTree empty;
  std::set<std::pair<uint64_t, int>> leaves;
  std::set<uint64_t> differing;
  for (auto& [id, s] : shared) {
    status[id].compared = true;
    const DigestTree& tree = s.tree ? *s.tree : empty;
    if (tree.root() == s.their_root) continue;
    differing.insert(id);
    status[id].differing = true;
    std::vector<int> parents = {0};
    for (int level = 1; level < DigestTree::kLevels && !parents.empty(); ++level) {
      std::vector<int32_t> asked;
      for (int parent : parents) {
        for (int child : ChildrenOf(parent)) asked.push_back(child);
      }
      std::vector<int> next;
      for (size_t from = 0; from < asked.size(); from += limits_.max_tree_indexes) {
        const std::vector<int32_t> part(
            asked.begin() + static_cast<long>(from),
            asked.begin() + static_cast<long>(std::min(asked.size(), from + limits_.max_tree_indexes)));
        const auto hashes = peers_.repair_tree(peer, static_cast<int64_t>(id), level, part, fp);
        if (hashes.size() != part.size()) {
          throw std::runtime_error("repair_tree answered " + std::to_string(hashes.size()) +
                                   " hashes for " + std::to_string(part.size()));
        }
        report.hashes_exchanged += static_cast<int64_t>(hashes.size());
        for (size_t i = 0; i < part.size(); ++i) {
          if (tree.hash(level, part[i]) != static_cast<uint64_t>(hashes[i])) next.push_back(part[i]);
        }
      }
      parents = std::move(next);
    }
    for (int leaf : parents) leaves.emplace(id, leaf);
  }

  if (!leaves.empty()) {
    // Their entries of the differing leaves, page by page; then mine.
    std::map<std::string, Entry> theirs;
    std::vector<wire::LeafRef> refs;
    for (const auto& [id, leaf] : leaves) {
      wire::LeafRef ref;
      ref.range_id = static_cast<int64_t>(id);
      ref.leaf = leaf;
      refs.push_back(ref);
    }
    for (size_t from = 0; from < refs.size(); from += limits_.max_leaf_refs) {
      const std::vector<wire::LeafRef> part(
          refs.begin() + static_cast<long>(from),
          refs.begin() + static_cast<long>(std::min(refs.size(), from + limits_.max_leaf_refs)));
      std::string after;
      while (true) {
        const wire::LeafPage page = peers_.repair_leaves(peer, part, after, fp);
        for (const auto& e : page.entries) theirs[e.key] = Entry{e.version, e.tombstone};
        if (!page.more || page.entries.empty()) break;
        after = page.entries.back().key;
      }
    }
    const std::map<std::string, Entry> ours = local_entries(leaves);

    // What differs, and which way it goes.
    const int64_t now = now_ms();
    const auto stale_tombstone = [&](const Entry& e) {
      return e.tombstone && OlderThanGrace(e.version, now, replication_.gc_grace_ms);
    };
    std::vector<std::string> push, pull;
    auto mine_it = ours.begin();
    auto their_it = theirs.begin();
    while (mine_it != ours.end() || their_it != theirs.end()) {
      if (their_it == theirs.end() || (mine_it != ours.end() && mine_it->first < their_it->first)) {
        if (!stale_tombstone(mine_it->second)) push.push_back(mine_it->first);
        ++mine_it;
      } else if (mine_it == ours.end() || their_it->first < mine_it->first) {
        if (!stale_tombstone(their_it->second)) pull.push_back(their_it->first);
        ++their_it;
      } else {
        const storage::RecordView a("", mine_it->second.version, mine_it->second.tombstone);
        const storage::RecordView b("", their_it->second.version, their_it->second.tombstone);
        if (Supersedes(a, b)) {
          push.push_back(mine_it->first);
        } else if (Supersedes(b, a)) {
          pull.push_back(their_it->first);
        } else if (!storage::SameRecord(a, b)) {
          push.push_back(mine_it->first);  // equal versions, values differ: the merge decides
        }
        ++mine_it;
        ++their_it;
      }
    }

    // Mine to the peer, in batches.
    for (size_t from = 0; from < push.size(); from += limits_.move_batch) {
      const std::vector<std::string> keys(
          push.begin() + static_cast<long>(from),
          push.begin() + static_cast<long>(std::min(push.size(), from + limits_.move_batch)));
      const auto found = engine_.multi_get(keys);
      std::vector<wire::Record> records;
      for (size_t i = 0; i < keys.size(); ++i) {
        if (found[i]) records.push_back(ToRpc(keys[i], *found[i]));
      }
      if (records.empty()) continue;
      peers_.owner_put(peer, records, wire::Consistency::DEFAULT);
      report.keys_moved += static_cast<int64_t>(records.size());
    }
    // Theirs to me.
    for (size_t from = 0; from < pull.size(); from += limits_.move_batch) {
      const std::vector<std::string> keys(
          pull.begin() + static_cast<long>(from),
          pull.begin() + static_cast<long>(std::min(pull.size(), from + limits_.move_batch)));
      // fallback=true: the same read on a replicated node (it ignores fallback), and one a
      // peer that is rebuilding its replicas serves (OwnerStore::set_rebuilding).
      std::vector<wire::Record> records = peers_.owner_get(peer, keys, true);
      if (records.empty()) continue;
      for (const auto& r : records) {
        if (const auto where = digests_->range_of(r.key)) status[where->range_id].took = true;
      }
      const auto moved = static_cast<int64_t>(records.size());
      owner_.owner_put(std::move(records));
      report.keys_moved += moved;
      pulled += moved;
    }
    if (!push.empty() || !pull.empty()) {
      LOG(INFO) << "anti-entropy with " << name << ": " << differing.size()
                << " ranges differed in " << leaves.size() << " leaves; sent " << push.size()
                << " records, took " << pull.size();
    }
  }
  for (const auto& entry : shared) status[entry.first].level_with.insert(name);
  return true;
}

AntiEntropy::RunResult AntiEntropy::run() {
  const int64_t start_ms = now_ms();
  RunResult result;
  wire::RepairReport& report = result.report;
  report.node = cluster_.self_name();
  if (digests_) {
    const uint64_t fingerprint = ensure_trees();
    result.fingerprint = fingerprint;
    const auto snapshot = cluster_.snapshot();
    const std::string self = cluster_.self_name();
    std::map<uint64_t, RangeStatus>& status = result.status;
    for (const RangeSummary& range : digests_->ranges_with(self)) {
      status[range.range_id].names = range.names;
    }
    for (const locator::wire::Location& peer : snapshot->ring()->nodes()) {
      if (cluster_.is_self(peer)) continue;
      bool compared = false;
      try {
        // The trees as they are now: what earlier peers of this run moved here is in them.
        compared = compare_with(peer, fingerprint, digests_->ranges_with(self), status, report,
                                result.pulled);
      } catch (const std::exception& e) {
        LOG(WARNING) << "anti-entropy with " << MemberName(peer) << " failed: " << e.what();
      }
      if (!compared) ++report.peers_skipped;
    }
    // Ranges every other replica of which is level with this node, which took nothing new.
    int64_t agreed = 0;
    {
      std::lock_guard<std::mutex> lock(agreed_mu_);
      if (agreed_fingerprint_ != fingerprint) {
        agreed_.clear();
        agreed_fingerprint_ = fingerprint;
      }
      for (const auto& [id, st] : status) {
        if (st.compared) ++report.ranges_compared;
        if (st.differing) ++report.ranges_differing;
        if (st.took || std::find(st.names.begin(), st.names.end(), self) == st.names.end()) continue;
        bool all = true;
        for (const std::string& name : st.names) {
          if (name != self && !st.level_with.count(name)) all = false;
        }
        if (!all) continue;
        agreed_[id] = start_ms;
        ++agreed;
      }
    }
    VLOG(1) << agreed << " ranges agreed";
  }
  return result;
}

std::vector<std::string> AntiEntropy::unsettled_handoffs(uint64_t fingerprint) {
  std::vector<std::string> out;
  const auto snapshot = cluster_.snapshot();
  for (const locator::wire::Location& peer : snapshot->ring()->nodes()) {
    if (cluster_.is_self(peer)) continue;
    try {
      const auto stats = peers_.stats(peer);
      const auto it = stats.find("handoff_settled_ring");
      if (it != stats.end() && static_cast<uint64_t>(it->second) == fingerprint) continue;
    } catch (const std::exception& e) {
      VLOG(1) << "rebuild: stats of " << MemberName(peer) << " failed: " << e.what();
    }
    out.push_back(MemberName(peer));
  }
  return out;
}

bool AntiEntropy::rebuild_once() {
  const auto start = std::chrono::steady_clock::now();
  const RebuildKind kind = rebuild_kind_.load();
  const bool accept_live = accept_live_.load();
  // A first join: what the previous replicas pushed must be here before the run that levels it
  // with the live replicas (which took the rest after their sweeps).
  std::vector<std::string> unsettled;
  if (kind == RebuildKind::kFirstJoin && !accept_live) {
    unsettled = unsettled_handoffs(ensure_trees());
  }
  RunResult result;
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    result = run();
  }
  rebuild_keys_ += result.pulled;
  const std::string self = cluster_.self_name();
  const auto snapshot = cluster_.snapshot();
  // Per replica not yet level, the ranges that wait for it.
  std::map<std::string, int> waiting;
  size_t short_ranges = 0;
  for (const auto& [id, st] : result.status) {
    if (std::find(st.names.begin(), st.names.end(), self) == st.names.end()) continue;
    const size_t n = st.names.size();
    size_t need = std::min(n - 1, n - RequiredReplies(wire::Consistency::QUORUM, n) + 1);
    if (kind == RebuildKind::kFirstJoin || accept_live) {
      need = 0;  // every live other replica, however many that is
      for (const std::string& name : st.names) {
        if (name != self && !snapshot->dead().count(name)) ++need;
      }
    }
    size_t level = 0;
    for (const std::string& name : st.names) {
      if (name != self && st.level_with.count(name)) ++level;
    }
    if (level >= need) continue;
    ++short_ranges;
    for (const std::string& name : st.names) {
      if (name != self && !st.level_with.count(name)) ++waiting[name];
    }
  }
  const bool ring_changed = result.fingerprint != digests_->FingerprintOf(*snapshot);
  // A node without data holds no range until a peer names one: a live peer that was skipped
  // (unreachable, or trees of another ring) may hold ranges with this node that the run never
  // saw, so no range count above can clear it.
  const int64_t skipped = result.report.peers_skipped;
  if (short_ranges > 0 || ring_changed || skipped > 0 || !unsettled.empty()) {
    std::string names;
    for (const auto& [name, ranges] : waiting) {
      names += (names.empty() ? "" : ", ") + name + " (" + std::to_string(ranges) + " ranges)";
    }
    std::string handoffs;
    for (const std::string& name : unsettled) handoffs += (handoffs.empty() ? "" : ", ") + name;
    LOG(WARNING) << "rebuild (" << RebuildKindName(kind) << "): took " << result.pulled
                 << " records; " << (ring_changed ? "the ring changed during the run; " : "")
                 << short_ranges << " ranges lack enough level replicas"
                 << (names.empty() ? std::string() : ", waiting for " + names)
                 << (handoffs.empty() ? std::string()
                                      : "; handoff not yet settled on " + handoffs);
    return false;
  }
  if (rpc::failpoints::HoldRebuild()) {
    LOG_EVERY_T(WARNING, 1) << "rebuild: held by a failpoint (hold_rebuild)";
    return false;
  }
  owner_.set_rebuilding(false);
  ++rebuilds_;
  if (accept_live) ++rebuilds_with_live_;
  LOG(INFO) << "rebuild (" << RebuildKindName(kind) << ") done"
            << (accept_live ? " with the live replicas only (operator override)" : "")
            << ": took " << rebuild_keys_.load() << " records from the other replicas of "
            << result.status.size() << " ranges (last run "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s); this node now counts toward R";
  return true;
}

wire::RepairReport AntiEntropy::repair_now() {
  std::lock_guard<std::mutex> lock(run_mu_);
  const auto start = std::chrono::steady_clock::now();
  RunResult result = run();
  wire::RepairReport& report = result.report;
  report.tombstones_purged = collect_garbage();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ++runs_;
  ranges_compared_ += report.ranges_compared;
  ranges_differing_ += report.ranges_differing;
  keys_moved_ += report.keys_moved;
  hashes_exchanged_ += report.hashes_exchanged;
  peers_skipped_ += report.peers_skipped;
  LOG(INFO) << "repair: compared " << report.ranges_compared << " ranges, "
            << report.ranges_differing << " differed, moved " << report.keys_moved << " keys ("
            << report.hashes_exchanged << " hashes exchanged, " << report.peers_skipped
            << " peers skipped), purged " << report.tombstones_purged << " tombstones in "
            << report.seconds << " s";
  return report;
}

int64_t AntiEntropy::collect_garbage() {
  const int64_t now = now_ms();
  const auto snapshot = cluster_.snapshot();
  const std::string self = cluster_.self_name();
  const uint64_t fingerprint = digests_ ? digests_->ready_fingerprint() : 0;
  if (digests_ && fingerprint == 0) return 0;  // trees being built: no agreement known
  std::vector<std::pair<std::string, int64_t>> purge;
  engine_.scan([&](std::string_view key_view, const storage::Record& record) {
    if (!record.tombstone || !OlderThanGrace(record.version, now, replication_.gc_grace_ms)) {
      return true;
    }
    const std::string key(key_view);
    std::optional<int64_t> before;
    if (digests_) {
      const auto where = digests_->range_of(key);
      if (!where || std::find(where->names.begin(), where->names.end(), self) == where->names.end()) {
        return true;  // not a replica of it: the handoff moves it
      }
      before = PurgeBeforeMs(now, replication_.gc_grace_ms, where->names.size(),
                             agreed_ms(where->range_id, fingerprint));
    } else {
      const auto& ring = snapshot->ring();
      if (ring->empty() || !cluster_.is_self(ring->owner(key))) return true;
      before = PurgeBeforeMs(now, replication_.gc_grace_ms, 1, std::nullopt);
    }
    if (Purgeable(record.tombstone, record.version, before)) purge.emplace_back(key, record.version);
    return true;
  });
  int64_t purged = 0;
  for (size_t from = 0; from < purge.size(); from += limits_.move_batch) {
    const std::vector<std::pair<std::string, int64_t>> part(
        purge.begin() + static_cast<long>(from),
        purge.begin() + static_cast<long>(std::min(purge.size(), from + limits_.move_batch)));
    purged += static_cast<int64_t>(engine_.erase_batch_if_versions(part));
  }
  if (purged > 0) {
    LOG(INFO) << "tombstone GC: purged " << purged << " tombstones older than --gc-grace-s ("
              << replication_.gc_grace_ms / 1000 << " s)";
  }
  purged_ += purged;
  return purged;
}

std::map<std::string, int64_t> AntiEntropy::stats() const {
  std::map<std::string, int64_t> out = {{"repair_runs", runs_.load()},
                                        {"repair_ranges_compared", ranges_compared_.load()},
                                        {"repair_ranges_differing", ranges_differing_.load()},
                                        {"repair_keys_moved", keys_moved_.load()},
                                        {"repair_hashes_exchanged", hashes_exchanged_.load()},
                                        {"repair_bytes_sent", metered_peers_.bytes_sent()},
                                        {"repair_bytes_received", metered_peers_.bytes_received()},
                                        {"repair_peers_skipped", peers_skipped_.load()},
                                        {"tombstones_purged", purged_.load()},
                                        {"rebuilding", owner_.rebuilding() ? 1 : 0},
                                        {"rebuild_kind", static_cast<int64_t>(rebuild_kind_.load())},
                                        {"rebuilds", rebuilds_.load()},
                                        {"rebuilds_with_live", rebuilds_with_live_.load()},
                                        {"rebuild_keys", rebuild_keys_.load()}};
  if (digests_) {
    for (const auto& [k, v] : digests_->stats()) out[k] = v;
  } else {
    out["digest_rebuilds"] = 0;
    out["digest_ranges"] = 0;
  }
  return out;
}

}  // namespace thrifty::diststore
