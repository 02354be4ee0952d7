// Engine: where a node keeps its records. Two implementations behind one interface: RocksDB
// (the default; one data directory per node, survives restarts) and memory (tests, --memory).
//
// Every operation is safe to call from many threads at once. Writes are merges: a record
// replaces the stored one only if it is newer (Supersedes in record.h), so replicas, hints,
// handoffs and repairs can deliver the same write any number of times, in any order.
// A write returns once it is in the engine's write-ahead log (RocksDB; fsynced with
// EngineOptions::sync) or map (memory). The RocksDB engine commits the writes of concurrent
// callers together, as one batch, on one of the callers' threads (rocksdb_engine.cc), so a
// write may wait for the group before it; nothing in a write waits on anything but the disk.
//
// Failures below the engine (I/O errors, corrupt stored records) raise StorageError; a record
// with version <= 0 raises std::invalid_argument and changes nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "diststore/storage/change_observer.h"
#include "diststore/storage/record.h"
#include "diststore/storage/storage_error.h"

namespace thrifty::storage {

struct EngineOptions {
  std::string path;                          // RocksDB data directory; created if missing
  bool sync = false;                         // fsync the WAL once per group of writes
  size_t block_cache_bytes = 64 << 20;       // shared LRU cache of data, index and filter blocks
  size_t write_buffer_bytes = 64 << 20;      // memtable size before a flush
  bool create_if_missing = true;             // false: fail when `path` holds no database
  int background_jobs = 4;                   // RocksDB flush + compaction threads
  // RocksDB opened with no records: how many keys it remembers having written since
  // (written_keys.h, 10 bits each), so that a write of a key it never wrote needs no read;
  // past this many the engine reads every key as any other engine does. 0: off.
  size_t fresh_keys_capacity = 8 << 20;
};

// A sorted table of opaque keys and values kept beside the records, as durable as they are
// (RocksDB: its own column family, "hints"; memory: a map). The HintStore keeps its hints
// here. Thread-safe; no cross-key atomicity.
class SideTable {
 public:
  virtual ~SideTable() = default;
  virtual void put(std::string_view key, std::string_view value) = 0;
  virtual void erase(std::string_view key) = 0;
  virtual std::optional<std::string> get(std::string_view key) = 0;
  // Calls visit for every entry whose key starts with `prefix`, in byte-wise order, until it
  // returns false. Entries written during the scan may or may not be seen.
  virtual void scan(std::string_view prefix,
                    const std::function<bool(std::string_view key, std::string_view value)>&
                        visit) = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;

  // The side table for hints (hint_store.h); lives as long as the engine.
  virtual SideTable& hints_table() = 0;

  // The record stored for `key` (a tombstone too), or std::nullopt if there is none.
  virtual std::optional<Record> get(std::string_view key) = 0;

  // One entry per key, in the order of `keys` (duplicates allowed), std::nullopt where absent.
  // Throws StorageError if any of them fails to read or decode.
  virtual std::vector<std::optional<Record>> multi_get(const std::vector<std::string>& keys) = 0;

  // Writes `record` for `key` unless the stored record supersedes or equals it. Returns true
  // if written. Atomic per key against concurrent merge, merge_batch and erase_if_version.
  // A stored record that does not decode is replaced (this is how a replica heals a corrupt
  // record from a good copy elsewhere).
  virtual bool merge(std::string_view key, const Record& record) = 0;

  // merge() for every entry, in order, applied as one atomic write (all or nothing on a
  // crash). A key that appears twice is merged twice, the second time against the first.
  // Returns how many entries were written (counting such a key once per entry that won).
  virtual size_t merge_batch(const std::vector<std::pair<std::string, Record>>& records) = 0;

  // Deletes `key` only if its stored version is still exactly `version` (after a handoff has
  // been acknowledged: a newer write that arrived meanwhile is kept). Returns true if deleted.
  // Throws StorageError if the stored record does not decode.
  virtual bool erase_if_version(std::string_view key, int64_t version) = 0;

  // erase_if_version for many keys, in one write where the engine can (a handoff batch that
  // was acknowledged). Returns how many were deleted.
  virtual size_t erase_batch_if_versions(
      const std::vector<std::pair<std::string, int64_t>>& keys_versions) {
    size_t erased = 0;
    for (const auto& [key, version] : keys_versions) erased += erase_if_version(key, version);
    return erased;
  }

  // Calls visit for every record, tombstones included, in byte-wise key order, as of one
  // moment (writes made during the scan are not seen). Stops when visit returns false. visit
  // may call back into this engine. Throws StorageError at the first record that does not
  // decode (after visiting the ones before it). RocksDB reads through an iterator's implicit
  // snapshot; memory copies the records first (it is meant for small data sets).
  virtual void scan(
      const std::function<bool(std::string_view key, const Record& record)>& visit) = 0;

  // scan() of the records whose keys are >= `start` (byte-wise), for paging through the data.
  // The default scans everything and skips the smaller keys; both engines seek instead.
  virtual void scan_from(
      std::string_view start,
      const std::function<bool(std::string_view key, const Record& record)>& visit) {
    scan([&](std::string_view key, const Record& record) {
      return key < start || visit(key, record);
    });
  }

  // How many records are not tombstones. Exact. RocksDB: reads every record (a full scan,
  // without filling the block cache); memory: O(1).
  virtual uint64_t count_live() = 0;
  // How many records there are, cheaply: for a scrape every few seconds. RocksDB: its
  // estimate-num-keys (tombstones included, overwritten keys until compaction); by default,
  // count_live().
  virtual uint64_t estimate_records() { return count_live(); }
  // Bytes of the keys and values an engine that keeps its records in memory holds (a
  // tombstone counts its key); std::nullopt for an engine on disk, whose size is its data
  // directory's (data_dir.h: DirectoryBytes).
  virtual std::optional<uint64_t> memory_bytes() { return std::nullopt; }

  virtual std::string name() const = 0;  // "rocksdb" or "memory"

  // Counters and gauges of the engine's write path, for the node's stats (names start with
  // "engine_"); none by default. RocksDB: engine_write_groups (groups committed),
  // engine_writes_grouped (the callers' writes in them), engine_merge_reads_skipped (keys a
  // group wrote without reading, their record being newer than every version stored),
  // engine_fresh_keys_unread (keys a group decided without reading because the engine opened
  // with no records and never wrote them: EngineOptions::fresh_keys_capacity),
  // engine_fresh_keys_tracking (1 while it keeps track of them), engine_writes_waiting
  // (writes queued for the next group, now).
  virtual std::map<std::string, int64_t> stats() { return {}; }

  // ---- change observation (the anti-entropy digests) ----
  // Sets the observer every later write reports to (nullptr: none). It must outlive its use:
  // set nullptr before destroying it. The default engine does not report changes and throws
  // std::logic_error.
  virtual void set_observer(ChangeObserver* observer) {
    (void)observer;
    throw std::logic_error("engine " + name() + " does not report changes");
  }
  // Calls at_cut(), then visits every record as of that moment, as scan() does, where the
  // moment is a cut of the writes: a write reports to the observer after at_cut() returned
  // exactly when the records visited do not include it. So a structure that at_cut() starts
  // afresh, fed with the visited records and with every change reported afterwards, ends up
  // equal to one built from the data at any later quiet moment. at_cut() runs while writes
  // wait: keep it short, and it must not call this engine (not even set_observer). Same errors
  // as scan(); the default throws std::logic_error.
  virtual void scan_at_cut(const std::function<void()>& at_cut,
                           const std::function<bool(std::string_view key, const Record& record)>&
                               visit) {
    (void)at_cut;
    (void)visit;
    throw std::logic_error("engine " + name() + " does not report changes");
  }
};

// Opens (creating if allowed) the RocksDB database at options.path. Throws StorageError with
// RocksDB's own message when it cannot: the directory is in use by another engine or process,
// is not writable, holds no database and create_if_missing is false, is corrupt ...
// Throws std::invalid_argument if options.path is empty.
std::unique_ptr<Engine> OpenRocksDbEngine(const EngineOptions& options);

// An engine that keeps everything in memory and loses it on destruction.
std::unique_ptr<Engine> NewMemoryEngine();

}  // namespace thrifty::storage
