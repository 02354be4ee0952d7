// The deterministic dataset storeprimer writes and storetest checks.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace thrifty::cli {

// Key i of the dataset: PREFIX + zero-padded i.
inline std::string DatasetKey(const std::string& prefix, uint64_t i) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%010llu", static_cast<unsigned long long>(i));
  return prefix + digits;
}

// Value of key i: `bytes` bytes that depend on i (a cheap xorshift stream of printable bytes),
// so a value returned for the wrong key is caught.
inline std::string DatasetValue(uint64_t i, size_t bytes) {
  std::string value(bytes, '\0');
  uint64_t x = i * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  for (size_t j = 0; j < bytes; ++j) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    value[j] = static_cast<char>('!' + (x % 94));
  }
  return value;
}

// A one-line progress bar on stderr, only when stderr is a terminal.
class Progress {
 public:
  Progress(const char* what, uint64_t total);
  void update(uint64_t done);
  void finish();

 private:
  const char* what_;
  uint64_t total_;
  bool tty_;
  int last_percent_ = -1;
};

}  // namespace thrifty::cli
