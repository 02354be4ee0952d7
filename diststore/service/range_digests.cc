#include "diststore/service/range_digests.h"

#include <algorithm>
#include <chrono>

#include <glog/logging.h>
#include <xxhash.h>

namespace thrifty::diststore {

using storage::DigestTree;

uint64_t RangeIdOf(const std::vector<std::string>& sorted_names) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  for (const std::string& name : sorted_names) {
    XXH3_64bits_update(state, name.data(), name.size());
    XXH3_64bits_update(state, "\n", 1);
  }
  const uint64_t id = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return id;
}

RangeDigests::RangeDigests(storage::Engine& engine, size_t replicas)
    : engine_(engine), replicas_(replicas) {
  engine_.set_observer(this);
}

RangeDigests::~RangeDigests() { engine_.set_observer(nullptr); }

uint64_t RangeDigests::FingerprintOf(const locator::ClusterSnapshot& snapshot) const {
  return ReplicaRingFingerprint(snapshot, replicas_);
}

uint64_t ReplicaRingFingerprint(const locator::ClusterSnapshot& snapshot, size_t replicas) {
  const locator::Ring& ring =
      snapshot.ring_with_dead() ? *snapshot.ring_with_dead() : *snapshot.ring();
  std::string text = ring.placement_spec() + "\n" + std::to_string(replicas) + "\n";
  for (const auto& [name, weight] : ring.signature()) {
    // Zones move replicas as weights move owners (replica_set.h).
    text += name + "=" + std::to_string(weight) + " " + snapshot.zone_of(name) + "\n";
  }
  const uint64_t fingerprint = XXH3_64bits(text.data(), text.size());
  return fingerprint == 0 ? 1 : fingerprint;
}

std::shared_ptr<RangeDigests::Trees> RangeDigests::current() const {
  std::lock_guard<std::mutex> lock(current_mu_);
  return current_;
}

KeyRange RangeDigests::Trees::locate(const std::string& key,
                                     std::vector<locator::wire::Location>* replicas) const {
  const ReplicaSet set = placement->of(key);
  std::vector<size_t> order(set.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return set.names[a] < set.names[b]; });
  KeyRange out;
  out.leaf = DigestTree::LeafOf(key);
  out.names.reserve(order.size());
  for (size_t i : order) {
    out.names.push_back(set.names[i]);
    if (replicas) replicas->push_back(set.replicas[i]);
  }
  out.range_id = RangeIdOf(out.names);
  return out;
}

RangeDigests::Range& RangeDigests::Trees::range_locked(
    const KeyRange& where, std::vector<locator::wire::Location> replicas) {
  auto it = ranges.find(where.range_id);
  if (it == ranges.end()) {
    it = ranges.emplace(where.range_id, Range{where.names, std::move(replicas), {}}).first;
  }
  return it->second;
}

void RangeDigests::rebuild(std::shared_ptr<const locator::ClusterSnapshot> snapshot) {
  const auto start = std::chrono::steady_clock::now();
  auto trees = std::make_shared<Trees>();
  trees->placement = std::make_unique<ReplicaPlacement>(*snapshot, replicas_, false);
  trees->fingerprint = FingerprintOf(*snapshot);
  trees->snapshot = std::move(snapshot);
  // Hashed outside the lock writers take, then merged: XOR does not mind the order.
  std::map<uint64_t, Range> scanned;
  uint64_t records = 0;
  engine_.scan_at_cut(
      [&] {
        std::lock_guard<std::mutex> lock(current_mu_);
        current_ = trees;
      },
      [&](std::string_view key_view, const storage::Record& record) {
        const std::string key(key_view);
        std::vector<locator::wire::Location> replicas;
        const KeyRange where = trees->locate(key, &replicas);
        auto it = scanned.find(where.range_id);
        if (it == scanned.end()) {
          it = scanned.emplace(where.range_id, Range{where.names, std::move(replicas), {}}).first;
        }
        it->second.tree.toggle_leaf(where.leaf,
                                    DigestTree::RecordHash(key, record.version, record.tombstone));
        ++records;
        return true;
      });
  {
    std::lock_guard<std::mutex> lock(trees->mu);
    for (auto& [id, range] : scanned) {
      auto it = trees->ranges.find(id);
      if (it == trees->ranges.end()) {
        trees->ranges.emplace(id, std::move(range));
        continue;
      }
      for (int leaf = 0; leaf < DigestTree::kLeaves; ++leaf) {
        it->second.tree.toggle_leaf(leaf, range.tree.hash(DigestTree::kLeafLevel, leaf));
      }
    }
    trees->built = true;
  }
  ++rebuilds_;
  LOG(INFO) << "anti-entropy trees rebuilt: " << records << " records in " << scanned.size()
            << " ranges, "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s";
}

uint64_t RangeDigests::ready_fingerprint() const {
  const auto trees = current();
  return trees && trees->built ? trees->fingerprint : 0;
}

std::optional<KeyRange> RangeDigests::range_of(const std::string& key) const {
  const auto trees = current();
  if (!trees) return std::nullopt;
  return trees->locate(key, nullptr);
}

std::vector<RangeSummary> RangeDigests::ranges_with(const std::string& name) const {
  std::vector<RangeSummary> out;
  const auto trees = current();
  if (!trees) return out;
  std::lock_guard<std::mutex> lock(trees->mu);
  for (const auto& [id, range] : trees->ranges) {
    if (std::find(range.names.begin(), range.names.end(), name) == range.names.end()) continue;
    out.push_back(RangeSummary{id, range.names, range.replicas, range.tree});
  }
  return out;
}

DigestTree RangeDigests::tree(uint64_t range_id) const {
  const auto trees = current();
  if (!trees) return {};
  std::lock_guard<std::mutex> lock(trees->mu);
  const auto it = trees->ranges.find(range_id);
  return it == trees->ranges.end() ? DigestTree{} : it->second.tree;
}

void RangeDigests::on_change(std::string_view key_view,
                             const std::optional<storage::RecordView>& before,
                             const std::optional<storage::RecordView>& after) {
  const auto trees = current();
  if (!trees) return;  // the first rebuild's scan will see this write
  const std::string key(key_view);
  std::vector<locator::wire::Location> replicas;
  const KeyRange where = trees->locate(key, &replicas);
  uint64_t delta = 0;
  if (before) delta ^= DigestTree::RecordHash(key, before->version, before->tombstone);
  if (after) delta ^= DigestTree::RecordHash(key, after->version, after->tombstone);
  std::lock_guard<std::mutex> lock(trees->mu);
  trees->range_locked(where, std::move(replicas)).tree.toggle_leaf(where.leaf, delta);
}

std::map<std::string, int64_t> RangeDigests::stats() const {
  int64_t ranges = 0;
  if (const auto trees = current()) {
    std::lock_guard<std::mutex> lock(trees->mu);
    ranges = static_cast<int64_t>(trees->ranges.size());
  }
  return {{"digest_rebuilds", rebuilds_.load()}, {"digest_ranges", ranges}};
}

}  // namespace thrifty::diststore
