// Failpoints (locator/rpc/failpoints.h): the rules file format and its reloading. The
// process-wide switch is tested only in its off state (ctest starts this without the variable).
#include "locator/rpc/failpoints.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

namespace thrifty::rpc::failpoints {
namespace {

TEST(FailpointsTest, OffWithoutTheEnvironmentVariable) {
  ASSERT_EQ(std::getenv("THRIFTY_FAILPOINTS"), nullptr);
  EXPECT_FALSE(Enabled());
  EXPECT_FALSE(Blocked("127.0.0.1", 9900));
  EXPECT_EQ(ClockOffsetMs(), 0);
}

TEST(FailpointsTest, ParsesRulesAndReportsBadLines) {
  std::vector<std::string> errors;
  const Rules rules = Parse(
      "# partition\n\nblock 127.0.0.1:9901\n  block 127.0.0.1:9902  \nblock nope\n"
      "clock_offset_ms 5\nclock_offset_ms -2500\nclock_offset_ms 1x\nfrobnicate 1\n"
      "block 127.0.0.1:9903 extra\n",
      &errors);
  EXPECT_EQ(rules.blocked, (std::set<std::string>{"127.0.0.1:9901", "127.0.0.1:9902"}));
  EXPECT_EQ(rules.clock_offset_ms, -2500);  // the last one wins
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_NE(errors[0].find("line 5"), std::string::npos);
}

void WriteAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

TEST(FailpointsTest, RulesFileFollowsRewritesAndRemoval) {
  char dir_template[] = "/tmp/thrifty-failpoints-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string path = std::string(dir_template) + "/rules";
  RulesFile file(path, /*check_interval_ms=*/0);
  EXPECT_FALSE(file.blocked("127.0.0.1", 9901));  // no file: no rules

  WriteAtomically(path, "block 127.0.0.1:9901\nclock_offset_ms 700\n");
  EXPECT_TRUE(file.blocked("127.0.0.1", 9901));
  EXPECT_FALSE(file.blocked("127.0.0.1", 9902));
  EXPECT_EQ(file.clock_offset_ms(), 700);

  WriteAtomically(path, "block 127.0.0.1:9902\n");  // a new inode: seen even in the same ms
  EXPECT_FALSE(file.blocked("127.0.0.1", 9901));
  EXPECT_TRUE(file.blocked("127.0.0.1", 9902));
  EXPECT_EQ(file.clock_offset_ms(), 0);

  ASSERT_EQ(std::remove(path.c_str()), 0);
  EXPECT_FALSE(file.blocked("127.0.0.1", 9902));
  ::rmdir(dir_template);
}

TEST(FailpointsTest, RulesFileLooksAtMostOncePerInterval) {
  char dir_template[] = "/tmp/thrifty-failpoints-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string path = std::string(dir_template) + "/rules";
  RulesFile file(path, /*check_interval_ms=*/60000);
  EXPECT_FALSE(file.blocked("127.0.0.1", 9901));
  WriteAtomically(path, "block 127.0.0.1:9901\n");
  EXPECT_FALSE(file.blocked("127.0.0.1", 9901));  // not due yet
  std::remove(path.c_str());
  ::rmdir(dir_template);
}

}  // namespace
}  // namespace thrifty::rpc::failpoints
