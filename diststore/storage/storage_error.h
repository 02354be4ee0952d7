// StorageError: the one exception the storage layer raises for trouble below it — an I/O
// failure reported by RocksDB, a database that cannot be opened, or a stored record that does
// not decode. Callers that answer requests turn it into a request error; it never means the
// caller passed bad arguments (those raise std::invalid_argument).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace thrifty::storage {

class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `key` made safe for an error message or a log line: printable ASCII is kept, any other byte
// becomes \xNN, and keys longer than 64 bytes are cut with "..." (keys are arbitrary bytes,
// and a message must stay one readable line).
std::string QuoteKey(std::string_view key);

}  // namespace thrifty::storage
