// The part of memcached's text protocol that storebench speaks: `get` of one or more keys and
// `set`, the commands memcached's users send (memcached's doc/protocol.txt). Kept apart from
// the socket so it can be tested on bytes alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace thrifty::bench {

// Appends "get K1 K2 ...\r\n": one command for every key (memcached answers each hit with a
// VALUE block, in order, then one END).
void AppendMemcachedGet(const std::vector<std::string>& keys, std::string* out);
// Appends "set KEY 0 0 LEN\r\nVALUE\r\n" (flags 0, no expiry): memcached answers one line.
void AppendMemcachedSet(const std::string& key, const std::string& value, std::string* out);

// Reads the replies to what was sent: either one `get` (VALUE blocks up to END) or `n`
// pipelined `set`s (one line each). Bytes may arrive in any pieces; values are skipped without
// being buffered. A reply that is not memcached's text protocol throws std::runtime_error.
class MemcachedReplyReader {
 public:
  void expect_get();
  void expect_sets(size_t n);

  // Consumes what it can of data[0, size): whole lines, and any part of a value. Returns the
  // bytes consumed; the caller keeps the rest (an incomplete line) and adds more to it. Stops
  // at the end of the reply: what follows it is not consumed.
  size_t consume(const char* data, size_t size);
  bool done() const { return state_ == State::kIdle; }

  uint64_t values() const { return values_; }  // VALUE blocks of the last get
  uint64_t errors() const { return errors_; }  // ERROR, CLIENT_ERROR, SERVER_ERROR, NOT_STORED
  const std::string& first_error() const { return first_error_; }  // "" if none

  // Longest line accepted (VALUE lines and error messages are far shorter).
  static constexpr size_t kMaxLine = 8192;

 private:
  enum class State { kIdle, kGetLine, kValueData, kValueEnd, kSetLine };
  void error_line(const char* line, size_t len);

  State state_ = State::kIdle;
  size_t sets_left_ = 0;
  uint64_t data_left_ = 0;
  uint64_t values_ = 0;
  uint64_t errors_ = 0;
  std::string first_error_;
};

}  // namespace thrifty::bench
