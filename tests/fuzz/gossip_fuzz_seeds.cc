#include <fstream>

#include "tests/fuzz/gossip_fuzz.h"

namespace thrifty::membership::fuzz {

std::vector<std::string> SeedBodies() {
  const SwimConfig config;
  GossipCodec codec(config, FuzzKeys());
  std::vector<std::string> out;
  for (int type = GossipType::PING; type <= GossipType::NACK; ++type) {
    for (int updates = 0; updates < 4; ++updates) {
      GossipPacket p;
      p.type = static_cast<GossipType::type>(type);
      p.seq = 1000 + updates;
      p.sender.address = "10.0.0." + std::to_string(2 + updates % 3);
      p.sender.port = 9000;
      p.sent_ms = kFuzzNowMs;
      if (type == GossipType::PING || type == GossipType::PING_REQ) {
        p.target.address = "10.0.0.1";
        p.target.port = 9000;
        p.__isset.target = true;
      }
      if (type == GossipType::PING_REQ) p.__set_target_gossip_port(7946);
      for (int u = 0; u < updates; ++u) {
        MemberUpdate update;
        update.member.location.address = "10.0.0." + std::to_string(1 + u);
        update.member.location.port = 9000;
        update.member.gossip_port = 7946;
        update.member.incarnation = 5 + u;
        update.member.state = static_cast<locator::wire::MemberState::type>(u % 4);
        update.member.metadata["zone"] = "z" + std::to_string(u);
        if (u % 2 == 1) update.__set_reporter(p.sender);
        p.updates.push_back(update);
      }
      std::string bytes;
      codec.encode(p, &bytes);
      out.push_back(bytes.substr(0, bytes.size() - KeyRing::kMacSize));
    }
  }
  return out;
}

}  // namespace thrifty::membership::fuzz
