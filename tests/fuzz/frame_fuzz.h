// The server's request path under fuzzing: bytes as they would arrive on a connection, cut into
// reads of varying sizes, through FrameParser (frame_parser.h) and every complete frame through
// CallRunner (call_runner.h) with the Locator processor. Shared by the libFuzzer target, its
// seed writer and the plain driver.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace thrifty::rpc::fuzz {

// The frame limit the fuzzed server runs with (small, so oversized headers are common).
constexpr uint32_t kFuzzFrameLimit = 1 << 16;

// Byte streams of valid request frames: every Locator call, alone and pipelined.
std::vector<std::string> FrameSeeds();

// The checks of one input (the body of LLVMFuzzerTestOneInput): the first byte chooses how the
// rest is cut into reads. Aborts on a broken invariant.
int RunFrames(const uint8_t* data, size_t size);

}  // namespace thrifty::rpc::fuzz
