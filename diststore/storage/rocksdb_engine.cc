// The RocksDB engine: one database; records in the default column family, keys as they are,
// values in the record_codec format; hints in the "hints" column family (SideTable). RocksDB has no conditional write, so every merge is a
// read-compare-write under the key's stripe of KeyLocks; all writes of a key go through that
// stripe, which makes the read and the write one atomic step against other writers. Every write
// also holds cut_mu_ shared from its read to its report to the observer; scan_at_cut takes it
// exclusively to open its iterator, which makes that iterator's snapshot a cut of the writes.
#include <atomic>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include <glog/logging.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "diststore/storage/engine.h"
#include "diststore/storage/key_locks.h"
#include "diststore/storage/record_codec.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define THRIFTY_STORAGE_TSAN 1
#endif
#endif

namespace thrifty::storage {
namespace {

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

[[noreturn]] void ThrowStatus(const std::string& what, const rocksdb::Status& status) {
  throw StorageError(what + ": " + status.ToString());
}

rocksdb::Options MakeOptions(const EngineOptions& options) {
  rocksdb::Options db;
  db.create_if_missing = options.create_if_missing;
  db.write_buffer_size = options.write_buffer_bytes;
  db.max_background_jobs = options.background_jobs;
  db.compaction_style = rocksdb::kCompactionStyleLevel;
  // Sizes levels from the last one up, which bounds space amplification to about 1.1x.
  db.level_compaction_dynamic_level_bytes = true;
  // Spreads the writeback of new files instead of one large burst at the end of each.
  db.bytes_per_sync = 1 << 20;
  // RocksDB's own LOG files in the data directory would otherwise grow without end.
  db.keep_log_file_num = 4;
  db.max_log_file_size = 16 << 20;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  // Point reads dominate: a bloom filter lets a get of an absent key skip nearly every file.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Index and filter blocks count against the cache, so block_cache_bytes bounds them too;
  // level 0's stay pinned because every read consults them.
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  db.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return db;
}

constexpr char kHintsFamily[] = "hints";

// A column family of the engine's database as a SideTable.
class ColumnFamilyTable final : public SideTable {
 public:
  // `tsan_write_mu`: the engine's (RocksDbEngine::one_writer).
  ColumnFamilyTable(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family,
                    const rocksdb::WriteOptions& write_options, std::mutex* tsan_write_mu)
      : db_(db), family_(family), write_options_(write_options), tsan_write_mu_(tsan_write_mu) {}
  void put(std::string_view key, std::string_view value) override {
    auto writing = one_writer();
    rocksdb::Status status = db_->Put(write_options_, family_, ToSlice(key), ToSlice(value));
    if (!status.ok()) ThrowStatus("writing a hint", status);
  }
  void erase(std::string_view key) override {
    auto writing = one_writer();
    rocksdb::Status status = db_->Delete(write_options_, family_, ToSlice(key));
    if (!status.ok()) ThrowStatus("deleting a hint", status);
  }
  std::optional<std::string> get(std::string_view key) override {
    std::string value;
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), family_, ToSlice(key), &value);
    if (status.IsNotFound()) return std::nullopt;
    if (!status.ok()) ThrowStatus("reading a hint", status);
    return value;
  }
  void scan(std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& visit) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family_));
    for (it->Seek(ToSlice(prefix)); it->Valid() && it->key().starts_with(ToSlice(prefix));
         it->Next()) {
      if (!visit(ToView(it->key()), ToView(it->value()))) return;
    }
    if (!it->status().ok()) ThrowStatus("scanning hints", it->status());
  }

 private:
  std::unique_lock<std::mutex> one_writer() {
#ifdef THRIFTY_STORAGE_TSAN
    return std::unique_lock<std::mutex>(*tsan_write_mu_);
#else
    return {};
#endif
  }

  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* family_;
  const rocksdb::WriteOptions& write_options_;
  [[maybe_unused]] std::mutex* tsan_write_mu_;
};

class RocksDbEngine final : public Engine {
 public:
  RocksDbEngine(std::unique_ptr<rocksdb::DB> db,
                std::vector<rocksdb::ColumnFamilyHandle*> families, const EngineOptions& options)
      : db_(std::move(db)),
        families_(std::move(families)),
        path_(options.path),
        locks_(options.lock_stripes),
        hints_(db_.get(), families_.at(1), write_options_, &tsan_write_mu_) {
    write_options_.sync = options.sync;
  }

  SideTable& hints_table() override { return hints_; }

  ~RocksDbEngine() override {
    for (rocksdb::ColumnFamilyHandle* family : families_) {
      rocksdb::Status status = db_->DestroyColumnFamilyHandle(family);
      if (!status.ok()) LOG(WARNING) << "closing a column family: " << status.ToString();
    }
    // Close waits for background work and reports what the destructor alone would swallow.
    // Unflushed memtables need no flush here: the WAL replays them on the next open.
    rocksdb::Status status = db_->Close();
    if (!status.ok()) LOG(WARNING) << "closing RocksDB at " << path_ << ": " << status.ToString();
  }

  std::optional<Record> get(std::string_view key) override {
    rocksdb::PinnableSlice data;
    if (!read(key, &data)) return std::nullopt;
    return DecodeStoredRecord(key, ToView(data)).ToRecord();
  }

  std::vector<std::optional<Record>> multi_get(const std::vector<std::string>& keys) override {
    const size_t n = keys.size();
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(n);
    std::vector<rocksdb::Status> statuses(n);
    db_->MultiGet(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), n, slices.data(),
                  values.data(), statuses.data());
    std::vector<std::optional<Record>> out(n);
    for (size_t i = 0; i < n; ++i) {
      if (statuses[i].IsNotFound()) continue;
      if (!statuses[i].ok()) ThrowStatus("reading key " + QuoteKey(keys[i]), statuses[i]);
      out[i] = DecodeStoredRecord(keys[i], ToView(values[i])).ToRecord();
    }
    return out;
  }

  bool merge(std::string_view key, const Record& record) override {
    CheckStorable(record);
    auto lock = locks_.lock(key);
    std::shared_lock<std::shared_mutex> cut(cut_mu_);
    rocksdb::PinnableSlice data;
    std::optional<RecordView> stored;
    if (read(key, &data)) {
      stored = stored_for_merge(key, ToView(data));
      if (stored && !Supersedes(record, *stored)) return false;
    }
    {
      auto writing = one_writer();
      rocksdb::Status status = db_->Put(write_options_, ToSlice(key), EncodeRecord(record));
      if (!status.ok()) ThrowStatus("writing key " + QuoteKey(key), status);
    }
    if (ChangeObserver* observer = observer_.load()) observer->on_change(key, stored, RecordView(record));
    return true;
  }

  size_t merge_batch(const std::vector<std::pair<std::string, Record>>& records) override {
    for (const auto& entry : records) CheckStorable(entry.second);
    if (records.empty()) return 0;

    // Per distinct key, the winner so far: the stored record, then each entry that beat it.
    // Views only: they point into `values` below or into `records`, both alive to the end.
    struct Slot {
      std::optional<RecordView> stored;   // before this batch
      std::optional<RecordView> current;
      bool dirty = false;
    };
    std::map<std::string_view, Slot> slots;
    for (const auto& entry : records) slots.try_emplace(entry.first);
    std::vector<std::string_view> keys;
    keys.reserve(slots.size());
    for (const auto& slot : slots) keys.push_back(slot.first);

    auto held = locks_.lock_all(keys);
    std::shared_lock<std::shared_mutex> cut(cut_mu_);
    auto [values, statuses] = read_sorted(keys);
    size_t i = 0;
    for (auto& [key, slot] : slots) {
      if (statuses[i].ok()) {
        slot.current = slot.stored = stored_for_merge(key, ToView(values[i]));
      } else if (!statuses[i].IsNotFound()) {
        ThrowStatus("reading key " + QuoteKey(key), statuses[i]);
      }
      ++i;
    }

    size_t written = 0;
    for (const auto& [key, record] : records) {
      Slot& slot = slots.find(key)->second;
      if (slot.current && !Supersedes(record, *slot.current)) continue;
      slot.current = RecordView(record);
      slot.dirty = true;
      ++written;
    }
    if (written == 0) return 0;

    rocksdb::WriteBatch batch;
    for (const auto& [key, slot] : slots) {
      if (!slot.dirty) continue;
      rocksdb::Status status = batch.Put(ToSlice(key), EncodeRecord(*slot.current));
      if (!status.ok()) ThrowStatus("batching key " + QuoteKey(key), status);
    }
    {
      auto writing = one_writer();
      rocksdb::Status status = db_->Write(write_options_, &batch);
      if (!status.ok()) {
        ThrowStatus("writing a batch of " + std::to_string(slots.size()) + " keys", status);
      }
    }
    if (ChangeObserver* observer = observer_.load()) {
      for (const auto& [key, slot] : slots) {
        if (slot.dirty) observer->on_change(key, slot.stored, slot.current);
      }
    }
    return written;
  }

  bool erase_if_version(std::string_view key, int64_t version) override {
    auto lock = locks_.lock(key);
    std::shared_lock<std::shared_mutex> cut(cut_mu_);
    rocksdb::PinnableSlice data;
    if (!read(key, &data)) return false;
    const RecordView stored = DecodeStoredRecord(key, ToView(data));
    if (stored.version != version) return false;
    {
      auto writing = one_writer();
      rocksdb::Status status = db_->Delete(write_options_, ToSlice(key));
      if (!status.ok()) ThrowStatus("deleting key " + QuoteKey(key), status);
    }
    if (ChangeObserver* observer = observer_.load()) observer->on_change(key, stored, std::nullopt);
    return true;
  }

  size_t erase_batch_if_versions(
      const std::vector<std::pair<std::string, int64_t>>& keys_versions) override {
    if (keys_versions.empty()) return 0;
    std::map<std::string_view, int64_t> wanted;  // sorted: MultiGet's sorted_input
    for (const auto& [key, version] : keys_versions) wanted[key] = version;
    std::vector<std::string_view> keys;
    keys.reserve(wanted.size());
    for (const auto& entry : wanted) keys.push_back(entry.first);
    auto held = locks_.lock_all(keys);
    std::shared_lock<std::shared_mutex> cut(cut_mu_);
    auto [values, statuses] = read_sorted(keys);
    rocksdb::WriteBatch batch;
    std::vector<std::pair<std::string_view, RecordView>> deleted;
    size_t erased = 0;
    size_t i = 0;
    for (const auto& [key, version] : wanted) {
      const rocksdb::Status& got = statuses[i];
      if (got.ok()) {
        const RecordView stored = DecodeStoredRecord(key, ToView(values[i]));
        if (stored.version == version) {
          rocksdb::Status status = batch.Delete(ToSlice(key));
          if (!status.ok()) ThrowStatus("batching the delete of key " + QuoteKey(key), status);
          deleted.emplace_back(key, stored);
          ++erased;
        }
      } else if (!got.IsNotFound()) {
        ThrowStatus("reading key " + QuoteKey(key), got);
      }
      ++i;
    }
    if (erased == 0) return 0;
    {
      auto writing = one_writer();
      rocksdb::Status status = db_->Write(write_options_, &batch);
      if (!status.ok()) {
        ThrowStatus("deleting a batch of " + std::to_string(erased) + " keys", status);
      }
    }
    if (ChangeObserver* observer = observer_.load()) {
      for (const auto& [key, stored] : deleted) observer->on_change(key, stored, std::nullopt);
    }
    return erased;
  }

  void scan_from(std::string_view start,
                 const std::function<bool(std::string_view, const Record&)>& visit) override {
    rocksdb::ReadOptions read_options;
    read_options.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options));
    for (it->Seek(ToSlice(start)); it->Valid(); it->Next()) {
      const std::string_view key = ToView(it->key());
      if (!visit(key, DecodeStoredRecord(key, ToView(it->value())).ToRecord())) return;
    }
    if (!it->status().ok()) ThrowStatus("scanning " + path_, it->status());
  }

  void set_observer(ChangeObserver* observer) override {
    std::unique_lock<std::shared_mutex> cut(cut_mu_);  // no write is between read and report
    observer_.store(observer);
  }

  void scan_at_cut(const std::function<void()>& at_cut,
                   const std::function<bool(std::string_view, const Record&)>& visit) override {
    rocksdb::ReadOptions read_options;
    read_options.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it;
    {
      std::unique_lock<std::shared_mutex> cut(cut_mu_);
      at_cut();
      it.reset(db_->NewIterator(read_options));  // its implicit snapshot is the cut
    }
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key = ToView(it->key());
      if (!visit(key, DecodeStoredRecord(key, ToView(it->value())).ToRecord())) return;
    }
    if (!it->status().ok()) ThrowStatus("scanning " + path_, it->status());
  }

  void scan(const std::function<bool(std::string_view, const Record&)>& visit) override {
    for_each([&](std::string_view key, const RecordView& view) {
      return visit(key, view.ToRecord());
    });
  }

  uint64_t count_live() override {
    uint64_t live = 0;
    for_each([&](std::string_view, const RecordView& view) {
      if (!view.tombstone) ++live;
      return true;
    });
    return live;
  }

  uint64_t estimate_records() override {
    uint64_t estimate = 0;
    if (!db_->GetIntProperty(rocksdb::DB::Properties::kEstimateNumKeys, &estimate)) return 0;
    return estimate;
  }

  std::string name() const override { return "rocksdb"; }

 private:
  struct StoredValues {
    std::vector<rocksdb::PinnableSlice> values;
    std::vector<rocksdb::Status> statuses;
  };
  // The stored values of `keys`, with one MultiGet. The keys must be distinct and in byte-wise
  // order (RocksDB's default comparator; callers take them from a std::map).
  StoredValues read_sorted(const std::vector<std::string_view>& keys) {
    const size_t n = keys.size();
    std::vector<rocksdb::Slice> slices;
    slices.reserve(n);
    for (std::string_view key : keys) slices.push_back(ToSlice(key));
    StoredValues out{std::vector<rocksdb::PinnableSlice>(n), std::vector<rocksdb::Status>(n)};
    db_->MultiGet(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), n, slices.data(),
                  out.values.data(), out.statuses.data(), /*sorted_input=*/true);
    return out;
  }

  // Returns false if key is absent; throws StorageError on a read failure.
  bool read(std::string_view key, rocksdb::PinnableSlice* data) {
    rocksdb::Status status =
        db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), ToSlice(key), data);
    if (status.IsNotFound()) return false;
    if (!status.ok()) ThrowStatus("reading key " + QuoteKey(key), status);
    return true;
  }

  // The stored record a merge compares against. A record that does not decode compares as
  // absent, so the incoming one replaces it: refusing would leave the key unrepairable.
  static std::optional<RecordView> stored_for_merge(std::string_view key, std::string_view data) {
    RecordView view;
    std::string why;
    if (DecodeRecord(data, &view, &why)) return view;
    LOG(WARNING) << "replacing corrupt record for key " << QuoteKey(key) << ": " << why;
    return std::nullopt;
  }

  // Visits every decoded record in key order through one iterator, whose implicit snapshot
  // makes the scan a consistent view as of its start.
  template <typename Visit>
  void for_each(Visit&& visit) {
    rocksdb::ReadOptions read_options;
    read_options.fill_cache = false;  // a full scan would evict the blocks point reads need
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key = ToView(it->key());
      if (!visit(key, DecodeStoredRecord(key, ToView(it->value())))) return;
    }
    if (!it->status().ok()) ThrowStatus("scanning " + path_, it->status());
  }

  // Under ThreadSanitizer only, one write at a time. RocksDB joins concurrent writers into a
  // group whose leader copies the others' batches, ordered by atomics inside the
  // uninstrumented library: TSan would report every concurrent write, with no RocksDB frame on
  // the stack to suppress it by. TSan checks none of RocksDB's code anyway, so serialising its
  // writes hides nothing of thrifty's (KeyLocks and all callers stay concurrent).
  std::unique_lock<std::mutex> one_writer() {
#ifdef THRIFTY_STORAGE_TSAN
    return std::unique_lock<std::mutex>(tsan_write_mu_);
#else
    return {};
#endif
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> families_;  // default, hints
  const std::string path_;
  std::mutex tsan_write_mu_;  // see one_writer()
  rocksdb::WriteOptions write_options_;
  KeyLocks locks_;
  ColumnFamilyTable hints_;
  std::shared_mutex cut_mu_;  // writes shared, scan_at_cut's cut exclusive
  std::atomic<ChangeObserver*> observer_{nullptr};
};

}  // namespace

std::unique_ptr<Engine> OpenRocksDbEngine(const EngineOptions& options) {
  if (options.path.empty()) throw std::invalid_argument("RocksDB engine needs a data directory");
  if (options.lock_stripes == 0) throw std::invalid_argument("lock_stripes must be > 0");
  rocksdb::Options db_options = MakeOptions(options);
  // A database made before hints existed gets the family on its first open.
  db_options.create_missing_column_families = true;
  const std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(db_options)},
      {kHintsFamily, rocksdb::ColumnFamilyOptions()}};
  std::vector<rocksdb::ColumnFamilyHandle*> families;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status status =
      rocksdb::DB::Open(rocksdb::DBOptions(db_options), options.path, descriptors, &families, &raw);
  std::unique_ptr<rocksdb::DB> db(raw);
  if (!status.ok()) ThrowStatus("cannot open RocksDB database at " + options.path, status);
  return std::make_unique<RocksDbEngine>(std::move(db), std::move(families), options);
}

}  // namespace thrifty::storage
