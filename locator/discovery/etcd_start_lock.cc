#include "locator/discovery/etcd_start_lock.h"

#include <chrono>
#include <thread>

#include <glog/logging.h>

namespace thrifty::discovery {

EtcdStartLock::EtcdStartLock(const EtcdClient& client, std::string key, std::string holder)
    : client_(client), key_(std::move(key)), holder_(std::move(holder)) {}

bool EtcdStartLock::acquire(int64_t lease, int wait_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  bool told = false;
  while (true) {
    if (client_.create_if_absent(key_, holder_, lease)) {
      held_ = true;
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (!told) {
      LOG(INFO) << "etcd discovery: waiting for " << key_ << " (another node is joining)";
      told = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void EtcdStartLock::release() {
  if (!held_.exchange(false)) return;
  try {
    client_.delete_if_value(key_, holder_);
  } catch (const EtcdError& e) {
    LOG(WARNING) << "etcd discovery: could not release " << key_
                 << " (it goes with this node's lease): " << e.what();
  }
}

std::string EtcdStartLock::holder_now() const {
  for (const EtcdKeyValue& kv : client_.range_prefix(key_)) {
    if (kv.key == key_) return kv.value;
  }
  return "";
}

}  // namespace thrifty::discovery
