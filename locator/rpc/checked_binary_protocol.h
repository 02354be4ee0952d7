// CheckedBinaryProtocol: Thrift's binary protocol, with every type byte read off the wire
// checked before it becomes a TType or TMessageType.
//
// Thrift 0.17 casts whatever byte arrives to the enum. For a byte outside the enum's range that
// is undefined behaviour (UBSan reports it on the first malformed request, and an optimiser may
// assume it never happens). Here an unknown type is a TProtocolException(INVALID_DATA) at the
// point it is read; the server closes that connection, as skip() would have a moment later.
// Messages must carry a version (strict read): every client of this project, and Thrift's
// own clients by default, send one.
//
// Each side reads only the message types it can be sent: a server calls, a client replies and
// exceptions. 0.17's generated processors execute and answer a oneway-typed message for a
// two-way method (no method of thrifty's services is oneway), and would treat a reply sent to
// a server as a call; both are refused here, before the method name is read.
//
// The checks are in the TProtocol interface's virtual reads, the ones generated code calls.
// Transport_ is the concrete transport the reads are specialised for (TBufferBase for a framed
// transport: no virtual call per byte), as in TBinaryProtocolT.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TProtocolException.h>

namespace thrifty::rpc {

// The wire types Thrift's skip() knows how to read.
inline bool IsWireType(int8_t raw) {
  switch (raw) {
    case 0: case 1: case 2: case 3: case 4: case 6: case 8: case 9: case 10: case 11: case 12:
    case 13: case 14: case 15: case 16: case 17:
      return true;
    default:
      return false;
  }
}

// What a reader takes: a server T_CALL only; a client T_REPLY and T_EXCEPTION.
enum class Receives { kCalls, kReplies };

inline bool Expected(Receives receives, int32_t type) {
  if (receives == Receives::kCalls) return type == apache::thrift::protocol::T_CALL;
  return type == apache::thrift::protocol::T_REPLY || type == apache::thrift::protocol::T_EXCEPTION;
}

// `type` is 1..4 (a known message type).
inline std::string UnexpectedMessage(Receives receives, int32_t type) {
  static const char* const kNames[] = {"", "call", "reply", "exception", "oneway"};
  std::string out = "message of type " + std::to_string(type) + " (" + kNames[type] + ") where " +
                    (receives == Receives::kCalls ? "a call" : "a reply") + " is expected";
  if (type == apache::thrift::protocol::T_ONEWAY) out += ": no method is oneway";
  return out;
}

template <class Transport_>
class CheckedBinaryProtocol : public apache::thrift::protocol::TBinaryProtocolT<Transport_> {
  using Base = apache::thrift::protocol::TBinaryProtocolT<Transport_>;
  using TType = apache::thrift::protocol::TType;
  using TProtocolException = apache::thrift::protocol::TProtocolException;

 public:
  CheckedBinaryProtocol(std::shared_ptr<Transport_> transport, int32_t string_limit,
                        int32_t container_limit, Receives receives)
      : Base(std::move(transport), string_limit, container_limit, /*strict_read=*/true,
             /*strict_write=*/true),
        receives_(receives) {}

  uint32_t readMessageBegin_virt(std::string& name,
                                 apache::thrift::protocol::TMessageType& type,
                                 int32_t& seqid) override {
    int32_t header = 0;
    uint32_t result = this->readI32(header);
    if (header >= 0 || (header & Base::VERSION_MASK) != Base::VERSION_1) {
      throw TProtocolException(TProtocolException::BAD_VERSION,
                               "message without the binary protocol's version 1 header");
    }
    const int32_t raw = header & 0xff;
    if (raw < apache::thrift::protocol::T_CALL || raw > apache::thrift::protocol::T_ONEWAY) {
      throw TProtocolException(TProtocolException::INVALID_DATA,
                               "unknown message type " + std::to_string(raw));
    }
    if (!Expected(receives_, raw)) {
      throw TProtocolException(TProtocolException::INVALID_DATA, UnexpectedMessage(receives_, raw));
    }
    type = static_cast<apache::thrift::protocol::TMessageType>(raw);
    result += this->readString(name);
    result += this->readI32(seqid);
    return result;
  }

  uint32_t readFieldBegin_virt(std::string&, TType& type, int16_t& id) override {
    uint32_t result = read_type(type);
    if (type == apache::thrift::protocol::T_STOP) {
      id = 0;
      return result;
    }
    return result + this->readI16(id);
  }

  uint32_t readMapBegin_virt(TType& key_type, TType& value_type, uint32_t& size) override {
    uint32_t result = read_type(key_type);
    result += read_type(value_type);
    result += read_size(size);
    apache::thrift::protocol::TMap map(key_type, value_type, size);
    this->checkReadBytesAvailable(map);
    return result;
  }

  uint32_t readListBegin_virt(TType& element_type, uint32_t& size) override {
    uint32_t result = read_type(element_type) + read_size(size);
    apache::thrift::protocol::TList list(element_type, size);
    this->checkReadBytesAvailable(list);
    return result;
  }

  uint32_t readSetBegin_virt(TType& element_type, uint32_t& size) override {
    uint32_t result = read_type(element_type) + read_size(size);
    apache::thrift::protocol::TSet set(element_type, size);
    this->checkReadBytesAvailable(set);
    return result;
  }

  // Thrift's skip() through the virtual calls above, so nested unknown fields are checked too.
  uint32_t skip_virt(TType type) override {
    return apache::thrift::protocol::skip(
        static_cast<apache::thrift::protocol::TProtocol&>(*this), type);
  }

 private:
  uint32_t read_type(TType& type) {
    int8_t raw = 0;
    const uint32_t result = this->readByte(raw);
    if (!IsWireType(raw)) {
      throw TProtocolException(TProtocolException::INVALID_DATA,
                               "unknown field type " + std::to_string(raw));
    }
    type = static_cast<TType>(raw);
    return result;
  }

  uint32_t read_size(uint32_t& size) {
    int32_t raw = 0;
    const uint32_t result = this->readI32(raw);
    if (raw < 0) throw TProtocolException(TProtocolException::NEGATIVE_SIZE);
    if (this->container_limit_ && raw > this->container_limit_) {
      throw TProtocolException(TProtocolException::SIZE_LIMIT);
    }
    size = static_cast<uint32_t>(raw);
    return result;
  }

  const Receives receives_;
};

}  // namespace thrifty::rpc
