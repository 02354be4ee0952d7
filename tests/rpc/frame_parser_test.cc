// FrameParser: frames cut out of a byte stream however it is split, and headers that are not
// trusted.
#include "locator/rpc/frame_parser.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace thrifty::rpc {
namespace {

std::string Header(uint32_t size) {
  std::string out(4, '\0');
  out[0] = static_cast<char>(size >> 24);
  out[1] = static_cast<char>(size >> 16);
  out[2] = static_cast<char>(size >> 8);
  out[3] = static_cast<char>(size);
  return out;
}

std::string Frame(const std::string& payload) {
  return Header(static_cast<uint32_t>(payload.size())) + payload;
}

FrameParser::Status Feed(FrameParser& parser, const std::string& bytes,
                         std::vector<std::string>* frames) {
  return parser.feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), frames);
}

TEST(FrameParser, CutsTheSameFramesHoweverTheStreamIsSplit) {
  std::mt19937 random(7);
  std::vector<std::string> sent;
  std::string stream;
  for (int i = 0; i < 200; ++i) {
    std::string payload(random() % (i % 10 == 0 ? 70000 : 300), '\0');
    for (char& c : payload) c = static_cast<char>(random());
    if (i % 17 == 0) payload.clear();  // empty frames are frames too
    sent.push_back(payload);
    stream += Frame(payload);
  }
  for (int round = 0; round < 20; ++round) {
    FrameParser parser(1 << 20);
    std::vector<std::string> got;
    size_t at = 0;
    while (at < stream.size()) {
      // From single bytes to large chunks.
      const size_t chunk = std::min(stream.size() - at, size_t{1} + random() % (round < 5 ? 3 : 100000));
      ASSERT_EQ(Feed(parser, stream.substr(at, chunk), &got), FrameParser::Status::kOk);
      at += chunk;
      EXPECT_LE(parser.buffered(), size_t{70000 + 4});
    }
    EXPECT_EQ(got, sent) << "round " << round;
    EXPECT_FALSE(parser.in_frame());
    EXPECT_EQ(parser.buffered(), 0u);
  }
}

TEST(FrameParser, HoldsOnlyTheBytesThatArrivedNotWhatTheHeaderDeclares) {
  FrameParser parser(64 << 20);
  std::vector<std::string> frames;
  ASSERT_EQ(Feed(parser, Header(60 << 20) + "abc", &frames), FrameParser::Status::kOk);
  EXPECT_TRUE(frames.empty());
  EXPECT_TRUE(parser.in_frame());
  EXPECT_EQ(parser.buffered(), 7u);
  ASSERT_EQ(Feed(parser, "de", &frames), FrameParser::Status::kOk);
  EXPECT_EQ(parser.buffered(), 9u);
  // Half a header is part of a frame too (the frame timeout must see it).
  FrameParser half(1024);
  ASSERT_EQ(Feed(half, Header(10).substr(0, 2), &frames), FrameParser::Status::kOk);
  EXPECT_TRUE(half.in_frame());
  EXPECT_EQ(half.buffered(), 2u);
}

TEST(FrameParser, RefusesHeadersOverTheLimitOrNegativeAndTakesNothingMore) {
  for (uint32_t declared : {1025u, 0x80000000u, 0xffffffffu, 0x47455420u /* "GET " */}) {
    FrameParser parser(1024);
    std::vector<std::string> frames;
    const std::string message("\x80\x01\x00\x01\x00\x00\x00\x04ping\x00\x00\x00\x07", 16);
    ASSERT_EQ(Feed(parser, Frame("ok") + Header(declared) + message, &frames),
              FrameParser::Status::kOversized);
    EXPECT_EQ(parser.declared(), declared);
    EXPECT_EQ(parser.head(), message);
    // The frame before the bad header was complete: it is still handed out.
    EXPECT_EQ(frames, std::vector<std::string>{"ok"});
    EXPECT_EQ(Feed(parser, Frame("later"), &frames), FrameParser::Status::kOversized);
    EXPECT_EQ(frames.size(), 1u);
  }
  // At the limit exactly: a frame.
  FrameParser parser(1024);
  std::vector<std::string> frames;
  EXPECT_EQ(Feed(parser, Frame(std::string(1024, 'x')), &frames), FrameParser::Status::kOk);
  EXPECT_EQ(frames.size(), 1u);
}

TEST(FrameParser, TheHeadAfterAnOversizedHeaderIsBounded) {
  FrameParser parser(16);
  std::vector<std::string> frames;
  ASSERT_EQ(Feed(parser, Header(1 << 30) + std::string(100000, 'x'), &frames),
            FrameParser::Status::kOversized);
  EXPECT_EQ(parser.head().size(), FrameParser::kHeadBytes);
}

TEST(PeekMessageHead, ReadsNameAndSeqidOfAStrictMessageOnly) {
  const std::string ping("\x80\x01\x00\x01\x00\x00\x00\x04ping\x00\x00\x01\x02", 16);
  auto head = PeekMessageHead(ping);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->name, "ping");
  EXPECT_EQ(head->seqid, 258);
  EXPECT_FALSE(PeekMessageHead(ping.substr(0, 15)).has_value());            // seqid cut short
  EXPECT_FALSE(PeekMessageHead("GET / HTTP/1.1\r\n").has_value());           // not Thrift
  EXPECT_FALSE(PeekMessageHead(std::string("\x80\x01\x00\x01\x7f\xff\xff\xff", 8)).has_value());
  EXPECT_FALSE(PeekMessageHead("").has_value());
}

}  // namespace
}  // namespace thrifty::rpc
