// SwimAgent: the failure detector as a node runs it: a SwimDetector on an AsioRuntime (its
// own thread and UDP socket), put together and torn down in the right order.
//
// Use from the node:
//   MemberTable table(self);                       // self.gossip_port > 0
//   SwimAgent agent(config, table, keys, hook);    // binds address:gossip_port, or throws
//   agent.start();                                 // probing and gossip begin
//   ... table.apply() / mark() / set_self_metadata() from any thread: gossiped ...
//   agent.stats();                                 // any thread
//   agent.leave(std::chrono::seconds(3));          // clean leave (SIGTERM), blocks
//   // destruction stops the thread, then frees the detector
// All methods are thread-safe except that start() and leave() must not run on the agent's
// own thread (the push-pull hook runs there).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "locator/membership/asio_runtime.h"
#include "locator/membership/key_ring.h"
#include "locator/membership/member_table.h"
#include "locator/membership/swim_config.h"
#include "locator/membership/swim_detector.h"

namespace thrifty::membership {

class SwimAgent {
 public:
  // Binds UDP {self.location.address, self.gossip_port} of table.self(). Throws
  // std::invalid_argument for a bad config or a self without gossip port, std::runtime_error
  // if the socket cannot be bound. `seed` defaults to std::random_device.
  SwimAgent(const SwimConfig& config, MemberTable& table, KeyRing keys,
            SwimDetector::PushPullHook push_pull = nullptr,
            std::optional<uint64_t> seed = std::nullopt);
  ~SwimAgent();
  SwimAgent(const SwimAgent&) = delete;
  SwimAgent& operator=(const SwimAgent&) = delete;

  void start();
  // Stops the gossip thread (idempotent; the destructor does it too). stats() stays valid.
  void stop();

  // Marks this node LEFT and waits until a member acknowledged the news, at most `timeout`.
  // Returns whether one did (true also when there is nobody to tell).
  bool leave(std::chrono::milliseconds timeout);

  // The detector's swim_* and the runtime's runtime_* counters.
  std::map<std::string, int64_t> stats() const;

  locator::wire::Location gossip_endpoint() const { return runtime_->local_endpoint(); }
  AsioRuntime& runtime() { return *runtime_; }

 private:
  std::unique_ptr<AsioRuntime> runtime_;
  std::unique_ptr<SwimDetector> detector_;
};

}  // namespace thrifty::membership
