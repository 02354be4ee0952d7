// The frame fuzz target's checks without libFuzzer (gcc builds have none): random streams and
// mutations of valid request streams, cut into reads every which way, deterministic.
#include <glog/logging.h>
#include <gtest/gtest.h>

#include <random>

#include "tests/fuzz/frame_fuzz.h"
#include "tests/fuzz/mutate.h"

namespace thrifty::rpc::fuzz {
namespace {

int RunInput(const std::string& input) {
  return RunFrames(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

TEST(FrameFuzzDriver, RandomAndMutatedStreamsKeepTheInvariants) {
  FLAGS_minloglevel = 3;
  std::mt19937_64 rng(20261130);
  const auto seeds = FrameSeeds();
  ASSERT_GE(seeds.size(), 10u);
  int inputs = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string random(rng() % 600, '\0');
    for (auto& c : random) c = static_cast<char>(rng());
    RunInput(random);
    ++inputs;
  }
  for (int i = 0; i < 4000; ++i) {
    const std::string& seed = seeds[rng() % seeds.size()];
    const char cut = static_cast<char>(rng());
    RunInput(cut + thrifty::fuzz::Mutate(seed, rng));
    ++inputs;
  }
  for (const auto& seed : seeds) {
    for (int cut : {0, 1, 7, 255}) RunInput(static_cast<char>(cut) + seed);
    inputs += 4;
  }
  EXPECT_GT(inputs, 5000);
}

}  // namespace
}  // namespace thrifty::rpc::fuzz
