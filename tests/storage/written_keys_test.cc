// WrittenKeys: no key that was added ever reads as "never written"; few others read as
// "maybe"; past its capacity the filter answers "maybe" for everything.
#include <gtest/gtest.h>

#include <string>

#include "diststore/storage/written_keys.h"

namespace thrifty::storage {
namespace {

TEST(WrittenKeysTest, AnAddedKeyIsNeverReportedUnwritten) {
  WrittenKeys keys(20000);
  for (int i = 0; i < 20000; i += 2) keys.add("key" + std::to_string(i));
  ASSERT_TRUE(keys.active());
  int false_positives = 0;
  for (int i = 0; i < 20000; ++i) {
    const bool maybe = keys.maybe_written("key" + std::to_string(i));
    if (i % 2 == 0) {
      ASSERT_TRUE(maybe) << i;
    } else {
      false_positives += maybe;
    }
  }
  // Half the capacity used: well under 1% of the other keys read as "maybe".
  EXPECT_LT(false_positives, 100);
}

TEST(WrittenKeysTest, AtCapacityAboutOnePercentOfOtherKeysReadAsMaybe) {
  WrittenKeys keys(10000);
  for (int i = 0; i < 10000; ++i) keys.add("in" + std::to_string(i));
  ASSERT_TRUE(keys.active());
  int false_positives = 0;
  for (int i = 0; i < 10000; ++i) false_positives += keys.maybe_written("out" + std::to_string(i));
  EXPECT_LT(false_positives, 300);  // 1% expected; 3% would mean a broken hash
}

TEST(WrittenKeysTest, PastCapacityEveryKeyMayHaveBeenWritten) {
  WrittenKeys keys(3);
  for (const char* key : {"a", "b", "c"}) keys.add(key);
  EXPECT_TRUE(keys.active());
  EXPECT_FALSE(keys.maybe_written("d"));
  keys.add("d");
  EXPECT_FALSE(keys.active());
  EXPECT_TRUE(keys.maybe_written("e"));
  EXPECT_TRUE(keys.maybe_written("a"));
}

TEST(WrittenKeysTest, ZeroCapacityIsOff) {
  WrittenKeys keys(0);
  EXPECT_FALSE(keys.active());
  EXPECT_TRUE(keys.maybe_written("anything"));
}

}  // namespace
}  // namespace thrifty::storage
