// GossipCodec: gossip packets to datagrams and back.
//
// Datagram layout: the GossipPacket struct in Thrift compact protocol, then a 32-byte
// HMAC-SHA256 (KeyRing, purpose "thrifty/gossip/1") of those struct bytes. No length field:
// the datagram's length is the struct's plus 32.
//
// decode() never throws and never allocates from a size the packet declares: lengths are
// checked first, the MAC is verified with every key of the ring BEFORE any parsing, and the
// parser runs with a message size limit equal to the datagram and with string and container
// limits. Enum fields and addresses are range-checked before the packet is handed out, so the
// caller can trust every field.
//
// Thread-compatible: one codec per thread (it reuses its encode buffer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "gossip_types.h"
#include "locator/membership/key_ring.h"
#include "locator/membership/swim_config.h"

namespace apache::thrift::transport {
class TMemoryBuffer;
}
namespace apache::thrift::protocol {
class TProtocol;
}

namespace thrifty::membership {

using wire::GossipPacket;
using wire::GossipType;
using wire::MemberUpdate;

enum class DecodeResult { ok, too_short, too_large, bad_mac, malformed, stale };
const char* DecodeResultName(DecodeResult result);

class GossipCodec {
 public:
  static constexpr int16_t kFormat = 1;
  static constexpr std::string_view kMacPurpose = "thrifty/gossip/1";
  // Smallest datagram that can hold a struct and the MAC.
  static constexpr size_t kMinDatagram = KeyRing::kMacSize + 2;

  // Keeps a copy of `keys` (cheap: the keyed contexts are shared). Uses packet_size_limit, max_string_size,
  // max_container_size and stale_packet_window_ms of `config`.
  GossipCodec(const SwimConfig& config, const KeyRing& keys);
  ~GossipCodec();
  GossipCodec(const GossipCodec&) = delete;
  GossipCodec& operator=(const GossipCodec&) = delete;

  // Encodes `packet` into `out` (replacing its content). `packet.updates` are taken in order
  // (the caller puts the newest, least-sent first) while they fit the size limit; those that
  // do not fit are skipped. Returns how many updates were included, or -1 if not even the
  // packet without updates fits (then `out` is empty).
  int encode(const GossipPacket& packet, std::string* out);

  // Bytes a datagram of `packet` takes with no updates, the list header's growth included:
  // packet_size_limit minus this is the budget for updates.
  size_t base_size(const GossipPacket& packet);

  // Bytes `update` adds to a packet's update list.
  size_t update_size(const MemberUpdate& update);

  // Decodes and authenticates one datagram. On anything but ok, `out` is left default.
  // `now_wall_ms` is the receiver's wall clock, compared with the packet's sent_ms.
  DecodeResult decode(const uint8_t* data, size_t size, int64_t now_wall_ms, GossipPacket* out);

 private:
  size_t struct_size(const GossipPacket& packet);

  const SwimConfig config_;
  const KeyRing keys_;
  std::shared_ptr<apache::thrift::transport::TMemoryBuffer> buffer_;
  std::shared_ptr<apache::thrift::protocol::TProtocol> protocol_;
};

}  // namespace thrifty::membership
