// PollUntil: polls `done` until it holds or `timeout_ms` passes (every wait in a test is bounded).
#pragma once

#include <chrono>
#include <thread>

namespace thrifty::testing {

template <typename Done>
bool PollUntil(Done done, int timeout_ms, int interval_ms = 5) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  return true;
}

}  // namespace thrifty::testing
