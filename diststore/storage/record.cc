#include "diststore/storage/record.h"

#include <stdexcept>

namespace thrifty::storage {

bool Supersedes(const RecordView& a, const RecordView& b) {
  if (a.version != b.version) return a.version > b.version;
  if (a.tombstone != b.tombstone) return a.tombstone;
  if (a.tombstone) return false;
  // string_view::compare goes through char_traits<char>, which compares as unsigned char:
  // the same order on every platform, whatever the signedness of char.
  return a.value.compare(b.value) > 0;
}

bool SameRecord(const RecordView& a, const RecordView& b) {
  return a.version == b.version && a.tombstone == b.tombstone &&
         (a.tombstone || a.value == b.value);
}

void CheckStorable(const RecordView& record) {
  if (record.version <= 0) {
    throw std::invalid_argument("record version must be > 0, got " +
                                std::to_string(record.version));
  }
}

}  // namespace thrifty::storage
