// Writes the seed corpus of gossip_codec_fuzz into the directory given as argument.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "tests/fuzz/gossip_fuzz.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir(argv[1]);
  std::filesystem::create_directories(dir);
  int i = 0;
  for (const auto& body : thrifty::membership::fuzz::SeedBodies()) {
    std::ofstream(dir / ("seed-" + std::to_string(i++)), std::ios::binary) << body;
  }
  return 0;
}
