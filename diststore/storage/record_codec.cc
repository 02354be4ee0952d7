#include "diststore/storage/record_codec.h"

#include "diststore/storage/storage_error.h"

namespace thrifty::storage {
namespace {

constexpr uint8_t kTombstoneFlag = 0x01;

void PutFixed64(std::string* out, uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out->append(buf, sizeof(buf));
}

uint64_t GetFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

bool Fail(std::string* why, const char* reason) {
  if (why != nullptr) *why = reason;
  return false;
}

}  // namespace

std::string EncodeRecord(const RecordView& record) {
  std::string out;
  out.reserve(kRecordHeaderSize + (record.tombstone ? 0 : record.value.size()));
  out.push_back(static_cast<char>(kRecordFormatVersion));
  out.push_back(static_cast<char>(record.tombstone ? kTombstoneFlag : 0));
  PutFixed64(&out, static_cast<uint64_t>(record.version));
  if (!record.tombstone) out.append(record.value);
  return out;
}

bool DecodeRecord(std::string_view data, RecordView* out, std::string* why) {
  if (data.size() < kRecordHeaderSize) return Fail(why, "shorter than the record header");
  if (static_cast<uint8_t>(data[0]) != kRecordFormatVersion) {
    return Fail(why, "unknown record format version");
  }
  const auto flags = static_cast<uint8_t>(data[1]);
  if ((flags & ~kTombstoneFlag) != 0) return Fail(why, "unknown record flags");
  const auto version = static_cast<int64_t>(GetFixed64(data.data() + 2));
  if (version <= 0) return Fail(why, "record version is not positive");
  const bool tombstone = (flags & kTombstoneFlag) != 0;
  std::string_view value = data.substr(kRecordHeaderSize);
  if (tombstone && !value.empty()) return Fail(why, "tombstone carries a value");
  out->value = value;
  out->version = version;
  out->tombstone = tombstone;
  return true;
}

RecordView DecodeStoredRecord(std::string_view key, std::string_view data) {
  RecordView view;
  std::string why;
  if (!DecodeRecord(data, &view, &why)) {
    throw StorageError("corrupt record for key " + QuoteKey(key) + ": " + why + " (" +
                       std::to_string(data.size()) + " bytes)");
  }
  return view;
}

}  // namespace thrifty::storage
