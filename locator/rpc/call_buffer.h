// CallBuffer: a Thrift transport over memory that reads one frame's payload and writes one
// frame, header included. The server runs requests through it (call_runner.h); the peer
// channel runs the generated send_*/recv_* halves of a client through it (channel_call.h).
//
// Reading: the payload is borrowed, not copied; a read past its end, or readEnd() with bytes of
// it unread, throws FrameOverrun (a message must end where its frame ends).
// Writing: what is written after start_frame() becomes one frame; take_frame() returns it with
// its 4-byte size header in front.
//
// Not thread-safe: one call at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <thrift/TConfiguration.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TVirtualTransport.h>

namespace thrifty::rpc {

// The frame header: `size`, big-endian, in the 4 bytes at `out`.
void PutFrameSize(char* out, size_t size);

// One whole message as a frame, header included: the message header (`name`, `type`, `seqid`)
// and `body` (a generated struct, or a TApplicationException) in the binary protocol.
template <class Body>
std::string MessageFrame(const std::string& name, apache::thrift::protocol::TMessageType type,
                         int32_t seqid, const Body& body) {
  auto buffer = std::make_shared<apache::thrift::transport::TMemoryBuffer>();
  apache::thrift::protocol::TBinaryProtocol protocol(buffer);
  protocol.writeMessageBegin(name, type, seqid);
  body.write(&protocol);
  protocol.writeMessageEnd();
  std::string out(4, '\0');
  buffer->appendBufferToString(out);
  PutFrameSize(out.data(), out.size() - 4);
  return out;
}

class CallBuffer
    : public apache::thrift::transport::TVirtualTransport<CallBuffer,
                                                         apache::thrift::transport::TBufferBase> {
 public:
  explicit CallBuffer(std::shared_ptr<apache::thrift::TConfiguration> config);

  bool isOpen() const override { return true; }
  void open() override {}
  void close() override {}

  // Reads come from `payload` (it must outlive the reads) until clear_read().
  void set_read(const std::string& payload);
  void clear_read() { setReadBuffer(nullptr, 0); }

  // Starts a frame in `storage` (its capacity is reused).
  void start_frame(std::string storage);
  // The frame written since start_frame(), header included (empty if nothing was written).
  std::string take_frame();

  uint32_t readEnd() override;

 protected:
  uint32_t readSlow(uint8_t*, uint32_t) override;
  const uint8_t* borrowSlow(uint8_t*, uint32_t*) override { return nullptr; }
  void writeSlow(const uint8_t* buf, uint32_t len) override;

 private:
  std::string frame_;
};

}  // namespace thrifty::rpc
