// RpcLimits: the Thrift limits sized for the store's largest value, and the transports and
// protocols made with them.
#include "locator/rpc/limits.h"

#include <cstdint>
#include <memory>

#include <gtest/gtest.h>
#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TTransportException.h>

namespace thrifty::rpc {
namespace {

constexpr int64_t MiB = 1 << 20;

TEST(RpcLimits, DefaultsAreBounded) {
  const RpcLimits limits;
  EXPECT_EQ(limits.max_frame_bytes, 64 * MiB);
  EXPECT_EQ(limits.max_string_bytes, 64 * MiB);
  EXPECT_EQ(limits.max_container_elements, 65536);
  EXPECT_EQ(limits.max_recursion_depth, 64);
}

TEST(RpcLimits, ForValueSizeKeepsRoomAboveTheValueLimit) {
  // Small values: the 64 MiB floor.
  RpcLimits l = RpcLimits::ForValueSize(1000);
  EXPECT_EQ(l.max_frame_bytes, 64 * MiB);
  l = RpcLimits::ForValueSize(0);
  EXPECT_EQ(l.max_frame_bytes, 64 * MiB);

  // The store's default (16 MiB): frames of four values and 1 MiB.
  l = RpcLimits::ForValueSize(16 * MiB);
  EXPECT_EQ(l.max_frame_bytes, 65 * MiB);

  // The largest --max-value-bytes storeserver takes (256 MiB): capped at 1 GiB.
  l = RpcLimits::ForValueSize(256 * MiB);
  EXPECT_EQ(l.max_frame_bytes, 1024 * MiB);

  // Beyond: capped, never overflowing int32.
  l = RpcLimits::ForValueSize(int64_t{1} << 40);
  EXPECT_EQ(l.max_frame_bytes, 1024 * MiB);
  EXPECT_GT(l.max_frame_bytes, 0);

  // Container and recursion limits are not about values.
  EXPECT_EQ(l.max_container_elements, RpcLimits().max_container_elements);
  EXPECT_EQ(l.max_recursion_depth, RpcLimits().max_recursion_depth);

  // For every value size a node accepts, any string that fits a frame is read (so an
  // oversized value reaches the handler and gets a clear error), and a value at the limit
  // fits a frame with room to spare.
  for (int64_t v : {int64_t{0}, int64_t{1}, 1000 * int64_t{1}, MiB, 16 * MiB, 100 * MiB, 256 * MiB}) {
    const RpcLimits limits = RpcLimits::ForValueSize(v);
    EXPECT_EQ(limits.max_string_bytes, limits.max_frame_bytes) << v;
    EXPECT_GE(limits.max_frame_bytes, 4 * v) << v;
  }
}

TEST(RpcLimits, ConfigurationCarriesTheLimits) {
  RpcLimits limits;
  limits.max_frame_bytes = 12345678;
  limits.max_recursion_depth = 17;
  auto config = MakeConfiguration(limits);
  EXPECT_EQ(config->getMaxMessageSize(), 12345678);
  EXPECT_EQ(config->getMaxFrameSize(), 12345678);
  EXPECT_EQ(config->getRecursionLimit(), 17);
}

// A framed transport made here refuses a frame header above the limit before allocating it.
TEST(RpcLimits, FramedTransportRefusesAnOversizedFrameHeader) {
  RpcLimits limits;
  limits.max_frame_bytes = 1024;
  auto memory = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
  const uint8_t header[4] = {0x40, 0x00, 0x00, 0x00};  // a 1 GiB frame
  memory->write(header, 4);
  auto framed = MakeFramedTransport(memory, limits);
  uint8_t byte = 0;
  EXPECT_THROW(framed->read(&byte, 1), apache::thrift::transport::TTransportException);
}

// The binary protocol made here refuses a string longer than max_string_bytes.
TEST(RpcLimits, BinaryProtocolRefusesAnOversizedString) {
  RpcLimits limits;
  limits.max_string_bytes = 100;
  auto memory = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
  {
    // Write a frame holding one 200-byte string with a protocol without limits.
    auto writer_framed = MakeFramedTransport(memory, RpcLimits());
    auto writer = MakeBinaryProtocol(writer_framed, RpcLimits());
    writer->writeString(std::string(200, 's'));
    writer_framed->flush();
  }
  auto framed = MakeFramedTransport(memory, limits);
  auto protocol = MakeBinaryProtocol(framed, limits);
  std::string out;
  EXPECT_THROW(protocol->readString(out), apache::thrift::protocol::TProtocolException);
}

}  // namespace
}  // namespace thrifty::rpc
