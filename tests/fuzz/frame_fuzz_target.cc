// The libFuzzer target of the server's frame parser and in-memory call path (frame_fuzz.h).
#include <glog/logging.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include <cstdlib>
#include <memory>

#include "Locator.h"
#include "locator/rpc/call_runner.h"
#include "locator/rpc/frame_parser.h"
#include "locator/rpc/limits.h"
#include "locator/rpc/rpc_counters.h"
#include "tests/fuzz/frame_fuzz.h"

namespace thrifty::rpc::fuzz {

namespace wire = locator::wire;

namespace {

#define FUZZ_CHECK(cond)                                               \
  do {                                                                 \
    if (!(cond)) {                                                     \
      LOG(ERROR) << "invariant broken: " #cond;                        \
      std::abort();                                                    \
    }                                                                  \
  } while (0)

// Answers with data, so replies are not all empty.
class FuzzLocator : public wire::LocatorNull {
 public:
  void service_type(std::string& out) override { out = "fuzz.Locator"; }
  void get_nodes(std::vector<wire::Location>& out, const std::string& key, int32_t n) override {
    if (n <= 0 || n > 16) {
      wire::LocatorError error;
      error.message = "n out of range";
      throw error;
    }
    wire::Location where;
    where.address = key.substr(0, 64);
    where.port = 1;
    out.assign(static_cast<size_t>(n), where);
  }
};

RpcLimits FuzzLimits() {
  RpcLimits limits;
  limits.max_frame_bytes = static_cast<int32_t>(kFuzzFrameLimit);
  limits.max_string_bytes = static_cast<int32_t>(kFuzzFrameLimit);
  limits.max_container_elements = 1024;
  return limits;
}

uint32_t FrameSize(const std::string& frame) {
  const auto* p = reinterpret_cast<const uint8_t*>(frame.data());
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

std::vector<std::string> FrameSeeds() {
  auto memory = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
  auto framed = std::make_shared<apache::thrift::transport::TFramedTransport>(memory);
  auto protocol = std::make_shared<apache::thrift::protocol::TBinaryProtocol>(framed);
  wire::LocatorClient client(protocol);
  std::vector<std::string> seeds;
  auto take = [&] {
    seeds.push_back(memory->getBufferAsString());
    memory->resetBuffer();
  };
  client.send_ping();
  take();
  client.send_service_type();
  take();
  client.send_get_nodes("some key", 3);
  take();
  client.send_get_node("another key");
  take();
  client.send_get_all();
  take();
  client.send_members();
  take();
  client.send_stats();
  take();
  wire::Location where;
  where.address = "127.0.0.1";
  where.port = 9901;
  client.send_remove(where, {where, where}, "proof");
  take();
  client.send_auth_begin(std::string(32, 'n'));
  take();
  // Pipelined: several calls in one stream.
  std::string all;
  for (const auto& s : seeds) all += s;
  seeds.push_back(all);
  return seeds;
}

int RunFrames(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    FLAGS_minloglevel = 3;
    return true;
  }();
  (void)quiet;
  if (size == 0) return 0;
  const uint8_t cut = data[0];
  ++data;
  --size;
  const RpcLimits limits = FuzzLimits();
  auto counters = std::make_shared<RpcCounters>();
  CallRunner runner(std::make_shared<wire::LocatorProcessor>(std::make_shared<FuzzLocator>()),
                    limits, counters, "fuzz:1");
  FrameParser parser(kFuzzFrameLimit);
  size_t fed = 0, framed = 0;
  std::vector<std::string> frames;
  std::string reply;
  bool open = true;
  while (fed < size && open) {
    // Reads of 1..(cut + 1) bytes, as a socket might deliver them.
    const size_t chunk = std::min(size - fed, size_t{1} + (fed * 31 + cut) % (size_t{cut} + 1));
    frames.clear();
    const auto status = parser.feed(data + fed, chunk, &frames);
    fed += chunk;
    for (const auto& frame : frames) {
      FUZZ_CHECK(frame.size() <= kFuzzFrameLimit);
      framed += frame.size() + 4;
      if (!open) continue;
      open = runner.run(frame, &reply);
      if (!reply.empty()) {
        // A whole frame: its header says its size.
        FUZZ_CHECK(reply.size() >= 4 && FrameSize(reply) == reply.size() - 4);
      }
      FUZZ_CHECK(open || reply.empty());
    }
    if (status == FrameParser::Status::kOversized) break;
    // Every byte fed is in a frame handed out or held for the next one, never more.
    FUZZ_CHECK(framed + parser.buffered() == fed);
    FUZZ_CHECK(parser.buffered() <= kFuzzFrameLimit + 4);
  }
  return 0;
}

}  // namespace thrifty::rpc::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return thrifty::rpc::fuzz::RunFrames(data, size);
}
