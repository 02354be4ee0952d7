#include "locator/discovery/etcd_registration.h"

#include <algorithm>

#include <glog/logging.h>

namespace thrifty::discovery {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kRetryInterval{1000};
constexpr std::chrono::seconds kFailureLogInterval{30};

std::chrono::milliseconds RenewInterval(int64_t ttl_s) {
  return std::max(std::chrono::milliseconds(500), std::chrono::milliseconds(ttl_s * 1000 / 3));
}

}  // namespace

EtcdRegistration::EtcdRegistration(EtcdClient client, int64_t ttl_s)
    : client_(std::move(client)), requested_ttl_s_(ttl_s) {}

EtcdRegistration::~EtcdRegistration() { abandon(); }

void EtcdRegistration::open() {
  const EtcdLease lease = client_.grant(requested_ttl_s_);
  std::lock_guard<std::mutex> lock(mu_);
  lease_ = lease.id;
  interval_ = RenewInterval(lease.ttl_s > 0 ? lease.ttl_s : requested_ttl_s_);
  VLOG(1) << "etcd lease " << lease.id << " of " << lease.ttl_s << " s";
  if (!keeper_.joinable() && !stopping_) keeper_ = std::thread([this] { run(); });
}

int64_t EtcdRegistration::lease() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lease_;
}

bool EtcdRegistration::publish(const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> calls(calls_mu_);
  int64_t lease;
  {
    std::lock_guard<std::mutex> lock(mu_);
    key_ = key;
    value_ = value;
    published_ = false;
    lease = lease_;
  }
  if (lease == 0) return false;  // the keeper grants one and puts the entry
  try {
    client_.put(key, value, lease);
  } catch (const EtcdError& e) {
    LOG(WARNING) << "etcd discovery: could not register " << key << " (retrying): " << e.what();
    std::lock_guard<std::mutex> lock(mu_);
    if (e.not_found() && lease_ == lease) lease_ = 0;
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  published_ = lease_ == lease;
  return published_;
}

void EtcdRegistration::stop_keeper() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (keeper_.joinable()) keeper_.join();
}

void EtcdRegistration::close() {
  stop_keeper();
  int64_t lease;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lease = lease_;
    lease_ = 0;
  }
  if (lease == 0) return;
  try {
    client_.revoke(lease);
  } catch (const EtcdError& e) {
    LOG(WARNING) << "etcd discovery: could not revoke the lease (the entry expires with it): "
                 << e.what();
  }
}

void EtcdRegistration::abandon() { stop_keeper(); }

std::map<std::string, int64_t> EtcdRegistration::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {{"discovery_keepalives", keepalives_},
          {"discovery_keepalive_failures", failures_},
          {"discovery_re_registrations", re_registrations_}};
}

void EtcdRegistration::run() {
  std::unique_lock<std::mutex> lock(mu_);
  auto next = Clock::now() + interval_;
  while (true) {
    wake_.wait_until(lock, next, [&] { return stopping_; });
    if (stopping_) return;
    lock.unlock();
    const bool ok = keep();
    lock.lock();
    next = Clock::now() + (ok ? interval_ : std::min(interval_, kRetryInterval));
  }
}

bool EtcdRegistration::keep() {
  std::lock_guard<std::mutex> calls(calls_mu_);
  int64_t lease;
  std::string key, value;
  bool published;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lease = lease_;
    key = key_;
    value = value_;
    published = published_;
  }
  try {
    if (lease != 0) {
      const int64_t ttl = client_.keep_alive(lease);
      std::lock_guard<std::mutex> lock(mu_);
      if (ttl > 0) {
        ++keepalives_;
      } else {
        LOG(WARNING) << "etcd discovery: etcd at " << client_.address() << " no longer has lease "
                     << lease << " (it expired or etcd lost it); registering again";
        lease = lease_ = 0;
        published = published_ = false;
      }
    }
    if (lease == 0) {
      const EtcdLease granted = client_.grant(requested_ttl_s_);
      std::lock_guard<std::mutex> lock(mu_);
      lease = lease_ = granted.id;
      interval_ = RenewInterval(granted.ttl_s > 0 ? granted.ttl_s : requested_ttl_s_);
      ++re_registrations_;
    }
    if (!published && !key.empty()) {
      client_.put(key, value, lease);
      std::lock_guard<std::mutex> lock(mu_);
      published_ = lease_ == lease && key_ == key;
      LOG(INFO) << "etcd discovery: registered " << key << " in etcd at " << client_.address();
    }
  } catch (const EtcdError& e) {
    if (e.not_found()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (lease_ == lease) lease_ = 0;  // the put found the lease gone: a new one next round
    }
    note_failure(e.what());
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (failures_in_a_row_ > 0) {
    LOG(INFO) << "etcd discovery: etcd at " << client_.address() << " answers again (after "
              << failures_in_a_row_ << " failed calls)";
    failures_in_a_row_ = 0;
  }
  return true;
}

void EtcdRegistration::note_failure(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  ++failures_;
  ++failures_in_a_row_;
  const auto now = Clock::now();
  if (failures_in_a_row_ == 1 || now - last_failure_log_ >= kFailureLogInterval) {
    last_failure_log_ = now;
    LOG(WARNING) << "etcd discovery: keeping the registration alive failed ("
                 << failures_in_a_row_ << " in a row; retrying every "
                 << std::min(interval_, kRetryInterval).count() << " ms): " << why;
  }
}

}  // namespace thrifty::discovery
