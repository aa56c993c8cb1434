// ChangelogRestorer against the embedded broker and a real RocksDB: every
// partition that is behind is restored in one go (profiles, timers indexed
// from the profiles, checkpoints, changelog positions), a partition already
// up to date or empty is left alone, a later restore reads only the tail,
// an erased customer keeps no timer, and a tail restore over local state
// (flushed files and the memtable) takes the changelog's word for every key
// it holds, whatever chunks it is ingested in.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/producer.h"
#include "libs/pipeline/changelog.h"
#include "libs/pipeline/restore.h"
#include "libs/store/profile_store.h"
#include "tailor/v1/profile.pb.h"
#include "tests/integration/harness.h"

namespace tailor::testing {
namespace {

constexpr char kTopic[] = "restorer.changelog";

std::string Profile(const std::string& id,
                    std::initializer_list<int64_t> fire_at) {
  tailor::v1::CustomerProfile p;
  p.set_customer_id(id);
  for (int64_t at : fire_at) {
    tailor::v1::Timer* t = p.add_pending_timers();
    t->set_customer_id(id);
    t->set_fire_at_ms(at);
    t->set_timer_id(absl::StrCat("t/", at));
    t->set_kind(tailor::v1::TIMER_KIND_CART_REMINDER);
  }
  return p.SerializeAsString();
}

std::string Checkpoint(int64_t clickstream_next) {
  tailor::v1::PartitionCheckpoint c;
  auto* pos = c.add_positions();
  pos->set_topic("clickstream");
  pos->set_next_offset(clickstream_next);
  return c.SerializeAsString();
}

class RestorerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.cluster().CreateTopic(kTopic, 3).ok());
    auto producer = kafka::Producer::Create(
        {{"bootstrap.servers", h_.bootstrap()}, {"linger.ms", "0"}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = std::move(*producer);
    auto reader =
        kafka::Consumer::Create({{"bootstrap.servers", h_.bootstrap()},
                                 {"group.id", "restorer-test"},
                                 {"isolation.level", "read_committed"},
                                 {"fetch.wait.max.ms", "5"}},
                                nullptr);
    ASSERT_TRUE(reader.ok()) << reader.status();
    reader_ = std::move(*reader);
    store::StoreOptions options;
    options.path = h_.state_dir() + "/restorer";
    auto store = store::ProfileStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    restorer_ = std::make_unique<pipeline::ChangelogRestorer>(
        store_.get(), reader_.get(), kTopic);
  }

  void Send(int32_t partition, const std::string& key,
            absl::string_view value) {
    ASSERT_TRUE(producer_->Produce(kTopic, partition, key, value).ok());
  }
  void Flush() { ASSERT_TRUE(producer_->Flush(absl::Seconds(10)).ok()); }

  std::set<std::string> Profiles(int32_t partition) {
    std::set<std::string> ids;
    EXPECT_TRUE(
        store_
            ->ForEachProfile(partition,
                             [&](absl::string_view id, absl::string_view) {
                               ids.emplace(id);
                               return true;
                             })
            .ok());
    return ids;
  }
  std::set<std::tuple<int64_t, std::string, std::string>> Timers(
      int32_t partition) {
    std::set<std::tuple<int64_t, std::string, std::string>> timers;
    EXPECT_TRUE(
        store_
            ->ForEachTimer(
                partition,
                [&](int64_t at, absl::string_view id,
                    absl::string_view timer_id, absl::string_view value) {
                  tailor::v1::Timer t;
                  EXPECT_TRUE(t.ParseFromArray(value.data(),
                                               static_cast<int>(value.size())));
                  EXPECT_EQ(t.fire_at_ms(), at);
                  timers.emplace(at, std::string(id), std::string(timer_id));
                  return true;
                })
            .ok());
    return timers;
  }
  std::string Meta(const std::string& key) {
    auto value = store_->GetMeta(key);
    EXPECT_TRUE(value.ok()) << value.status();
    return value.ok() && value->has_value() ? **value : "";
  }

  Harness h_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<kafka::Consumer> reader_;
  std::unique_ptr<store::ProfileStore> store_;
  std::unique_ptr<pipeline::ChangelogRestorer> restorer_;
};

TEST_F(RestorerTest, RestoresThePartitionsBehindTogetherThenOnlyTheTail) {
  // Partition 0: c1 twice (its timer moved), c2, c3 created then erased.
  Send(0, "c1", Profile("c1", {1000}));
  Send(0, "c2", Profile("c2", {2000}));
  Send(0, "c3", Profile("c3", {3000}));
  Send(0, "c1", Profile("c1", {1500}));
  Send(0, std::string(pipeline::kCheckpointKey), Checkpoint(7));
  Send(0, "c3", absl::string_view());
  // Partition 1: c4 without timers; partition 2 stays empty.
  Send(1, "c4", Profile("c4", {}));
  Send(1, std::string(pipeline::kCheckpointKey), Checkpoint(3));
  Flush();

  auto result = restorer_->Restore({0, 1, 2, 1});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->partitions, 2);
  EXPECT_EQ(result->checkpoints, 2);
  EXPECT_EQ(result->records, 8);
  EXPECT_EQ(result->profiles, 6);
  EXPECT_EQ(restorer_->progress().restores.load(), 2);
  EXPECT_EQ(restorer_->progress().remaining.load(), 0);
  EXPECT_EQ(restorer_->progress().restoring.load(), 0);

  EXPECT_EQ(Profiles(0), (std::set<std::string>{"c1", "c2"}));
  EXPECT_EQ(Profiles(1), (std::set<std::string>{"c4"}));
  std::string c1;
  ASSERT_TRUE(*store_->GetProfile(0, "c1", &c1));
  EXPECT_EQ(c1, Profile("c1", {1500}));
  const auto timers = Timers(0);
  EXPECT_TRUE(timers.contains({1500, "c1", "t/1500"}));
  EXPECT_TRUE(timers.contains({2000, "c2", "t/2000"}));
  // The erased customer's timer is gone; c1's superseded timer may stay
  // (it is stale: the processor fires only what the profile holds).
  for (const auto& [at, id, timer_id] : timers) EXPECT_NE(id, "c3");
  EXPECT_TRUE(Timers(1).empty());
  EXPECT_EQ(*store_->GetOffset("clickstream", 0), 7);
  EXPECT_EQ(*store_->GetOffset("clickstream", 1), 3);
  EXPECT_EQ(Meta(pipeline::ChangelogPositionKey(0)), "6");
  EXPECT_EQ(Meta(pipeline::ChangelogPositionKey(1)), "2");
  EXPECT_EQ(Meta(pipeline::ChangelogPositionKey(2)), "");

  // Up to date: nothing to do.
  result = restorer_->Restore({0, 1, 2});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->partitions, 0);

  // The tail of partition 1 only: c4 erased, c5 created.
  Send(1, "c4", absl::string_view());
  Send(1, "c5", Profile("c5", {5000}));
  Flush();
  result = restorer_->Restore({0, 1, 2});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->partitions, 1);
  EXPECT_EQ(result->records, 2);
  EXPECT_EQ(result->checkpoints, 0);
  EXPECT_EQ(Profiles(1), (std::set<std::string>{"c5"}));
  EXPECT_EQ(Timers(1), (std::set<std::tuple<int64_t, std::string, std::string>>{
                           {5000, "c5", "t/5000"}}));
  EXPECT_EQ(Profiles(0), (std::set<std::string>{"c1", "c2"}));
  EXPECT_EQ(*store_->GetOffset("clickstream", 1), 3);
  EXPECT_EQ(Meta(pipeline::ChangelogPositionKey(1)), "4");
  EXPECT_EQ(restorer_->progress().restores.load(), 3);
}

TEST_F(RestorerTest, ATailRestoreReplacesAndDeletesWhatTheStoreHolds) {
  Send(0, "c1", Profile("c1", {1000}));
  Send(0, "c2", Profile("c2", {2000}));
  Send(0, "c3", Profile("c3", {3000}));
  Send(0, std::string(pipeline::kCheckpointKey), Checkpoint(5));
  Flush();
  ASSERT_TRUE(restorer_->Restore({0}).ok());
  ASSERT_EQ(Meta(pipeline::ChangelogPositionKey(0)), "4");

  // Local state newer than the restore, in the memtable: the processor's
  // way of writing (WAL on), for customers the changelog's tail changes.
  store::ProfileStore::Batch batch = store_->NewBatch();
  for (const auto& [id, at] :
       {std::pair<std::string, int64_t>{"c1", 1100}, {"c2", 2200}}) {
    const std::string profile = Profile(id, {at});
    batch.PutProfile(0, id, profile);
    tailor::v1::CustomerProfile p;
    ASSERT_TRUE(p.ParseFromString(profile));
    batch.PutTimer(0, at, id, absl::StrCat("t/", at),
                   p.pending_timers(0).SerializeAsString());
  }
  ASSERT_TRUE(store_->Commit(&batch).ok());

  // The tail: c1 replaced, c2 erased, c3 replaced twice.
  Send(0, "c1", Profile("c1", {1500}));
  Send(0, "c3", Profile("c3", {3300}));
  Send(0, "c2", absl::string_view());
  Send(0, "c3", Profile("c3", {3500}));
  Send(0, std::string(pipeline::kCheckpointKey), Checkpoint(9));
  Flush();
  // Chunks of one byte: every poll is ingested on its own.
  pipeline::ChangelogRestorer small_chunks(store_.get(), reader_.get(), kTopic,
                                           /*chunk_bytes=*/1);
  auto result = small_chunks.Restore({0});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->records, 5);

  EXPECT_EQ(Profiles(0), (std::set<std::string>{"c1", "c3"}));
  std::string value;
  ASSERT_TRUE(*store_->GetProfile(0, "c1", &value));
  EXPECT_EQ(value, Profile("c1", {1500}));
  ASSERT_TRUE(*store_->GetProfile(0, "c3", &value));
  EXPECT_EQ(value, Profile("c3", {3500}));
  const auto timers = Timers(0);
  EXPECT_TRUE(timers.contains({1500, "c1", "t/1500"}));
  EXPECT_TRUE(timers.contains({3500, "c3", "t/3500"}));
  // Neither the erased customer's restored timer nor its local one stays;
  // superseded versions' timers may (the processor fires only what the
  // profile holds).
  for (const auto& [at, id, timer_id] : timers) EXPECT_NE(id, "c2");
  EXPECT_EQ(*store_->GetOffset("clickstream", 0), 9);
  EXPECT_EQ(Meta(pipeline::ChangelogPositionKey(0)), "9");
  // The SST files of the chunks are gone once ingested.
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(h_.state_dir()) /
                                       "restorer" /
                                       std::string(store::kIngestDir)));

  // All of it is durable: the store reopened holds the same.
  ASSERT_TRUE(store_->Close().ok());
  store::StoreOptions options;
  options.path = h_.state_dir() + "/restorer";
  auto store = store::ProfileStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = std::move(*store);
  EXPECT_EQ(Profiles(0), (std::set<std::string>{"c1", "c3"}));
  EXPECT_EQ(Timers(0), timers);
  EXPECT_EQ(Meta(pipeline::ChangelogPositionKey(0)), "9");
}

TEST_F(RestorerTest, ACorruptProfileRecordFailsTheRestore) {
  Send(2, "c1", Profile("c1", {1000}));
  Send(2, "c2", std::string("\xe2\x03\x7f", 3));  // a length past the end
  Flush();
  auto result = restorer_->Restore({2});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss)
      << result.status();
  EXPECT_EQ(Meta(pipeline::ChangelogPositionKey(2)), "");
}

}  // namespace
}  // namespace tailor::testing
