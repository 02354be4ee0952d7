#include "locator/rpc/client_loops.h"

#include <algorithm>
#include <future>

#include <boost/asio/post.hpp>

#include <glog/logging.h>

namespace thrifty::rpc {

ClientLoops::ClientLoops(size_t threads) {
  for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i) {
    auto loop = std::make_unique<Loop>();
    loop->thread = std::thread([context = &loop->context] {
      for (;;) {
        try {
          context->run();
          return;
        } catch (const std::exception& e) {
          // A handler must not throw; if one does, the loop goes on with the others.
          LOG(ERROR) << "a peer channel handler threw: " << e.what();
        }
      }
    });
    loops_.push_back(std::move(loop));
  }
}

ClientLoops::~ClientLoops() { stop(); }

void ClientLoops::stop() {
  std::call_once(stopped_, [this] {
    // A marker behind what is queued on each loop: once it ran, so did everything before it.
    std::vector<std::future<void>> drained;
    for (auto& loop : loops_) {
      auto marker = std::make_shared<std::promise<void>>();
      drained.push_back(marker->get_future());
      boost::asio::post(loop->context, [marker] { marker->set_value(); });
    }
    for (auto& f : drained) f.wait();
    for (auto& loop : loops_) {
      loop->work.reset();
      loop->context.stop();
    }
    for (auto& loop : loops_) loop->thread.join();
  });
}

boost::asio::io_context& ClientLoops::next() {
  return loops_[next_.fetch_add(1, std::memory_order_relaxed) % loops_.size()]->context;
}

}  // namespace thrifty::rpc
