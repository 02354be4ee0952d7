// CheckedBinaryProtocol reads what Thrift's binary protocol writes, and refuses type bytes
// outside Thrift's types with a TProtocolException instead of casting them into the enum.
#include "locator/rpc/checked_binary_protocol.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <thrift/transport/TBufferTransports.h>

#include "locator_types.h"

namespace thrifty::rpc {
namespace {

namespace wire = locator::wire;

using apache::thrift::protocol::TProtocolException;
using apache::thrift::transport::TMemoryBuffer;

constexpr int32_t kLimit = 1 << 20;

std::shared_ptr<CheckedBinaryProtocol<TMemoryBuffer>> Reader(const std::string& bytes,
                                                           Receives receives = Receives::kCalls) {
  auto buffer = std::make_shared<TMemoryBuffer>();
  buffer->write(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<uint32_t>(bytes.size()));
  return std::make_shared<CheckedBinaryProtocol<TMemoryBuffer>>(buffer, kLimit, kLimit, receives);
}

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

// Generated code reads through the TProtocol interface, as these tests do.
apache::thrift::protocol::TProtocol& AsTProtocol(CheckedBinaryProtocol<TMemoryBuffer>& p) { return p; }

// The type of the exception `fn` throws, or -1 when it throws none.
template <typename Fn>
int ProtocolErrorOf(Fn fn) {
  try {
    fn();
  } catch (const TProtocolException& e) {
    return e.getType();
  }
  return -1;
}

TEST(CheckedBinaryProtocol, ReadsWhatItWrites) {
  auto buffer = std::make_shared<TMemoryBuffer>();
  CheckedBinaryProtocol<TMemoryBuffer> protocol(buffer, kLimit, kLimit, Receives::kCalls);
  wire::Member member;
  member.location.address = "127.0.0.1";
  member.location.port = 7000;
  member.incarnation = 42;
  member.metadata["weight"] = "2";
  member.metadata["zone"] = "b";
  member.write(&protocol);
  wire::Member back;
  back.read(&protocol);
  EXPECT_EQ(back, member);
}

TEST(CheckedBinaryProtocol, AnUnknownFieldTypeIsInvalidData) {
  // Field 1 with type byte 124, as a fuzzer sent it.
  auto protocol = Reader(Bytes({124, 0, 1, 0}));
  wire::Location location;
  EXPECT_EQ(ProtocolErrorOf([&] { location.read(protocol.get()); }),
            TProtocolException::INVALID_DATA);
  // A negative type byte as well.
  protocol = Reader(Bytes({-3, 0, 1, 0}));
  EXPECT_EQ(ProtocolErrorOf([&] { location.read(protocol.get()); }),
            TProtocolException::INVALID_DATA);
}

TEST(CheckedBinaryProtocol, UnknownTypesInsideSkippedFieldsAreCheckedToo) {
  // Field 99 (unknown to Location) is a struct whose first field has type byte 50; skipping
  // it must go through the checked reads.
  auto protocol = Reader(Bytes({12, 0, 99, 50, 0, 1, 0, 0}));
  wire::Location location;
  EXPECT_EQ(ProtocolErrorOf([&] { location.read(protocol.get()); }),
            TProtocolException::INVALID_DATA);
  // A skipped list whose element type is unknown.
  protocol = Reader(Bytes({15, 0, 99, 77, 0, 0, 0, 1, 0}));
  EXPECT_EQ(ProtocolErrorOf([&] { location.read(protocol.get()); }),
            TProtocolException::INVALID_DATA);
  // A map with an unknown value type, in a field Member knows (metadata, id 4).
  protocol = Reader(Bytes({13, 0, 4, 11, 99, 0, 0, 0, 1}));
  wire::Member member;
  EXPECT_EQ(ProtocolErrorOf([&] { member.read(protocol.get()); }),
            TProtocolException::INVALID_DATA);
}

TEST(CheckedBinaryProtocol, ContainerSizesAreChecked) {
  // An unknown list field claiming -1 elements, then one claiming more than the limit.
  auto protocol = Reader(Bytes({15, 0, 99, 8, -1, -1, -1, -1}));
  wire::Location location;
  EXPECT_EQ(ProtocolErrorOf([&] { location.read(protocol.get()); }),
            TProtocolException::NEGATIVE_SIZE);
  protocol = Reader(Bytes({15, 0, 99, 8, 0x7f, 0, 0, 0}));
  EXPECT_EQ(ProtocolErrorOf([&] { location.read(protocol.get()); }),
            TProtocolException::SIZE_LIMIT);
}

TEST(CheckedBinaryProtocol, MessagesNeedTheVersionHeaderAndAKnownType) {
  std::string name;
  apache::thrift::protocol::TMessageType type;
  int32_t seqid = 0;
  // Version 1, type 9 (unknown), name "get", seqid 1.
  auto protocol = Reader(Bytes({0x80, 0x01, 0x00, 9, 0, 0, 0, 3, 'g', 'e', 't', 0, 0, 0, 1}));
  EXPECT_EQ(ProtocolErrorOf([&] { AsTProtocol(*protocol).readMessageBegin(name, type, seqid); }),
            TProtocolException::INVALID_DATA);
  // No version header (the unversioned old form).
  protocol = Reader(Bytes({0, 0, 0, 3, 'g', 'e', 't', 1, 0, 0, 0, 1}));
  EXPECT_EQ(ProtocolErrorOf([&] { AsTProtocol(*protocol).readMessageBegin(name, type, seqid); }),
            TProtocolException::BAD_VERSION);
  // A well-formed call.
  protocol = Reader(Bytes({0x80, 0x01, 0x00, 1, 0, 0, 0, 3, 'g', 'e', 't', 0, 0, 0, 7}));
  AsTProtocol(*protocol).readMessageBegin(name, type, seqid);
  EXPECT_EQ(name, "get");
  EXPECT_EQ(type, apache::thrift::protocol::T_CALL);
  EXPECT_EQ(seqid, 7);
}

}  // namespace
}  // namespace thrifty::rpc
