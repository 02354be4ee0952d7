// Sizes, durations, shares and tables as storectl prints them.
#include "tools/common/format.h"

#include <sstream>

#include <gtest/gtest.h>

namespace thrifty::cli {
namespace {

TEST(HumanBytes, BytesThenPowersOf1024WithOneDecimal) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1), "1 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1024), "1.0 KiB");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(48840), "47.7 KiB");
  EXPECT_EQ(HumanBytes(1024 * 1024 - 1), "1.0 MiB") << "not 1024.0 KiB";
  EXPECT_EQ(HumanBytes(1024 * 1024 - 52), "1023.9 KiB");
  EXPECT_EQ(HumanBytes(1258291), "1.2 MiB");
  EXPECT_EQ(HumanBytes(int64_t{3} << 30), "3.0 GiB");
  EXPECT_EQ(HumanBytes(int64_t{5} << 40), "5.0 TiB");
  EXPECT_EQ(HumanBytes(INT64_MAX), "8.0 EiB");
  EXPECT_EQ(HumanBytes(-1), "?");
}

TEST(HumanDuration, TheTwoLargestUnits) {
  EXPECT_EQ(HumanDuration(0), "0s");
  EXPECT_EQ(HumanDuration(59), "59s");
  EXPECT_EQ(HumanDuration(60), "1m0s");
  EXPECT_EQ(HumanDuration(12 * 60 + 5), "12m5s");
  EXPECT_EQ(HumanDuration(3599), "59m59s");
  EXPECT_EQ(HumanDuration(3600), "1h0m");
  EXPECT_EQ(HumanDuration(5 * 3600 + 3 * 60 + 59), "5h3m");
  EXPECT_EQ(HumanDuration(86399), "23h59m");
  EXPECT_EQ(HumanDuration(86400), "1d0h");
  EXPECT_EQ(HumanDuration(3 * 86400 + 4 * 3600 + 1234), "3d4h");
  EXPECT_EQ(HumanDuration(400 * 86400), "400d0h");
  EXPECT_EQ(HumanDuration(-5), "?");
}

TEST(Percent, FixedDecimals) {
  EXPECT_EQ(Percent(0.6667), "66.7%");
  EXPECT_EQ(Percent(1.0), "100.0%");
  EXPECT_EQ(Percent(0), "0.0%");
  EXPECT_EQ(Percent(2.0), "200.0%");
  EXPECT_EQ(Percent(0.33333, 2), "33.33%");
  EXPECT_EQ(Percent(0.5, 0), "50%");
}

TEST(Table, ColumnsAreAlignedAndLinesHaveNoTrailingSpaces) {
  Table table({{"Address"}, {"Owns", Table::Align::kRight}, {"Zone"}});
  table.add({"127.0.0.1:9900", "33.3%", "-"});
  table.add({"10.0.0.1:1", "100.0%", "eu-west"});
  table.add({"short"});  // missing cells are empty
  std::ostringstream out;
  table.print(out);
  EXPECT_EQ(out.str(),
            "Address           Owns  Zone\n"
            "127.0.0.1:9900   33.3%  -\n"
            "10.0.0.1:1      100.0%  eu-west\n"
            "short\n");
}

}  // namespace
}  // namespace thrifty::cli
