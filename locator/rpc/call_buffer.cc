#include "locator/rpc/call_buffer.h"

#include <algorithm>
#include <cstring>

#include "locator/rpc/framed_transport.h"

namespace thrifty::rpc {

void PutFrameSize(char* out, size_t size) {
  const auto n = static_cast<uint32_t>(size);
  out[0] = static_cast<char>(n >> 24);
  out[1] = static_cast<char>(n >> 16);
  out[2] = static_cast<char>(n >> 8);
  out[3] = static_cast<char>(n);
}

CallBuffer::CallBuffer(std::shared_ptr<apache::thrift::TConfiguration> config)
    : TVirtualTransport(std::move(config)) {}

void CallBuffer::set_read(const std::string& payload) {
  auto* data = reinterpret_cast<uint8_t*>(const_cast<char*>(payload.data()));
  setReadBuffer(data, static_cast<uint32_t>(payload.size()));
  // Every frame gets the whole message-size budget (see framed_transport.h).
  resetConsumedMessageSize();
}

void CallBuffer::start_frame(std::string storage) {
  frame_ = std::move(storage);
  frame_.resize(std::max<size_t>(frame_.capacity(), 256));
  auto* base = reinterpret_cast<uint8_t*>(frame_.data());
  setWriteBuffer(base + 4, static_cast<uint32_t>(frame_.size() - 4));
}

std::string CallBuffer::take_frame() {
  const auto* base = reinterpret_cast<uint8_t*>(frame_.data());
  const size_t size = static_cast<size_t>(wBase_ - base) - 4;
  if (size == 0) {
    frame_.clear();
  } else {
    frame_.resize(size + 4);
    PutFrameSize(frame_.data(), size);
  }
  setWriteBuffer(nullptr, 0);
  return std::move(frame_);
}

uint32_t CallBuffer::readEnd() {
  const auto left = static_cast<uint32_t>(rBound_ - rBase_);
  if (left > 0) {
    rBase_ = rBound_;
    throw FrameOverrun(std::to_string(left) + " bytes after the end of the message in its frame");
  }
  return 0;
}

uint32_t CallBuffer::readSlow(uint8_t*, uint32_t) {
  throw FrameOverrun("message runs past the end of its frame");
}

void CallBuffer::writeSlow(const uint8_t* buf, uint32_t len) {
  auto* base = reinterpret_cast<uint8_t*>(frame_.data());
  const size_t used = static_cast<size_t>(wBase_ - base);
  frame_.resize(std::max(frame_.size() * 2, used + len));
  base = reinterpret_cast<uint8_t*>(frame_.data());
  std::memcpy(base + used, buf, len);
  setWriteBuffer(base + used + len, static_cast<uint32_t>(frame_.size() - used - len));
}

}  // namespace thrifty::rpc
