// FramedTransport: one message per frame. A message that runs past the end of its frame, or
// stops short of it, is an error at once (0.17's transport read on into the next frame and
// waited for it); frame headers over the limit are refused before anything is allocated; a
// client refuses to send a request over its limit and sends nothing.
#include "locator/rpc/framed_transport.h"

#include <cstdint>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <thrift/protocol/TProtocolException.h>
#include <thrift/transport/TBufferTransports.h>

#include "locator/rpc/limits.h"

namespace thrifty::rpc {
namespace {

using apache::thrift::protocol::TMessageType;
using apache::thrift::protocol::TProtocol;
using apache::thrift::protocol::TProtocolException;
using apache::thrift::transport::TMemoryBuffer;
using apache::thrift::transport::TTransportException;

// ---- raw bytes ----

std::string I32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}
std::string Str(const std::string& s) { return I32(static_cast<uint32_t>(s.size())) + s; }
// A strict message header: version | type, name, seqid 1.
std::string Message(const std::string& name, int type) {
  return I32(0x80010000u | static_cast<uint32_t>(type)) + Str(name) + I32(1);
}
std::string Frame(const std::string& payload) {
  return I32(static_cast<uint32_t>(payload.size())) + payload;
}

// A call of put(key): field 1, a string.
std::string PutCall(const std::string& key) {
  return Message("put", 1) + "\x0b" + std::string("\x00\x01", 2) + Str(key) + std::string(1, '\0');
}

std::shared_ptr<TMemoryBuffer> Input(const std::string& bytes) {
  auto memory = std::make_shared<TMemoryBuffer>();
  memory->write(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<uint32_t>(bytes.size()));
  return memory;
}

// A server's framed transport and protocol over `memory`, as RpcServer makes them.
struct ServerSide {
  explicit ServerSide(std::shared_ptr<TMemoryBuffer> memory, const RpcLimits& limits = RpcLimits())
      : transport(MakeFramedTransportFactory(limits)->getTransport(memory)),
        protocol(MakeBinaryProtocolFactory(limits)->getProtocol(transport)) {}
  std::shared_ptr<apache::thrift::transport::TTransport> transport;
  std::shared_ptr<TProtocol> protocol;
};

// Reads a put call's key as generated code would (message header, field header, string).
std::string ReadPutKey(TProtocol& p) {
  std::string name, key, field_name;
  TMessageType type;
  int32_t seqid = 0;
  apache::thrift::protocol::TType field_type;
  int16_t id = 0;
  p.readMessageBegin(name, type, seqid);
  p.readFieldBegin(field_name, field_type, id);
  p.readString(key);
  return key;
}

void ReadPutEnd(TProtocol& p) {
  std::string field_name;
  apache::thrift::protocol::TType field_type;
  int16_t id = 0;
  p.readFieldBegin(field_name, field_type, id);  // T_STOP of the arguments
  p.readMessageEnd();
  p.getTransport()->readEnd();
}

// The message of the TTransportException `fn` throws ("" if it throws none).
template <typename Fn>
std::string TransportErrorOf(Fn fn) {
  try {
    fn();
  } catch (const TTransportException& e) {
    return e.what();
  }
  return "";
}

TEST(FramedTransport, MessagesInTheirOwnFramesAreReadOneAfterAnother) {
  auto memory = Input(Frame(PutCall("first")) + Frame(PutCall("second")));
  ServerSide server(memory);
  EXPECT_EQ(ReadPutKey(*server.protocol), "first");
  ReadPutEnd(*server.protocol);
  EXPECT_EQ(ReadPutKey(*server.protocol), "second");
  ReadPutEnd(*server.protocol);
  EXPECT_EQ(memory->available_read(), 0u);
}

// Thrift 0.17 subtracted every borrowed string from one budget of maxMessageSize bytes for the
// connection's whole life: a pooled connection failed once its strings added up to it.
TEST(FramedTransport, EachFrameGetsTheWholeMessageSizeBudget) {
  RpcLimits limits;
  limits.max_frame_bytes = 100;  // also the configuration's maxMessageSize
  std::string frames;
  for (int i = 0; i < 20; ++i) frames += Frame(PutCall(std::string(60, 'a' + i)));
  ServerSide server(Input(frames), limits);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(ReadPutKey(*server.protocol), std::string(60, 'a' + i));
    ReadPutEnd(*server.protocol);
  }
}

TEST(FramedTransport, AStringRunningPastItsFrameFailsWithoutReadingTheNextFrame) {
  // put(key) whose key declares 100 bytes, in a frame that holds 10 of them; then a good frame.
  const std::string bad = Message("put", 1) + "\x0b" + std::string("\x00\x01", 2) + I32(100) +
                          std::string(10, 'k');
  const std::string next = Frame(PutCall("second"));
  auto memory = Input(Frame(bad) + next);
  ServerSide server(memory);
  const std::string error = TransportErrorOf([&] { ReadPutKey(*server.protocol); });
  EXPECT_NE(error.find("runs past the end of its frame"), std::string::npos) << error;
  // The next frame is still unread: the request in it was not taken for part of the bad one.
  EXPECT_EQ(memory->available_read(), next.size());
}

TEST(FramedTransport, AListRunningPastItsFrameFails) {
  // multi_get(keys): a list of 1000 strings (within the container limit) holding one.
  const std::string bad = Message("multi_get", 1) + "\x0f" + std::string("\x00\x01", 2) + "\x0b" +
                          I32(1000) + Str("a");
  auto memory = Input(Frame(bad) + Frame(PutCall("second")));
  ServerSide server(memory);
  const std::string error = TransportErrorOf([&] {
    std::string name, field_name, key;
    TMessageType type;
    int32_t seqid = 0;
    apache::thrift::protocol::TType field_type, element_type;
    int16_t id = 0;
    uint32_t size = 0;
    TProtocol& p = *server.protocol;
    p.readMessageBegin(name, type, seqid);
    p.readFieldBegin(field_name, field_type, id);
    p.readListBegin(element_type, size);
    for (uint32_t i = 0; i < size; ++i) p.readString(key);
  });
  EXPECT_NE(error.find("runs past the end of its frame"), std::string::npos) << error;
}

TEST(FramedTransport, BytesAfterTheMessageInItsFrameAreAnError) {
  // A whole put, then the start of a message that would go on in the next frame.
  auto memory = Input(Frame(PutCall("first") + Message("put", 1).substr(0, 6)) + Frame(PutCall("x")));
  ServerSide server(memory);
  EXPECT_EQ(ReadPutKey(*server.protocol), "first");
  const std::string error = TransportErrorOf([&] { ReadPutEnd(*server.protocol); });
  EXPECT_NE(error.find("6 bytes after the end of the message"), std::string::npos) << error;
}

TEST(FramedTransport, AFrameTooShortForAMessageHeaderIsAnError) {
  for (const std::string& frame : {Frame(""), Frame("\x80\x01")}) {
    ServerSide server(Input(frame + Frame(PutCall("x"))));
    const std::string error = TransportErrorOf([&] { ReadPutKey(*server.protocol); });
    EXPECT_NE(error.find("runs past the end of its frame"), std::string::npos) << error;
  }
}

TEST(FramedTransport, EndOfInputBetweenMessagesIsAPlainEndOfFile) {
  ServerSide server(Input(Frame(PutCall("only"))));
  EXPECT_EQ(ReadPutKey(*server.protocol), "only");
  ReadPutEnd(*server.protocol);
  try {
    ReadPutKey(*server.protocol);
    ADD_FAILURE() << "read a message from nothing";
  } catch (const TTransportException& e) {
    EXPECT_EQ(e.getType(), TTransportException::END_OF_FILE) << e.what();
  }
}

TEST(FramedTransport, OversizedAndNegativeFrameHeadersAreRefused) {
  RpcLimits limits;
  limits.max_frame_bytes = 1024;
  for (uint32_t declared : {1025u, 1u << 30, 0x80000000u, 0xfffffff0u}) {
    ServerSide server(Input(I32(declared) + PutCall("x")), limits);
    try {
      ReadPutKey(*server.protocol);
      ADD_FAILURE() << declared << " accepted";
    } catch (const OversizedFrame& e) {
      EXPECT_EQ(std::string(e.what()),
                "frame of " + std::to_string(declared) + " bytes is over the limit of 1024 bytes");
    }
  }
  // At the limit exactly: read.
  const std::string call = PutCall(std::string(1024 - PutCall("").size(), 'k'));
  ASSERT_EQ(call.size(), 1024u);
  ServerSide server(Input(Frame(call)), limits);
  EXPECT_EQ(ReadPutKey(*server.protocol).size(), 1024 - PutCall("").size());
}

TEST(FramedTransport, AClientSendsNoRequestOverItsLimitAndStaysUsable) {
  RpcLimits limits;
  limits.max_frame_bytes = 100;
  auto memory = std::make_shared<TMemoryBuffer>();
  auto framed = MakeFramedTransport(memory, limits);
  auto protocol = MakeBinaryProtocol(framed, limits);
  protocol->writeString(std::string(200, 'v'));
  try {
    framed->flush();
    ADD_FAILURE() << "a request of 204 bytes was sent";
  } catch (const RequestTooLarge& e) {
    EXPECT_EQ(std::string(e.what()), "request of 204 bytes is over the frame limit of 100 bytes");
    EXPECT_EQ(e.bytes(), 204u);
    EXPECT_EQ(e.limit(), 100u);
  }
  EXPECT_EQ(memory->available_read(), 0u) << "nothing may be sent";
  // The next request is whole, without a remnant of the refused one.
  protocol->writeString("small");
  framed->flush();
  EXPECT_EQ(memory->getBufferAsString(), Frame(Str("small")));

  // A server's transport sends replies of any size.
  auto reply_memory = std::make_shared<TMemoryBuffer>();
  auto reply = MakeFramedTransportFactory(limits)->getTransport(reply_memory);
  const std::string big(200, 'r');
  reply->write(reinterpret_cast<const uint8_t*>(big.data()), static_cast<uint32_t>(big.size()));
  reply->flush();
  EXPECT_EQ(reply_memory->available_read(), 204u);
}

TEST(FramedTransport, TheRequestLimitCanBeLowered) {
  RpcLimits limits;
  auto memory = std::make_shared<TMemoryBuffer>();
  auto framed = MakeFramedTransport(memory, limits);
  EXPECT_EQ(framed->max_request_bytes(), static_cast<uint32_t>(limits.max_frame_bytes));
  framed->set_max_request_bytes(10);
  auto protocol = MakeBinaryProtocol(framed, limits);
  protocol->writeString("eleven byte");
  EXPECT_THROW(framed->flush(), RequestTooLarge);
}

// Each side reads only what it can be sent: a server calls, a client replies and exceptions.
TEST(FramedTransport, ServersReadCallsOnlyAndClientsRepliesOnly) {
  std::string name;
  TMessageType type;
  int32_t seqid = 0;
  const auto protocol_error = [&](TProtocol& p) -> std::string {
    try {
      p.readMessageBegin(name, type, seqid);
    } catch (const TProtocolException& e) {
      return e.what();
    }
    return "";
  };
  for (int t : {2, 3, 4}) {
    ServerSide server(Input(Frame(Message("ping", t) + std::string(1, '\0'))));
    const std::string error = protocol_error(*server.protocol);
    EXPECT_NE(error.find("where a call is expected"), std::string::npos) << t << ": " << error;
    if (t == 4) {
      EXPECT_NE(error.find("oneway"), std::string::npos) << error;
    }
  }
  for (int t : {1, 4}) {
    auto memory = Input(Frame(Message("ping", t) + std::string(1, '\0')));
    auto client = MakeBinaryProtocol(MakeFramedTransport(memory, RpcLimits()), RpcLimits());
    const std::string error = protocol_error(*client);
    EXPECT_NE(error.find("where a reply is expected"), std::string::npos) << t << ": " << error;
  }
  for (int t : {2, 3}) {
    auto memory = Input(Frame(Message("ping", t) + std::string(1, '\0')));
    auto client = MakeBinaryProtocol(MakeFramedTransport(memory, RpcLimits()), RpcLimits());
    EXPECT_EQ(protocol_error(*client), "") << t;
    EXPECT_EQ(type, t);
  }
  ServerSide server(Input(Frame(Message("ping", 1) + std::string(1, '\0'))));
  EXPECT_EQ(protocol_error(*server.protocol), "");
  EXPECT_EQ(type, apache::thrift::protocol::T_CALL);
}

}  // namespace
}  // namespace thrifty::rpc
