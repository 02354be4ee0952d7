// Failpoints: faults a node injects into itself for the chaos harness (tests/chaos). Test-only.
//
// Off unless the process was started with the environment variable THRIFTY_FAILPOINTS=FILE:
// there is no flag, no RPC and nothing in --help that turns them on. Off, every hook below
// costs one branch on a static bool. On, a hook re-reads FILE when it changed (inode, size or
// mtime), looking at most every 100 ms, so the harness changes faults by rewriting the file
// (write a temporary file and rename it over FILE: a reader never sees half a file).
//
// FILE: one rule per line; blank lines and lines starting with '#' are ignored.
//   block HOST:PORT     this node neither sends to HOST:PORT nor takes gossip from it:
//                       ConnectionPool calls to it fail like calls to an unreachable peer
//                       (TTransportException NOT_OPEN, nothing sent), and gossip datagrams to
//                       and from that UDP endpoint are dropped. Incoming Thrift connections are
//                       not filtered (clients call from ephemeral ports): a partition between
//                       A and B is the symmetric pair of rules, one in each node's file.
//   clock_offset_ms N   N (may be negative) is added to the wall clock read by the hybrid
//                       logical clock (write versions) and by gossip (sent_ms and its checks).
//   hold_rebuild        a store node rebuilding its replicas (a new host ID) does not finish
//                       the rebuild while the rule is there (its repair runs still move data).
// A line that does not parse is logged and ignored; a missing or unreadable file means no
// rules; the last clock_offset_ms wins. HOST is compared as written (use the same literal
// address the nodes advertise, e.g. 127.0.0.1).
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <sys/types.h>

namespace thrifty::rpc::failpoints {

namespace internal {
// THRIFTY_FAILPOINTS was set when the process started.
extern const bool kEnabled;
bool BlockedSlow(const std::string& host, int port);
int64_t ClockOffsetSlow();
bool HoldRebuildSlow();
}  // namespace internal

// True in a process started with THRIFTY_FAILPOINTS.
inline bool Enabled() { return internal::kEnabled; }

// True when the current rules block traffic with HOST:PORT (both directions, see above).
inline bool Blocked(const std::string& host, int port) {
  return internal::kEnabled && internal::BlockedSlow(host, port);
}

// Milliseconds to add to this node's wall clock; 0 when off.
inline int64_t ClockOffsetMs() { return internal::kEnabled ? internal::ClockOffsetSlow() : 0; }

// True when the current rules hold a replica rebuild back (hold_rebuild).
inline bool HoldRebuild() { return internal::kEnabled && internal::HoldRebuildSlow(); }

struct Rules {
  std::set<std::string> blocked;  // "HOST:PORT"
  int64_t clock_offset_ms = 0;
  bool hold_rebuild = false;
};

// Parses FILE's text. Lines that do not parse are skipped and described in `errors`.
Rules Parse(const std::string& text, std::vector<std::string>* errors);

// One rules file, re-read when it changes (checked at most every `check_interval_ms`).
// Thread-safe. The process-wide instance reads THRIFTY_FAILPOINTS; tests make their own.
class RulesFile {
 public:
  explicit RulesFile(std::string path, int64_t check_interval_ms = 100);

  // The rules as of the last check (re-reading FILE first when it is due and changed).
  bool blocked(const std::string& host, int port);
  int64_t clock_offset_ms();
  bool hold_rebuild();

 private:
  void refresh_locked();

  const std::string path_;
  const int64_t check_interval_ms_;
  std::mutex mu_;
  bool checked_ = false;
  int64_t last_check_ms_ = 0;  // steady clock
  // What identifies the version of FILE that `rules_` came from.
  bool exists_ = false;
  ino_t inode_ = 0;
  off_t size_ = 0;
  int64_t mtime_ns_ = 0;
  Rules rules_;
};

}  // namespace thrifty::rpc::failpoints
