// Tests of tailor::kafka against the in-process mock cluster (a real
// Kafka-protocol server on 127.0.0.1).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/murmur2.h"
#include "libs/kafka/admin.h"
#include "libs/kafka/config.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/error.h"
#include "libs/kafka/mock_cluster.h"
#include "libs/kafka/producer.h"

namespace tailor::kafka {
namespace {

using ::testing::HasSubstr;

// The Kafka protocol's Produce request key, for fault injection.
constexpr int16_t kProduceApiKey = 0;

Admin::NewTopic Topic(std::string name, int partitions,
                      Properties configs = {}) {
  Admin::NewTopic topic;
  topic.name = std::move(name);
  topic.partitions = partitions;
  topic.configs = std::move(configs);
  return topic;
}

struct Copied {
  std::string topic;
  int32_t partition;
  int64_t offset;
  std::string key;
  std::string value;
  std::string trace;  // Value of the "trace" header, if any.
};

class KafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mock = MockCluster::Create(1);
    ASSERT_TRUE(mock.ok()) << mock.status();
    mock_ = std::move(*mock);
  }

  Properties ConsumerProps(const std::string& group,
                           const std::string& strategy = "range") {
    return {{"bootstrap.servers", mock_->bootstrap_servers()},
            {"group.id", group},
            {"auto.offset.reset", "earliest"},
            {"partition.assignment.strategy", strategy},
            {"session.timeout.ms", "6000"},
            {"heartbeat.interval.ms", "500"}};
  }

  Properties ProducerProps() {
    return {{"bootstrap.servers", mock_->bootstrap_servers()},
            {"linger.ms", "1"}};
  }

  std::unique_ptr<Producer> MakeProducer(Properties props = {}) {
    if (props.empty()) props = ProducerProps();
    auto producer = Producer::Create(props);
    EXPECT_TRUE(producer.ok()) << producer.status();
    return producer.ok() ? std::move(*producer) : nullptr;
  }

  // Polls until `want` records arrived or 8 s passed.
  static std::vector<Copied> PollN(Consumer& consumer, size_t want) {
    std::vector<Copied> got;
    std::vector<Record> batch;
    const absl::Time deadline = absl::Now() + absl::Seconds(8);
    while (got.size() < want && absl::Now() < deadline) {
      absl::Status s = consumer.PollBatch(64, absl::Milliseconds(100), &batch);
      EXPECT_TRUE(s.ok()) << s;
      for (const Record& r : batch) {
        got.push_back(Copied{std::string(r.topic()), r.partition(), r.offset(),
                             std::string(r.key()), std::string(r.value()),
                             std::string(r.header("trace").value_or(""))});
      }
    }
    return got;
  }

  std::unique_ptr<MockCluster> mock_;
};

TEST_F(KafkaTest, ProducedRecordsComeBackWithKeysValuesPartitionsHeaders) {
  ASSERT_TRUE(mock_->CreateTopic("rt", 3).ok());
  auto producer = MakeProducer();
  ASSERT_NE(producer, nullptr);
  constexpr int kCount = 300;
  for (int i = 0; i < kCount; ++i) {
    const std::string trace = absl::StrCat("t", i);
    const Producer::Header headers[] = {{"trace", trace}};
    ASSERT_TRUE(producer
                    ->Produce("rt", i % 3, absl::StrCat("k", i),
                              absl::StrCat("v", i), headers)
                    .ok());
  }
  ASSERT_TRUE(producer->Flush(absl::Seconds(5)).ok());
  EXPECT_EQ(producer->delivered(), kCount);
  EXPECT_EQ(producer->failed(), 0);

  auto consumer = Consumer::Create(ConsumerProps("g-rt"), nullptr);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE((*consumer)->Subscribe({"rt"}).ok());
  std::vector<Copied> got = PollN(**consumer, kCount);
  ASSERT_EQ(got.size(), kCount);
  std::vector<bool> seen(kCount, false);
  for (const Copied& c : got) {
    ASSERT_THAT(c.key, ::testing::StartsWith("k"));
    const int i = std::stoi(c.key.substr(1));
    ASSERT_GE(i, 0);
    ASSERT_LT(i, kCount);
    EXPECT_FALSE(seen[i]) << "duplicate " << c.key;
    seen[i] = true;
    EXPECT_EQ(c.topic, "rt");
    EXPECT_EQ(c.value, absl::StrCat("v", i));
    EXPECT_EQ(c.partition, i % 3);
    EXPECT_EQ(c.trace, absl::StrCat("t", i));
  }
}

// tailor's producers use partitioner=murmur2_random, and the pipeline checks
// input placement with KafkaPartitionForKey(): both must agree key by key.
TEST_F(KafkaTest, Murmur2PartitionerPlacesKeysWhereKafkaPartitionForKeySays) {
  constexpr int kPartitions = 12;
  ASSERT_TRUE(mock_->CreateTopic("placed", kPartitions).ok());
  Properties props = ProducerProps();
  props.emplace_back("partitioner", "murmur2_random");
  auto producer = MakeProducer(props);
  ASSERT_NE(producer, nullptr);
  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(producer
                    ->Produce("placed", RD_KAFKA_PARTITION_UA,
                              absl::StrCat("c-", i * 7919), "v")
                    .ok());
  }
  ASSERT_TRUE(producer->Flush(absl::Seconds(5)).ok());

  auto consumer = Consumer::Create(ConsumerProps("g-placed"), nullptr);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE((*consumer)->Subscribe({"placed"}).ok());
  std::vector<Copied> got = PollN(**consumer, kCount);
  ASSERT_EQ(got.size(), kCount);
  std::vector<bool> used(kPartitions, false);
  for (const Copied& c : got) {
    EXPECT_EQ(c.partition, KafkaPartitionForKey(c.key, kPartitions)) << c.key;
    used[c.partition] = true;
  }
  // The keys spread: a constant function would pass the check above.
  EXPECT_EQ(std::count(used.begin(), used.end(), true), kPartitions);
}

TEST_F(KafkaTest, NewConsumerInGroupResumesAfterCommittedOffset) {
  ASSERT_TRUE(mock_->CreateTopic("resume", 1).ok());
  auto producer = MakeProducer();
  ASSERT_NE(producer, nullptr);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(producer->Produce("resume", 0, "k", absl::StrCat("v", i)).ok());
  }
  ASSERT_TRUE(producer->Flush(absl::Seconds(5)).ok());
  {
    auto first = Consumer::Create(ConsumerProps("g-resume"), nullptr);
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE((*first)->Subscribe({"resume"}).ok());
    std::vector<Copied> got = PollN(**first, 10);
    ASSERT_EQ(got.size(), 10u);
    // Processed the first 6 records: the next one to read is offset 6.
    ASSERT_TRUE((*first)->Commit({{"resume", 0, 6}}, /*async=*/false).ok());
    auto committed = (*first)->Committed({{"resume", 0}}, absl::Seconds(5));
    ASSERT_TRUE(committed.ok()) << committed.status();
    ASSERT_EQ(committed->size(), 1u);
    EXPECT_EQ((*committed)[0].offset, 6);
    ASSERT_TRUE((*first)->Close().ok());
  }
  auto second = Consumer::Create(ConsumerProps("g-resume"), nullptr);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE((*second)->Subscribe({"resume"}).ok());
  std::vector<Copied> got = PollN(**second, 4);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got.front().offset, 6);
  EXPECT_EQ(got.front().value, "v6");
  EXPECT_EQ(got.back().value, "v9");
}

TEST_F(KafkaTest, AdminCreatesTopicsAndRefusesMismatchedRecreate) {
  auto admin = Admin::Create(
      {{"bootstrap.servers", mock_->bootstrap_servers()}}, mock_.get());
  ASSERT_TRUE(admin.ok()) << admin.status();
  ASSERT_TRUE((*admin)
                  ->CreateTopics(
                      {Topic("orders", 4),
                       Topic("changelog", 2, {{"cleanup.policy", "compact"}})},
                      absl::Seconds(5))
                  .ok());
  auto orders = (*admin)->PartitionCount("orders", absl::Seconds(5));
  ASSERT_TRUE(orders.ok()) << orders.status();
  EXPECT_EQ(*orders, 4);
  auto changelog = (*admin)->PartitionCount("changelog", absl::Seconds(5));
  ASSERT_TRUE(changelog.ok()) << changelog.status();
  EXPECT_EQ(*changelog, 2);

  // Same partition count again: fine.
  EXPECT_TRUE(
      (*admin)->CreateTopics({Topic("orders", 4)}, absl::Seconds(5)).ok());
  // A different one is refused, naming the topic.
  absl::Status mismatch =
      (*admin)->CreateTopics({Topic("orders", 8)}, absl::Seconds(5));
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatch.message(), HasSubstr("'orders'"));

  auto missing = (*admin)->PartitionCount("no-such-topic", absl::Seconds(5));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("no-such-topic"));
  // Asking must not have created it.
  EXPECT_TRUE(absl::IsNotFound(
      (*admin)->PartitionCount("no-such-topic", absl::Seconds(5)).status()));
}

TEST_F(KafkaTest, BadConfigIsRefusedNamingTheKey) {
  auto producer = Producer::Create(
      {{"bootstrap.servers", "127.0.0.1:1"}, {"no.such.setting", "1"}});
  EXPECT_EQ(producer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(producer.status().message(), HasSubstr("no.such.setting"));

  auto consumer =
      Consumer::Create({{"group.id", "g"}, {"linger.ms", "soon"}}, nullptr);
  EXPECT_EQ(consumer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(consumer.status().message(), HasSubstr("linger.ms"));
}

TEST_F(KafkaTest, FlushReportsFirstDeliveryFailureThenResets) {
  ASSERT_TRUE(mock_->CreateTopic("fail", 1).ok());
  auto producer = MakeProducer();
  ASSERT_NE(producer, nullptr);
  // Warm up so the next Produce request is the one that fails.
  ASSERT_TRUE(producer->Produce("fail", 0, "k", "ok").ok());
  ASSERT_TRUE(producer->Flush(absl::Seconds(5)).ok());

  rd_kafka_mock_push_request_errors(mock_->raw(), kProduceApiKey, 1,
                                    RD_KAFKA_RESP_ERR_INVALID_RECORD);
  ASSERT_TRUE(producer->Produce("fail", 0, "k", "refused").ok());
  absl::Status flushed = producer->Flush(absl::Seconds(5));
  EXPECT_EQ(flushed.code(), absl::StatusCode::kInvalidArgument) << flushed;
  EXPECT_THAT(flushed.message(), HasSubstr("fail[0]"));
  auto info = KafkaErrorOf(flushed);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->code, RD_KAFKA_RESP_ERR_INVALID_RECORD);
  EXPECT_EQ(producer->failed(), 1);
  EXPECT_EQ(producer->delivered(), 1);

  // The error was reported once; the next message goes through.
  ASSERT_TRUE(producer->Produce("fail", 0, "k", "ok again").ok());
  EXPECT_TRUE(producer->Flush(absl::Seconds(5)).ok());
  EXPECT_EQ(producer->delivered(), 2);
}

class RecordingListener : public RebalanceListener {
 public:
  explicit RecordingListener(int64_t start_offset) : start_(start_offset) {}
  void OnPartitionsAssigned(std::vector<TopicPartition>& partitions) override {
    for (TopicPartition& tp : partitions) {
      assigned.push_back(tp);
      tp.offset = start_;
    }
  }
  void OnPartitionsRevoked(const std::vector<TopicPartition>& partitions,
                           bool lost) override {
    revoked.insert(revoked.end(), partitions.begin(), partitions.end());
    any_lost = any_lost || lost;
  }
  std::vector<TopicPartition> assigned;
  std::vector<TopicPartition> revoked;
  bool any_lost = false;

 private:
  int64_t start_;
};

class RebalanceTest : public KafkaTest,
                      public ::testing::WithParamInterface<std::string> {};

TEST_P(RebalanceTest, ListenerSeesAssignmentAndChoosesStartOffset) {
  const std::string topic = absl::StrCat("rb-", GetParam());
  ASSERT_TRUE(mock_->CreateTopic(topic, 1).ok());
  auto producer = MakeProducer();
  ASSERT_NE(producer, nullptr);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(producer->Produce(topic, 0, "k", absl::StrCat("v", i)).ok());
  }
  ASSERT_TRUE(producer->Flush(absl::Seconds(5)).ok());

  RecordingListener listener(/*start_offset=*/7);
  auto consumer =
      Consumer::Create(ConsumerProps("g-" + topic, GetParam()), &listener);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE((*consumer)->Subscribe({topic}).ok());
  std::vector<Copied> got = PollN(**consumer, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].offset, 7);
  EXPECT_EQ(got[0].value, "v7");
  EXPECT_EQ(got[2].value, "v9");
  ASSERT_EQ(listener.assigned.size(), 1u);
  EXPECT_EQ(listener.assigned[0].topic, topic);
  EXPECT_EQ(listener.assigned[0].partition, 0);
  EXPECT_EQ(listener.assigned[0].offset, RD_KAFKA_OFFSET_INVALID);

  auto assignment = (*consumer)->Assignment();
  ASSERT_TRUE(assignment.ok()) << assignment.status();
  ASSERT_EQ(assignment->size(), 1u);
  EXPECT_EQ((*assignment)[0].topic, topic);

  ASSERT_TRUE((*consumer)->Close().ok());
  ASSERT_EQ(listener.revoked.size(), 1u);
  EXPECT_EQ(listener.revoked[0].partition, 0);
  EXPECT_FALSE(listener.any_lost);
}

INSTANTIATE_TEST_SUITE_P(Protocols, RebalanceTest,
                         ::testing::Values("range", "cooperative-sticky"),
                         [](const auto& info) {
                           return info.param == "range" ? "Eager"
                                                        : "Cooperative";
                         });

TEST(KafkaStatusTest, KeepsCodeAndRetriability) {
  EXPECT_TRUE(KafkaStatus(RD_KAFKA_RESP_ERR_NO_ERROR, "x").ok());
  absl::Status timeout = KafkaStatus(RD_KAFKA_RESP_ERR__TIMED_OUT, "poll");
  EXPECT_EQ(timeout.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(timeout.message(), HasSubstr("poll: "));
  EXPECT_THAT(timeout.message(), HasSubstr("_TIMED_OUT"));
  auto info = KafkaErrorOf(timeout);
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->retriable);
  EXPECT_FALSE(info->fatal);

  absl::Status fatal = KafkaStatus(RD_KAFKA_RESP_ERR__FATAL, "consume");
  EXPECT_TRUE(KafkaErrorOf(fatal)->fatal);
  EXPECT_EQ(KafkaStatus(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, "t").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(KafkaStatus(RD_KAFKA_RESP_ERR__TRANSPORT, "t").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_FALSE(KafkaErrorOf(absl::InternalError("not kafka")).has_value());
}

}  // namespace
}  // namespace tailor::kafka
