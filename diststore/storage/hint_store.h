// HintStore: writes kept for a replica that could not take them, to deliver when it is back
// (hinted handoff, as Dynamo and Cassandra do).
//
// A replicated write's leader keeps a hint for each replica that is DEAD in its view or whose
// call failed: the record, for the replica's host ID (a wiped node is a new host and gets
// none: it rebuilds instead). Hints live in the engine's side table (RocksDB: the "hints"
// column family), so they survive a restart of the node that keeps them. Per target and key
// only the newest record is kept. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "diststore/storage/engine.h"
#include "diststore/storage/record.h"

namespace thrifty::storage {

struct Hint {
  std::string key;
  Record record;
  int64_t stored_ms = 0;  // wall clock when it was kept (for the hint window)
};

class HintStore {
 public:
  // `table` must outlive this object. Counts the hints already there (a scan).
  explicit HintStore(SideTable& table);

  // Keeps `record` of `key` for `target` (a host ID, no NUL byte) unless a hint at least as
  // new is kept for them. Throws StorageError.
  void add(const std::string& target, const std::string& key, const Record& record,
           int64_t now_ms);
  // Up to `max` hints for `target`, in key order. Throws StorageError.
  std::vector<Hint> peek(const std::string& target, size_t max);
  // Deletes the hints that were delivered, unless a newer one replaced them meanwhile.
  void remove(const std::string& target, const std::vector<Hint>& delivered);
  // Deletes every hint kept before `cutoff_ms`; returns how many.
  size_t drop_older_than(int64_t cutoff_ms);

  // Hints kept, per target host ID (targets with none are left out).
  std::map<std::string, int64_t> pending() const;
  int64_t total() const;

 private:
  static std::string TableKey(const std::string& target, std::string_view key);

  SideTable& table_;
  mutable std::mutex mu_;  // serializes read-compare-write of one hint and the counts
  std::map<std::string, int64_t> pending_;
};

}  // namespace thrifty::storage
