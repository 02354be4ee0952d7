#include "tools/bench/memcached_text.h"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace thrifty::bench {
namespace {

// Feeds `bytes` to `reader` in pieces of `piece` bytes the way the slot does: what the reader
// leaves unconsumed stays in front of the next piece. Returns the bytes left over at the end.
std::string Feed(MemcachedReplyReader& reader, const std::string& bytes, size_t piece) {
  std::string buffer;
  size_t next = 0;
  while (!reader.done()) {
    if (next >= bytes.size()) {
      ADD_FAILURE() << "the reply ended but the reader wants more";
      break;
    }
    buffer.append(bytes, next, piece);
    next += piece;
    buffer.erase(0, reader.consume(buffer.data(), buffer.size()));
  }
  return buffer + (next < bytes.size() ? bytes.substr(next) : "");
}

TEST(MemcachedText, FormatsGetOfSeveralKeysAndSet) {
  std::string out;
  AppendMemcachedGet({"key:000000000001"}, &out);
  EXPECT_EQ(out, "get key:000000000001\r\n");
  out.clear();
  AppendMemcachedGet({"a", "b", "a"}, &out);
  EXPECT_EQ(out, "get a b a\r\n");
  AppendMemcachedSet("k", "hello", &out);
  EXPECT_EQ(out, "get a b a\r\nset k 0 0 5\r\nhello\r\n");
  out.clear();
  AppendMemcachedSet("k", "", &out);
  EXPECT_EQ(out, "set k 0 0 0\r\n\r\n");
}

TEST(MemcachedText, CountsTheValuesOfAGetInAnyPieces) {
  // A hit whose value holds the protocol's own words, an empty value, a value with a cas field
  // (gets), and no block for a missing key.
  const std::string reply =
      "VALUE a 0 13\r\nx\r\nEND\r\nVALUE\r\n"
      "VALUE b 7 0\r\n\r\n"
      "VALUE c 0 3 99\r\nabc\r\n"
      "END\r\n";
  for (size_t piece = 1; piece <= reply.size(); ++piece) {
    MemcachedReplyReader reader;
    reader.expect_get();
    EXPECT_EQ(Feed(reader, reply, piece), "") << "pieces of " << piece;
    EXPECT_TRUE(reader.done());
    EXPECT_EQ(reader.values(), 3u) << "pieces of " << piece;
    EXPECT_EQ(reader.errors(), 0u);
  }
}

TEST(MemcachedText, AMissIsAnEmptyReply) {
  MemcachedReplyReader reader;
  reader.expect_get();
  const std::string reply = "END\r\n";
  EXPECT_EQ(reader.consume(reply.data(), reply.size()), reply.size());
  EXPECT_TRUE(reader.done());
  EXPECT_EQ(reader.values(), 0u);
}

TEST(MemcachedText, StopsAtTheEndOfTheReply) {
  MemcachedReplyReader reader;
  reader.expect_get();
  const std::string reply = "VALUE a 0 1\r\nz\r\nEND\r\n";
  const std::string more = reply + "STORED\r\n";
  EXPECT_EQ(reader.consume(more.data(), more.size()), reply.size());
  EXPECT_TRUE(reader.done());
  reader.expect_sets(1);
  EXPECT_EQ(reader.consume(more.data() + reply.size(), more.size() - reply.size()), more.size() - reply.size());
  EXPECT_TRUE(reader.done());
  EXPECT_EQ(reader.values(), 0u);  // counts start again with each request
}

TEST(MemcachedText, ReadsOneLinePerPipelinedSetAndCountsRefusals) {
  const std::string reply =
      "STORED\r\nSERVER_ERROR object too large for cache\r\nSTORED\r\nNOT_STORED\r\nCLIENT_ERROR bad\r\n";
  for (size_t piece : {size_t{1}, size_t{5}, reply.size()}) {
    MemcachedReplyReader reader;
    reader.expect_sets(5);
    EXPECT_EQ(Feed(reader, reply, piece), "");
    EXPECT_TRUE(reader.done());
    EXPECT_EQ(reader.errors(), 3u);
    EXPECT_EQ(reader.first_error(), "SERVER_ERROR object too large for cache");
  }
  MemcachedReplyReader reader;
  reader.expect_sets(2);
  const std::string one = "STORED\r\n";
  EXPECT_EQ(reader.consume(one.data(), one.size()), one.size());
  EXPECT_FALSE(reader.done()) << "one of two replies";
}

TEST(MemcachedText, AnErrorEndsTheReplyToAGet) {
  for (const std::string line : {"ERROR", "CLIENT_ERROR bad command line format", "SERVER_ERROR out of memory"}) {
    MemcachedReplyReader reader;
    reader.expect_get();
    const std::string reply = line + "\r\n";
    EXPECT_EQ(reader.consume(reply.data(), reply.size()), reply.size()) << line;
    EXPECT_TRUE(reader.done()) << line;
    EXPECT_EQ(reader.errors(), 1u) << line;
  }
}

TEST(MemcachedText, WhatIsNotMemcachedsProtocolThrows) {
  struct Case {
    bool get;
    std::string bytes;
  };
  const Case cases[] = {
      {true, "+OK\r\n"},                                // Redis
      {true, "VALUE a 0 x\r\nabc\r\nEND\r\n"},          // size not a number
      {true, "VALUE a 0\r\nEND\r\n"},                   // no size
      {true, "VALUE a 0 3\r\nabcdEND\r\n"},             // value longer than its size
      {true, "END\n"},                                  // bare \n
      {false, "OK\r\n"},                                // not an answer to set
      {true, std::string(MemcachedReplyReader::kMaxLine + 1, 'V')},  // no line end
  };
  for (const auto& c : cases) {
    MemcachedReplyReader reader;
    if (c.get) reader.expect_get();
    else reader.expect_sets(1);
    EXPECT_THROW(reader.consume(c.bytes.data(), c.bytes.size()), std::runtime_error) << c.bytes.substr(0, 40);
  }
}

}  // namespace
}  // namespace thrifty::bench
