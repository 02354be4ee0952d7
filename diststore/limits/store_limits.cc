#include "diststore/limits/store_limits.h"

namespace thrifty::diststore {

void ThrowStoreError(const std::string& message) {
  wire::StoreError error;
  error.message = message;
  throw error;
}

std::exception_ptr StoreErrorOf(const std::string& message) {
  wire::StoreError error;
  error.message = message;
  return std::make_exception_ptr(error);
}

namespace {
std::string Shown(const std::string& key) {
  if (key.size() <= 40) return "'" + key + "'";
  return "'" + key.substr(0, 40) + "...'";
}
}  // namespace

void CheckKey(const StoreLimits& limits, const std::string& key) {
  if (key.empty()) ThrowStoreError("empty key: keys must have at least one byte");
  if (static_cast<int64_t>(key.size()) > limits.max_key_bytes) {
    ThrowStoreError("key of " + std::to_string(key.size()) + " bytes exceeds the limit of " +
                    std::to_string(limits.max_key_bytes) + " bytes (--max-key-bytes); nothing stored");
  }
}

void CheckValue(const StoreLimits& limits, const std::string& key, const std::string& value) {
  if (static_cast<int64_t>(value.size()) > limits.max_value_bytes) {
    ThrowStoreError("value of " + std::to_string(value.size()) + " bytes for key " + Shown(key) +
                    " exceeds the limit of " + std::to_string(limits.max_value_bytes) +
                    " bytes (--max-value-bytes); nothing stored");
  }
}

void CheckBatch(const StoreLimits& limits, size_t entries) {
  if (static_cast<int64_t>(entries) > limits.max_batch_entries) {
    ThrowStoreError("batch of " + std::to_string(entries) + " entries exceeds the limit of " +
                    std::to_string(limits.max_batch_entries) + "; nothing stored");
  }
}

void ExportLimits(const StoreLimits& limits, std::map<std::string, int64_t>* stats) {
  (*stats)["max_key_bytes"] = limits.max_key_bytes;
  (*stats)["max_value_bytes"] = limits.max_value_bytes;
  (*stats)["max_batch_entries"] = limits.max_batch_entries;
}

StoreLimits ImportLimits(const std::map<std::string, int64_t>& stats) {
  StoreLimits limits;
  if (auto it = stats.find("max_key_bytes"); it != stats.end()) limits.max_key_bytes = it->second;
  if (auto it = stats.find("max_value_bytes"); it != stats.end()) limits.max_value_bytes = it->second;
  if (auto it = stats.find("max_batch_entries"); it != stats.end()) {
    limits.max_batch_entries = it->second;
  }
  return limits;
}

}  // namespace thrifty::diststore
