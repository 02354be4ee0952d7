// The fuzz target's checks without libFuzzer (gcc builds have none): a few thousand random
// inputs and mutations of valid packets, deterministic.
#include <glog/logging.h>
#include <gtest/gtest.h>

#include <random>

#include "tests/fuzz/gossip_fuzz.h"
#include "tests/fuzz/mutate.h"

namespace thrifty::membership::fuzz {
namespace {

TEST(GossipCodecFuzzDriver, RandomAndMutatedInputsKeepTheInvariants) {
  FLAGS_minloglevel = 3;
  std::mt19937_64 rng(20240601);
  const auto seeds = SeedBodies();
  ASSERT_FALSE(seeds.empty());
  const KeyRing keys = FuzzKeys();
  int inputs = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string random(rng() % 400, '\0');
    for (auto& c : random) c = static_cast<char>(rng());
    RunOne(reinterpret_cast<const uint8_t*>(random.data()), random.size());
    ++inputs;
  }
  for (int i = 0; i < 3000; ++i) {
    const std::string& seed = seeds[rng() % seeds.size()];
    std::string input = thrifty::fuzz::Mutate(seed, rng);
    RunOne(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    // Also as a complete datagram, MAC included, mutated after signing.
    std::string datagram = thrifty::fuzz::Mutate(SignBody(keys, seed), rng);
    RunOne(reinterpret_cast<const uint8_t*>(datagram.data()), datagram.size());
    inputs += 2;
  }
  for (const auto& seed : seeds) {
    RunOne(reinterpret_cast<const uint8_t*>(seed.data()), seed.size());
    ++inputs;
  }
  EXPECT_GT(inputs, 7000);
}

}  // namespace
}  // namespace thrifty::membership::fuzz
