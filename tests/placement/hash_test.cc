// Known-answer tests of the hash functions, from each one's published vectors.
#include <openssl/evp.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "locator/hash/fnv1a.h"
#include "locator/hash/hash_function.h"
#include "locator/hash/md5.h"
#include "locator/hash/siphash.h"
#include "locator/hash/xxhash.h"

namespace thrifty::hash {
namespace {

std::string Hex(const uint8_t* data, size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

// 00 01 02 ...: the messages of the SipHash paper's vectors.
std::string CountingBytes(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += static_cast<char>(i);
  return out;
}

// xxHash's sanity buffer: byte i is the top byte of PRIME32 * PRIME64^i (mod 2^64).
std::string XxhSanityBuffer(size_t n) {
  std::string out;
  uint64_t gen = 2654435761U;
  for (size_t i = 0; i < n; ++i) {
    out += static_cast<char>(gen >> 56);
    gen *= 11400714785074694797ULL;
  }
  return out;
}

TEST(Md5, Rfc1321TestSuite) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"a", "0cc175b9c0f1b6a831c399e269772661"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
       "d174ab98d277d9f5a5611c2c9f419d9f"},
      {"1234567890123456789012345678901234567890123456789012345678901234567890123456789"
       "0",
       "57edf4a22be3c955ac49da2e2107b67a"},
  };
  for (const auto& [input, expected] : cases) {
    const Md5Digest digest = Md5(input);
    EXPECT_EQ(Hex(digest.data(), digest.size()), expected) << "MD5(\"" << input << "\")";
  }
}

TEST(Md5, MatchesEvpAtEveryLengthAroundTheOneBlockShortcut) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_NE(ctx, nullptr);
  std::string data;
  for (size_t len = 0; len <= 200; ++len) {
    uint8_t expected[EVP_MAX_MD_SIZE];
    unsigned int expected_len = 0;
    ASSERT_EQ(EVP_DigestInit_ex(ctx, EVP_md5(), nullptr), 1);
    ASSERT_EQ(EVP_DigestUpdate(ctx, data.data(), data.size()), 1);
    ASSERT_EQ(EVP_DigestFinal_ex(ctx, expected, &expected_len), 1);
    const Md5Digest digest = Md5(data);
    ASSERT_EQ(Hex(digest.data(), digest.size()), Hex(expected, expected_len)) << "length " << len;
    data += static_cast<char>(len * 37 + 11);
  }
  EVP_MD_CTX_free(ctx);
}

TEST(Md5, WordsAndHashAreLittleEndian) {
  const Md5Digest digest = Md5("abc");  // 90 01 50 98 3c d2 4f b0 ...
  EXPECT_EQ(Md5Word(digest, 0), 0x98500190u);
  EXPECT_EQ(Md5Word(digest, 1), 0xb04fd23cu);
  EXPECT_EQ(Md5Hash().hash("abc"), 0xb04fd23c98500190ULL);
}

TEST(SipHash24, PaperVectorsWithKey00To0f) {
  // vectors_sip64 of the SipHash reference code: message i is 00 01 .. (i-1).
  const std::vector<std::pair<size_t, std::string>> cases = {
      {0, "310e0edd47db6f72"},  {1, "fd67dc93c539f874"},  {2, "5a4fa9d909806c0d"},
      {3, "2d7efbd796666785"},  {4, "b7877127e09427cf"},  {5, "8da699cd64557618"},
      {6, "cee3fe586e46c9cb"},  {7, "37d1018bf50002ab"},  {8, "6224939a79f5f593"},
      {9, "b0e4a90bdf82009e"},  {10, "f3b9dd94c5bb5d7a"}, {11, "a7ad6b22462fb3f4"},
      {12, "fbe50e86bc8f1e75"}, {13, "903d84c02756ea14"}, {14, "eef27a8e90ca23f7"},
      {15, "e545be4961ca29a1"}, {16, "db9bc2577fcc2a3f"}, {31, "42c341d8fa92d832"},
      {32, "ce7cf2722f512771"}, {63, "724506eb4c328a95"},
  };
  const SipHash24 sip(kDefaultSipHashKey);
  for (const auto& [len, expected] : cases) {
    const auto out = sip.mac(CountingBytes(len));
    EXPECT_EQ(Hex(out.data(), out.size()), expected) << "length " << len;
  }
  // The paper's worked example (15-byte message): 0xa129ca6149be45e5 as an integer.
  EXPECT_EQ(sip.hash(CountingBytes(15)), 0xa129ca6149be45e5ULL);
}

TEST(SipHash24, InstancesWithDifferentKeysDoNotShareState) {
  SipHashKey other_key = kDefaultSipHashKey;
  other_key[0] ^= 0xff;
  const SipHash24 a(kDefaultSipHashKey);
  const SipHash24 b(other_key);
  const uint64_t a0 = a.hash("key");
  const uint64_t b0 = b.hash("key");
  EXPECT_NE(a0, b0);
  for (int i = 0; i < 3; ++i) {  // alternate: each call must re-key the thread's context
    EXPECT_EQ(a.hash("key"), a0);
    EXPECT_EQ(b.hash("key"), b0);
  }
  // A new instance with the same key as a dead one: same answers.
  uint64_t from_temporary = 0;
  { from_temporary = SipHash24(other_key).hash("key"); }
  EXPECT_EQ(SipHash24(other_key).hash("key"), from_temporary);
  EXPECT_EQ(from_temporary, b0);
}

TEST(SipHash24, ThreadsAgree) {
  const SipHash24 sip;
  std::vector<uint64_t> expected;
  for (int i = 0; i < 500; ++i) expected.push_back(sip.hash("k" + std::to_string(i)));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i)
        mismatches[t] += sip.hash("k" + std::to_string(i)) != expected[i];
    });
  }
  for (auto& thread : threads) thread.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(Xxh64, SanityValuesSeed0) {
  const std::string buffer = XxhSanityBuffer(2367);
  const std::vector<std::pair<size_t, uint64_t>> cases = {
      {0, 0xEF46DB3751D8E999ULL},  {1, 0xE934A84ADB052768ULL},   {4, 0x9136A0DCA57457EEULL},
      {14, 0x8282DCC4994E35C8ULL}, {222, 0xB641AE8CB691C174ULL},
  };
  const Xxh64Hash xxh64;
  for (const auto& [len, expected] : cases) {
    EXPECT_EQ(xxh64.hash(std::string_view(buffer).substr(0, len)), expected) << "length " << len;
  }
}

TEST(Xxh3, SanityValuesSeed0) {
  const std::string buffer = XxhSanityBuffer(2367);
  const std::vector<std::pair<size_t, uint64_t>> cases = {
      {0, 0x2D06800538D394C2ULL},    {1, 0xC44BDFF4074EECDBULL},    {6, 0x27B56A84CD2D7325ULL},
      {12, 0xA713DAF0DFBB77E7ULL},   {24, 0xA3FE70BF9D3510EBULL},   {48, 0x397DA259ECBA1F11ULL},
      {80, 0xBCDEFBBB2C47C90AULL},   {195, 0xCD94217EE362EC3AULL},  {403, 0xCDEB804D65C6DEA4ULL},
      {512, 0x617E49599013CB6BULL},  {2048, 0xDD59E2C3A5F038E0ULL}, {2240, 0x6E73A90539CF2948ULL},
      {2367, 0xCB37AEB9E5D361EDULL},
  };
  const Xxh3Hash xxh3;
  for (const auto& [len, expected] : cases) {
    EXPECT_EQ(xxh3.hash(std::string_view(buffer).substr(0, len)), expected) << "length " << len;
  }
}

TEST(Fnv1a, PublishedValues) {
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ULL);
  EXPECT_EQ(Fnv1aHash().hash("foobar"), 0x85944171f73967e8ULL);
  static_assert(Fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
}

TEST(MakeHashFunction, KnowsEveryNameAndEachAgreesWithItsClass) {
  ASSERT_EQ(HashFunctionNames().size(), 5u);
  for (std::string_view name : HashFunctionNames()) {
    const auto hash = MakeHashFunction(name);
    ASSERT_NE(hash, nullptr);
    EXPECT_EQ(hash->name(), name);
  }
  EXPECT_EQ(MakeHashFunction("md5")->hash("abc"), Md5Hash().hash("abc"));
  EXPECT_EQ(MakeHashFunction("siphash")->hash("abc"), SipHash24(kDefaultSipHashKey).hash("abc"));
  EXPECT_EQ(MakeHashFunction("xxh64")->hash("abc"), Xxh64Hash().hash("abc"));
  EXPECT_EQ(MakeHashFunction("xxh3")->hash("abc"), Xxh3Hash().hash("abc"));
  EXPECT_EQ(MakeHashFunction("fnv1a")->hash("abc"), Fnv1a64("abc"));
}

TEST(MakeHashFunction, UnknownNameIsAClearError) {
  try {
    MakeHashFunction("sha1");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("unknown hash function 'sha1'"), std::string::npos) << message;
    EXPECT_NE(message.find("md5, siphash, xxh64, xxh3, fnv1a"), std::string::npos) << message;
  }
  EXPECT_THROW(MakeHashFunction(""), std::invalid_argument);
  EXPECT_THROW(MakeHashFunction("MD5"), std::invalid_argument);
}

}  // namespace
}  // namespace thrifty::hash
