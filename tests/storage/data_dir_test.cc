// The data directory: its size on disk (what a node reports as data_bytes).
#include "diststore/storage/data_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/storage/temp_dir.h"

namespace thrifty::storage {
namespace {

void WriteFile(const std::string& path, size_t bytes) {
  std::ofstream(path, std::ios::binary) << std::string(bytes, 'x');
}

TEST(DirectoryBytes, SumsRegularFilesAtAnyDepth) {
  testutil::TempDir dir;
  const std::string data = dir.sub("data");
  MakeDataDir(data + "/nested/deeper");
  EXPECT_EQ(DirectoryBytes(data), 0u);
  WriteFile(data + "/000001.sst", 1000);
  WriteFile(data + "/nested/LOG", 24);
  WriteFile(data + "/nested/deeper/empty", 0);
  WriteFile(data + "/nested/deeper/MANIFEST", 3);
  EXPECT_EQ(DirectoryBytes(data), 1027u);
}

TEST(DirectoryBytes, SymbolicLinksAreNotFollowed) {
  testutil::TempDir dir;
  const std::string data = dir.sub("data");
  MakeDataDir(data);
  WriteFile(dir.sub("outside"), 5000);
  MakeDataDir(dir.sub("elsewhere"));
  WriteFile(dir.sub("elsewhere") + "/big", 7000);
  WriteFile(data + "/inside", 10);
  ASSERT_EQ(symlink(dir.sub("outside").c_str(), (data + "/link").c_str()), 0);
  ASSERT_EQ(symlink(dir.sub("elsewhere").c_str(), (data + "/dirlink").c_str()), 0);
  EXPECT_EQ(DirectoryBytes(data), 10u);
}

TEST(DirectoryBytes, AMissingDirectoryThrows) {
  testutil::TempDir dir;
  EXPECT_THROW(DirectoryBytes(dir.sub("absent")), DataDirError);
  WriteFile(dir.sub("file"), 3);
  EXPECT_THROW(DirectoryBytes(dir.sub("file")), DataDirError);
}

}  // namespace
}  // namespace thrifty::storage
