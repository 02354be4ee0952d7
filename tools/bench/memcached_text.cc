#include "tools/bench/memcached_text.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace thrifty::bench {

void AppendMemcachedGet(const std::vector<std::string>& keys, std::string* out) {
  out->append("get");
  for (const auto& key : keys) {
    out->push_back(' ');
    out->append(key);
  }
  out->append("\r\n");
}

void AppendMemcachedSet(const std::string& key, const std::string& value, std::string* out) {
  char size[24];
  const auto [end, ec] = std::to_chars(size, size + sizeof size, value.size());
  (void)ec;  // 24 digits hold any size_t
  out->append("set ");
  out->append(key);
  out->append(" 0 0 ");
  out->append(size, static_cast<size_t>(end - size));
  out->append("\r\n");
  out->append(value);
  out->append("\r\n");
}

void MemcachedReplyReader::expect_get() {
  state_ = State::kGetLine;
  values_ = 0;
  errors_ = 0;
}

void MemcachedReplyReader::expect_sets(size_t n) {
  state_ = n > 0 ? State::kSetLine : State::kIdle;
  sets_left_ = n;
  values_ = 0;
  errors_ = 0;
}

namespace {

bool StartsWith(std::string_view line, std::string_view prefix) {
  return line.substr(0, prefix.size()) == prefix;
}

bool IsErrorLine(std::string_view line) {
  return line == "ERROR" || StartsWith(line, "ERROR ") || StartsWith(line, "CLIENT_ERROR") ||
         StartsWith(line, "SERVER_ERROR");
}

std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (text.size() > 80) out += "...";
  return out;
}

// The byte count of "VALUE <key> <flags> <bytes> [<cas>]".
uint64_t ValueBytes(std::string_view line) {
  std::string_view rest = line.substr(6);  // after "VALUE "
  std::string_view fields[4];
  size_t n = 0;
  while (!rest.empty() && n < 4) {
    const size_t space = rest.find(' ');
    fields[n++] = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  }
  uint64_t bytes = 0;
  if (n >= 3 && !fields[0].empty()) {
    const auto [end, ec] = std::from_chars(fields[2].data(), fields[2].data() + fields[2].size(), bytes);
    if (ec == std::errc() && end == fields[2].data() + fields[2].size() && !fields[2].empty()) return bytes;
  }
  throw std::runtime_error("malformed VALUE line from memcached: '" + Printable(line) + "'");
}

}  // namespace

void MemcachedReplyReader::error_line(const char* line, size_t len) {
  ++errors_;
  if (first_error_.empty()) first_error_ = Printable(std::string_view(line, len));
}

size_t MemcachedReplyReader::consume(const char* data, size_t size) {
  size_t pos = 0;
  while (state_ != State::kIdle) {
    if (state_ == State::kValueData) {
      const uint64_t take = std::min<uint64_t>(data_left_, size - pos);
      pos += static_cast<size_t>(take);
      data_left_ -= take;
      if (data_left_ > 0) return pos;
      state_ = State::kValueEnd;
      continue;
    }
    if (state_ == State::kValueEnd) {
      if (size - pos < 2) return pos;
      if (data[pos] != '\r' || data[pos + 1] != '\n') {
        throw std::runtime_error("a value from memcached does not end with \\r\\n where its VALUE line said");
      }
      pos += 2;
      state_ = State::kGetLine;
      continue;
    }
    // A line: kGetLine or kSetLine.
    const char* start = data + pos;
    const void* found = std::memchr(start, '\n', size - pos);
    if (found == nullptr) {
      if (size - pos > kMaxLine) {
        throw std::runtime_error("a line of more than " + std::to_string(kMaxLine) + " bytes from memcached: '" +
                                 Printable(std::string_view(start, size - pos)) + "'");
      }
      return pos;
    }
    const char* nl = static_cast<const char*>(found);
    if (nl == start || nl[-1] != '\r') {
      throw std::runtime_error("a line from memcached does not end with \\r\\n: '" +
                               Printable(std::string_view(start, static_cast<size_t>(nl - start))) + "'");
    }
    const std::string_view line(start, static_cast<size_t>(nl - start) - 1);
    pos = static_cast<size_t>(nl - data) + 1;
    if (state_ == State::kGetLine) {
      if (line == "END") {
        state_ = State::kIdle;
      } else if (StartsWith(line, "VALUE ")) {
        data_left_ = ValueBytes(line);
        ++values_;
        state_ = data_left_ > 0 ? State::kValueData : State::kValueEnd;
      } else if (IsErrorLine(line)) {  // an error ends the reply to a get
        error_line(line.data(), line.size());
        state_ = State::kIdle;
      } else {
        throw std::runtime_error("unexpected reply to get from memcached: '" + Printable(line) + "'");
      }
    } else {
      if (line == "STORED") {
        // the one good answer
      } else if (line == "NOT_STORED" || line == "EXISTS" || line == "NOT_FOUND" || IsErrorLine(line)) {
        error_line(line.data(), line.size());
      } else {
        throw std::runtime_error("unexpected reply to set from memcached: '" + Printable(line) + "'");
      }
      if (--sets_left_ == 0) state_ = State::kIdle;
    }
  }
  return pos;
}

}  // namespace thrifty::bench
