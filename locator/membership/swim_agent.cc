#include "locator/membership/swim_agent.h"

#include <future>
#include <random>
#include <stdexcept>

namespace thrifty::membership {

namespace {

uint64_t RandomSeed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

const Member& WithGossipPort(const Member& self) {
  if (self.gossip_port <= 0 || self.gossip_port > 65535) {
    throw std::invalid_argument("gossip: member " + MemberName(self.location) +
                                " has no gossip port");
  }
  return self;
}

}  // namespace

SwimAgent::SwimAgent(const SwimConfig& config, MemberTable& table, KeyRing keys,
                     SwimDetector::PushPullHook push_pull, std::optional<uint64_t> seed) {
  const std::string error = config.validate();
  if (!error.empty()) throw std::invalid_argument(error);
  const Member self = WithGossipPort(table.self());
  runtime_ = std::make_unique<AsioRuntime>(self.location.address, self.gossip_port,
                                           config.packet_size_limit);
  detector_ = std::make_unique<SwimDetector>(config, table, keys, *runtime_, *runtime_,
                                             seed ? *seed : RandomSeed(), std::move(push_pull));
}

SwimAgent::~SwimAgent() {
  // The thread first: nothing may run the detector while it is being destroyed.
  runtime_->stop();
  detector_.reset();
}

void SwimAgent::stop() { runtime_->stop(); }

void SwimAgent::start() {
  SwimDetector* detector = detector_.get();
  runtime_->start([detector](const locator::wire::Location& from, const uint8_t* data,
                              size_t size) {
    detector->on_packet(from, data, size);
  });
  runtime_->post([detector] { detector->start(); });
}

bool SwimAgent::leave(std::chrono::milliseconds timeout) {
  auto told = std::make_shared<std::promise<bool>>();
  std::future<bool> result = told->get_future();
  SwimDetector* detector = detector_.get();
  runtime_->post([detector, told, timeout] {
    detector->leave(timeout.count(), [told](bool ok) { told->set_value(ok); });
  });
  // A little grace beyond the detector's own deadline, in case its thread is busy.
  if (result.wait_for(timeout + std::chrono::milliseconds(500)) != std::future_status::ready) {
    return false;
  }
  return result.get();
}

std::map<std::string, int64_t> SwimAgent::stats() const {
  auto out = detector_->stats();
  for (const auto& [name, value] : runtime_->stats()) out[name] = value;
  return out;
}

}  // namespace thrifty::membership
