// The Engine contract, run against every engine.
#include "diststore/storage/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "diststore/storage/digest_tree.h"
#include "diststore/storage/hlc.h"
#include "tests/storage/temp_dir.h"

namespace thrifty::storage {
namespace {

Record Value(std::string value, int64_t version) { return Record{std::move(value), version, false}; }
Record Tombstone(int64_t version) { return Record{"", version, true}; }

struct MemoryFactory {
  static constexpr const char* kName = "memory";
  std::unique_ptr<Engine> open() { return NewMemoryEngine(); }
};

struct RocksDbFactory {
  static constexpr const char* kName = "rocksdb";
  testutil::TempDir dir;
  std::unique_ptr<Engine> open() {
    EngineOptions options;
    options.path = dir.sub("db");
    options.block_cache_bytes = 8 << 20;
    options.write_buffer_bytes = 4 << 20;
    return OpenRocksDbEngine(options);
  }
};

template <typename Factory>
class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : engine_(factory_.open()) {}

  Factory factory_;                  // outlives engine_: the directory goes after the database
  std::unique_ptr<Engine> engine_;
};

struct FactoryNames {
  template <typename Factory>
  static std::string GetName(int) { return Factory::kName; }
};

using Factories = ::testing::Types<MemoryFactory, RocksDbFactory>;
TYPED_TEST_SUITE(EngineTest, Factories, FactoryNames);

void ExpectRecord(const std::optional<Record>& got, const Record& want) {
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->version, want.version);
  EXPECT_EQ(got->tombstone, want.tombstone);
  EXPECT_EQ(got->value, want.value);
}

TYPED_TEST(EngineTest, NameAndEmptyState) {
  EXPECT_EQ(this->engine_->name(), TypeParam::kName);
  EXPECT_FALSE(this->engine_->get("absent").has_value());
  EXPECT_FALSE(this->engine_->get("").has_value());
  EXPECT_EQ(this->engine_->count_live(), 0u);
  int visited = 0;
  this->engine_->scan([&](std::string_view, const Record&) { return ++visited, true; });
  EXPECT_EQ(visited, 0);
}

TYPED_TEST(EngineTest, NewerMergeReplacesOlderIsIgnored) {
  Engine& e = *this->engine_;
  EXPECT_TRUE(e.merge("k", Value("v10", 10)));
  ExpectRecord(e.get("k"), Value("v10", 10));
  EXPECT_FALSE(e.merge("k", Value("v5", 5)));
  ExpectRecord(e.get("k"), Value("v10", 10));
  EXPECT_TRUE(e.merge("k", Value("v20", 20)));
  ExpectRecord(e.get("k"), Value("v20", 20));
  EXPECT_FALSE(e.get("other").has_value());
}

TYPED_TEST(EngineTest, EqualMergeIsNotWrittenAndTiesBreakByValue) {
  Engine& e = *this->engine_;
  EXPECT_TRUE(e.merge("k", Value("b", 10)));
  EXPECT_FALSE(e.merge("k", Value("b", 10)));  // the same write delivered twice
  EXPECT_FALSE(e.merge("k", Value("a", 10)));
  EXPECT_TRUE(e.merge("k", Value("c", 10)));
  ExpectRecord(e.get("k"), Value("c", 10));
}

TYPED_TEST(EngineTest, Tombstones) {
  Engine& e = *this->engine_;
  ASSERT_TRUE(e.merge("k", Value("v", 10)));
  Record delete_with_leftover = Tombstone(11);
  delete_with_leftover.value = "ignored";
  EXPECT_TRUE(e.merge("k", delete_with_leftover));
  ExpectRecord(e.get("k"), Tombstone(11));  // stored without the value
  EXPECT_FALSE(e.merge("k", Value("old", 10)));
  EXPECT_FALSE(e.merge("k", Value("tie", 11)));  // a tombstone wins a tie
  EXPECT_FALSE(e.merge("k", Tombstone(11)));
  EXPECT_TRUE(e.merge("k", Value("back", 12)));
  ExpectRecord(e.get("k"), Value("back", 12));

  // A tombstone for a key never seen is stored: it must still beat older copies elsewhere.
  EXPECT_TRUE(e.merge("never", Tombstone(3)));
  ExpectRecord(e.get("never"), Tombstone(3));
  EXPECT_FALSE(e.merge("never", Value("late", 2)));
}

TYPED_TEST(EngineTest, BinaryKeysAndValues) {
  Engine& e = *this->engine_;
  const std::string key("k\0\xff", 3);
  const std::string value("\0\x01\x80", 3);
  ASSERT_TRUE(e.merge(key, Value(value, 1)));
  ExpectRecord(e.get(key), Value(value, 1));
  EXPECT_FALSE(e.get("k").has_value());
  ASSERT_TRUE(e.merge("", Value("empty key", 1)));
  ExpectRecord(e.get(""), Value("empty key", 1));
  ASSERT_TRUE(e.merge("big", Value(std::string(1 << 20, 'b'), 1)));
  EXPECT_EQ(e.get("big")->value.size(), size_t{1} << 20);
}

TYPED_TEST(EngineTest, RejectsUnstampedRecords) {
  Engine& e = *this->engine_;
  EXPECT_THROW(e.merge("k", Value("v", 0)), std::invalid_argument);
  EXPECT_THROW(e.merge("k", Tombstone(-1)), std::invalid_argument);
  EXPECT_THROW(e.merge_batch({{"a", Value("a", 1)}, {"k", Value("v", 0)}}), std::invalid_argument);
  EXPECT_FALSE(e.get("k").has_value());
  EXPECT_FALSE(e.get("a").has_value());  // the whole batch was refused
}

TYPED_TEST(EngineTest, MultiGetKeepsOrderAndMarksAbsent) {
  Engine& e = *this->engine_;
  ASSERT_TRUE(e.merge("b", Value("vb", 2)));
  ASSERT_TRUE(e.merge("a", Value("va", 1)));
  ASSERT_TRUE(e.merge("t", Tombstone(3)));
  const auto got = e.multi_get({"x", "b", "a", "t", "b", "y"});
  ASSERT_EQ(got.size(), 6u);
  EXPECT_FALSE(got[0].has_value());
  ExpectRecord(got[1], Value("vb", 2));
  ExpectRecord(got[2], Value("va", 1));
  ExpectRecord(got[3], Tombstone(3));
  ExpectRecord(got[4], Value("vb", 2));
  EXPECT_FALSE(got[5].has_value());
  EXPECT_TRUE(e.multi_get({}).empty());
}

TYPED_TEST(EngineTest, MergeBatchCountsWhatWon) {
  Engine& e = *this->engine_;
  ASSERT_TRUE(e.merge("k1", Value("stored", 10)));
  const size_t written = e.merge_batch({
      {"k1", Value("older", 5)},     // loses to the stored record
      {"k2", Value("first", 1)},     // new key
      {"k3", Value("three", 3)},     // new key
      {"k2", Value("second", 2)},    // beats the entry before it
      {"k3", Value("three", 3)},     // equal to the entry before it
      {"k4", Tombstone(4)},          // a delete of a key never seen
  });
  EXPECT_EQ(written, 4u);
  ExpectRecord(e.get("k1"), Value("stored", 10));
  ExpectRecord(e.get("k2"), Value("second", 2));
  ExpectRecord(e.get("k3"), Value("three", 3));
  ExpectRecord(e.get("k4"), Tombstone(4));
  EXPECT_EQ(e.merge_batch({}), 0u);
  EXPECT_EQ(e.merge_batch({{"k1", Value("older", 9)}, {"k2", Value("second", 2)}}), 0u);
  EXPECT_EQ(e.merge_batch({{"k2", Value("older", 1)}, {"k2", Value("newer", 3)}}), 1u);
  ExpectRecord(e.get("k2"), Value("newer", 3));
  EXPECT_EQ(e.count_live(), 3u);
}

TYPED_TEST(EngineTest, EraseIfVersion) {
  Engine& e = *this->engine_;
  ASSERT_TRUE(e.merge("k", Value("v", 10)));
  EXPECT_FALSE(e.erase_if_version("k", 9));   // stale: a handoff of an older copy
  EXPECT_FALSE(e.erase_if_version("k", 11));
  ExpectRecord(e.get("k"), Value("v", 10));
  EXPECT_TRUE(e.erase_if_version("k", 10));
  EXPECT_FALSE(e.get("k").has_value());
  EXPECT_FALSE(e.erase_if_version("k", 10));
  EXPECT_FALSE(e.erase_if_version("absent", 1));

  ASSERT_TRUE(e.merge("t", Tombstone(7)));
  EXPECT_TRUE(e.erase_if_version("t", 7));
  EXPECT_FALSE(e.get("t").has_value());
  // After an erase the key is free: any version may be written again.
  EXPECT_TRUE(e.merge("k", Value("again", 1)));
  EXPECT_EQ(e.count_live(), 1u);
}

TYPED_TEST(EngineTest, EraseBatchIfVersionsDeletesOnlyUnchangedKeys) {
  Engine& e = *this->engine_;
  ASSERT_TRUE(e.merge("a", Value("va", 10)));
  ASSERT_TRUE(e.merge("b", Value("vb", 20)));
  ASSERT_TRUE(e.merge("c", Tombstone(30)));
  ASSERT_TRUE(e.merge("d", Value("vd", 40)));
  // "b" was rewritten after the handoff read it (version 19 sent, 20 stored): it stays.
  const size_t erased = e.erase_batch_if_versions(
      {{"a", 10}, {"b", 19}, {"c", 30}, {"absent", 5}, {"d", 40}});
  EXPECT_EQ(erased, 3u);
  EXPECT_FALSE(e.get("a").has_value());
  ExpectRecord(e.get("b"), Value("vb", 20));
  EXPECT_FALSE(e.get("c").has_value());
  EXPECT_FALSE(e.get("d").has_value());
  EXPECT_EQ(e.count_live(), 1u);
  EXPECT_EQ(e.erase_batch_if_versions({}), 0u);
}

TYPED_TEST(EngineTest, ScanVisitsInKeyOrderAndStops) {
  Engine& e = *this->engine_;
  std::vector<std::string> keys = {"b", "a", "ab", std::string("\xff", 1), std::string("a\0", 2),
                                   "B", "", std::string("\x80z", 2), "zz"};
  int64_t version = 1;
  for (const std::string& key : keys) {
    ASSERT_TRUE(e.merge(key, version % 3 == 0 ? Tombstone(version) : Value("v" + key, version)));
    ++version;
  }
  std::vector<std::string> want = keys;
  std::sort(want.begin(), want.end());  // std::string orders bytes as unsigned, like RocksDB

  std::vector<std::string> seen;
  size_t tombstones = 0;
  e.scan([&](std::string_view key, const Record& record) {
    seen.emplace_back(key);
    if (record.tombstone) {
      ++tombstones;
      EXPECT_TRUE(record.value.empty());
    } else {
      EXPECT_EQ(record.value, "v" + std::string(key));
    }
    return true;
  });
  EXPECT_EQ(seen, want);
  EXPECT_EQ(tombstones, 3u);

  seen.clear();
  e.scan([&](std::string_view key, const Record&) {
    seen.emplace_back(key);
    return seen.size() < 3;
  });
  EXPECT_EQ(seen, std::vector<std::string>(want.begin(), want.begin() + 3));
}

TYPED_TEST(EngineTest, ScanSeesOneMomentAndAllowsWrites) {
  Engine& e = *this->engine_;
  for (const char* key : {"a", "b", "c"}) ASSERT_TRUE(e.merge(key, Value("old", 1)));
  std::map<std::string, Record> seen;
  e.scan([&](std::string_view key, const Record& record) {
    if (key == "a") {
      // A visitor that writes (a handoff deleting what was sent) must not deadlock, and what it
      // writes after the scan began is not part of the scan.
      EXPECT_TRUE(e.merge("b", Value("new", 2)));
      EXPECT_TRUE(e.merge("bb", Value("new", 2)));
      EXPECT_TRUE(e.erase_if_version("c", 1));
    }
    seen.emplace(std::string(key), record);
    return true;
  });
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen["b"].version, 1);
  EXPECT_EQ(seen["c"].version, 1);
  ExpectRecord(e.get("b"), Value("new", 2));
  EXPECT_FALSE(e.get("c").has_value());
}

TYPED_TEST(EngineTest, CountLiveIgnoresTombstones) {
  Engine& e = *this->engine_;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(e.merge("k" + std::to_string(i), Value("v", 1)));
  EXPECT_EQ(e.count_live(), 5u);
  ASSERT_TRUE(e.merge("k0", Tombstone(2)));
  ASSERT_TRUE(e.merge("k1", Tombstone(2)));
  ASSERT_TRUE(e.merge("gone", Tombstone(2)));
  EXPECT_EQ(e.count_live(), 3u);
  ASSERT_TRUE(e.merge("k0", Value("back", 3)));
  EXPECT_EQ(e.count_live(), 4u);
  ASSERT_TRUE(e.erase_if_version("k2", 1));
  EXPECT_EQ(e.count_live(), 3u);
  ASSERT_TRUE(e.erase_if_version("gone", 2));
  EXPECT_EQ(e.count_live(), 3u);
  ASSERT_EQ(e.merge_batch({{"k3", Tombstone(5)}, {"new", Value("n", 5)}, {"k1", Value("b", 5)}}),
            3u);
  EXPECT_EQ(e.count_live(), 4u);
}

TYPED_TEST(EngineTest, MemoryBytesCountKeysAndValuesInMemoryOnly) {
  Engine& e = *this->engine_;
  if (std::string(TypeParam::kName) == "rocksdb") {
    EXPECT_FALSE(e.memory_bytes().has_value()) << "on disk: the data dir's size says it";
    return;
  }
  EXPECT_EQ(e.memory_bytes(), 0u);
  ASSERT_TRUE(e.merge("key", Value("value", 1)));        // 3 + 5
  ASSERT_TRUE(e.merge("k2", Value(std::string(100, 'x'), 1)));  // 2 + 100
  EXPECT_EQ(e.memory_bytes(), 110u);
  ASSERT_TRUE(e.merge("key", Value("v", 2)));             // 3 + 1
  EXPECT_EQ(e.memory_bytes(), 106u);
  ASSERT_TRUE(e.merge("k2", Tombstone(2)));               // the key stays, the value goes
  EXPECT_EQ(e.memory_bytes(), 6u);
  ASSERT_TRUE(e.erase_if_version("k2", 2));
  ASSERT_TRUE(e.erase_if_version("key", 2));
  EXPECT_EQ(e.memory_bytes(), 0u);
  ASSERT_EQ(e.merge_batch({{"a", Value("bb", 3)}, {"a", Value("cccc", 4)}}), 2u);
  EXPECT_EQ(e.memory_bytes(), 5u);
}

// Each thread merges its own increasing versions of the same keys; the threads interleave, so
// every key sees older versions arrive after newer ones. A reader checks meanwhile that no key
// ever goes back to an older version, and at the end the newest must be what remains.
TYPED_TEST(EngineTest, ConcurrentMergesKeepTheNewest) {
  Engine& e = *this->engine_;
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  constexpr int kKeys = 4;
  std::atomic<int> running{kThreads};
  std::atomic<int> regressions{0};
  std::thread reader([&] {
    std::vector<int64_t> seen(kKeys, 0);
    while (running.load() > 0) {
      for (int k = 0; k < kKeys; ++k) {
        const auto got = e.get("key" + std::to_string(k));
        const int64_t version = got ? got->version : 0;
        if (version < seen[k]) ++regressions;
        seen[k] = version;
      }
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        const int64_t version = int64_t{i} * kThreads + t + 1;
        e.merge("key" + std::to_string(i % kKeys), Value(std::to_string(version), version));
      }
      --running;
    });
  }
  for (auto& thread : threads) thread.join();
  reader.join();
  EXPECT_EQ(regressions.load(), 0);
  for (int k = 0; k < kKeys; ++k) {
    // The last round that touched key k, by the thread with the highest version in it.
    const int last_round = kRounds - kKeys + k;
    const int64_t newest = int64_t{last_round} * kThreads + kThreads;
    ExpectRecord(e.get("key" + std::to_string(k)), Value(std::to_string(newest), newest));
  }
}

// Batches over overlapping keys in opposite orders, racing single merges: no deadlock, and
// again the newest version of every key remains.
TYPED_TEST(EngineTest, ConcurrentBatchesAndMergesKeepTheNewest) {
  Engine& e = *this->engine_;
  constexpr int kThreads = 4;
  constexpr int kRounds = 300;
  constexpr int kKeys = 32;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&e, t] {
      for (int i = 0; i < kRounds; ++i) {
        const int64_t version = int64_t{i} * kThreads + t + 1;
        std::vector<std::pair<std::string, Record>> batch;
        for (int k = 0; k < kKeys; ++k) {
          const int key = (t % 2 == 0) ? k : kKeys - 1 - k;
          batch.emplace_back("key" + std::to_string(key), Value(std::to_string(version), version));
        }
        if (t < 2) {
          e.merge_batch(batch);
        } else {
          for (const auto& [key, record] : batch) e.merge(key, record);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const int64_t newest = int64_t{kRounds - 1} * kThreads + kThreads;
  for (int k = 0; k < kKeys; ++k) {
    ExpectRecord(e.get("key" + std::to_string(k)), Value(std::to_string(newest), newest));
  }
  EXPECT_EQ(e.count_live(), static_cast<uint64_t>(kKeys));
}


// Records every change an engine reports, and keeps a DigestTree of them.
class RecordingObserver : public ChangeObserver {
 public:
  struct Change {
    std::string key;
    std::optional<int64_t> before, after;  // versions
  };
  void on_change(std::string_view key, const std::optional<RecordView>& before,
                 const std::optional<RecordView>& after) override {
    std::lock_guard<std::mutex> lock(mu);
    Change c{std::string(key), {}, {}};
    if (before) {
      c.before = before->version;
      tree.toggle(key, before->version, before->tombstone);
    }
    if (after) {
      c.after = after->version;
      tree.toggle(key, after->version, after->tombstone);
    }
    changes.push_back(std::move(c));
  }
  std::mutex mu;
  std::vector<Change> changes;
  DigestTree tree;
};

DigestTree TreeOf(Engine& e) {
  DigestTree tree;
  e.scan([&](std::string_view key, const Record& r) {
    tree.toggle(key, r.version, r.tombstone);
    return true;
  });
  return tree;
}

TYPED_TEST(EngineTest, ObserverHearsEveryChangeWithBeforeAndAfter) {
  Engine& e = *this->engine_;
  RecordingObserver seen;
  e.set_observer(&seen);
  EXPECT_TRUE(e.merge("a", Record{"1", 10, false}));
  EXPECT_FALSE(e.merge("a", Record{"0", 5, false}));  // older: no change, no report
  EXPECT_TRUE(e.merge("a", Record{"", 20, true}));
  EXPECT_EQ(e.merge_batch({{"b", Record{"x", 3, false}}, {"b", Record{"y", 4, false}},
                           {"c", Record{"z", 1, false}}}),
            3u);
  EXPECT_TRUE(e.erase_if_version("a", 20));
  EXPECT_EQ(e.erase_batch_if_versions({{"b", 4}, {"c", 99}}), 1u);
  EXPECT_EQ(seen.tree, TreeOf(e));  // the changes add up to the data
  e.set_observer(nullptr);
  EXPECT_TRUE(e.merge("d", Record{"w", 1, false}));  // not reported
  EXPECT_NE(seen.tree, TreeOf(e));
  const auto is = [](const RecordingObserver::Change& c, const char* key,
                     std::optional<int64_t> before, std::optional<int64_t> after) {
    return c.key == key && c.before == before && c.after == after;
  };
  ASSERT_GE(seen.changes.size(), 6u);
  EXPECT_TRUE(is(seen.changes[0], "a", std::nullopt, 10));
  EXPECT_TRUE(is(seen.changes[1], "a", 10, 20));
  // A batch reports each key from what was stored to what the batch left, in one change or
  // one per entry that won (b: 3 then 4).
  const size_t n = seen.changes.size();
  EXPECT_TRUE(n == 6 || n == 7) << n;
  std::vector<RecordingObserver::Change> batch(seen.changes.begin() + 2, seen.changes.end() - 2);
  std::optional<int64_t> b_from, b_to;
  for (const auto& c : batch) {
    if (c.key == "c") {
      EXPECT_TRUE(is(c, "c", std::nullopt, 1));
    }
    if (c.key == "b" && !b_to) b_from = c.before;
    if (c.key == "b") b_to = c.after;
  }
  EXPECT_EQ(b_from, std::nullopt);
  EXPECT_EQ(b_to, 4);
  EXPECT_TRUE(is(seen.changes[n - 2], "a", 20, std::nullopt));
  EXPECT_TRUE(is(seen.changes[n - 1], "b", 4, std::nullopt));
}

// Checks each report against what it has heard of the key before (an exact observer must
// name the record a write replaced), and keeps the result: at the end it must equal the data.
class ExactObserver : public ChangeObserver {
 public:
  void on_change(std::string_view key, const std::optional<RecordView>& before,
                 const std::optional<RecordView>& after) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = state_.find(key);
    const bool had = it != state_.end();
    if (had != before.has_value() ||
        (had && (it->second.first != before->version || it->second.second != before->tombstone))) {
      ++mismatches_;
    }
    if (after) {
      state_[std::string(key)] = {after->version, after->tombstone};
    } else if (had) {
      state_.erase(it);
    }
  }
  int mismatches() {
    std::lock_guard<std::mutex> lock(mu_);
    return mismatches_;
  }
  std::map<std::string, std::pair<int64_t, bool>, std::less<>> state() {
    std::lock_guard<std::mutex> lock(mu_);
    return state_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::pair<int64_t, bool>, std::less<>> state_;
  int mismatches_ = 0;
};

std::map<std::string, std::pair<int64_t, bool>, std::less<>> VersionsOf(Engine& e) {
  std::map<std::string, std::pair<int64_t, bool>, std::less<>> out;
  e.scan([&](std::string_view key, const Record& r) {
    out[std::string(key)] = {r.version, r.tombstone};
    return true;
  });
  return out;
}

// The writers of a node at once: "stamped" ones take versions from this node's clock (newer
// than anything the node stored, unless a foreign write from a clock ahead came first);
// "foreign" ones (replica writes, hints, handoffs, repairs) bring versions from around that
// clock, older and newer, without the clock observing them. Singles and batches, with and
// without an observer. Every key must end at the newest record written to it, and an
// observer must have heard exactly what each write replaced.
TYPED_TEST(EngineTest, StampedAndForeignWritersKeepTheNewest) {
  Engine& e = *this->engine_;
  for (const bool observed : {false, true}) {
    SCOPED_TRACE(observed ? "with an observer" : "without an observer");
    const std::string prefix = observed ? "o" : "n";
    ExactObserver observer;
    if (observed) e.set_observer(&observer);
    HybridLogicalClock clock;
    constexpr int kKeys = 24;
    constexpr int kRounds = 600;
    const auto key_of = [&](uint64_t n) { return prefix + std::to_string(n % kKeys); };
    std::mutex mu;
    std::map<std::string, Record> newest;  // what each key must end at
    const auto wrote = [&](const std::string& key, const Record& r) {
      std::lock_guard<std::mutex> lock(mu);
      auto it = newest.find(key);
      if (it == newest.end() || Supersedes(r, it->second)) newest[key] = r;
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 random(1234 + t);
        const bool stamped = t < 2;
        for (int i = 0; i < kRounds; ++i) {
          const auto version = [&]() -> int64_t {
            if (stamped) return clock.now();
            // Up to 1 s of clock time either side of this node's latest stamp.
            const int64_t spread = int64_t{1000} << HybridLogicalClock::kLogicalBits;
            const int64_t around = std::max<int64_t>(clock.last(), 2 * spread);
            return around - spread + static_cast<int64_t>(random() % (2 * spread));
          };
          const bool tombstone = random() % 7 == 0;
          if (i % 3 == 0) {
            std::vector<std::pair<std::string, Record>> batch;
            for (int k = 0; k < 4; ++k) {
              const int64_t v = version();
              batch.emplace_back(key_of(random()), Record{tombstone ? "" : std::to_string(v), v,
                                                           tombstone});
            }
            e.merge_batch(batch);
            for (const auto& [key, r] : batch) wrote(key, r);
          } else {
            const int64_t v = version();
            const Record r{tombstone ? "" : std::to_string(v) + "-" + std::to_string(t), v,
                           tombstone};
            const std::string key = key_of(random());
            e.merge(key, r);
            wrote(key, r);
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    if (observed) e.set_observer(nullptr);
    for (const auto& [key, want] : newest) {
      SCOPED_TRACE(key);
      ExpectRecord(e.get(key), want);
    }
    if (observed) {
      EXPECT_EQ(observer.mismatches(), 0);
      auto data = VersionsOf(e);
      for (auto it = data.begin(); it != data.end();) {
        it = it->first.rfind(prefix, 0) == 0 ? std::next(it) : data.erase(it);
      }
      EXPECT_EQ(observer.state(), data);
    }
  }
}

// Merges racing conditional deletes (a handoff's, tombstone GC's) with an observer on: each
// report names the record the write replaced, and the reports add up to the data.
TYPED_TEST(EngineTest, MergesAndDeletesRacingReportExactly) {
  Engine& e = *this->engine_;
  ExactObserver observer;
  e.set_observer(&observer);
  HybridLogicalClock clock;
  constexpr int kKeys = 16;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 random(99 + t);
      for (int i = 0; i < 500; ++i) {
        const std::string key = "k" + std::to_string(random() % kKeys);
        if (t == 3) {
          if (const auto got = e.get(key)) {
            if (i % 2 == 0) {
              e.erase_if_version(key, got->version);
            } else {
              e.erase_batch_if_versions({{key, got->version}, {"k0", got->version}});
            }
          }
        } else {
          const int64_t v = t == 0 ? clock.now() : std::max<int64_t>(1, clock.last() - (random() % 4096));
          e.merge(key, Record{"v", v, false});
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  e.set_observer(nullptr);
  EXPECT_EQ(observer.mismatches(), 0);
  EXPECT_EQ(observer.state(), VersionsOf(e));
}

// A tree started at scan_at_cut's cut, fed the scanned records and every change reported
// after the cut, equals the data's tree, with writers running all along.
TYPED_TEST(EngineTest, ScanAtCutPlusLaterChangesEqualsTheData) {
  Engine& e = *this->engine_;
  for (int i = 0; i < 2000; ++i) e.merge("k" + std::to_string(i), Record{"v", 1, false});
  // Forwards to one recorder, switched at the cut as RangeDigests does (at_cut runs while
  // writes wait: it must not call the engine).
  struct Switching : ChangeObserver {
    void on_change(std::string_view key, const std::optional<RecordView>& before,
                   const std::optional<RecordView>& after) override {
      target.load()->on_change(key, before, after);
    }
    std::atomic<RecordingObserver*> target{nullptr};
  } switching;
  RecordingObserver before_cut, after_cut;
  switching.target = &before_cut;
  e.set_observer(&switching);
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 3; ++t) {
    writers.emplace_back([&, t] {
      for (int64_t v = 2; !stop; ++v) {
        const std::string key = "k" + std::to_string((v * 7 + t * 131) % 2500);
        if (v % 5 == 0) {
          e.erase_if_version(key, v - 1);
        } else {
          e.merge(key, Record{"v", v, v % 3 == 0});
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  DigestTree scanned;
  e.scan_at_cut([&] { switching.target = &after_cut; },
                [&](std::string_view key, const Record& r) {
                  scanned.toggle(key, r.version, r.tombstone);
                  return true;
                });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop = true;
  for (auto& w : writers) w.join();
  e.set_observer(nullptr);
  DigestTree combined = scanned;
  for (int leaf = 0; leaf < DigestTree::kLeaves; ++leaf) {
    combined.toggle_leaf(leaf, after_cut.tree.hash(DigestTree::kLeafLevel, leaf));
  }
  EXPECT_FALSE(after_cut.changes.empty());
  EXPECT_EQ(combined, TreeOf(e));
}

}  // namespace
}  // namespace thrifty::storage
