// The fuzz target's checks without libFuzzer (gcc builds have none): a few thousand random
// inputs and mutations of valid packets, deterministic.
#include <glog/logging.h>
#include <gtest/gtest.h>

#include <random>

#include "tests/fuzz/gossip_fuzz.h"

namespace thrifty::membership::fuzz {
namespace {

std::string Mutate(std::string s, std::mt19937_64& rng) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const size_t pos = s.empty() ? 0 : rng() % s.size();
    switch (rng() % 6) {
      case 0:  // flip a bit
        if (!s.empty()) s[pos] = static_cast<char>(s[pos] ^ (1 << (rng() % 8)));
        break;
      case 1:  // set a byte to an interesting value
        if (!s.empty()) s[pos] = "\x00\x01\x7f\x80\xff\x15\x19\x1c"[rng() % 8];
        break;
      case 2:  // truncate
        s.resize(pos);
        break;
      case 3:  // insert random bytes
        s.insert(pos, std::string(1 + rng() % 8, static_cast<char>(rng())));
        break;
      case 4:  // duplicate a slice
        if (!s.empty()) s.insert(pos, s.substr(rng() % s.size(), 1 + rng() % 16));
        break;
      case 5:  // huge varint
        s.insert(pos, "\xff\xff\xff\xff\x0f");
        break;
    }
  }
  return s;
}

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
    std::string input = Mutate(seed, rng);
    RunOne(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    // Also as a complete datagram, MAC included, mutated after signing.
    std::string datagram = Mutate(SignBody(keys, seed), rng);
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
