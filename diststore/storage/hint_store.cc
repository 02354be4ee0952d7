#include "diststore/storage/hint_store.h"

#include <cstring>

#include "diststore/storage/record_codec.h"
#include "diststore/storage/storage_error.h"

namespace thrifty::storage {

namespace {

// A hint's stored value: stored_ms (8 bytes, little endian), then the record_codec bytes.
std::string EncodeHint(const Record& record, int64_t stored_ms) {
  std::string out(8, '\0');
  uint64_t v = static_cast<uint64_t>(stored_ms);
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  out += EncodeRecord(RecordView(record));
  return out;
}

Hint DecodeHint(std::string_view key, std::string_view data) {
  if (data.size() < 8) throw StorageError("a stored hint is too short");
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(data[static_cast<size_t>(i)])) << (8 * i);
  Hint hint;
  hint.key = std::string(key);
  hint.stored_ms = static_cast<int64_t>(v);
  hint.record = DecodeStoredRecord(key, data.substr(8)).ToRecord();
  return hint;
}

}  // namespace

std::string HintStore::TableKey(const std::string& target, std::string_view key) {
  std::string out = target;
  out.push_back('\0');
  out.append(key.data(), key.size());
  return out;
}

HintStore::HintStore(SideTable& table) : table_(table) {
  table_.scan("", [this](std::string_view key, std::string_view) {
    const size_t nul = key.find('\0');
    if (nul != std::string_view::npos) ++pending_[std::string(key.substr(0, nul))];
    return true;
  });
}

void HintStore::add(const std::string& target, const std::string& key, const Record& record,
                    int64_t now_ms) {
  const std::string table_key = TableKey(target, key);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto held = table_.get(table_key)) {
    const Hint kept = DecodeHint(key, *held);
    if (!Supersedes(record, kept.record)) return;
  } else {
    ++pending_[target];
  }
  table_.put(table_key, EncodeHint(record, now_ms));
}

std::vector<Hint> HintStore::peek(const std::string& target, size_t max) {
  std::vector<Hint> out;
  const std::string prefix = TableKey(target, "");
  table_.scan(prefix, [&](std::string_view key, std::string_view value) {
    out.push_back(DecodeHint(key.substr(prefix.size()), value));
    return out.size() < max;
  });
  return out;
}

void HintStore::remove(const std::string& target, const std::vector<Hint>& delivered) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Hint& hint : delivered) {
    const std::string table_key = TableKey(target, hint.key);
    auto held = table_.get(table_key);
    if (!held) continue;
    if (DecodeHint(hint.key, *held).record.version != hint.record.version) continue;  // newer
    table_.erase(table_key);
    if (--pending_[target] <= 0) pending_.erase(target);
  }
}

size_t HintStore::drop_older_than(int64_t cutoff_ms) {
  std::vector<std::string> old;
  table_.scan("", [&](std::string_view key, std::string_view value) {
    const size_t nul = key.find('\0');
    if (nul != std::string_view::npos &&
        DecodeHint(key.substr(nul + 1), value).stored_ms < cutoff_ms) {
      old.emplace_back(key);
    }
    return true;
  });
  std::lock_guard<std::mutex> lock(mu_);
  size_t dropped = 0;
  for (const std::string& key : old) {
    const size_t nul = key.find('\0');
    auto held = table_.get(key);  // again, under the lock: it may have been replaced
    if (!held || DecodeHint(std::string_view(key).substr(nul + 1), *held).stored_ms >= cutoff_ms) {
      continue;
    }
    table_.erase(key);
    const std::string target = key.substr(0, nul);
    if (--pending_[target] <= 0) pending_.erase(target);
    ++dropped;
  }
  return dropped;
}

std::map<std::string, int64_t> HintStore::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_;
}

int64_t HintStore::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t sum = 0;
  for (const auto& [target, count] : pending_) sum += count;
  return sum;
}

}  // namespace thrifty::storage
