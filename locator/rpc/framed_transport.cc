#include "locator/rpc/framed_transport.h"

#include <cstring>

namespace thrifty::rpc {

using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TTransport;
using apache::thrift::transport::TTransportException;

OversizedFrame::OversizedFrame(uint32_t declared, uint32_t limit)
    : TTransportException(TTransportException::CORRUPTED_DATA,
                          "frame of " + std::to_string(declared) + " bytes is over the limit of " +
                              std::to_string(limit) + " bytes") {}

FrameOverrun::FrameOverrun(const std::string& what)
    : TTransportException(TTransportException::CORRUPTED_DATA, what) {}

RequestTooLarge::RequestTooLarge(uint32_t bytes, uint32_t limit)
    : TTransportException(TTransportException::BAD_ARGS,
                          "request of " + std::to_string(bytes) + " bytes is over the frame limit of " +
                              std::to_string(limit) + " bytes"),
      bytes_(bytes),
      limit_(limit) {}

FramedTransport::FramedTransport(std::shared_ptr<TTransport> inner,
                                 std::shared_ptr<apache::thrift::TConfiguration> config,
                                 uint32_t max_frame_bytes, uint32_t max_request_bytes)
    : TFramedTransport(std::move(inner), std::move(config)), max_request_bytes_(max_request_bytes) {
  setMaxFrameSize(max_frame_bytes);
}

// Called only when the current frame holds fewer than `len` more bytes.
uint32_t FramedTransport::readSlow(uint8_t* buf, uint32_t len) {
  if (in_message_) throw FrameOverrun("message runs past the end of its frame");
  if (!readFrame()) return 0;  // end of input where a message would begin: a clean close
  in_message_ = true;
  // The first read of a message (its header) lies within the message, so within the frame.
  if (static_cast<uint32_t>(rBound_ - rBase_) < len) {
    throw FrameOverrun("message runs past the end of its frame");
  }
  std::memcpy(buf, rBase_, len);
  rBase_ += len;
  return len;
}

bool FramedTransport::readFrame() {
  // As TFramedTransport::readFrame: end of input before a header is a clean close, in the
  // middle of one an error. The size is checked as unsigned: a negative one is oversized too.
  uint8_t header[4];
  uint32_t got = 0;
  while (got < sizeof header) {
    const uint32_t n = transport_->read(header + got, static_cast<uint32_t>(sizeof header) - got);
    if (n == 0) {
      if (got == 0) return false;
      throw TTransportException(TTransportException::END_OF_FILE,
                                "end of input inside a frame header");
    }
    got += n;
  }
  const uint32_t size = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) |
                        (uint32_t{header[2]} << 8) | uint32_t{header[3]};
  if (size > maxFrameSize_ || size > 0x7fffffffu) throw OversizedFrame(size, maxFrameSize_);
  if (size > rBufSize_) {
    rBuf_.reset(new uint8_t[size]);
    rBufSize_ = size;
  }
  if (size > 0) transport_->readAll(rBuf_.get(), size);  // an empty frame may have no buffer yet
  setReadBuffer(rBuf_.get(), size);
  // Every string the protocol borrows from the frame is subtracted from the transport's
  // message-size budget (TConfiguration's maxMessageSize), and 0.17 never refills it: a
  // long-lived connection failed with "MaxMessageSize reached" once its strings added up to
  // the limit. Each frame is one message, so each starts with the whole budget.
  resetConsumedMessageSize();
  return true;
}

uint32_t FramedTransport::readEnd() {
  in_message_ = false;
  const auto left = static_cast<uint32_t>(rBound_ - rBase_);
  if (left > 0) {
    rBase_ = rBound_;
    throw FrameOverrun(std::to_string(left) + " bytes after the end of the message in its frame");
  }
  return TFramedTransport::readEnd();
}

void FramedTransport::flush() {
  const auto size = static_cast<uint32_t>(wBase_ - wBuf_.get()) - static_cast<uint32_t>(sizeof(int32_t));
  if (max_request_bytes_ > 0 && size > max_request_bytes_) {
    // Nothing was sent: drop the request (and its buffer) and stay usable.
    wBufSize_ = DEFAULT_BUFFER_SIZE;
    wBuf_.reset(new uint8_t[wBufSize_]);
    setWriteBuffer(wBuf_.get(), wBufSize_);
    wBase_ = wBuf_.get() + sizeof(int32_t);
    throw RequestTooLarge(size, max_request_bytes_);
  }
  try {
    TFramedTransport::flush();
  } catch (const TTransportException& e) {
    // A server that refuses a frame for its size closes the connection while the request is
    // still being sent: all the sender sees is a broken pipe or a reset. Say what may be why.
    if (max_request_bytes_ == 0 || size <= kFrameLimitFloor) throw;
    throw TTransportException(
        e.getType(), std::string(e.what()) + " while sending a request of " + std::to_string(size) +
                         " bytes (a server closes the connection on a frame over its limit, " +
                         std::to_string(kFrameLimitFloor) + " bytes or more)");
  }
}

}  // namespace thrifty::rpc
