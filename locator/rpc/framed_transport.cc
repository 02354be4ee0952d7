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

FramedTransport::FramedTransport(std::shared_ptr<TTransport> inner,
                                 std::shared_ptr<apache::thrift::TConfiguration> config,
                                 uint32_t max_frame_bytes)
    : TFramedTransport(std::move(inner), std::move(config)) {
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

}  // namespace thrifty::rpc
