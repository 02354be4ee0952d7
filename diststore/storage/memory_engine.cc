// The memory engine: a sorted map under one reader-writer lock. A merge holds the lock
// exclusively for its read-compare-write, which makes it atomic per key (and per batch)
// without the striped locks the RocksDB engine needs. The observer is told of each change under
// that lock too, which makes scan_at_cut's copy a cut of the writes.
#include <atomic>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "diststore/storage/engine.h"

namespace thrifty::storage {
namespace {

class MemoryTable final : public SideTable {
 public:
  void put(std::string_view key, std::string_view value) override {
    std::lock_guard<std::mutex> lock(mu_);
    entries_[std::string(key)] = std::string(value);
  }
  void erase(std::string_view key) override {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.erase(std::string(key));
  }
  std::optional<std::string> get(std::string_view key) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  void scan(std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& visit) override {
    std::vector<std::pair<std::string, std::string>> copy;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = entries_.lower_bound(prefix);
           it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        copy.emplace_back(it->first, it->second);
      }
    }
    for (const auto& [key, value] : copy) {
      if (!visit(key, value)) return;
    }
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string, std::less<>> entries_;
};

class MemoryEngine final : public Engine {
 public:
  SideTable& hints_table() override { return hints_; }

  std::optional<Record> get(std::string_view key) override {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = records_.find(key);
    if (it == records_.end()) return std::nullopt;
    return it->second;
  }

  std::vector<std::optional<Record>> multi_get(const std::vector<std::string>& keys) override {
    std::vector<std::optional<Record>> out;
    out.reserve(keys.size());
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (const std::string& key : keys) {
      auto it = records_.find(key);
      if (it == records_.end()) {
        out.emplace_back();
      } else {
        out.emplace_back(it->second);
      }
    }
    return out;
  }

  bool merge(std::string_view key, const Record& record) override {
    CheckStorable(record);
    std::unique_lock<std::shared_mutex> lock(mu_);
    return merge_locked(key, record);
  }

  size_t merge_batch(const std::vector<std::pair<std::string, Record>>& records) override {
    for (const auto& entry : records) CheckStorable(entry.second);
    size_t written = 0;
    std::unique_lock<std::shared_mutex> lock(mu_);
    for (const auto& [key, record] : records) {
      if (merge_locked(key, record)) ++written;
    }
    return written;
  }

  bool erase_if_version(std::string_view key, int64_t version) override {
    std::unique_lock<std::shared_mutex> lock(mu_);
    auto it = records_.find(key);
    if (it == records_.end() || it->second.version != version) return false;
    if (ChangeObserver* observer = observer_.load()) {
      observer->on_change(key, RecordView(it->second), std::nullopt);
    }
    if (!it->second.tombstone) --live_;
    bytes_ -= it->first.size() + it->second.value.size();
    records_.erase(it);
    return true;
  }

  void scan(const std::function<bool(std::string_view, const Record&)>& visit) override {
    // A copy is the snapshot: visiting under the lock would deadlock a visitor that writes.
    std::vector<std::pair<std::string, Record>> snapshot;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      snapshot.assign(records_.begin(), records_.end());
    }
    for (const auto& [key, record] : snapshot) {
      if (!visit(key, record)) return;
    }
  }

  void scan_from(std::string_view start,
                 const std::function<bool(std::string_view, const Record&)>& visit) override {
    std::vector<std::pair<std::string, Record>> snapshot;
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      snapshot.assign(records_.lower_bound(start), records_.end());
    }
    for (const auto& [key, record] : snapshot) {
      if (!visit(key, record)) return;
    }
  }

  void set_observer(ChangeObserver* observer) override {
    std::unique_lock<std::shared_mutex> lock(mu_);
    observer_.store(observer);
  }

  void scan_at_cut(const std::function<void()>& at_cut,
                   const std::function<bool(std::string_view, const Record&)>& visit) override {
    std::vector<std::pair<std::string, Record>> snapshot;
    {
      std::unique_lock<std::shared_mutex> lock(mu_);  // no write between at_cut and the copy
      at_cut();
      snapshot.assign(records_.begin(), records_.end());
    }
    for (const auto& [key, record] : snapshot) {
      if (!visit(key, record)) return;
    }
  }

  uint64_t count_live() override {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return live_;
  }

  std::optional<uint64_t> memory_bytes() override {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return bytes_;
  }

  std::string name() const override { return "memory"; }

 private:
  // Requires mu_ held exclusively.
  bool merge_locked(std::string_view key, const Record& record) {
    auto it = records_.find(key);
    if (it != records_.end() && !Supersedes(record, it->second)) return false;
    Record stored{record.tombstone ? std::string() : record.value, record.version,
                  record.tombstone};
    if (ChangeObserver* observer = observer_.load()) {
      std::optional<RecordView> before;
      if (it != records_.end()) before = RecordView(it->second);
      observer->on_change(key, before, RecordView(stored));
    }
    if (it == records_.end()) {
      if (!stored.tombstone) ++live_;
      bytes_ += key.size() + stored.value.size();
      records_.emplace(std::string(key), std::move(stored));
    } else {
      if (it->second.tombstone && !stored.tombstone) ++live_;
      if (!it->second.tombstone && stored.tombstone) --live_;
      bytes_ = bytes_ - it->second.value.size() + stored.value.size();
      it->second = std::move(stored);
    }
    return true;
  }

  std::shared_mutex mu_;
  std::map<std::string, Record, std::less<>> records_;
  uint64_t live_ = 0;  // records_ entries that are not tombstones
  uint64_t bytes_ = 0;  // the keys' and values' sizes of records_
  MemoryTable hints_;
  std::atomic<ChangeObserver*> observer_{nullptr};
};

}  // namespace

std::unique_ptr<Engine> NewMemoryEngine() { return std::make_unique<MemoryEngine>(); }

}  // namespace thrifty::storage
