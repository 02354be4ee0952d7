#include "locator/service/snapshot_publisher.h"

#include <glog/logging.h>

namespace thrifty::locator {

SnapshotPublisher::SnapshotPublisher(membership::MemberTable& table, std::string self_name,
                                     std::string placement)
    : table_(table), self_name_(std::move(self_name)), placement_(std::move(placement)) {
  publish();
  thread_ = std::thread([this] { loop(); });
}

SnapshotPublisher::~SnapshotPublisher() { stop(); }

std::shared_ptr<const ClusterSnapshot> SnapshotPublisher::current() const {
  std::lock_guard<std::mutex> lock(current_mu_);
  return current_;
}

void SnapshotPublisher::add_listener(Listener listener) {
  std::lock_guard<std::mutex> lock(publish_mu_);
  listeners_.push_back(std::move(listener));
}

void SnapshotPublisher::publish() {
  std::lock_guard<std::mutex> lock(publish_mu_);
  auto [generation, members] = table_.versioned();
  const auto before = current();
  if (before && before->generation() >= generation) return;  // a newer one is out already
  auto after = ClusterSnapshot::Build(generation, std::move(members), self_name_, placement_,
                                      before);
  {
    std::lock_guard<std::mutex> current_lock(current_mu_);
    current_ = after;
  }
  if (!before || !after->placement_differs(*before)) return;
  LOG(INFO) << "ring: " << after->ring()->size() << " nodes (generation " << generation << ")";
  for (const auto& listener : listeners_) listener(before, after);
}

void SnapshotPublisher::request() {
  {
    std::lock_guard<std::mutex> lock(thread_mu_);
    requested_ = true;
  }
  thread_cv_.notify_one();
}

void SnapshotPublisher::stop() {
  {
    std::lock_guard<std::mutex> lock(thread_mu_);
    stopping_ = true;
  }
  thread_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SnapshotPublisher::loop() {
  std::unique_lock<std::mutex> lock(thread_mu_);
  for (;;) {
    thread_cv_.wait(lock, [this] { return requested_ || stopping_; });
    if (stopping_) return;
    requested_ = false;
    lock.unlock();
    try {
      publish();
    } catch (const std::exception& e) {
      LOG(ERROR) << "publishing the cluster snapshot failed: " << e.what();
    }
    lock.lock();
  }
}

}  // namespace thrifty::locator
