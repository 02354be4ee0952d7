// The RocksDB engine: one database; records in the default column family, keys as they are,
// values in the record_codec format; hints in the "hints" column family (SideTable); in the
// "meta" family, the version mark (below).
//
// Writes go through one committer (GroupCommit): every merge, merge_batch and erase queues its
// entries, and the caller at the head of the queue commits everything queued as one group:
// one MultiGet of the stored records the group must know, the decisions entry by entry in
// arrival order, one WriteBatch (one WAL append; one fsync with `sync`), then the reports to
// the observer. Only the committer writes records, one group at a time, so each key's
// read-compare-write is atomic without key locks, and a group's entries of one key see each
// other in order. Every group holds cut_mu_ shared from its read to its last report;
// scan_at_cut takes it exclusively to open its iterator, which makes that iterator's snapshot
// a cut of the writes.
//
// The version mark: every version stored is <= stored_max_, which starts at the mark kept in
// the "meta" family and rises with each group. A merge whose record is newer than stored_max_
// wins against whatever the key holds, so with no observer (which needs the record it
// replaces) the committer decides it without reading the key. The mark is written in the
// same WriteBatch as any record above it (raised with headroom, so about once a second under
// clock-stamped writes), so it is an upper bound of the data after a crash too. A database
// from before the mark has none: the first open scans it once for its greatest version.
//
// Fresh keys: a database that opens with no records keeps, in the committer, a filter of the
// keys it has written since (WrittenKeys). A key the filter has never seen has no record, so
// any entry for it wins and the record it replaces is "none": the committer decides it
// unread, with or without an observer (a joining node's handoff, the anti-entropy digests
// on). Every other key is read as before.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <limits>
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
#include "diststore/storage/group_commit.h"
#include "diststore/storage/record_codec.h"
#include "diststore/storage/written_keys.h"

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

// Whether the default column family holds any record (a tombstone is one).
bool HasRecords(rocksdb::DB* db) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  it->SeekToFirst();
  if (!it->status().ok()) ThrowStatus("looking for records", it->status());
  return it->Valid();
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
constexpr char kMetaFamily[] = "meta";
constexpr char kVersionMarkKey[] = "version_mark";
// How far above the greatest version written a new mark is put: one second of hybrid logical
// clock time, so clock-stamped writes rewrite the mark about once a second.
constexpr int64_t kMarkHeadroom = int64_t{1000} << 16;
// A group takes writes while their keys and values add up to at most this.
constexpr size_t kMaxGroupBytes = 4 << 20;

std::string EncodeMark(int64_t mark) {
  std::string out(sizeof(mark), '\0');
  for (size_t i = 0; i < sizeof(mark); ++i) out[i] = static_cast<char>(uint64_t(mark) >> (8 * i));
  return out;
}

bool DecodeMark(std::string_view data, int64_t* mark) {
  if (data.size() != sizeof(*mark)) return false;
  uint64_t bits = 0;
  for (size_t i = 0; i < sizeof(*mark); ++i) bits |= uint64_t(uint8_t(data[i])) << (8 * i);
  *mark = static_cast<int64_t>(bits);
  return true;
}

int64_t MarkAbove(int64_t version) {
  return version > std::numeric_limits<int64_t>::max() - kMarkHeadroom
             ? std::numeric_limits<int64_t>::max()
             : version + kMarkHeadroom;
}

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
        hints_(db_.get(), families_.at(1), write_options_, &tsan_write_mu_),
        committer_(kMaxGroupBytes),
        written_(HasRecords(db_.get()) ? 0 : options.fresh_keys_capacity) {
    write_options_.sync = options.sync;
    load_version_mark();
    fresh_tracking_.store(written_.active());
    if (written_.active()) {
      LOG(INFO) << "RocksDB at " << path_ << " opened with no records: keys it never wrote are "
                << "written without a read (up to " << options.fresh_keys_capacity << " keys)";
    }
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
    PendingWrite write;
    write.entries.push_back(Entry{key, &record, 0});
    return commit(write) > 0;
  }

  size_t merge_batch(const std::vector<std::pair<std::string, Record>>& records) override {
    for (const auto& entry : records) CheckStorable(entry.second);
    if (records.empty()) return 0;
    PendingWrite write;
    write.entries.reserve(records.size());
    for (const auto& [key, record] : records) write.entries.push_back(Entry{key, &record, 0});
    return commit(write);
  }

  bool erase_if_version(std::string_view key, int64_t version) override {
    PendingWrite write;
    write.entries.push_back(Entry{key, nullptr, version});
    return commit(write) > 0;
  }

  size_t erase_batch_if_versions(
      const std::vector<std::pair<std::string, int64_t>>& keys_versions) override {
    if (keys_versions.empty()) return 0;
    std::map<std::string_view, int64_t> wanted;  // a key named twice: its last version
    for (const auto& [key, version] : keys_versions) wanted[key] = version;
    PendingWrite write;
    write.entries.reserve(wanted.size());
    for (const auto& [key, version] : wanted) write.entries.push_back(Entry{key, nullptr, version});
    return commit(write);
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
    std::unique_lock<std::shared_mutex> cut(cut_mu_);  // no group is between read and report
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

  std::map<std::string, int64_t> stats() override {
    return {{"engine_write_groups", write_groups_.load()},
            {"engine_writes_grouped", writes_grouped_.load()},
            {"engine_merge_reads_skipped", reads_skipped_.load()},
            {"engine_fresh_keys_unread", fresh_unread_.load()},
            {"engine_fresh_keys_tracking", fresh_tracking_.load() ? 1 : 0},
            {"engine_writes_waiting", static_cast<int64_t>(committer_.waiting())}};
  }

  std::string name() const override { return "rocksdb"; }

 private:
  // One entry of a caller's write: a merge of *record, or (record == nullptr) the delete of
  // `key` if its stored version is erase_version.
  struct Entry {
    std::string_view key;
    const Record* record;
    int64_t erase_version;
  };
  // A caller's write, while it waits in the committer: its entries (views of the caller's
  // arguments, alive until it returns), then what the group did with them.
  struct PendingWrite {
    std::vector<Entry> entries;
    size_t applied = 0;          // entries that changed the key (merges won, deletes done)
    std::exception_ptr error;    // set: nothing of this write was applied
  };

  // What a group knows of one key. Views point into the group's MultiGet results or into
  // the callers' records, both alive until the group is done.
  struct Slot {
    bool needs_stored = false;     // an entry must know the stored record (else: newer than all)
    bool never_written = false;    // no record: the engine opened empty and never wrote it
    bool erases = false;           // an entry is a delete
    bool probed = false;           // never_written came from the filter
    bool read = false;             // looked up: needs_stored and not never_written
    rocksdb::Status read_status;   // of the lookup, when read
    std::string_view stored_bytes;  // what the lookup found, when read and found
    std::optional<RecordView> stored;   // before the group (known when read)
    std::optional<RecordView> current;  // after the entries decided so far
    bool current_corrupt = false;  // current is stored_bytes, which do not decode
    bool dirty = false;            // current differs from what is stored
  };

  // Hands `write` to the committer; returns how many of its entries were applied or throws
  // what its group's commit found.
  size_t commit(PendingWrite& write) {
    size_t weight = 0;
    for (const Entry& e : write.entries) {
      weight += e.key.size() + (e.record ? e.record->value.size() : 0) + kRecordHeaderSize;
    }
    committer_.run(&write, weight, [this](const std::vector<PendingWrite*>& group) {
      try {
        commit_group(group);
      } catch (...) {
        const std::exception_ptr error = std::current_exception();
        for (PendingWrite* w : group) {
          if (!w->error) w->error = error;
        }
      }
    });
    if (write.error) std::rethrow_exception(write.error);
    return write.applied;
  }

  // The committer's work for one group; on the leader's thread, one group at a time.
  void commit_group(const std::vector<PendingWrite*>& group) {
    ++write_groups_;
    writes_grouped_ += static_cast<int64_t>(group.size());
    std::shared_lock<std::shared_mutex> cut(cut_mu_);
    ChangeObserver* const observer = observer_.load();

    // Which stored records the group must know: every key, for an observer (it is told what
    // a write replaced); else a key with a delete, or with a record that is not newer than
    // every version stored, among its entries. Any entry of an unread key beats the stored
    // record, so it may be decided against the group's entries alone, whichever of them
    // are undone (decide). A key the engine never wrote since it opened empty is known to
    // have none: not read either (its slot stays "absent", which is the truth).
    std::map<std::string_view, Slot> slots;  // sorted: MultiGet's sorted_input
    for (const PendingWrite* w : group) {
      for (const Entry& e : w->entries) {
        Slot& slot = slots[e.key];
        slot.needs_stored = slot.needs_stored || observer != nullptr || e.record == nullptr ||
                            e.record->version <= stored_max_;
        slot.erases = slot.erases || e.record == nullptr;
      }
    }
    std::vector<std::string_view> to_read;
    int64_t fresh = 0, probed = 0;
    for (auto& [key, slot] : slots) {
      if (!slot.needs_stored) continue;
      // A delete names a key the caller saw stored: not worth a probe.
      if (!slot.erases && written_.active()) {
        ++probed;
        slot.never_written = !written_.maybe_written(key);
        slot.probed = true;
        // Its merge will be written (nothing stored to lose to): noted now, while the
        // filter's block is in cache. A failed write leaves it "maybe", which costs a read.
        if (slot.never_written) written_.add(key);
      }
      slot.read = !slot.never_written;
      if (slot.read) {
        to_read.push_back(key);
      } else {
        ++fresh;
      }
    }
    note_fresh_probes(probed, fresh);
    reads_skipped_ += static_cast<int64_t>(slots.size() - to_read.size()) - fresh;
    fresh_unread_ += fresh;
    StoredValues found = read_sorted(to_read);
    size_t i = 0;
    for (auto& [key, slot] : slots) {
      if (!slot.read) continue;
      const rocksdb::Status& status = found.statuses[i];
      if (status.ok()) {
        slot.stored_bytes = ToView(found.values[i]);
        RecordView view;
        if (DecodeRecord(slot.stored_bytes, &view, nullptr)) {
          slot.stored = slot.current = view;
        } else {
          slot.current_corrupt = true;  // compares as absent for a merge (stored_for_merge)
        }
      } else if (!status.IsNotFound()) {
        slot.read_status = status;
      }
      ++i;
    }

    for (PendingWrite* w : group) decide(*w, slots);

    rocksdb::WriteBatch batch;
    int64_t max_written = 0;
    for (const auto& [key, slot] : slots) {
      if (!slot.dirty) continue;
      rocksdb::Status status;
      if (slot.current) {
        status = batch.Put(ToSlice(key), EncodeRecord(*slot.current));
        max_written = std::max(max_written, slot.current->version);
        // A probed key is in the filter already (noted above, or it answered "maybe", which
        // it always will). Others are noted before the write: a failed write leaves the key
        // "maybe written", which only costs a read.
        if (!slot.probed) written_.add(key);
      } else {
        status = batch.Delete(ToSlice(key));
      }
      if (!status.ok()) ThrowStatus("batching key " + QuoteKey(key), status);
    }
    fresh_tracking_.store(written_.active());
    if (batch.Count() == 0) return;
    const bool raise_mark = max_written > persisted_mark_;
    const int64_t new_mark = MarkAbove(max_written);
    if (raise_mark) {
      rocksdb::Status status =
          batch.Put(families_.at(2), kVersionMarkKey, EncodeMark(new_mark));
      if (!status.ok()) ThrowStatus("batching the version mark", status);
    }
    // Whether or not the write below succeeds: an upper bound may only be too high.
    stored_max_ = std::max(stored_max_, max_written);
    {
      auto writing = one_writer();
      rocksdb::Status status = db_->Write(write_options_, &batch);
      if (!status.ok()) {
        const std::exception_ptr error = std::make_exception_ptr(StorageError(
            "writing a batch of " + std::to_string(batch.Count()) + " keys: " +
            status.ToString()));
        for (PendingWrite* w : group) {
          if (!w->error && w->applied > 0) w->error = error;
        }
        return;
      }
    }
    if (raise_mark) persisted_mark_ = new_mark;
    if (observer == nullptr) return;
    for (const auto& [key, slot] : slots) {
      if (slot.dirty && (slot.stored || slot.current)) {
        observer->on_change(key, slot.stored, slot.current);
      }
    }
  }

  // Applies w's entries to `slots` in order, all or none: an entry that cannot be decided
  // (its key failed to read; a delete of a key whose stored record does not decode) sets
  // w.error and puts every slot w touched back as it was.
  static void decide(PendingWrite& w, std::map<std::string_view, Slot>& slots) {
    std::vector<std::pair<Slot*, Slot>> undo;
    size_t applied = 0;
    try {
      for (const Entry& e : w.entries) {
        Slot& slot = slots.find(e.key)->second;
        if (std::none_of(undo.begin(), undo.end(),
                         [&](const auto& saved) { return saved.first == &slot; })) {
          undo.emplace_back(&slot, slot);
        }
        if (!slot.read_status.ok()) ThrowStatus("reading key " + QuoteKey(e.key), slot.read_status);
        if (e.record != nullptr) {
          if (slot.current && !Supersedes(*e.record, *slot.current)) continue;
          if (slot.current_corrupt) {
            std::string why;
            RecordView ignored;
            DecodeRecord(slot.stored_bytes, &ignored, &why);
            LOG(WARNING) << "replacing corrupt record for key " << QuoteKey(e.key) << ": " << why;
            slot.current_corrupt = false;
          }
          slot.current = RecordView(*e.record);
        } else {
          // Throws StorageError naming the key when the stored record does not decode.
          if (slot.current_corrupt) DecodeStoredRecord(e.key, slot.stored_bytes);
          if (!slot.current || slot.current->version != e.erase_version) continue;
          slot.current.reset();
        }
        slot.dirty = true;
        ++applied;
      }
    } catch (...) {
      for (auto& [slot, before] : undo) *slot = before;
      w.error = std::current_exception();
      return;
    }
    w.applied = applied;
  }

  // The filter pays while writes bring keys this engine never wrote (a handoff into a new
  // node, a first load); once nearly every key it is asked about may have been written, each
  // probe is a cache miss that saves nothing: after a window of kFreshWindow probes of which
  // fewer than 1 in kFreshMinShare were fresh, the filter is switched off for good.
  static constexpr int64_t kFreshWindow = 1 << 16;
  static constexpr int64_t kFreshMinShare = 8;
  void note_fresh_probes(int64_t probed, int64_t fresh) {
    if (probed == 0) return;
    window_probes_ += probed;
    window_fresh_ += fresh;
    if (window_probes_ < kFreshWindow) return;
    if (window_fresh_ * kFreshMinShare < window_probes_) {
      LOG(INFO) << "RocksDB at " << path_ << ": " << window_fresh_ << " of the last "
                << window_probes_ << " keys written were new to it; keys are read from now on";
      written_.stop();
    }
    window_probes_ = window_fresh_ = 0;
  }

  // Sets stored_max_ and persisted_mark_ from the mark in the meta family; a database without
  // one is scanned for its greatest version, and the mark written.
  void load_version_mark() {
    std::string data;
    rocksdb::Status status =
        db_->Get(rocksdb::ReadOptions(), families_.at(2), kVersionMarkKey, &data);
    if (status.ok()) {
      if (!DecodeMark(data, &persisted_mark_)) {
        throw StorageError("corrupt version mark in " + path_ + " (" +
                           std::to_string(data.size()) + " bytes)");
      }
      stored_max_ = persisted_mark_;
      return;
    }
    if (!status.IsNotFound()) ThrowStatus("reading the version mark in " + path_, status);
    rocksdb::ReadOptions read_options;
    read_options.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options));
    int64_t greatest = 0;
    uint64_t records = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      RecordView view;
      if (DecodeRecord(ToView(it->value()), &view, nullptr)) greatest = std::max(greatest, view.version);
      ++records;
    }
    if (!it->status().ok()) ThrowStatus("scanning " + path_ + " for its versions", it->status());
    if (records > 0) {
      LOG(INFO) << "no version mark in " << path_ << ": scanned " << records
                << " records, greatest version " << greatest;
    }
    stored_max_ = greatest;
    persisted_mark_ = MarkAbove(greatest);
    auto writing = one_writer();
    status = db_->Put(write_options_, families_.at(2), kVersionMarkKey, EncodeMark(persisted_mark_));
    if (!status.ok()) ThrowStatus("writing the version mark in " + path_, status);
  }

  struct StoredValues {
    std::vector<rocksdb::PinnableSlice> values;
    std::vector<rocksdb::Status> statuses;
  };
  // The stored values of `keys`, with one MultiGet. The keys must be distinct and in byte-wise
  // order (RocksDB's default comparator; callers take them from a std::map).
  StoredValues read_sorted(const std::vector<std::string_view>& keys) {
    const size_t n = keys.size();
    StoredValues out{std::vector<rocksdb::PinnableSlice>(n), std::vector<rocksdb::Status>(n)};
    if (n == 0) return out;
    std::vector<rocksdb::Slice> slices;
    slices.reserve(n);
    for (std::string_view key : keys) slices.push_back(ToSlice(key));
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
  // writes hides nothing of thrifty's (the committer and all callers stay concurrent).
  std::unique_lock<std::mutex> one_writer() {
#ifdef THRIFTY_STORAGE_TSAN
    return std::unique_lock<std::mutex>(tsan_write_mu_);
#else
    return {};
#endif
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> families_;  // default, hints, meta
  const std::string path_;
  std::mutex tsan_write_mu_;  // see one_writer()
  rocksdb::WriteOptions write_options_;
  ColumnFamilyTable hints_;
  std::shared_mutex cut_mu_;  // groups shared, scan_at_cut's cut exclusive
  std::atomic<ChangeObserver*> observer_{nullptr};
  GroupCommit<PendingWrite> committer_;
  // Written by the committing group only (GroupCommit runs one at a time, and its mutex
  // orders one group's writes before the next's reads), and by the constructor.
  int64_t stored_max_ = 0;      // >= every version stored
  int64_t persisted_mark_ = 0;  // the mark on disk; >= stored_max_ once a group's write is done
  WrittenKeys written_;         // keys written since an empty open (off: the db had records)
  int64_t window_probes_ = 0;   // note_fresh_probes' window
  int64_t window_fresh_ = 0;
  std::atomic<int64_t> write_groups_{0};
  std::atomic<int64_t> fresh_unread_{0};
  std::atomic<bool> fresh_tracking_{false};
  std::atomic<int64_t> writes_grouped_{0};
  std::atomic<int64_t> reads_skipped_{0};
};

}  // namespace

std::unique_ptr<Engine> OpenRocksDbEngine(const EngineOptions& options) {
  if (options.path.empty()) throw std::invalid_argument("RocksDB engine needs a data directory");
  rocksdb::Options db_options = MakeOptions(options);
  // A database made before hints (or the version mark) existed gets the family on its first
  // open. A release before the mark cannot open a database that has it (RocksDB refuses an
  // open that does not name every family), so no older writer can put a version above it.
  db_options.create_missing_column_families = true;
  const std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(db_options)},
      {kHintsFamily, rocksdb::ColumnFamilyOptions()},
      {kMetaFamily, rocksdb::ColumnFamilyOptions()}};
  std::vector<rocksdb::ColumnFamilyHandle*> families;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status status =
      rocksdb::DB::Open(rocksdb::DBOptions(db_options), options.path, descriptors, &families, &raw);
  std::unique_ptr<rocksdb::DB> db(raw);
  if (!status.ok()) ThrowStatus("cannot open RocksDB database at " + options.path, status);
  return std::make_unique<RocksDbEngine>(std::move(db), std::move(families), options);
}

}  // namespace thrifty::storage
