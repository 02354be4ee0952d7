// Writes the seed corpus of frame_fuzz into the directory given as argument: each valid request
// stream, led by the byte that chooses how the target cuts it into reads.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "tests/fuzz/frame_fuzz.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir(argv[1]);
  std::filesystem::create_directories(dir);
  int i = 0;
  for (const auto& stream : thrifty::rpc::fuzz::FrameSeeds()) {
    for (char cut : {'\x00', '\x07', '\xff'}) {
      std::ofstream(dir / ("seed-" + std::to_string(i++)), std::ios::binary) << cut << stream;
    }
  }
  return 0;
}
