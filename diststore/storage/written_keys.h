// WrittenKeys: the keys an engine that opened empty has written since, as a Bloom filter.
//
// Why: a record for a key that has no record cannot lose, and the record it replaces is
// "none". An engine that opened with no records and has never written a key knows both
// without reading it; a joining node's handoff (every key new to it) is written unread, and
// the change observer (the anti-entropy digests) is told "no previous record", exactly.
//
// Contract: maybe_written(key) is false only if add(key) was never called (no false
// negatives); it is true for about 1% of other keys while at most `capacity` keys were added
// (10 bits and 7 probes per key, in one 512-bit block). Past `capacity` adds the filter
// switches itself off for good (frees its bits) and answers true for every key: the engine
// then reads as it would without it. A filter built with capacity 0 is off from the start; stop() turns it off.
//
// Not thread-safe: the RocksDB engine's committer owns it (one group at a time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace thrifty::storage {

class WrittenKeys {
 public:
  explicit WrittenKeys(size_t capacity);

  bool active() const { return !bits_.empty(); }
  // False: `key` was never added. True: it may have been (always, once off).
  bool maybe_written(std::string_view key) const;
  // Notes `key` as written; the capacity+1-th add switches the filter off.
  void add(std::string_view key);
  // Switches the filter off for good (frees its bits): every key "maybe" written from now.
  void stop() { std::vector<uint64_t>().swap(bits_); }

 private:
  template <typename Visit>
  bool probe(std::string_view key, Visit&& visit) const;

  std::vector<uint64_t> bits_;
  size_t added_ = 0;
  size_t capacity_;
};

}  // namespace thrifty::storage
