#include "locator/membership/gossip_codec.h"

#include <gtest/gtest.h>
#include <thrift/protocol/TCompactProtocol.h>
#include <thrift/transport/TBufferTransports.h>

#include <chrono>
#include <random>

#include "tests/membership/alloc_tracker.h"

namespace thrifty::membership {
namespace {

using apache::thrift::protocol::T_I32;
using apache::thrift::protocol::T_I64;
using apache::thrift::protocol::T_LIST;
using apache::thrift::protocol::T_MAP;
using apache::thrift::protocol::T_STRING;
using apache::thrift::protocol::T_STRUCT;
using apache::thrift::protocol::TCompactProtocol;
using apache::thrift::transport::TMemoryBuffer;

constexpr int64_t kNow = 1'700'000'000'000;

locator::wire::Location Loc(const std::string& address, int port) {
  locator::wire::Location l;
  l.address = address;
  l.port = port;
  return l;
}

MemberUpdate Update(int i, size_t metadata_bytes = 8) {
  MemberUpdate u;
  u.member.location = Loc("10.0.1." + std::to_string(i), 9000);
  u.member.incarnation = 1000 + i;
  u.member.state = locator::wire::MemberState::SUSPECT;
  u.member.gossip_port = 7946;
  u.member.metadata["zone"] = std::string(metadata_bytes, 'z');
  u.__set_reporter(Loc("10.0.0.9", 9000));
  return u;
}

GossipPacket Packet(int updates = 3) {
  GossipPacket p;
  p.type = GossipType::PING;
  p.seq = 42;
  p.sender = Loc("10.0.0.1", 9000);
  p.__set_target(Loc("10.0.0.2", 9000));
  p.sent_ms = kNow;
  for (int i = 0; i < updates; ++i) p.updates.push_back(Update(i));
  return p;
}

class GossipCodecTest : public ::testing::Test {
 protected:
  GossipCodecTest() : keys_(KeyRing::Parse(std::string(64, 'a'))), codec_(config_, keys_) {}

  DecodeResult Decode(const std::string& bytes, GossipPacket* out = nullptr) {
    GossipPacket scratch;
    return codec_.decode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), kNow,
                         out ? out : &scratch);
  }
  std::string Encode(const GossipPacket& p) {
    std::string out;
    EXPECT_GE(codec_.encode(p, &out), 0);
    return out;
  }
  // A datagram with a valid MAC over arbitrary struct bytes: what only a key holder (or a
  // bug) could send, to test the parser behind the MAC.
  std::string Signed(const std::string& body) {
    const auto mac = keys_.sign(GossipCodec::kMacPurpose, body);
    return body + std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
  }
  // Raw compact-protocol writer for hand-made hostile structs.
  struct Writer {
    std::shared_ptr<TMemoryBuffer> buffer = std::make_shared<TMemoryBuffer>();
    TCompactProtocol protocol{buffer};
    std::string bytes() { return buffer->getBufferAsString(); }
  };

  SwimConfig config_;
  KeyRing keys_;
  GossipCodec codec_;
};

TEST_F(GossipCodecTest, RoundTrip) {
  GossipPacket p = Packet();
  p.type = GossipType::PING_REQ;
  p.__set_target_gossip_port(7946);
  p.updates[1].member.metadata["blob"] = std::string("\0\1\2\xff", 4);
  const std::string bytes = Encode(p);
  GossipPacket q;
  ASSERT_EQ(Decode(bytes, &q), DecodeResult::ok);
  EXPECT_EQ(q, p);
  EXPECT_EQ(q.updates[1].member.metadata.at("blob"), std::string("\0\1\2\xff", 4));
}

TEST_F(GossipCodecTest, TruncatedDatagramsAreRejected) {
  const std::string bytes = Encode(Packet());
  for (size_t n = 0; n < bytes.size(); ++n) {
    const DecodeResult r = Decode(bytes.substr(0, n));
    if (n < GossipCodec::kMinDatagram) {
      EXPECT_EQ(r, DecodeResult::too_short) << n;
    } else {
      EXPECT_EQ(r, DecodeResult::bad_mac) << n;
    }
  }
}

TEST_F(GossipCodecTest, EveryFlippedBitBreaksTheMac) {
  const std::string bytes = Encode(Packet());
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      ASSERT_EQ(Decode(flipped), DecodeResult::bad_mac) << "byte " << i << " bit " << bit;
    }
  }
}

TEST_F(GossipCodecTest, WrongKeyIsRejectedAndRotationAccepted) {
  const KeyRing other = KeyRing::Parse(std::string(64, 'b'));
  GossipCodec foreign(config_, other);
  std::string bytes;
  ASSERT_GE(foreign.encode(Packet(), &bytes), 0);
  EXPECT_EQ(Decode(bytes), DecodeResult::bad_mac);
  // A ring with the new key first and ours second: it reads ours, we read its packets only
  // once we add its key.
  const KeyRing rotated = KeyRing::Parse(std::string(64, 'b') + "\n" + std::string(64, 'a'));
  GossipCodec next(config_, rotated);
  GossipPacket out;
  const std::string ours = Encode(Packet());
  EXPECT_EQ(next.decode(reinterpret_cast<const uint8_t*>(ours.data()), ours.size(), kNow, &out),
            DecodeResult::ok);
  ASSERT_GE(next.encode(Packet(), &bytes), 0);
  EXPECT_EQ(Decode(bytes), DecodeResult::bad_mac);
}

TEST_F(GossipCodecTest, OversizedDatagramIsRejectedBeforeTheMac) {
  const std::string big(config_.packet_size_limit + 1, 'x');
  EXPECT_EQ(Decode(big), DecodeResult::too_large);
  EXPECT_EQ(Decode(Signed(std::string(config_.packet_size_limit - 31, 'x'))),
            DecodeResult::too_large);
}

TEST_F(GossipCodecTest, ValidMacOverGarbageIsMalformed) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 500; ++i) {
    std::string body(1 + rng() % 300, '\0');
    for (auto& c : body) c = static_cast<char>(rng());
    EXPECT_EQ(Decode(Signed(body)), DecodeResult::malformed) << i;
  }
  EXPECT_EQ(Decode(Signed(std::string(100, '\xff'))), DecodeResult::malformed);
  EXPECT_EQ(Decode(Signed(std::string(2, '\0'))), DecodeResult::malformed);
}

TEST_F(GossipCodecTest, TrailingBytesUnderTheMacAreMalformed) {
  const std::string bytes = Encode(Packet());
  const std::string body = bytes.substr(0, bytes.size() - KeyRing::kMacSize);
  EXPECT_EQ(Decode(Signed(body)), DecodeResult::ok);
  EXPECT_EQ(Decode(Signed(body + std::string(1, '\0'))), DecodeResult::malformed);
}

TEST_F(GossipCodecTest, HugeDeclaredStringIsNotAllocated) {
  Writer w;
  w.protocol.writeStructBegin("GossipPacket");
  w.protocol.writeFieldBegin("sender", T_STRUCT, 4);
  w.protocol.writeStructBegin("Location");
  w.protocol.writeFieldBegin("address", T_STRING, 1);
  // The varint length of a 1.5 GB string, and nothing behind it.
  uint32_t size = 1'500'000'000u;
  std::string varint;
  while (size >= 0x80) {
    varint.push_back(static_cast<char>((size & 0x7f) | 0x80));
    size >>= 7;
  }
  varint.push_back(static_cast<char>(size));
  const std::string body = w.bytes() + varint + "abc";
  testing::LargestAllocation largest;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Decode(Signed(body)), DecodeResult::malformed);
  EXPECT_LT(largest.bytes(), 64u * 1024);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST_F(GossipCodecTest, HugeDeclaredContainersAreNotAllocated) {
  for (int which = 0; which < 3; ++which) {
    Writer w;
    w.protocol.writeStructBegin("GossipPacket");
    if (which == 0) {
      w.protocol.writeFieldBegin("updates", T_LIST, 7);
      w.protocol.writeListBegin(T_STRUCT, 20'000'000);
    } else if (which == 1) {
      // Just over the container limit, far fewer than 20 M: still refused by count.
      w.protocol.writeFieldBegin("updates", T_LIST, 7);
      w.protocol.writeListBegin(T_STRUCT, config_.max_container_size + 1);
    } else {
      w.protocol.writeFieldBegin("updates", T_LIST, 7);
      w.protocol.writeListBegin(T_STRUCT, 1);
      w.protocol.writeStructBegin("MemberUpdate");
      w.protocol.writeFieldBegin("member", T_STRUCT, 1);
      w.protocol.writeStructBegin("Member");
      w.protocol.writeFieldBegin("metadata", T_MAP, 4);
      w.protocol.writeMapBegin(T_STRING, T_STRING, 20'000'000);
    }
    testing::LargestAllocation largest;
    EXPECT_EQ(Decode(Signed(w.bytes() + std::string(16, '\0'))), DecodeResult::malformed)
        << which;
    EXPECT_LT(largest.bytes(), 64u * 1024) << which;
  }
}

TEST_F(GossipCodecTest, OutOfRangeEnumsAndAddressesAreMalformed) {
  // Encoded by hand: the generated writer would happily write them too, but this shows what
  // arrives from a buggy or hostile key holder.
  const auto with = [&](int32_t type, int32_t state, int32_t port) {
    Writer w;
    w.protocol.writeStructBegin("GossipPacket");
    w.protocol.writeFieldBegin("format", apache::thrift::protocol::T_I16, 1);
    w.protocol.writeI16(1);
    w.protocol.writeFieldBegin("type", T_I32, 2);
    w.protocol.writeI32(type);
    w.protocol.writeFieldBegin("sender", T_STRUCT, 4);
    Loc("10.0.0.1", port).write(&w.protocol);
    w.protocol.writeFieldBegin("sent_ms", T_I64, 6);
    w.protocol.writeI64(kNow);
    w.protocol.writeFieldBegin("updates", T_LIST, 7);
    w.protocol.writeListBegin(T_STRUCT, 1);
    w.protocol.writeStructBegin("MemberUpdate");
    w.protocol.writeFieldBegin("member", T_STRUCT, 1);
    w.protocol.writeStructBegin("Member");
    w.protocol.writeFieldBegin("location", T_STRUCT, 1);
    Loc("10.0.0.3", 9000).write(&w.protocol);
    w.protocol.writeFieldBegin("state", T_I32, 2);
    w.protocol.writeI32(state);
    w.protocol.writeFieldStop();
    w.protocol.writeStructEnd();
    w.protocol.writeFieldStop();
    w.protocol.writeStructEnd();
    w.protocol.writeFieldStop();
    w.protocol.writeStructEnd();
    return Decode(Signed(w.bytes()));
  };
  EXPECT_EQ(with(GossipType::ACK, locator::wire::MemberState::DEAD, 9000), DecodeResult::ok);
  EXPECT_EQ(with(99, locator::wire::MemberState::DEAD, 9000), DecodeResult::malformed);
  EXPECT_EQ(with(0, locator::wire::MemberState::DEAD, 9000), DecodeResult::malformed);
  EXPECT_EQ(with(-5, locator::wire::MemberState::DEAD, 9000), DecodeResult::malformed);
  EXPECT_EQ(with(GossipType::ACK, 7, 9000), DecodeResult::malformed);
  EXPECT_EQ(with(GossipType::ACK, 1 << 30, 9000), DecodeResult::malformed);
  EXPECT_EQ(with(GossipType::ACK, locator::wire::MemberState::DEAD, 70000),
            DecodeResult::malformed);
  EXPECT_EQ(with(GossipType::ACK, locator::wire::MemberState::DEAD, 0), DecodeResult::malformed);
}

TEST_F(GossipCodecTest, PingReqNeedsItsTarget) {
  GossipPacket p = Packet(0);
  p.type = GossipType::PING_REQ;
  EXPECT_EQ(Decode(Encode(p)), DecodeResult::malformed) << "no target gossip port";
  p.__set_target_gossip_port(7946);
  EXPECT_EQ(Decode(Encode(p)), DecodeResult::ok);
}

TEST_F(GossipCodecTest, StalePacketsAreRejected) {
  GossipPacket p = Packet(0);
  p.sent_ms = kNow - config_.stale_packet_window_ms;
  EXPECT_EQ(Decode(Encode(p)), DecodeResult::ok);
  p.sent_ms = kNow - config_.stale_packet_window_ms - 1;
  EXPECT_EQ(Decode(Encode(p)), DecodeResult::stale);
  p.sent_ms = kNow + config_.stale_packet_window_ms + 1;
  EXPECT_EQ(Decode(Encode(p)), DecodeResult::stale);
  for (int64_t absurd : {int64_t{0}, int64_t{-1}, INT64_MIN, INT64_MAX}) {
    p.sent_ms = absurd;
    EXPECT_EQ(Decode(Encode(p)), DecodeResult::stale) << absurd;
  }
}

TEST_F(GossipCodecTest, EncodingRespectsTheSizeLimitInOrder) {
  GossipPacket p = Packet(0);
  for (int i = 0; i < 100; ++i) p.updates.push_back(Update(i, 40));
  std::string bytes;
  const int included = codec_.encode(p, &bytes);
  EXPECT_GT(included, 5);
  EXPECT_LT(included, 100);
  EXPECT_LE(bytes.size(), config_.packet_size_limit);
  // The budget is used well: another update would not have fit.
  EXPECT_GT(bytes.size() + codec_.update_size(p.updates[0]), config_.packet_size_limit);
  GossipPacket q;
  ASSERT_EQ(Decode(bytes, &q), DecodeResult::ok);
  ASSERT_EQ(q.updates.size(), static_cast<size_t>(included));
  for (int i = 0; i < included; ++i) EXPECT_EQ(q.updates[i], p.updates[i]) << "first ones first";
  // An update too big for any packet is skipped; smaller ones behind it still go.
  GossipPacket r = Packet(0);
  r.updates.push_back(Update(1, 2000));
  r.updates.push_back(Update(2));
  ASSERT_EQ(codec_.encode(r, &bytes), 1);
  ASSERT_EQ(Decode(bytes, &q), DecodeResult::ok);
  EXPECT_EQ(q.updates[0], r.updates[1]);
  // base_size + update sizes predict the datagram exactly (up to the list header slack).
  GossipPacket s = Packet(3);
  size_t predicted = codec_.base_size(s);
  for (const auto& u : s.updates) predicted += codec_.update_size(u);
  EXPECT_LE(Encode(s).size(), predicted);
  EXPECT_GE(Encode(s).size() + 2, predicted);
}

TEST_F(GossipCodecTest, HeaderTooLargeForAnyPacketFailsToEncode) {
  GossipPacket p = Packet(0);
  p.sender.address = std::string(2000, 'h');
  std::string bytes = "stale";
  EXPECT_EQ(codec_.encode(p, &bytes), -1);
  EXPECT_TRUE(bytes.empty());
}

}  // namespace
}  // namespace thrifty::membership
