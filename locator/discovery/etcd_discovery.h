// EtcdDiscovery: a node finds its cluster in etcd and registers itself there (--discovery
// etcd://HOST:PORT/PREFIX; see discovery_url.h for the keys).
//
// A node's start, as LocatorNode runs it:
//   1. begin(): grant a lease (etcd unreachable: std::runtime_error naming etcd's address),
//      take the start lock (etcd_start_lock.h; waits while another node joins), and list the
//      nodes registered under the prefix: the seeds to join through, in key order, without
//      this node and without nodes of another service type.
//   2. The node joins through the first seed that admits it, or starts a new cluster.
//   3. registered(): once it serves, put its entry (member_record.h) under the lease and
//      release the start lock; the lease is kept alive in the background from then on
//      (etcd_registration.h: failures logged and retried, a lost lease replaced).
// withdraw() (a clean leave) revokes the lease: the entry goes at once. abandon() (a stop
// without leaving, and the destructor) only stops the keeper: the entry expires with the
// lease, ttl_s after its last renewal, as after a crash. Both may come from another thread
// than begin(), once begin() returned.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "locator/discovery/discovery_url.h"
#include "locator/discovery/etcd_client.h"
#include "locator/discovery/etcd_registration.h"
#include "locator/discovery/etcd_start_lock.h"
#include "locator/discovery/member_record.h"

namespace thrifty::discovery {

struct EtcdDiscoveryOptions {
  DiscoveryUrl url;
  // The lease: a crashed node's entry is gone this long after its last renewal (renewals come
  // every third of it). etcd raises a TTL below its minimum (2 s with its default timing).
  int ttl_s = 10;
  // Each call to etcd, from connect to the last byte of the answer.
  int call_timeout_ms = 2000;
  // How long begin() waits for another node's start lock before it goes on without it.
  int lock_wait_ms = 30000;

  // Empty when usable, else what is wrong (naming the flag).
  std::string validate() const;
};

class EtcdDiscovery {
 public:
  // Does no I/O: begin() is the first call to etcd.
  explicit EtcdDiscovery(EtcdDiscoveryOptions options);
  ~EtcdDiscovery();  // abandon()
  EtcdDiscovery(const EtcdDiscovery&) = delete;
  EtcdDiscovery& operator=(const EtcdDiscovery&) = delete;

  // Steps 1 and 3 above, for the node `self` (its advertised address and service type). begin()
  // throws std::runtime_error (naming the URL and etcd's address) when etcd fails; registered()
  // never throws (a failed put is retried by the keeper). Called once each, by one thread.
  std::vector<MemberRecord> begin(MemberRecord self);
  void registered();
  // Idempotent; never throw.
  void withdraw();
  void abandon();

  // "etcd://HOST:PORT/PREFIX".
  std::string url() const { return options_.url.ToString(); }
  // The key of this node's entry (after begin()).
  std::string key() const { return options_.url.members_prefix() + self_.name(); }
  // Thread-safe, at any time.
  std::map<std::string, int64_t> stats() const { return registration_.stats(); }

 private:
  const EtcdDiscoveryOptions options_;
  MemberRecord self_;  // set by begin()
  const EtcdClient client_;
  EtcdRegistration registration_;
  std::unique_ptr<EtcdStartLock> lock_;  // made by begin(), with this node's name
};

}  // namespace thrifty::discovery
