// The gossip decoder and the detector's packet handling under arbitrary input.
//
// Each input is tried twice: as a raw datagram (what anyone on the network can send: must be
// dropped at the length or MAC check) and as the struct bytes of a datagram signed with the
// cluster key (what a buggy or compromised member could send: must parse safely or be
// dropped as malformed or stale). Decoded packets must re-encode, and a fresh detector must
// survive being handed the datagram.
#include <glog/logging.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "locator/membership/gossip_codec.h"
#include "locator/membership/key_ring.h"
#include "locator/membership/member_table.h"
#include "locator/membership/swim_detector.h"
#include "tests/fuzz/gossip_fuzz.h"

namespace thrifty::membership::fuzz {
namespace {

// Time stands still; scheduled callbacks are dropped (a packet's immediate effects are what
// is under test).
class StillEnv final : public Scheduler, public PacketTransport {
 public:
  int64_t now_ms() override { return 1000; }
  int64_t wall_ms() override { return kFuzzNowMs; }
  void schedule(int64_t, std::function<void()>) override {}
  void send(const Location&, const std::string& bytes) override { sent_bytes += bytes.size(); }
  size_t sent_bytes = 0;
};

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "gossip fuzz invariant broken: %s\n", what);
  std::abort();
}

void Check(GossipCodec& codec, const KeyRing& keys, const std::string& datagram) {
  GossipPacket packet;
  const DecodeResult r = codec.decode(reinterpret_cast<const uint8_t*>(datagram.data()),
                                      datagram.size(), kFuzzNowMs, &packet);
  if (r == DecodeResult::ok || r == DecodeResult::malformed || r == DecodeResult::stale) {
    // Parsing happens only behind a valid MAC.
    const size_t body = datagram.size() - KeyRing::kMacSize;
    if (datagram.size() < KeyRing::kMacSize ||
        !keys.verify(GossipCodec::kMacPurpose, std::string_view(datagram.data(), body),
                     reinterpret_cast<const uint8_t*>(datagram.data()) + body,
                     KeyRing::kMacSize)) {
      Fail("input without a valid MAC got past the MAC check");
    }
  }
  if (r != DecodeResult::ok) return;
  std::string again;
  const int included = codec.encode(packet, &again);
  if (included < 0) Fail("a decoded packet does not re-encode");
  GossipPacket back;
  if (codec.decode(reinterpret_cast<const uint8_t*>(again.data()), again.size(), kFuzzNowMs,
                   &back) != DecodeResult::ok) {
    Fail("a re-encoded packet does not decode");
  }
  if (static_cast<size_t>(included) == packet.updates.size() && !(back == packet)) {
    Fail("round trip changed the packet");
  }
}

}  // namespace

int RunOne(const uint8_t* data, size_t size) {
  static const SwimConfig config;
  static const KeyRing keys = FuzzKeys();
  static GossipCodec codec(config, keys);
  const std::string input(reinterpret_cast<const char*>(data), size);
  Check(codec, keys, input);
  if (size + KeyRing::kMacSize > config.packet_size_limit) return 0;
  const std::string datagram = SignBody(keys, input);
  Check(codec, keys, datagram);

  // A detector that knows a few members, handed the signed datagram.
  Member self;
  self.location.address = "10.0.0.1";
  self.location.port = 9000;
  self.gossip_port = 7946;
  self.incarnation = 5;
  MemberTable table(self);
  for (int i = 2; i < 5; ++i) {
    Member m = self;
    m.location.address = "10.0.0." + std::to_string(i);
    table.apply(m);
  }
  StillEnv env;
  SwimDetector detector(config, table, keys, env, env, /*seed=*/size);
  Location from;
  from.address = "10.0.0.2";
  from.port = 7946;
  detector.on_packet(from, datagram);
  detector.on_packet(from, input);
  return 0;
}

}  // namespace thrifty::membership::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  FLAGS_minloglevel = 3;  // drops are logged; millions of them are noise here
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return thrifty::membership::fuzz::RunOne(data, size);
}
