// ChangeObserver: told of every change an engine's writes make to its records, so that a
// structure kept beside the data (the anti-entropy digests, range_digests.h) follows each write
// in O(1) instead of rescanning.
//
// The engine calls on_change for each change a write makes to a key (a batch that holds a key
// twice may report it once, or once per entry that won), with the record before and after
// (std::nullopt: absent), as part of the write: on the thread that commits it (the memory
// engine: the writer's, under its lock; RocksDB: the leader of the write's group, which may be
// another caller's thread, before any caller of the group returns; writes of one key made
// together in a group may be reported as one change), and before any later write of the key
// is decided, so the calls of one key come in the order of its writes. Calls may come from
// different threads (an observer must not assume they never overlap). on_change must be fast, must not
// throw and must not call back into the engine.
#pragma once

#include <optional>
#include <string_view>

#include "diststore/storage/record.h"

namespace thrifty::storage {

class ChangeObserver {
 public:
  virtual ~ChangeObserver() = default;
  virtual void on_change(std::string_view key, const std::optional<RecordView>& before,
                         const std::optional<RecordView>& after) = 0;
};

}  // namespace thrifty::storage
