#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>

#include "diststore/storage/record.h"
#include "diststore/storage/record_codec.h"
#include "diststore/storage/storage_error.h"

namespace thrifty::storage {
namespace {

Record Value(std::string value, int64_t version) { return Record{std::move(value), version, false}; }
Record Tombstone(int64_t version) { return Record{"", version, true}; }

TEST(SupersedesTest, HigherVersionWinsWhateverTheContent) {
  EXPECT_TRUE(Supersedes(Value("a", 2), Value("z", 1)));
  EXPECT_FALSE(Supersedes(Value("z", 1), Value("a", 2)));
  EXPECT_TRUE(Supersedes(Value("a", 2), Tombstone(1)));
  EXPECT_FALSE(Supersedes(Tombstone(1), Value("a", 2)));
  EXPECT_TRUE(Supersedes(Tombstone(2), Value("z", 1)));
}

TEST(SupersedesTest, TombstoneWinsATie) {
  EXPECT_TRUE(Supersedes(Tombstone(5), Value("zzz", 5)));
  EXPECT_FALSE(Supersedes(Value("zzz", 5), Tombstone(5)));
}

TEST(SupersedesTest, GreaterValueWinsATieByteWise) {
  EXPECT_TRUE(Supersedes(Value("b", 5), Value("a", 5)));
  EXPECT_FALSE(Supersedes(Value("a", 5), Value("b", 5)));
  EXPECT_TRUE(Supersedes(Value("ab", 5), Value("a", 5)));
  EXPECT_TRUE(Supersedes(Value("a", 5), Value("", 5)));
  // Unsigned bytes: 0x80 is greater than 0x7f even where char is signed.
  EXPECT_TRUE(Supersedes(Value("\x80", 5), Value("\x7f", 5)));
  EXPECT_FALSE(Supersedes(Value("\x7f", 5), Value("\x80", 5)));
  EXPECT_TRUE(Supersedes(Value(std::string("a\0b", 3), 5), Value(std::string("a\0a", 3), 5)));
}

TEST(SupersedesTest, EqualRecordsSupersedeNeitherWay) {
  EXPECT_FALSE(Supersedes(Value("a", 5), Value("a", 5)));
  EXPECT_FALSE(Supersedes(Tombstone(5), Tombstone(5)));
  // A tombstone's value field means nothing.
  Record odd = Tombstone(5);
  odd.value = "leftover";
  EXPECT_FALSE(Supersedes(odd, Tombstone(5)));
  EXPECT_FALSE(Supersedes(Tombstone(5), odd));
  EXPECT_TRUE(SameRecord(odd, Tombstone(5)));
  EXPECT_FALSE(SameRecord(Value("a", 5), Value("b", 5)));
  EXPECT_FALSE(SameRecord(Value("", 5), Tombstone(5)));
}

TEST(CheckStorableTest, RequiresAPositiveVersion) {
  EXPECT_NO_THROW(CheckStorable(Value("a", 1)));
  EXPECT_THROW(CheckStorable(Value("a", 0)), std::invalid_argument);
  EXPECT_THROW(CheckStorable(Tombstone(-3)), std::invalid_argument);
}

TEST(RecordCodecTest, EncodesTheDocumentedLayout) {
  const std::string bytes = EncodeRecord(Value("hi", 0x0102030405060708));
  EXPECT_EQ(bytes, std::string("\x01\x00\x08\x07\x06\x05\x04\x03\x02\x01hi", 12));
  const std::string tomb = EncodeRecord(Record{"dropped", 0x1ff, true});
  EXPECT_EQ(tomb, std::string("\x01\x01\xff\x01\x00\x00\x00\x00\x00\x00", 10));
}

TEST(RecordCodecTest, RoundTrips) {
  for (const Record& r : {Value("", 1), Value("apple", 42), Value(std::string("\0\xff\0", 3), 7),
                          Value(std::string(100000, 'x'), INT64_MAX), Tombstone(99)}) {
    const std::string bytes = EncodeRecord(r);
    RecordView view;
    std::string why;
    ASSERT_TRUE(DecodeRecord(bytes, &view, &why)) << why;
    EXPECT_EQ(view.version, r.version);
    EXPECT_EQ(view.tombstone, r.tombstone);
    EXPECT_EQ(view.value, r.value);
    EXPECT_TRUE(SameRecord(view.ToRecord(), r));
  }
}

TEST(RecordCodecTest, RejectsMalformedBytes) {
  const std::string good = EncodeRecord(Value("v", 9));
  struct Case {
    std::string bytes;
    const char* reason;
  };
  std::string wrong_format = good;
  wrong_format[0] = 2;
  std::string unknown_flags = good;
  unknown_flags[1] = 0x02;
  const Case cases[] = {
      {"", "shorter"},
      {good.substr(0, kRecordHeaderSize - 1), "shorter"},
      {wrong_format, "format version"},
      {unknown_flags, "flags"},
      {std::string("\x01\x00", 2) + std::string(8, '\0'), "not positive"},
      {std::string("\x01\x00", 2) + std::string(8, '\xff'), "not positive"},  // -1
      {EncodeRecord(Tombstone(9)) + "x", "tombstone carries a value"},
  };
  for (const Case& c : cases) {
    RecordView view;
    std::string why;
    EXPECT_FALSE(DecodeRecord(c.bytes, &view, &why)) << c.reason;
    EXPECT_NE(why.find(c.reason), std::string::npos) << why;
  }
}

TEST(RecordCodecTest, StoredRecordErrorsNameTheKey) {
  try {
    DecodeStoredRecord("user:\x01", "\x01");
    FAIL() << "expected StorageError";
  } catch (const StorageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("corrupt record for key 'user:\\x01'"), std::string::npos) << message;
    EXPECT_NE(message.find("1 bytes"), std::string::npos) << message;
  }
}

TEST(QuoteKeyTest, EscapesAndCuts) {
  EXPECT_EQ(QuoteKey("plain key"), "'plain key'");
  EXPECT_EQ(QuoteKey(std::string("a\0\n\xff'\\", 6)), "'a\\x00\\x0a\\xff\\x27\\x5c'");
  EXPECT_EQ(QuoteKey(std::string(100, 'k')), "'" + std::string(64, 'k') + "...'");
  EXPECT_EQ(QuoteKey(""), "''");
}

}  // namespace
}  // namespace thrifty::storage
