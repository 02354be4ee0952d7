// FramedTransport: Thrift's framed transport with exactly one message per frame, and frame
// sizes checked in both directions.
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
// A transport with a request limit (clients) refuses to send a frame over it with
// RequestTooLarge, and sends nothing: a server closes the connection on a frame over its own
// limit without telling why, so the sender must say it.
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

// The smallest frame limit a thrifty server runs with (RpcLimits' default and floor): a frame
// at most this large is never refused for its size.
constexpr uint32_t kFrameLimitFloor = 64u << 20;

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

// A request refused before it was sent: its frame is over the limit its server takes.
class RequestTooLarge : public apache::thrift::transport::TTransportException {
 public:
  RequestTooLarge(uint32_t bytes, uint32_t limit);
  uint32_t bytes() const { return bytes_; }
  uint32_t limit() const { return limit_; }

 private:
  uint32_t bytes_;
  uint32_t limit_;
};

class FramedTransport : public apache::thrift::transport::TFramedTransport {
 public:
  // Reads frames of up to `max_frame_bytes`; sends frames of up to `max_request_bytes`
  // (0: any size, for servers: a reply's size is the client's concern).
  FramedTransport(std::shared_ptr<apache::thrift::transport::TTransport> inner,
                  std::shared_ptr<apache::thrift::TConfiguration> config, uint32_t max_frame_bytes,
                  uint32_t max_request_bytes);

  // Not thread-safe, like every transport: set it while no call is under way.
  void set_max_request_bytes(uint32_t bytes) { max_request_bytes_ = bytes; }
  uint32_t max_request_bytes() const { return max_request_bytes_; }

  uint32_t readEnd() override;
  void flush() override;

 protected:
  uint32_t readSlow(uint8_t* buf, uint32_t len) override;
  bool readFrame() override;

 private:
  bool in_message_ = false;  // a frame was read and its message has not reached readEnd()
  uint32_t max_request_bytes_;
};

}  // namespace thrifty::rpc
