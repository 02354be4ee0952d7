// HintStore on both engines' side tables: newest hint per target and key, delivery that keeps
// a hint replaced meanwhile, the hint window, and (RocksDB) hints and their counts surviving a
// reopen beside the records.
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "diststore/storage/engine.h"
#include "diststore/storage/hint_store.h"
#include "tests/storage/temp_dir.h"

namespace thrifty::storage {
namespace {

Record Value(const std::string& v, int64_t version) { return Record{v, version, false}; }

class HintStoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { open(); }
  void open() {
    hints_.reset();
    engine_.reset();
    if (GetParam()) {
      EngineOptions options;
      options.path = dir_.path();
      engine_ = OpenRocksDbEngine(options);
    } else {
      engine_ = NewMemoryEngine();
    }
    hints_ = std::make_unique<HintStore>(engine_->hints_table());
  }
  testutil::TempDir dir_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<HintStore> hints_;
};

TEST_P(HintStoreTest, KeepsTheNewestPerTargetAndKey) {
  hints_->add("host-a", "k1", Value("old", 10), 1000);
  hints_->add("host-a", "k1", Value("new", 20), 1001);
  hints_->add("host-a", "k1", Value("older", 5), 1002);  // not newer: ignored
  hints_->add("host-a", "k0", Value("zero", 7), 1003);
  hints_->add("host-b", "k1", Value("b", 3), 1004);
  EXPECT_EQ(hints_->total(), 3);
  EXPECT_EQ(hints_->pending().at("host-a"), 2);
  const auto a = hints_->peek("host-a", 10);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].key, "k0");  // key order
  EXPECT_EQ(a[1].key, "k1");
  EXPECT_EQ(a[1].record.value, "new");
  EXPECT_EQ(a[1].stored_ms, 1001);
  EXPECT_EQ(hints_->peek("host-a", 1).size(), 1u);
  EXPECT_TRUE(hints_->peek("host-c", 10).empty());
  // A target whose name is a prefix of another's sees only its own.
  hints_->add("host", "x", Value("p", 1), 1005);
  EXPECT_EQ(hints_->peek("host", 10).size(), 1u);
}

TEST_P(HintStoreTest, DeliveryKeepsAHintReplacedMeanwhile) {
  hints_->add("t", "k1", Value("v1", 10), 1000);
  hints_->add("t", "k2", Value("v2", 10), 1000);
  const auto delivered = hints_->peek("t", 10);
  hints_->add("t", "k2", Value("v2-newer", 11), 1001);  // arrives while delivering
  hints_->remove("t", delivered);
  const auto left = hints_->peek("t", 10);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].record.value, "v2-newer");
  EXPECT_EQ(hints_->total(), 1);
}

TEST_P(HintStoreTest, HintsOlderThanTheWindowAreDropped) {
  hints_->add("t", "old", Value("v", 1), 1000);
  hints_->add("t", "new", Value("v", 1), 5000);
  EXPECT_EQ(hints_->drop_older_than(3000), 1u);
  const auto left = hints_->peek("t", 10);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].key, "new");
  EXPECT_EQ(hints_->total(), 1);
}

TEST_P(HintStoreTest, HintsAreNotRecords) {
  hints_->add("t", "k", Value("hinted", 9), 1000);
  EXPECT_FALSE(engine_->get("k").has_value());
  EXPECT_EQ(engine_->count_live(), 0u);
}

TEST_P(HintStoreTest, RocksDbHintsSurviveAReopen) {
  if (!GetParam()) GTEST_SKIP() << "the memory engine keeps nothing";
  ASSERT_TRUE(engine_->merge("record", Value("r", 4)));
  hints_->add("t", "k", Value("hinted", 9), 1000);
  open();
  EXPECT_EQ(hints_->total(), 1);
  ASSERT_EQ(hints_->peek("t", 10).size(), 1u);
  EXPECT_EQ(engine_->get("record")->value, "r");
}

INSTANTIATE_TEST_SUITE_P(Engines, HintStoreTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "rocksdb" : "memory"; });

}  // namespace
}  // namespace thrifty::storage
