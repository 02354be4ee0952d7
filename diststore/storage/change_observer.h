// ChangeObserver: told of every change an engine's writes make to its records, so that a
// structure kept beside the data (the anti-entropy digests, range_digests.h) follows each write
// in O(1) instead of rescanning.
//
// The engine calls on_change for each change a write makes to a key (a batch that holds a key
// twice may report it once, or once per entry that won), with the record before and after
// (std::nullopt: absent), as part of the write: on the writing thread, while it holds the key's
// lock, so the calls of one key come in the order of its writes. Calls for
// different keys may come from many threads at once. on_change must be fast, must not throw
// and must not call back into the engine.
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
