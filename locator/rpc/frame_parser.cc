#include "locator/rpc/frame_parser.h"

#include <algorithm>
#include <cstring>

namespace thrifty::rpc {

namespace {

uint32_t ReadBigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

FrameParser::Status FrameParser::feed(const uint8_t* data, size_t size,
                                      std::vector<std::string>* frames) {
  if (refused_) return Status::kOversized;
  while (size > 0) {
    if (header_got_ < 4) {
      const size_t take = std::min(size, 4 - header_got_);
      std::memcpy(header_ + header_got_, data, take);
      header_got_ += take;
      data += take;
      size -= take;
      if (header_got_ < 4) break;
      frame_size_ = ReadBigEndian32(header_);
      if (frame_size_ > max_frame_bytes_ || frame_size_ > 0x7fffffffu) {
        refused_ = true;
        declared_ = frame_size_;
        head_.assign(reinterpret_cast<const char*>(data), std::min(size, kHeadBytes));
        header_got_ = 0;
        return Status::kOversized;
      }
      payload_.clear();
    }
    const size_t take = std::min(size, static_cast<size_t>(frame_size_) - payload_.size());
    if (payload_.empty() && take == frame_size_) {
      // The whole frame is here: one copy, straight into the frame handed out.
      frames->emplace_back(reinterpret_cast<const char*>(data), take);
    } else {
      payload_.append(reinterpret_cast<const char*>(data), take);
      if (payload_.size() < frame_size_) {
        data += take;
        size -= take;
        break;
      }
      frames->push_back(std::move(payload_));
      payload_ = std::string();  // a moved-from string may keep its capacity: give it back
    }
    data += take;
    size -= take;
    header_got_ = 0;
  }
  return Status::kOk;
}

std::optional<MessageHead> PeekMessageHead(const std::string& bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t n = bytes.size();
  if (n < 8) return std::nullopt;
  const uint32_t version = ReadBigEndian32(p);
  if ((version & 0xffff0000u) != 0x80010000u) return std::nullopt;
  const uint32_t name_size = ReadBigEndian32(p + 4);
  if (name_size > 256 || n < 8 + name_size + 4) return std::nullopt;
  MessageHead head;
  head.name.assign(reinterpret_cast<const char*>(p + 8), name_size);
  head.seqid = static_cast<int32_t>(ReadBigEndian32(p + 8 + name_size));
  return head;
}

}  // namespace thrifty::rpc
