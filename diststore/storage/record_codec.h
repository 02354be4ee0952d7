// The on-disk form of a Record (the RocksDB value; the key is stored as it is):
//
//   byte 0      format version (kRecordFormatVersion)
//   byte 1      flags: bit 0 = tombstone; other bits must be 0
//   bytes 2-9   version, int64 little endian
//   bytes 10-   value bytes (none for a tombstone)
//
// The format byte lets a later release change the layout and still read old data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "diststore/storage/record.h"

namespace thrifty::storage {

inline constexpr uint8_t kRecordFormatVersion = 1;
inline constexpr size_t kRecordHeaderSize = 10;

// Returns the encoded form of `record`. A tombstone is written without its value.
std::string EncodeRecord(const RecordView& record);

// Decodes `data` into *out, whose value then points into `data`. Returns false, with the reason in *why (if not null), when `data`
// is shorter than the header, has an unknown format version, unknown flag bits, a version
// that is not > 0, or a tombstone that carries value bytes.
bool DecodeRecord(std::string_view data, RecordView* out, std::string* why);

// Decodes the stored value of `key`. Throws StorageError naming the key and the reason if the
// bytes are not a valid record.
RecordView DecodeStoredRecord(std::string_view key, std::string_view data);

}  // namespace thrifty::storage
