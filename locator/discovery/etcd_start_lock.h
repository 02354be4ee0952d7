// EtcdStartLock: one node of a prefix at a time lists the registered members and joins, so
// nodes started together join one cluster instead of each starting its own.
//
// The lock is one key (DiscoveryUrl::lock_key()) that holds its holder's name, created only if
// absent and attached to the holder's lease: a holder that dies releases it when its lease
// expires. Waiters poll; nothing here blocks longer than the wait it is given plus one call.
// acquire() is for one thread; release() and held() may be called from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "locator/discovery/etcd_client.h"

namespace thrifty::discovery {

class EtcdStartLock {
 public:
  // `holder`: this node's name, unique among the nodes that share the lock.
  EtcdStartLock(const EtcdClient& client, std::string key, std::string holder);

  // Takes the lock under `lease`, polling every 100 ms while another node holds it, for at most
  // `wait_ms`. True once taken; false if it was still held then. Throws EtcdError if etcd fails.
  bool acquire(int64_t lease, int wait_ms);
  // Releases the lock if this holder holds it. Never throws: a failure is logged (the lock goes
  // with the lease anyway).
  void release();
  bool held() const { return held_.load(); }
  // The name in the lock key now ("" if free). Throws EtcdError if etcd fails.
  std::string holder_now() const;

 private:
  const EtcdClient& client_;
  const std::string key_;
  const std::string holder_;
  std::atomic<bool> held_{false};
};

}  // namespace thrifty::discovery
