// FramedTransport: Thrift's framed transport with exactly one message per frame.
//
// 0.17's TFramedTransport reads the next frame whenever a read runs past the current one. A
// message whose string or container declares more bytes than its frame holds is then completed
// from whatever the peer sends next: the reader blocks until the idle timeout, and a request
// that follows is swallowed into the bad one. Here a frame is read only where a message begins
// (the first read, or the first read after readEnd()):
// - a read past the end of the frame before readEnd() throws FrameOverrun at once;
// - readEnd() with bytes of the frame still unread throws FrameOverrun too (a message that
//   began in them would run past the frame);
// - a frame header over the limit, or negative, throws OversizedFrame before anything is
//   allocated.
// Generated code calls readEnd() after every message it reads, on servers and clients alike.
// Each frame gets the whole message-size budget of the transport's TConfiguration (0.17 spent
// it over the connection's life).
//
// Reads of bytes inside the current frame take TBufferBase's non-virtual fast path unchanged;
// only the slow path, taken at a frame's end, is overridden.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <thrift/TConfiguration.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TTransportException.h>

namespace thrifty::rpc {

// A frame header announcing more than the reader's limit (an HTTP request or a TLS hello sent
// to a Thrift port reads as one of hundreds of MB).
class OversizedFrame : public apache::thrift::transport::TTransportException {
 public:
  OversizedFrame(uint32_t declared, uint32_t limit);
};

// A message that does not end where its frame ends.
class FrameOverrun : public apache::thrift::transport::TTransportException {
 public:
  explicit FrameOverrun(const std::string& what);
};

class FramedTransport : public apache::thrift::transport::TFramedTransport {
 public:
  // Reads frames of up to `max_frame_bytes`.
  FramedTransport(std::shared_ptr<apache::thrift::transport::TTransport> inner,
                  std::shared_ptr<apache::thrift::TConfiguration> config, uint32_t max_frame_bytes);

  uint32_t readEnd() override;

 protected:
  uint32_t readSlow(uint8_t* buf, uint32_t len) override;
  bool readFrame() override;

 private:
  bool in_message_ = false;  // a frame was read and its message has not reached readEnd()
};

}  // namespace thrifty::rpc
