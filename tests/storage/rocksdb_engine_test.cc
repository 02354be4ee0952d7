// What only the RocksDB engine promises: data outlives the engine, the directory is exclusive,
// and damaged bytes on disk surface as StorageError naming the key.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "diststore/storage/engine.h"
#include "diststore/storage/record_codec.h"
#include "tests/storage/temp_dir.h"

namespace thrifty::storage {
namespace {

Record Value(std::string value, int64_t version) { return Record{std::move(value), version, false}; }
Record Tombstone(int64_t version) { return Record{"", version, true}; }

class RocksDbEngineTest : public ::testing::Test {
 protected:
  EngineOptions Options() const {
    EngineOptions options;
    options.path = dir_.sub("db");
    options.block_cache_bytes = 8 << 20;
    options.write_buffer_bytes = 4 << 20;
    return options;
  }

  // The engine's database opened directly, with its column families (default, hints): RocksDB
  // refuses an open that does not list every family a database has.
  struct RawDb {
    std::unique_ptr<rocksdb::DB> db;
    std::vector<rocksdb::ColumnFamilyHandle*> families;
    ~RawDb() {
      for (auto* family : families) db->DestroyColumnFamilyHandle(family);
    }
  };
  std::unique_ptr<RawDb> OpenRaw() {
    auto raw_db = std::make_unique<RawDb>();
    rocksdb::DB* raw = nullptr;
    const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {"hints", rocksdb::ColumnFamilyOptions()}};
    EXPECT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), Options().path, families,
                                  &raw_db->families, &raw)
                    .ok());
    raw_db->db.reset(raw);
    return raw_db;
  }

  // Writes raw bytes under `key`, bypassing the engine (which must be closed).
  void PutRaw(const std::string& key, const std::string& bytes) {
    auto raw = OpenRaw();
    ASSERT_TRUE(raw->db);
    ASSERT_TRUE(raw->db->Put(rocksdb::WriteOptions(), key, bytes).ok());
  }

  std::string GetRaw(const std::string& key) {
    auto raw = OpenRaw();
    std::string bytes;
    EXPECT_TRUE(raw->db && raw->db->Get(rocksdb::ReadOptions(), key, &bytes).ok());
    return bytes;
  }

  testutil::TempDir dir_;
};

std::string ErrorOf(const std::function<void()>& action) {
  try {
    action();
  } catch (const StorageError& e) {
    return e.what();
  }
  return "";
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_F(RocksDbEngineTest, DataSurvivesReopening) {
  {
    auto engine = OpenRocksDbEngine(Options());
    ASSERT_TRUE(engine->merge("a", Value("apple", 5)));
    ASSERT_TRUE(engine->merge("gone", Tombstone(6)));
    ASSERT_EQ(engine->merge_batch({{"b", Value("banana", 7)}, {"c", Value("cherry", 8)}}), 2u);
    ASSERT_TRUE(engine->erase_if_version("c", 8));
  }
  auto engine = OpenRocksDbEngine(Options());
  auto a = engine->get("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->value, "apple");
  EXPECT_EQ(a->version, 5);
  auto gone = engine->get("gone");
  ASSERT_TRUE(gone.has_value());
  EXPECT_TRUE(gone->tombstone);
  EXPECT_EQ(gone->version, 6);
  EXPECT_EQ(engine->get("b")->value, "banana");
  EXPECT_FALSE(engine->get("c").has_value());
  EXPECT_EQ(engine->count_live(), 2u);
  // Newer-wins still holds against what was read back from disk.
  EXPECT_FALSE(engine->merge("a", Value("older", 4)));
}

TEST_F(RocksDbEngineTest, EstimatesItsRecordsCheaply) {
  auto engine = OpenRocksDbEngine(Options());
  EXPECT_EQ(engine->estimate_records(), 0u);
  // Batches of 50: a batch holds a lock stripe per key, and ThreadSanitizer's deadlock
  // detector (on in the TSan unit leg) fails on a thread holding more than 64 locks.
  for (int from = 0; from < 500; from += 50) {
    std::vector<std::pair<std::string, Record>> batch;
    for (int i = from; i < from + 50; ++i) {
      batch.emplace_back("key-" + std::to_string(i), Value("v", 10 + i));
    }
    ASSERT_EQ(engine->merge_batch(batch), 50u);
  }
  ASSERT_TRUE(engine->merge("dead", Tombstone(1)));
  // RocksDB's estimate-num-keys: records, tombstones included (count_live leaves them out).
  EXPECT_NEAR(static_cast<double>(engine->estimate_records()), 501.0, 50.0);
  EXPECT_EQ(engine->count_live(), 500u);
}

TEST_F(RocksDbEngineTest, SyncedWritesSurviveReopening) {
  EngineOptions options = Options();
  options.sync = true;
  {
    auto engine = OpenRocksDbEngine(options);
    ASSERT_TRUE(engine->merge("k", Value("v", 1)));
    ASSERT_EQ(engine->merge_batch({{"k2", Value("v2", 1)}}), 1u);
  }
  auto engine = OpenRocksDbEngine(options);
  EXPECT_EQ(engine->get("k")->value, "v");
  EXPECT_EQ(engine->get("k2")->value, "v2");
}

TEST_F(RocksDbEngineTest, StoresTheDocumentedRecordFormat) {
  {
    auto engine = OpenRocksDbEngine(Options());
    ASSERT_TRUE(engine->merge("k", Value("hi", 0x0102)));
  }
  EXPECT_EQ(GetRaw("k"), std::string("\x01\x00\x02\x01\x00\x00\x00\x00\x00\x00hi", 12));
}

TEST_F(RocksDbEngineTest, ADirectoryInUseCannotBeOpenedAgain) {
  auto first = OpenRocksDbEngine(Options());
  const std::string error = ErrorOf([&] { OpenRocksDbEngine(Options()); });
  EXPECT_TRUE(Contains(error, "cannot open RocksDB database at " + Options().path)) << error;
  EXPECT_TRUE(Contains(error, "lock")) << error;
  // The first engine is unharmed, and once it is gone the directory opens.
  ASSERT_TRUE(first->merge("k", Value("v", 1)));
  first.reset();
  EXPECT_EQ(OpenRocksDbEngine(Options())->get("k")->value, "v");
}

TEST_F(RocksDbEngineTest, UnusablePathsFailClearly) {
  EngineOptions options = Options();
  options.path.clear();
  EXPECT_THROW(OpenRocksDbEngine(options), std::invalid_argument);

  // A regular file where a parent directory should be: no database can be created there.
  std::ofstream(dir_.sub("file")) << "not a directory";
  options.path = dir_.sub("file") + "/db";
  std::string error = ErrorOf([&] { OpenRocksDbEngine(options); });
  EXPECT_TRUE(Contains(error, "cannot open RocksDB database at " + options.path)) << error;

  options.path = dir_.sub("empty");
  options.create_if_missing = false;
  error = ErrorOf([&] { OpenRocksDbEngine(options); });
  EXPECT_TRUE(Contains(error, "does not exist")) << error;
}

TEST_F(RocksDbEngineTest, CorruptRecordsRaiseStorageErrorNamingTheKey) {
  {
    auto engine = OpenRocksDbEngine(Options());
    ASSERT_TRUE(engine->merge("a-good", Value("fine", 1)));
    ASSERT_TRUE(engine->merge("bad", Value("soon broken", 1)));
    ASSERT_TRUE(engine->merge("c-good", Value("fine", 1)));
  }
  std::string bad_format = EncodeRecord(Value("v", 1));
  bad_format[0] = 9;
  PutRaw("bad", "\x01\x00\x01");           // cut short
  PutRaw("bad-format", bad_format);          // a format this build does not know
  PutRaw(std::string("bin\x01", 4), "");     // nothing at all

  auto engine = OpenRocksDbEngine(Options());
  std::string error = ErrorOf([&] { engine->get("bad"); });
  EXPECT_TRUE(Contains(error, "corrupt record for key 'bad'")) << error;
  EXPECT_TRUE(Contains(error, "shorter than the record header")) << error;
  error = ErrorOf([&] { engine->get("bad-format"); });
  EXPECT_TRUE(Contains(error, "'bad-format'")) << error;
  EXPECT_TRUE(Contains(error, "format version")) << error;
  error = ErrorOf([&] { engine->get(std::string("bin\x01", 4)); });
  EXPECT_TRUE(Contains(error, "'bin\\x01'")) << error;

  EXPECT_EQ(engine->get("a-good")->value, "fine");
  error = ErrorOf([&] { engine->multi_get({"a-good", "bad"}); });
  EXPECT_TRUE(Contains(error, "'bad'")) << error;
  error = ErrorOf([&] { engine->erase_if_version("bad", 1); });
  EXPECT_TRUE(Contains(error, "'bad'")) << error;
  EXPECT_FALSE(ErrorOf([&] { engine->count_live(); }).empty());

  // A scan delivers the records before the damaged one, then fails naming it.
  std::vector<std::string> seen;
  error = ErrorOf([&] {
    engine->scan([&](std::string_view key, const Record&) {
      seen.emplace_back(key);
      return true;
    });
  });
  EXPECT_EQ(seen, std::vector<std::string>{"a-good"});
  EXPECT_TRUE(Contains(error, "'bad'")) << error;

  // A good copy from elsewhere (repair, hint, handoff) replaces a damaged record, whatever
  // its version.
  EXPECT_TRUE(engine->merge("bad", Value("repaired", 1)));
  EXPECT_EQ(engine->get("bad")->value, "repaired");
  EXPECT_EQ(engine->merge_batch({{"bad-format", Value("repaired", 1)},
                                 {std::string("bin\x01", 4), Tombstone(1)}}),
            2u);
  EXPECT_EQ(engine->count_live(), 4u);
}

}  // namespace
}  // namespace thrifty::storage
