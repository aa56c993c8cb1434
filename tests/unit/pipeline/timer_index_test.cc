// TimerIndex over a real RocksDB store: the in-memory window stays within
// its budget, every timer fires once and in order, and changes not yet
// durable (pending or taken by a commit in flight) are seen over the store.
#include "libs/pipeline/timer_index.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "libs/store/profile_store.h"
#include "tests/unit/pipeline/temp_store_test_base.h"

namespace tailor::pipeline {
namespace {

using tailor::v1::Timer;

constexpr size_t kBudget = 64 << 10;

Timer Make(const std::string& customer, const std::string& id, int64_t at) {
  Timer t;
  t.set_customer_id(customer);
  t.set_timer_id(id);
  t.set_fire_at_ms(at);
  t.set_campaign("abandoned_cart");
  return t;
}

class TimerIndexTest : public TempStoreTest {
 protected:
  // Takes the pending changes into a store batch as the processor does.
  store::ProfileStore::Batch Prepare(TimerIndex& index, uint64_t seq) {
    store::ProfileStore::Batch batch = store_->NewBatch();
    for (const auto& [key, timer] : index.pending_changes()) {
      if (timer.has_value()) {
        batch.PutTimer(0, key.fire_at_ms, key.customer_id, key.timer_id,
                       *timer);
      } else {
        batch.DeleteTimer(0, key.fire_at_ms, key.customer_id, key.timer_id);
      }
    }
    index.MarkPrepared(seq);
    return batch;
  }
  void Commit(TimerIndex& index, uint64_t seq) {
    store::ProfileStore::Batch batch = Prepare(index, seq);
    ASSERT_TRUE(store_->Commit(&batch).ok());
    index.MarkDurable(seq);
  }
  std::vector<TimerIndex::Key> Pop(TimerIndex& index, int64_t now) {
    std::vector<TimerIndex::Key> due;
    EXPECT_TRUE(index.PopDue(now, *store_, &due).ok());
    return due;
  }
};

TEST_F(TimerIndexTest, ManyTimersFireOnceInOrderWithinTheBudget) {
  TimerIndex index(0, kBudget);
  EXPECT_EQ(Pop(index, 0).size(), 0u);  // the first look: an empty store
  constexpr int kTimers = 20000;
  for (int i = 0; i < kTimers; ++i) {
    // Set in a scrambled order, several per fire time.
    const int64_t at = 1000 + (i * 7919 % kTimers) / 2;
    index.Set(Make(absl::StrCat("c-", i), "t", at), std::nullopt);
    ASSERT_LE(index.window_bytes(), kBudget);
  }
  Commit(index, 1);
  EXPECT_EQ(StoredTimers(), static_cast<size_t>(kTimers));
  std::vector<TimerIndex::Key> fired;
  size_t max_window = 0;
  for (int64_t now = 0; now < 1000 + kTimers; now += 250) {
    for (TimerIndex::Key& t : Pop(index, now)) {
      EXPECT_LE(t.fire_at_ms, now);
      fired.push_back(std::move(t));
    }
    max_window = std::max(max_window, index.window_bytes());
    Commit(index, 2 + now);
  }
  ASSERT_EQ(fired.size(), static_cast<size_t>(kTimers));
  for (size_t i = 1; i < fired.size(); ++i) {
    ASSERT_LE(fired[i - 1].fire_at_ms, fired[i].fire_at_ms);
  }
  EXPECT_GT(max_window, 0u);
  EXPECT_LE(max_window, kBudget);
  EXPECT_EQ(StoredTimers(), 0u);  // each fired timer was deleted
  EXPECT_EQ(index.next_fire_ms(), INT64_MAX);
}

TEST_F(TimerIndexTest, ChangesNotYetDurableAreSeenOverTheStore) {
  {
    TimerIndex before(0, kBudget);
    before.Set(Make("c-stored", "t", 100), std::nullopt);
    before.Set(Make("c-removed", "t", 100), std::nullopt);
    before.Set(Make("c-moved", "t", 100), std::nullopt);
    Commit(before, 1);
  }
  // A new index has read nothing yet: its first look merges the store with
  // what changed since.
  TimerIndex index(0, kBudget);
  // Commit 2 is taken but not written; further changes are pending.
  index.Set(Make("c-in-flight", "t", 150), std::nullopt);
  Timer removed = Make("c-removed", "t", 100);
  google::protobuf::RepeatedPtrField<Timer> removed_list;
  *removed_list.Add() = removed;
  index.RemoveAll("c-removed", removed_list);
  store::ProfileStore::Batch in_flight = Prepare(index, 2);
  index.Set(Make("c-moved", "t", 300), 100);
  index.Set(Make("c-pending", "t", 120), std::nullopt);

  std::vector<std::string> order;
  for (const TimerIndex::Key& t : Pop(index, 200)) {
    order.push_back(t.customer_id);
  }
  EXPECT_EQ(order,
            (std::vector<std::string>{"c-stored", "c-pending", "c-in-flight"}));
  ASSERT_TRUE(store_->Commit(&in_flight).ok());
  index.MarkDurable(2);
  Commit(index, 3);
  ASSERT_EQ(Pop(index, 299).size(), 0u);
  std::vector<TimerIndex::Key> moved = Pop(index, 300);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].customer_id, "c-moved");
  Commit(index, 4);
  EXPECT_EQ(StoredTimers(), 0u);
}

TEST_F(TimerIndexTest, ARestartedIndexReadsTheStore) {
  {
    TimerIndex index(0, kBudget);
    for (int i = 0; i < 5000; ++i) {
      index.Set(Make(absl::StrCat("c-", i), "t", 10 * i), std::nullopt);
    }
    Commit(index, 1);
  }
  TimerIndex index(0, kBudget);
  EXPECT_EQ(index.window_size(), 0u);  // nothing loaded up front
  EXPECT_EQ(Pop(index, 10 * 2500 - 1).size(), 2500u);
  EXPECT_LE(index.window_bytes(), kBudget);
  EXPECT_EQ(index.next_fire_ms(), 10 * 2500);
}

TEST_F(TimerIndexTest, TimersOfOneFireTimeStayTogether) {
  TimerIndex index(0, 16 << 10);
  EXPECT_EQ(Pop(index, 0).size(), 0u);
  for (int i = 0; i < 1000; ++i) {
    index.Set(Make(absl::StrCat("c-", i), "t", 500), std::nullopt);
  }
  index.Set(Make("c-late", "t", 900), std::nullopt);
  Commit(index, 1);
  EXPECT_EQ(Pop(index, 500).size(), 1000u);
  EXPECT_EQ(Pop(index, 900).size(), 1u);
}

TEST_F(TimerIndexTest, AShrunkBudgetDropsTheLatestFromMemoryOnly) {
  TimerIndex index(0, kBudget);
  EXPECT_EQ(Pop(index, 0).size(), 0u);
  for (int i = 0; i < 300; ++i) {
    index.Set(Make(absl::StrCat("c-", i), "t", 10 + i), std::nullopt);
  }
  Commit(index, 1);
  EXPECT_EQ(Pop(index, 10).size(), 1u);  // reads the window
  index.set_window_budget(2 << 10);
  EXPECT_LE(index.window_bytes(), 2u << 10);
  EXPECT_EQ(Pop(index, 1000).size(), 299u);
}

}  // namespace
}  // namespace tailor::pipeline
