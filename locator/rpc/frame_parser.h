// FrameParser: splits one connection's byte stream into Thrift frames (a 4-byte big-endian
// length, then that many bytes), trusting nothing the peer declares.
//
// A frame header over the limit (or with the sign bit set) is refused before anything is
// allocated for it: an HTTP request or a TLS hello sent to a Thrift port reads as a frame of
// hundreds of MB. A frame's bytes are kept only as they arrive, so a header announcing 60 MB
// followed by silence costs four bytes, not 60 MB. After a refusal the parser takes nothing
// more: the connection is to be closed.
//
// Not thread-safe: one connection's reads feed it, on one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace thrifty::rpc {

class FrameParser {
 public:
  explicit FrameParser(uint32_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

  enum class Status {
    kOk,         // every complete frame went to `frames`; the rest is held for the next feed
    kOversized,  // a header over the limit: see declared() and head(); feed no more
  };

  // Appends `data` to the stream. Each frame completed by it is appended to `frames` (its
  // payload, without the header), in order.
  Status feed(const uint8_t* data, size_t size, std::vector<std::string>* frames);

  // Bytes held for a frame not yet complete (its header included).
  size_t buffered() const { return header_got_ + payload_.size(); }
  // True while part of a frame (or of its header) has arrived and the rest has not.
  bool in_frame() const { return header_got_ > 0; }

  // After kOversized: the size the header declared, and the first bytes that followed it
  // (at most kHeadBytes; enough for the message header, so the refusal can be answered).
  uint32_t declared() const { return declared_; }
  const std::string& head() const { return head_; }
  static constexpr size_t kHeadBytes = 512;

 private:
  const uint32_t max_frame_bytes_;
  uint8_t header_[4] = {};
  size_t header_got_ = 0;  // bytes of the header held (4 once the frame's size is known)
  uint32_t frame_size_ = 0;
  std::string payload_;    // the current frame's bytes so far
  bool refused_ = false;
  uint32_t declared_ = 0;
  std::string head_;
};

// The method name and sequence id of a strict binary-protocol message that begins `bytes`,
// or nothing if they are not all there or not well formed. Used to answer a request that is
// refused before it is parsed (an oversized frame).
struct MessageHead {
  std::string name;
  int32_t seqid = 0;
};
std::optional<MessageHead> PeekMessageHead(const std::string& bytes);

}  // namespace thrifty::rpc
