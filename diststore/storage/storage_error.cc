#include "diststore/storage/storage_error.h"

namespace thrifty::storage {

std::string QuoteKey(std::string_view key) {
  constexpr size_t kMaxShown = 64;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  const size_t shown = key.size() < kMaxShown ? key.size() : kMaxShown;
  for (size_t i = 0; i < shown; ++i) {
    const auto byte = static_cast<unsigned char>(key[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\' && byte != '\'') {
      out.push_back(static_cast<char>(byte));
    } else {
      out += "\\x";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  if (shown < key.size()) out += "...";
  out += "'";
  return out;
}

}  // namespace thrifty::storage
