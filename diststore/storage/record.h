// Record: one stored version of a key, and the newer-wins order that every replica applies
// the same way, so that replicas which saw the same writes in any order end up equal.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace thrifty::storage {

struct Record {
  std::string value;         // empty and ignored when tombstone is set
  int64_t version = 0;       // hybrid logical clock timestamp; > 0 for anything stored
  bool tombstone = false;    // a delete, kept so that it overrides older copies elsewhere
};

// A Record whose value is borrowed (from a Record, or from bytes read off disk); valid only as
// long as those bytes are. Lets engines compare and encode without copying values.
struct RecordView {
  std::string_view value;
  int64_t version = 0;
  bool tombstone = false;

  RecordView() = default;
  // Implicit, so that a Record goes wherever a view is wanted.
  RecordView(const Record& r)
      : value(r.value), version(r.version), tombstone(r.tombstone) {}
  RecordView(std::string_view v, int64_t ver, bool tomb)
      : value(v), version(ver), tombstone(tomb) {}

  Record ToRecord() const { return Record{std::string(value), version, tombstone}; }
};

// True if `a` must replace `b`: the higher version wins; at equal versions a tombstone beats a
// value, and between two values the byte-wise (unsigned) greater one wins. Two tombstones of
// one version are equal whatever their value fields hold. Equal records supersede neither
// way, which is what makes repeated delivery of a write harmless.
bool Supersedes(const RecordView& a, const RecordView& b);
inline bool Supersedes(const Record& a, const Record& b) {
  return Supersedes(RecordView(a), RecordView(b));
}

// Equality under the same rule: neither supersedes the other.
bool SameRecord(const RecordView& a, const RecordView& b);

// Throws std::invalid_argument unless `record` may be stored (version > 0). Engines call it
// on every write; a version of 0 means the caller forgot to stamp the record.
void CheckStorable(const RecordView& record);

}  // namespace thrifty::storage
