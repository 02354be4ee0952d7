// EtcdRegistration: one node's entry in etcd, kept there while the node runs.
//
// open() grants a lease of `ttl_s` seconds (throws EtcdError when etcd cannot be reached) and
// starts a keeper thread that renews it every third of its TTL. publish(key, value) puts the
// entry under the lease; from then on the keeper keeps it there:
//   - a failed renewal (etcd down, slow or refusing) is retried every second; failures are
//     logged at most once per 30 s with their count, and etcd's return once;
//   - a lease etcd no longer has (it expired while etcd was unreachable, or etcd lost its data)
//     is replaced: the keeper grants a new one and puts the entry again under it.
// Nothing waits on the keeper but close() (at most one call's timeout): it has its own thread.
//
// close() stops the keeper and revokes the lease, which deletes the entry (and every other key
// put under the lease) at once. abandon() only stops the keeper: the entry expires with the
// lease, as after a crash. The destructor abandons. Every method is thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "locator/discovery/etcd_client.h"

namespace thrifty::discovery {

class EtcdRegistration {
 public:
  EtcdRegistration(EtcdClient client, int64_t ttl_s);
  ~EtcdRegistration();
  EtcdRegistration(const EtcdRegistration&) = delete;
  EtcdRegistration& operator=(const EtcdRegistration&) = delete;

  // Grants the lease and starts the keeper. Throws EtcdError if the grant fails.
  void open();
  // The lease now (0 before open(), after close(), or while the keeper replaces a lost one).
  int64_t lease() const;
  // Puts key=value under the lease, now. Returns false if that failed (logged): the keeper puts
  // it on its next round.
  bool publish(const std::string& key, const std::string& value);
  void close();
  void abandon();

  // keepalives (renewals that succeeded), keepalive_failures (failed calls of the keeper),
  // re_registrations (leases granted again after etcd lost one).
  std::map<std::string, int64_t> stats() const;

 private:
  void run();
  // One round of the keeper: renew the lease, replace it if lost, put the entry if due.
  // Returns false if a call failed.
  bool keep();
  void note_failure(const std::string& why);
  void stop_keeper();

  const EtcdClient client_;
  const int64_t requested_ttl_s_;

  mutable std::mutex mu_;  // the fields below
  std::condition_variable wake_;
  int64_t lease_ = 0;
  std::chrono::milliseconds interval_{1000};
  std::string key_, value_;
  bool published_ = false;
  bool stopping_ = false;
  int64_t keepalives_ = 0, failures_ = 0, re_registrations_ = 0;
  int64_t failures_in_a_row_ = 0;
  std::chrono::steady_clock::time_point last_failure_log_{};

  std::mutex calls_mu_;  // one etcd call sequence at a time: the keeper's round, or publish()
  std::thread keeper_;
};

}  // namespace thrifty::discovery
