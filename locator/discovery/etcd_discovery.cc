#include "locator/discovery/etcd_discovery.h"

#include <stdexcept>

#include <glog/logging.h>

namespace thrifty::discovery {

std::string EtcdDiscoveryOptions::validate() const {
  if (ttl_s < 2 || ttl_s > 3600) return "--discovery-ttl-s must be in 2..3600";
  if (call_timeout_ms < 1) return "etcd call timeout must be >= 1 ms";
  if (lock_wait_ms < 0) return "etcd start lock wait must be >= 0 ms";
  return "";
}

EtcdDiscovery::EtcdDiscovery(EtcdDiscoveryOptions options)
    : options_(std::move(options)),
      client_(options_.url.host, options_.url.port, options_.call_timeout_ms),
      registration_(client_, options_.ttl_s) {}

EtcdDiscovery::~EtcdDiscovery() { abandon(); }

std::vector<MemberRecord> EtcdDiscovery::begin(MemberRecord self) {
  self_ = std::move(self);
  lock_ = std::make_unique<EtcdStartLock>(client_, options_.url.lock_key(), self_.name());
  std::vector<EtcdKeyValue> listed;
  try {
    registration_.open();
    if (!lock_->acquire(registration_.lease(), options_.lock_wait_ms)) {
      LOG(WARNING) << "etcd discovery: " << options_.url.lock_key() << " is still held by '"
                   << lock_->holder_now() << "' after " << options_.lock_wait_ms
                   << " ms; going on without it";
    }
    listed = client_.range_prefix(options_.url.members_prefix());
  } catch (const EtcdError& e) {
    abandon();
    throw std::runtime_error("discovery through " + url() + " failed: " + e.what());
  }
  std::vector<MemberRecord> seeds;
  for (const EtcdKeyValue& kv : listed) {
    const auto record = DecodeMemberRecord(kv.value);
    if (!record) {
      LOG(WARNING) << "etcd discovery: ignoring " << kv.key << ": its value is not a member record";
      continue;
    }
    if (record->name() == self_.name()) continue;  // this node's entry from before a crash
    if (record->service_type != self_.service_type) {
      LOG(WARNING) << "etcd discovery: ignoring " << kv.key << ": it serves '"
                   << record->service_type << "', this node '" << self_.service_type << "'";
      continue;
    }
    seeds.push_back(*record);
  }
  LOG(INFO) << "etcd discovery: " << seeds.size() << " node(s) registered in " << url();
  return seeds;
}

void EtcdDiscovery::registered() {
  if (registration_.publish(key(), EncodeMemberRecord(self_))) {
    LOG(INFO) << "etcd discovery: registered " << key() << " (lease of " << options_.ttl_s
              << " s, kept alive)";
  }
  if (lock_) lock_->release();
}

void EtcdDiscovery::withdraw() {
  if (lock_) lock_->release();
  registration_.close();
}

void EtcdDiscovery::abandon() {
  if (lock_) lock_->release();
  registration_.abandon();
}

}  // namespace thrifty::discovery
