#include "locator/membership/gossip_codec.h"

#include <thrift/TConfiguration.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include <cstring>
#include <type_traits>

namespace thrifty::membership {

using apache::thrift::TConfiguration;
using apache::thrift::protocol::TCompactProtocolT;
using apache::thrift::transport::TMemoryBuffer;

namespace {

// Thrift stores whatever i32 the wire holds into enum fields. Loading an enum lvalue whose
// value is outside the enum's range is undefined behaviour (and UBSan aborts on it), so the
// raw value is read through its underlying type before anything else touches the field.
template <typename E>
int64_t RawEnum(const E& field) {
  std::underlying_type_t<E> raw;
  static_assert(sizeof raw == sizeof field);
  std::memcpy(&raw, &field, sizeof raw);
  return static_cast<int64_t>(raw);
}

bool ValidPort(int64_t port) { return port >= 1 && port <= 65535; }

bool ValidLocation(const locator::wire::Location& location) {
  return !location.address.empty() && location.address.size() <= 255 &&
         ValidPort(location.port);
}

bool ValidUpdate(const MemberUpdate& update) {
  const locator::wire::Member& m = update.member;
  const int64_t state = RawEnum(m.state);
  if (state < locator::wire::MemberState::ALIVE || state > locator::wire::MemberState::LEFT) {
    return false;
  }
  if (!ValidLocation(m.location)) return false;
  if (m.gossip_port < 0 || m.gossip_port > 65535) return false;
  if (m.incarnation < 0) return false;
  if (update.__isset.reporter && !ValidLocation(update.reporter)) return false;
  return true;
}

bool ValidPacket(const GossipPacket& p) {
  if (p.format != GossipCodec::kFormat) return false;
  const int64_t type = RawEnum(p.type);
  if (type < GossipType::PING || type > GossipType::NACK) return false;
  if (!ValidLocation(p.sender)) return false;
  if (p.__isset.target && !ValidLocation(p.target)) return false;
  if (p.__isset.target_gossip_port && !ValidPort(p.target_gossip_port)) return false;
  if (type == GossipType::PING_REQ && (!p.__isset.target || !p.__isset.target_gossip_port)) {
    return false;
  }
  for (const auto& update : p.updates) {
    if (!ValidUpdate(update)) return false;
  }
  return true;
}

}  // namespace

const char* DecodeResultName(DecodeResult result) {
  switch (result) {
    case DecodeResult::ok: return "ok";
    case DecodeResult::too_short: return "too short";
    case DecodeResult::too_large: return "too large";
    case DecodeResult::bad_mac: return "bad MAC";
    case DecodeResult::malformed: return "malformed";
    case DecodeResult::stale: return "stale";
  }
  return "?";
}

GossipCodec::GossipCodec(const SwimConfig& config, const KeyRing& keys)
    : config_(config),
      keys_(keys),
      buffer_(std::make_shared<TMemoryBuffer>(static_cast<uint32_t>(config.packet_size_limit))),
      protocol_(std::make_shared<TCompactProtocolT<TMemoryBuffer>>(buffer_)) {}

GossipCodec::~GossipCodec() = default;

size_t GossipCodec::struct_size(const GossipPacket& packet) {
  buffer_->resetBuffer();
  packet.write(protocol_.get());
  return buffer_->available_read();
}

size_t GossipCodec::base_size(const GossipPacket& packet) {
  if (packet.updates.empty()) {
    // The list can grow to 16383 elements before its header outgrows 3 bytes.
    return struct_size(packet) + KeyRing::kMacSize + 2;
  }
  GossipPacket header = packet;
  header.updates.clear();
  return struct_size(header) + KeyRing::kMacSize + 2;
}

size_t GossipCodec::update_size(const MemberUpdate& update) {
  buffer_->resetBuffer();
  update.write(protocol_.get());
  return buffer_->available_read();
}

int GossipCodec::encode(const GossipPacket& packet, std::string* out) {
  out->clear();
  GossipPacket chosen = packet;
  chosen.updates.clear();
  const size_t base = base_size(chosen);
  if (base > config_.packet_size_limit) return -1;
  size_t budget = config_.packet_size_limit - base;
  for (const auto& update : packet.updates) {
    const size_t size = update_size(update);
    if (size <= budget) {
      chosen.updates.push_back(update);
      budget -= size;
    }
  }
  // The budget above is exact up to the list header, for which base_size reserved room;
  // the loop is a guard, not an expected path.
  for (;;) {
    const size_t body = struct_size(chosen);
    if (body + KeyRing::kMacSize <= config_.packet_size_limit) break;
    if (chosen.updates.empty()) return -1;
    chosen.updates.pop_back();
  }
  uint8_t* data = nullptr;
  uint32_t size = 0;
  buffer_->getBuffer(&data, &size);
  out->assign(reinterpret_cast<const char*>(data), size);
  const KeyRing::Mac mac = keys_.sign(kMacPurpose, *out);
  out->append(reinterpret_cast<const char*>(mac.data()), mac.size());
  return static_cast<int>(chosen.updates.size());
}

DecodeResult GossipCodec::decode(const uint8_t* data, size_t size, int64_t now_wall_ms,
                                 GossipPacket* out) {
  *out = GossipPacket();
  if (data == nullptr || size < kMinDatagram) return DecodeResult::too_short;
  if (size > config_.packet_size_limit) return DecodeResult::too_large;
  const size_t body = size - KeyRing::kMacSize;
  const std::string_view signed_part(reinterpret_cast<const char*>(data), body);
  if (!keys_.verify(kMacPurpose, signed_part, data + body, KeyRing::kMacSize)) {
    return DecodeResult::bad_mac;
  }
  bool parsed = false;
  try {
    auto config = std::make_shared<TConfiguration>(static_cast<int>(body),
                                                   static_cast<int>(body), /*recursion=*/16);
    // OBSERVE: reads in place, never writes, never frees.
    auto buffer = std::make_shared<TMemoryBuffer>(const_cast<uint8_t*>(data),
                                                  static_cast<uint32_t>(body),
                                                  TMemoryBuffer::OBSERVE, config);
    TCompactProtocolT<TMemoryBuffer> protocol(buffer, config_.max_string_size,
                                              config_.max_container_size);
    out->read(&protocol);
    // Trailing bytes under a valid MAC are not ours to ignore.
    parsed = buffer->available_read() == 0 && ValidPacket(*out);
  } catch (...) {
    parsed = false;
  }
  if (!parsed) {
    *out = GossipPacket();
    return DecodeResult::malformed;
  }
  // In unsigned arithmetic: a hostile sent_ms must not overflow the subtraction.
  const auto sent = static_cast<uint64_t>(out->sent_ms);
  const auto now = static_cast<uint64_t>(now_wall_ms);
  const uint64_t skew = sent > now ? sent - now : now - sent;
  if (out->sent_ms < 0 || skew > static_cast<uint64_t>(config_.stale_packet_window_ms)) {
    *out = GossipPacket();
    return DecodeResult::stale;
  }
  return DecodeResult::ok;
}

}  // namespace thrifty::membership
