#include "locator/rpc/failpoints.h"

#include <glog/logging.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace thrifty::rpc::failpoints {

namespace internal {

const bool kEnabled = std::getenv("THRIFTY_FAILPOINTS") != nullptr;

namespace {
RulesFile& Global() {
  // Leaked: hooks may run on threads that outlive static destruction.
  static RulesFile* file = [] {
    const char* path = std::getenv("THRIFTY_FAILPOINTS");
    LOG(WARNING) << "failpoints enabled (test only): rules from " << (path ? path : "");
    return new RulesFile(path ? path : "");
  }();
  return *file;
}
}  // namespace

bool BlockedSlow(const std::string& host, int port) { return Global().blocked(host, port); }
int64_t ClockOffsetSlow() { return Global().clock_offset_ms(); }
bool HoldRebuildSlow() { return Global().hold_rebuild(); }

}  // namespace internal

Rules Parse(const std::string& text, std::vector<std::string>* errors) {
  Rules rules;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    std::istringstream words(line);
    std::string verb, arg, extra;
    if (!(words >> verb) || verb[0] == '#') continue;
    const bool one_arg = static_cast<bool>(words >> arg) && !(words >> extra);
    bool ok = false;
    if (verb == "hold_rebuild") {
      ok = arg.empty();
      if (ok) rules.hold_rebuild = true;
    } else if (one_arg && verb == "block") {
      const auto colon = arg.rfind(':');
      ok = colon != std::string::npos && colon > 0 && colon + 1 < arg.size() &&
           arg.find_first_not_of("0123456789", colon + 1) == std::string::npos;
      if (ok) rules.blocked.insert(arg);
    } else if (one_arg && verb == "clock_offset_ms") {
      char* end = nullptr;
      const long long value = std::strtoll(arg.c_str(), &end, 10);
      ok = end != arg.c_str() && *end == '\0';
      if (ok) rules.clock_offset_ms = value;
    }
    if (!ok && errors) errors->push_back("line " + std::to_string(number) + ": '" + line + "'");
  }
  return rules;
}

RulesFile::RulesFile(std::string path, int64_t check_interval_ms)
    : path_(std::move(path)), check_interval_ms_(check_interval_ms) {}

bool RulesFile::blocked(const std::string& host, int port) {
  std::lock_guard<std::mutex> lock(mu_);
  refresh_locked();
  return !rules_.blocked.empty() && rules_.blocked.count(host + ":" + std::to_string(port)) > 0;
}

int64_t RulesFile::clock_offset_ms() {
  std::lock_guard<std::mutex> lock(mu_);
  refresh_locked();
  return rules_.clock_offset_ms;
}

bool RulesFile::hold_rebuild() {
  std::lock_guard<std::mutex> lock(mu_);
  refresh_locked();
  return rules_.hold_rebuild;
}

void RulesFile::refresh_locked() {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  if (checked_ && now - last_check_ms_ < check_interval_ms_) return;
  checked_ = true;
  last_check_ms_ = now;
  struct stat st {};
  const bool exists = ::stat(path_.c_str(), &st) == 0;
  const int64_t mtime_ns = exists ? int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec : 0;
  if (exists == exists_ && (!exists || (st.st_ino == inode_ && st.st_size == size_ &&
                                        mtime_ns == mtime_ns_))) {
    return;
  }
  exists_ = exists;
  inode_ = exists ? st.st_ino : 0;
  size_ = exists ? st.st_size : 0;
  mtime_ns_ = mtime_ns;
  std::string text;
  if (exists) {
    std::ifstream in(path_);
    std::ostringstream all;
    all << in.rdbuf();
    text = all.str();
  }
  std::vector<std::string> errors;
  rules_ = Parse(text, &errors);
  for (const auto& e : errors) LOG(WARNING) << "failpoints: " << path_ << ": ignored " << e;
  LOG(INFO) << "failpoints: " << rules_.blocked.size() << " blocked peer(s), clock offset "
            << rules_.clock_offset_ms << " ms" << (rules_.hold_rebuild ? ", rebuild held" : "");
}

}  // namespace thrifty::rpc::failpoints
