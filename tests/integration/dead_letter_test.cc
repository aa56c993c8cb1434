// Bad input goes to the dead-letter topic with its original bytes and
// headers naming the source and the error; the service keeps going.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/base/murmur2.h"
#include "libs/kafka/producer.h"
#include "tests/integration/harness.h"

namespace tailor::testing {
namespace {

TEST(DeadLetter, MalformedEventsLandInTheDlqWithHeaders) {
  Harness h;
  auto p = h.StartPipeline(TestEngine());
  ASSERT_NE(p, nullptr);

  const std::string garbage("not a protobuf \xff\xfe\x01", 18);
  tailor::v1::Event no_customer = Consent("c1", kBaseMs);
  no_customer.clear_customer_id();
  tailor::v1::Event wrong_topic = OrderPlaced("c1", kBaseMs, "o1", 100);
  tailor::v1::Event far_future = ProductView("c1", 4102444800000, "p", "c");

  h.SendRaw("clickstream", "k1", garbage);
  h.SendRaw("clickstream", "", no_customer.SerializeAsString());
  h.SendRaw("clickstream", "c1", wrong_topic.SerializeAsString());
  h.SendRaw("clickstream", "c1", far_future.SerializeAsString());
  h.Send(ProductView("c1", kBaseMs, "p1", "shoes"));

  ASSERT_TRUE(h.RunUntil(*p, [&] {
    return p->stats().dead_letters == 4 && p->stats().events == 1;
  }));
  ASSERT_TRUE(p->Shutdown().ok());

  std::vector<OutputMessage> dlq = h.ReadAll({"tailor.dlq"});
  ASSERT_EQ(dlq.size(), 4u);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {garbage, "undecodable"},
      {no_customer.SerializeAsString(), "customer_id"},
      {wrong_topic.SerializeAsString(), "does not belong"},
      {far_future.SerializeAsString(), "future"},
  };
  for (size_t i = 0; i < dlq.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(dlq[i].value, expected[i].first);
    EXPECT_EQ(dlq[i].headers["tailor-source-topic"], "clickstream");
    EXPECT_EQ(dlq[i].headers["tailor-source-partition"], "0");
    EXPECT_EQ(dlq[i].headers["tailor-source-offset"], std::to_string(i));
    EXPECT_TRUE(
        absl::StrContains(dlq[i].headers["tailor-error"], expected[i].second))
        << dlq[i].headers["tailor-error"];
  }
  EXPECT_EQ(dlq[0].key, "k1");
}

// A producer with another partitioner than Java's (librdkafka's default is
// CRC32) puts a customer's events on partitions their key does not hash to:
// each such record is counted, and with misrouted_events: DEAD_LETTER it goes
// to the dead-letter topic instead of being folded in the wrong task.
class Misrouted : public ::testing::TestWithParam<tailor::v1::MisroutedEvents> {
};

TEST_P(Misrouted, RecordsOnTheWrongPartitionAreCountedAndHandledByPolicy) {
  constexpr int kPartitions = 4;
  constexpr int kCustomers = 6;
  const bool dead_letter =
      GetParam() == tailor::v1::MISROUTED_EVENTS_DEAD_LETTER;
  Harness h(kPartitions);
  auto producer = kafka::Producer::Create(
      {{"bootstrap.servers", h.bootstrap()}, {"linger.ms", "0"}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::map<std::string, int32_t> home;
  for (int i = 0; i < kCustomers; ++i) {
    const std::string c = absl::StrCat("c-", i);
    home[c] = KafkaPartitionForKey(c, kPartitions);
    // One view where the key belongs, one on the next partition.
    for (int32_t partition : {home[c], (home[c] + 1) % kPartitions}) {
      ASSERT_TRUE((*producer)
                      ->Produce("clickstream", partition, c,
                                ProductView(c, kBaseMs + partition, "p1", "c")
                                    .SerializeAsString())
                      .ok());
    }
  }
  ASSERT_TRUE((*producer)->Flush(absl::Seconds(10)).ok());

  auto p = h.StartPipeline(TestEngine(), [&](tailor::v1::ServiceConfig* c) {
    c->set_misrouted_events(GetParam());
  });
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(h.RunUntil(*p, [&] {
    return p->stats().events + p->stats().dead_letters == 2 * kCustomers;
  }));
  ASSERT_TRUE(p->Shutdown().ok());
  EXPECT_EQ(p->stats().misrouted_by_topic[tailor::v1::EVENT_TOPIC_CLICKSTREAM],
            kCustomers);
  EXPECT_EQ(p->stats().misrouted_by_topic[tailor::v1::EVENT_TOPIC_ORDERS], 0);
  EXPECT_EQ(p->stats().events, dead_letter ? kCustomers : 2 * kCustomers);

  std::vector<OutputMessage> dlq = h.ReadAll({"tailor.dlq"});
  if (!dead_letter) {
    EXPECT_TRUE(dlq.empty());
    return;
  }
  ASSERT_EQ(dlq.size(), static_cast<size_t>(kCustomers));
  for (OutputMessage& m : dlq) {
    SCOPED_TRACE(m.key);
    ASSERT_TRUE(home.contains(m.key));
    EXPECT_EQ(m.headers["tailor-source-partition"],
              absl::StrCat((home[m.key] + 1) % kPartitions));
    EXPECT_EQ(m.headers["tailor-error"],
              absl::StrCat("misrouted: key hashes to partition ", home[m.key]));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Policies, Misrouted,
    ::testing::Values(tailor::v1::MISROUTED_EVENTS_COUNT,
                      tailor::v1::MISROUTED_EVENTS_DEAD_LETTER));

// The harness produces like Java (murmur2): nothing is misrouted.
TEST(MisroutedContract, Murmur2ProducersAreNeverCounted) {
  Harness h(3);
  std::vector<tailor::v1::Event> events;
  for (int i = 0; i < 30; ++i) {
    events.push_back(ProductView(absl::StrCat("m-", i), kBaseMs + i, "p", "c"));
  }
  h.SendAll(events);
  auto p = h.StartPipeline(TestEngine());
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == 30; }));
  ASSERT_TRUE(p->Shutdown().ok());
  for (int64_t n : p->stats().misrouted_by_topic) EXPECT_EQ(n, 0);
}

}  // namespace
}  // namespace tailor::testing
