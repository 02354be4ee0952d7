// What only the RocksDB engine promises: data outlives the engine, the directory is exclusive,
// and damaged bytes on disk surface as StorageError naming the key.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <fstream>
#include <thread>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "diststore/storage/engine.h"
#include "diststore/storage/record_codec.h"
#include "tests/net/wait_for.h"
#include "tests/net/gate.h"
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

  // The engine's database opened directly, with its column families (default, hints, meta):
  // RocksDB refuses an open that does not list every family a database has. Without the
  // meta family: a database as a release before the version mark made it (created if
  // missing).
  struct RawDb {
    std::unique_ptr<rocksdb::DB> db;
    std::vector<rocksdb::ColumnFamilyHandle*> families;
    ~RawDb() {
      for (auto* family : families) db->DestroyColumnFamilyHandle(family);
    }
  };
  std::unique_ptr<RawDb> OpenRaw(bool with_meta = true) {
    auto raw_db = std::make_unique<RawDb>();
    rocksdb::DB* raw = nullptr;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {"hints", rocksdb::ColumnFamilyOptions()}};
    if (with_meta) families.emplace_back("meta", rocksdb::ColumnFamilyOptions());
    rocksdb::DBOptions options;
    options.create_if_missing = !with_meta;
    options.create_missing_column_families = !with_meta;
    EXPECT_TRUE(rocksdb::DB::Open(options, Options().path, families, &raw_db->families, &raw)
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

int64_t Stat(Engine& engine, const std::string& name) { return engine.stats().at(name); }

// A version above everything stored cannot lose, so without an observer the engine writes it
// without reading the key; anything else is read and compared.
TEST_F(RocksDbEngineTest, ARecordNewerThanEverythingStoredIsWrittenWithoutReading) {
  auto engine = OpenRocksDbEngine(Options());
  const auto skipped = [&] { return Stat(*engine, "engine_merge_reads_skipped"); };
  const int64_t base = int64_t{1} << 40;
  EXPECT_TRUE(engine->merge("a", Value("1", base)));
  EXPECT_TRUE(engine->merge("a", Value("2", base + 1)));
  EXPECT_EQ(skipped(), 2);
  EXPECT_FALSE(engine->merge("a", Value("old", base - 5)));  // read, and it loses
  EXPECT_FALSE(engine->merge("a", Value("2", base + 1)));    // equal: read, not written
  EXPECT_EQ(skipped(), 2);
  EXPECT_EQ(engine->get("a")->version, base + 1);
  // In a batch, a key's later entries compare with its earlier ones (b: 10 stays).
  EXPECT_EQ(engine->merge_batch({{"b", Value("10", base + 10)},
                                 {"a", Value("3", base + 2)},
                                 {"b", Value("9", base + 9)}}),
            2u);
  EXPECT_EQ(skipped(), 4);
  EXPECT_EQ(engine->get("b")->value, "10");
  EXPECT_EQ(engine->get("a")->value, "3");
  // A version between the stored record's and the greatest stored is read: it loses to b's.
  EXPECT_FALSE(engine->merge("b", Value("5", base + 5)));
  // Never written by this engine, which opened empty: known absent, written unread, and
  // counted apart (engine_fresh_keys_unread; the next tests).
  EXPECT_TRUE(engine->merge("c", Value("5", base + 5)));
  EXPECT_EQ(skipped(), 4);
  EXPECT_EQ(Stat(*engine, "engine_fresh_keys_unread"), 1);

  // A delete is always decided on the stored version; what it removed stays below the bound.
  EXPECT_TRUE(engine->erase_if_version("b", base + 10));
  EXPECT_TRUE(engine->merge("b", Value("8", base + 8)));  // read: the key is gone
  EXPECT_EQ(skipped(), 4);
  EXPECT_EQ(engine->get("b")->version, base + 8);

  // With an observer every key is read: it must hear what each write replaced.
  struct Last : ChangeObserver {
    void on_change(std::string_view, const std::optional<RecordView>& before,
                   const std::optional<RecordView>& after) override {
      this->before = before ? before->version : 0;
      this->after = after ? after->version : 0;
    }
    int64_t before = -1, after = -1;
  } last;
  engine->set_observer(&last);
  const int64_t skipped_before = skipped();
  EXPECT_TRUE(engine->merge("a", Value("4", base + 100)));
  EXPECT_EQ(last.before, base + 2);
  EXPECT_EQ(last.after, base + 100);
  EXPECT_EQ(skipped(), skipped_before);
  engine->set_observer(nullptr);
}

// The bound outlives the engine: after reopening, an older record is still read and loses.
TEST_F(RocksDbEngineTest, TheVersionBoundSurvivesReopening) {
  const int64_t stored = int64_t{1} << 40;
  {
    auto engine = OpenRocksDbEngine(Options());
    ASSERT_TRUE(engine->merge("k", Value("newest", stored)));
  }
  auto engine = OpenRocksDbEngine(Options());
  EXPECT_FALSE(engine->merge("k", Value("older", stored - 1)));
  EXPECT_EQ(Stat(*engine, "engine_merge_reads_skipped"), 0);
  EXPECT_EQ(engine->get("k")->value, "newest");
  // Far above the bound: written unread.
  EXPECT_TRUE(engine->merge("k", Value("later", stored + (int64_t{1} << 36))));
  EXPECT_EQ(Stat(*engine, "engine_merge_reads_skipped"), 1);
  EXPECT_EQ(engine->get("k")->value, "later");
}

// A database written before the bound existed has none: the first open scans it, so a record
// older than what is stored still loses, and the bound is kept from then on.
TEST_F(RocksDbEngineTest, ADatabaseWithoutTheBoundIsScannedOnFirstOpen) {
  {
    auto raw = OpenRaw(/*with_meta=*/false);
    ASSERT_TRUE(raw->db);
    ASSERT_TRUE(raw->db->Put(rocksdb::WriteOptions(), "old", EncodeRecord(Value("v", 5000))).ok());
    ASSERT_TRUE(raw->db->Put(rocksdb::WriteOptions(), "damaged", "xx").ok());
  }
  {
    auto engine = OpenRocksDbEngine(Options());
    EXPECT_FALSE(engine->merge("old", Value("older", 4999)));
    EXPECT_TRUE(engine->merge("new", Value("n", 4000)));
    EXPECT_EQ(Stat(*engine, "engine_merge_reads_skipped"), 0);
    EXPECT_EQ(engine->get("old")->version, 5000);
  }
  auto engine = OpenRocksDbEngine(Options());
  EXPECT_FALSE(engine->merge("old", Value("older", 4998)));
  EXPECT_EQ(engine->get("old")->version, 5000);
}

// Records every change report: key -> (version before or 0, version after or 0), in order.
struct ChangeLog : ChangeObserver {
  void on_change(std::string_view key, const std::optional<RecordView>& before,
                 const std::optional<RecordView>& after) override {
    std::lock_guard<std::mutex> lock(mu);
    changes.push_back({std::string(key), before ? before->version : 0, after ? after->version : 0});
  }
  struct Change {
    std::string key;
    int64_t before, after;
  };
  std::mutex mu;
  std::vector<Change> changes;
};

// A joining node's engine opens empty: every key it never wrote has no record, so a batch of
// them (a handoff) is written without a read, below the version bound and with the digest
// observer on too, and the observer hears "no record before". Keys it wrote since (a client's
// write during the handoff) are read and keep the newest version.
TEST_F(RocksDbEngineTest, AnEngineThatOpenedEmptyWritesKeysItNeverWroteUnread) {
  auto engine = OpenRocksDbEngine(Options());
  EXPECT_EQ(Stat(*engine, "engine_fresh_keys_tracking"), 1);
  ChangeLog log;
  engine->set_observer(&log);
  const int64_t base = int64_t{1} << 40;
  // A client's write: the bound rises above everything the handoff brings.
  ASSERT_TRUE(engine->merge("client", Value("newest", base + 100)));
  std::vector<std::pair<std::string, Record>> handoff;
  for (int i = 0; i < 1000; ++i) handoff.emplace_back("k" + std::to_string(i), Value("v", base + i % 50));
  handoff.emplace_back("client", Value("older", base + 60));
  EXPECT_EQ(engine->merge_batch(handoff), 1000u);  // "client" lost
  EXPECT_EQ(engine->get("client")->value, "newest");
  // 1001 keys never written ("client" once, before the batch), none read but "client".
  EXPECT_EQ(Stat(*engine, "engine_fresh_keys_unread"), 1 + 1000);
  EXPECT_EQ(Stat(*engine, "engine_merge_reads_skipped"), 0);
  engine->set_observer(nullptr);
  ASSERT_EQ(log.changes.size(), 1001u);
  for (const auto& change : log.changes) EXPECT_EQ(change.before, 0) << change.key;

  // The same keys again (another holder's copy of a replica): read and compared now.
  engine->set_observer(&log);
  log.changes.clear();
  EXPECT_EQ(engine->merge_batch({{"k1", Value("older", base)}, {"k2", Value("newer", base + 99)}}),
            1u);
  engine->set_observer(nullptr);
  EXPECT_EQ(Stat(*engine, "engine_fresh_keys_unread"), 1001);
  EXPECT_EQ(engine->get("k1")->version, base + 1);
  EXPECT_EQ(engine->get("k2")->value, "newer");
  ASSERT_EQ(log.changes.size(), 1u);
  EXPECT_EQ(log.changes[0].before, base + 2);
  EXPECT_EQ(log.changes[0].after, base + 99);
  // A key deleted since is "maybe written": read, and the older record stays out.
  ASSERT_TRUE(engine->erase_if_version("k3", base + 3));
  EXPECT_TRUE(engine->merge("k3", Value("again", base + 3)));  // nothing stored: it wins
  EXPECT_EQ(Stat(*engine, "engine_fresh_keys_unread"), 1001);
}

// An engine that opened with records reads every key below the bound, as before: a key it
// holds keeps its newer version.
TEST_F(RocksDbEngineTest, AnEngineThatOpenedWithRecordsReadsEveryKey) {
  const int64_t base = int64_t{1} << 40;
  {
    auto engine = OpenRocksDbEngine(Options());
    ASSERT_TRUE(engine->merge("held", Value("newest", base + 10)));
  }
  auto engine = OpenRocksDbEngine(Options());
  EXPECT_EQ(Stat(*engine, "engine_fresh_keys_tracking"), 0);
  EXPECT_EQ(engine->merge_batch({{"held", Value("older", base + 5)}, {"new", Value("n", base)}}),
            1u);
  EXPECT_EQ(engine->get("held")->value, "newest");
  EXPECT_EQ(Stat(*engine, "engine_fresh_keys_unread"), 0);
  EXPECT_EQ(Stat(*engine, "engine_merge_reads_skipped"), 0);
}

// Past its capacity the engine stops tracking the keys it wrote and reads every key.
TEST_F(RocksDbEngineTest, PastItsCapacityAFreshEngineReadsEveryKey) {
  EngineOptions options = Options();
  options.fresh_keys_capacity = 2;
  auto engine = OpenRocksDbEngine(options);
  const int64_t base = int64_t{1} << 40;
  ASSERT_TRUE(engine->merge("z", Value("bound", base + 100)));
  ASSERT_EQ(engine->merge_batch({{"a", Value("a", base)}, {"b", Value("b", base)}}), 2u);
  EXPECT_EQ(Stat(*engine, "engine_fresh_keys_tracking"), 0);  // the third key turned it off
  // z was above the bound (engine_merge_reads_skipped); a and b were fresh.
  EXPECT_EQ(Stat(*engine, "engine_fresh_keys_unread"), 2);
  EXPECT_TRUE(engine->merge("c", Value("c", base)));
  EXPECT_FALSE(engine->merge("a", Value("older", base - 1)));
  EXPECT_EQ(Stat(*engine, "engine_fresh_keys_unread"), 2);
  EXPECT_EQ(engine->get("a")->value, "a");
}

// Once the keys written are no longer new to it, the engine stops probing the filter (every
// probe would say "maybe"): after a window of 65,536 probes with fewer than 1 in 8 fresh.
TEST_F(RocksDbEngineTest, AFreshEngineStopsTrackingWhenKeysAreNoLongerNew) {
  auto engine = OpenRocksDbEngine(Options());
  const int64_t base = int64_t{1} << 40;
  ASSERT_TRUE(engine->merge("z", Value("bound", base + 1'000'000)));
  // In batches of 1,000, as a handoff sends them.
  const auto write_all = [&](int64_t offset) {
    for (int first = 0; first < 70000; first += 1000) {
      std::vector<std::pair<std::string, Record>> batch;
      for (int i = first; i < first + 1000; ++i) {
        batch.emplace_back("k" + std::to_string(i), Value("v", base + offset + i));
      }
      ASSERT_EQ(engine->merge_batch(batch), batch.size());
    }
  };
  write_all(0);
  EXPECT_EQ(Stat(*engine, "engine_fresh_keys_unread"), 70000);
  EXPECT_EQ(Stat(*engine, "engine_fresh_keys_tracking"), 1);  // all new: it pays
  write_all(100000);  // all read: none new
  EXPECT_EQ(Stat(*engine, "engine_fresh_keys_tracking"), 0);
  EXPECT_EQ(Stat(*engine, "engine_fresh_keys_unread"), 70000);
  EXPECT_TRUE(engine->merge("new", Value("n", base)));  // read now, absent: written
  EXPECT_FALSE(engine->merge("k5", Value("older", base + 5)));
  EXPECT_EQ(engine->get("k5")->version, base + 100005);
}

// Holds every change report (and with it the group that makes it) until the gate opens.
class GatedObserver : public ChangeObserver {
 public:
  void on_change(std::string_view, const std::optional<RecordView>&,
                 const std::optional<RecordView>&) override {
    gate.pass();
  }
  thrifty::testing::Gate gate;
};

// Writes that arrive while a group commits are committed together as the next group: one
// read, one RocksDB write, each caller answered with its own outcome.
TEST_F(RocksDbEngineTest, WritesThatArriveTogetherAreCommittedAsOneGroup) {
  auto engine = OpenRocksDbEngine(Options());
  GatedObserver gated;
  thrifty::testing::Gate& gate = gated.gate;
  engine->set_observer(&gated);
  std::thread first([&] { EXPECT_TRUE(engine->merge("a", Value("a", 1))); });
  ASSERT_TRUE(thrifty::testing::PollUntil([&] { return gate.entered(); }, 10000));
  std::atomic<int> x_written{0};
  size_t batch_written = 0;
  bool erased = false;
  std::vector<std::thread> queued;
  queued.emplace_back([&] { x_written += engine->merge("x", Value("2", 2)); });
  queued.emplace_back([&] { x_written += engine->merge("x", Value("3", 3)); });
  queued.emplace_back([&] {
    batch_written = engine->merge_batch({{"y", Value("y", 1)}, {"z", Value("z", 1)}});
  });
  queued.emplace_back([&] { erased = engine->erase_if_version("a", 1); });
  ASSERT_TRUE(thrifty::testing::PollUntil(
      [&] { return Stat(*engine, "engine_writes_waiting") == 4; }, 10000));
  gate.release();
  first.join();
  for (auto& t : queued) t.join();
  engine->set_observer(nullptr);

  EXPECT_EQ(Stat(*engine, "engine_write_groups"), 2);
  EXPECT_EQ(Stat(*engine, "engine_writes_grouped"), 5);
  EXPECT_GE(x_written.load(), 1);  // 3 won; 2 too if it came first
  EXPECT_EQ(engine->get("x")->value, "3");
  EXPECT_EQ(batch_written, 2u);
  EXPECT_TRUE(erased);  // the first group's write was stored before the second was decided
  EXPECT_FALSE(engine->get("a").has_value());
  // One report per key of the second group (x once, from absent to 3), one for the first.
  EXPECT_EQ(gate.arrivals(), 5);
}

}  // namespace
}  // namespace thrifty::storage
