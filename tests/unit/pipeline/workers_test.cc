// pipeline::Workers and ForkJoin without Kafka, on real RocksDB stores: the
// same input processed on one worker and on two gives the same outputs per
// partition, the same stored state and the same counts; partitions are
// spread evenly and keep their worker; the memory bounds are split; a
// prepared commit of two workers is one atomic write of both.

#include "libs/pipeline/workers.h"

#include <atomic>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/stable_hash.h"
#include "libs/decide/engine.h"
#include "libs/decide/rules.h"
#include "libs/pipeline/fork_join.h"
#include "libs/store/profile_store.h"
#include "tailor/v1/events.pb.h"
#include "tests/unit/pipeline/processor_test_base.h"
#include "tools/loadgen/shopper_sim.h"

namespace tailor::pipeline {
namespace {

TEST(ForkJoinTest, EveryWorkerRunsOncePerRunAndTheCallerSeesItsWrites) {
  ForkJoin team(3);
  ASSERT_EQ(team.workers(), 3);
  std::vector<int> calls(3, 0);  // written by each worker without a lock
  for (int run = 0; run < 2000; ++run) {
    team.Run([&](int w) { ++calls[w]; });
    ASSERT_EQ(calls[0], run + 1);
    ASSERT_EQ(calls[1], run + 1);
    ASSERT_EQ(calls[2], run + 1);
  }
}

TEST(ForkJoinTest, OneWorkerRunsOnTheCaller) {
  ForkJoin team(1);
  const std::thread::id caller = std::this_thread::get_id();
  std::thread::id ran_on;
  team.Run([&](int w) {
    EXPECT_EQ(w, 0);
    ran_on = std::this_thread::get_id();
  });
  EXPECT_EQ(ran_on, caller);
}

constexpr int kPartitions = 4;
constexpr int64_t kStartMs = 1768471200000;  // 2026-01-15 10:00 UTC

// What a run leaves: the outputs per (topic, partition) in order (per
// (topic, key) for those the producer places by key, partition -1), and
// the counts.
struct RunResult {
  std::map<std::pair<std::string, std::string>, std::vector<std::string>>
      outputs;
  ProcessorStats stats;
};

class WorkersTest : public ProcessorTestBase {
 protected:
  // `events` events of ShopperSim's shoppers (2,000 customers), 1 s of shop
  // time apart, so that cart reminders come due and fire.
  void MakeInput(int events) {
    loadgen::ShopperSimOptions sim_options;
    sim_options.customers = 2000;
    sim_options.malformed_share = 0;
    loadgen::ShopperSim sim(sim_options);
    tailor::v1::Event event;
    std::vector<int64_t> next_offset(kPartitions * 4, 0);
    for (int i = 0; i < events; ++i) {
      const tailor::v1::EventTopic kind =
          sim.Next(kStartMs + i * 1000LL, &event);
      keys_.push_back(event.customer_id());
      values_.push_back(event.SerializeAsString());
      InputRecord rec;
      rec.kind = kind;
      rec.topic = InputTopic(kind);
      rec.partition = static_cast<int32_t>(StableHash64({event.customer_id()}) %
                                           kPartitions);
      rec.offset = next_offset[rec.partition * 4 + kind]++;
      records_.push_back(rec);
    }
    // Views once the vectors no longer move.
    for (size_t i = 0; i < records_.size(); ++i) {
      records_[i].key = keys_[i];
      records_[i].value = values_[i];
    }
  }

  std::unique_ptr<store::ProfileStore> OpenStore(const std::string& name) {
    store::StoreOptions options;
    options.path = dir_ + "/" + name;
    options.block_cache_mb = 8;
    options.write_buffer_mb = 4;
    auto store = store::ProfileStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  static std::unique_ptr<Workers> MakeWorkers(store::ProfileStore* store,
                                              int workers,
                                              size_t cache_entries) {
    auto engine = decide::Engine::Create(decide::DefaultRules());
    EXPECT_TRUE(engine.ok()) << engine.status();
    ProcessorOptions options = DefaultTopics();
    options.limits.max_future_skew_ms = 1000LL * 24 * 3600 * 1000;
    options.profile_cache_entries = cache_entries;
    return std::make_unique<Workers>(
        store, std::shared_ptr<const decide::Engine>(std::move(*engine)),
        std::move(options), workers);
  }

  // Processes the input in batches of `batch`, committing after each.
  RunResult Run(Workers& workers, size_t batch) {
    RunResult result;
    for (size_t at = 0; at < records_.size(); at += batch) {
      const size_t n = std::min(batch, records_.size() - at);
      absl::Span<const InputRecord> part(records_.data() + at, n);
      const int64_t wall_now_ms =
          kStartMs + static_cast<int64_t>(at + n) * 1000 + 1000;
      EXPECT_TRUE(workers
                      .ProcessBatch(part, wall_now_ms,
                                    std::numeric_limits<int64_t>::max())
                      .ok());
      workers.PrepareCommit();
      for (const OutputRecord& out : workers.outputs()) {
        const std::string where =
            out.partition >= 0 ? absl::StrCat(out.partition) : out.key;
        result.outputs[{out.topic, where}].push_back(
            absl::StrCat(out.key, "=", out.value));
      }
      EXPECT_TRUE(workers.WriteState().ok());
      EXPECT_TRUE(workers.outputs().empty());
    }
    result.stats = workers.stats();
    return result;
  }

  // Every stored profile of `store`, by partition and customer.
  std::map<std::string, std::string> Profiles(store::ProfileStore& store) {
    std::map<std::string, std::string> out;
    for (size_t i = 0; i < records_.size(); ++i) {
      std::string value;
      auto found = store.GetProfile(records_[i].partition, keys_[i], &value);
      EXPECT_TRUE(found.ok());
      if (found.ok() && *found) out[keys_[i]] = value;
    }
    return out;
  }

  std::vector<std::string> keys_, values_;
  std::vector<InputRecord> records_;
};

TEST_F(WorkersTest, TwoWorkersMakeWhatOneMakes) {
  MakeInput(30000);
  auto one_store = OpenStore("one");
  auto two_store = OpenStore("two");
  ASSERT_NE(one_store, nullptr);
  ASSERT_NE(two_store, nullptr);
  // A cache smaller than the customers: profiles are evicted and read back.
  auto one = MakeWorkers(one_store.get(), 1, 600);
  auto two = MakeWorkers(two_store.get(), 2, 600);
  ASSERT_EQ(two->workers(), 2);
  const RunResult a = Run(*one, 1000);
  const RunResult b = Run(*two, 1000);

  EXPECT_GT(a.stats.events, 29000);
  EXPECT_GT(a.stats.timers_fired, 0);
  EXPECT_GT(a.stats.profiles_evicted, 0);
  EXPECT_GT(a.stats.cache_misses, a.stats.profiles_created);
  EXPECT_EQ(b.stats.events, a.stats.events);
  EXPECT_EQ(b.stats.timers_fired, a.stats.timers_fired);
  EXPECT_EQ(b.stats.profiles_created, a.stats.profiles_created);
  EXPECT_EQ(b.stats.decisions_by_kind, a.stats.decisions_by_kind);
  EXPECT_EQ(b.stats.decisions_by_action, a.stats.decisions_by_action);
  EXPECT_EQ(b.stats.commits, a.stats.commits);
  // Every partition's outputs, decisions and changelog alike, in the same
  // order with the same bytes.
  EXPECT_EQ(b.outputs.size(), a.outputs.size());
  for (const auto& [where, records] : a.outputs) {
    auto it = b.outputs.find(where);
    ASSERT_NE(it, b.outputs.end()) << where.first << "/" << where.second;
    EXPECT_TRUE(it->second == records) << where.first << "/" << where.second;
  }
  // The same state in both stores, positions included.
  EXPECT_EQ(Profiles(*two_store), Profiles(*one_store));
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto at_one = one_store->GetOffset("clickstream", p);
    auto at_two = two_store->GetOffset("clickstream", p);
    ASSERT_TRUE(at_one.ok() && at_two.ok());
    ASSERT_TRUE(at_one->has_value());
    EXPECT_EQ(*at_two, *at_one);
  }
  one.reset();
  two.reset();
}

TEST_F(WorkersTest, PartitionsAreSpreadAndKeepTheirWorker) {
  auto workers = MakeWorkers(store_.get(), 2, 1000);
  for (int32_t p = 0; p < 4; ++p) ASSERT_TRUE(workers->OpenPartition(p).ok());
  std::vector<int> per_worker(2, 0);
  for (int32_t p = 0; p < 4; ++p) {
    ASSERT_TRUE(workers->HasPartition(p));
    ++per_worker[workers->WorkerOf(p)];
  }
  EXPECT_THAT(per_worker, ::testing::ElementsAre(2, 2));
  // A closed partition's worker takes the next one.
  const int freed = workers->WorkerOf(1);
  workers->ClosePartition(1);
  EXPECT_FALSE(workers->HasPartition(1));
  ASSERT_TRUE(workers->OpenPartition(7).ok());
  EXPECT_EQ(workers->WorkerOf(7), freed);
  EXPECT_EQ(workers->WorkerOf(0), workers->WorkerOf(0));
}

TEST_F(WorkersTest, MemoryBoundsAreSplitByPartitions) {
  ProcessorOptions options = DefaultTopics();
  options.timer_index_bytes = 4 << 20;
  auto engine = decide::Engine::Create(decide::DefaultRules());
  ASSERT_TRUE(engine.ok());
  Workers workers(store_.get(),
                  std::shared_ptr<const decide::Engine>(std::move(*engine)),
                  options, 2);
  for (int32_t p = 0; p < 3; ++p) ASSERT_TRUE(workers.OpenPartition(p).ok());
  // 2 + 1 partitions: each gets a third of 4 MiB; the sum is the bound.
  const TimerWindowStats w = workers.timer_window();
  EXPECT_LE(w.budget_bytes, size_t{4 << 20});
  EXPECT_GE(w.budget_bytes, size_t{4 << 20} - 3);
}

TEST_F(WorkersTest, ACommitOfTwoWorkersIsOneBatch) {
  MakeInput(2000);
  auto workers = MakeWorkers(store_.get(), 2, 1000);
  ASSERT_TRUE(workers
                  ->ProcessBatch(records_, kStartMs + 3'000'000,
                                 std::numeric_limits<int64_t>::max())
                  .ok());
  workers->PrepareCommit();
  // Offsets of all four partitions, from both workers.
  EXPECT_EQ(workers->prepared_offsets().size() >= kPartitions, true);
  Workers::PreparedCommit commit = workers->TakePrepared();
  EXPECT_TRUE(workers->outputs().empty());
  std::set<int32_t> partitions;
  for (const TopicOffset& o : commit.offsets) partitions.insert(o.partition);
  EXPECT_EQ(partitions.size(), size_t{kPartitions});
  ASSERT_GT(commit.batch.Count(), 0u);
  // Nothing is stored until the one batch is written, then all of it is.
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto stored = store_->GetOffset("clickstream", p);
    ASSERT_TRUE(stored.ok());
    EXPECT_FALSE(stored->has_value());
  }
  ASSERT_TRUE(store_->Commit(&commit.batch).ok());
  workers->MarkDurable(commit);
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto stored = store_->GetOffset("clickstream", p);
    ASSERT_TRUE(stored.ok());
    EXPECT_TRUE(stored->has_value()) << p;
  }
  EXPECT_EQ(workers->WrittenPositions().size(), commit.offsets.size());
  EXPECT_TRUE(workers->idle());
}

}  // namespace
}  // namespace tailor::pipeline
