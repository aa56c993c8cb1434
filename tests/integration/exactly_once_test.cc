// Exactly-once mode: decisions, changelog and input offsets commit in one
// transaction. Injected transaction failures abort and rewind; no decision
// is seen twice by a read_committed subscriber and no event is folded twice.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "tailor/v1/profile.pb.h"
#include "tests/integration/harness.h"

namespace tailor::testing {
namespace {

constexpr int64_t kMinute = 60 * 1000;
// Kafka protocol API keys (librdkafka keeps its names in a private header).
constexpr int16_t kApiProduce = 0;
constexpr int16_t kApiTxnOffsetCommit = 28;

void ExactlyOnce(tailor::v1::ServiceConfig* cfg) {
  cfg->set_processing_guarantee(tailor::v1::PROCESSING_GUARANTEE_EXACTLY_ONCE);
  cfg->set_transactional_id("tailor-it-eos");
  cfg->set_max_batch_events(7);  // many small transactions
}

TEST(ExactlyOnce, AbortedTransactionsAreRetriedWithoutDuplicates) {
  Harness h;
  auto engine = TestEngine();
  auto p = h.StartPipeline(engine, ExactlyOnce);
  ASSERT_NE(p, nullptr);

  constexpr int kCustomers = 12;
  const int64_t reminder_minutes =
      engine->rules().abandoned_cart().first_reminder_minutes();
  // Consents first, committed before any fault: decisions below then do not
  // depend on how the two input topics interleave.
  for (int c = 0; c < kCustomers; ++c) {
    h.Send(Consent(absl::StrCat("c", c), kBaseMs + c));
  }
  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == kCustomers; }));
  for (int c = 0; c < kCustomers; ++c) {
    const std::string id = absl::StrCat("c", c);
    h.Send(CartAdd(id, kBaseMs + kMinute + c, absl::StrCat("p", c), 30000));
  }
  // Move stream time past every first reminder.
  h.Send(Consent("late", kBaseMs + (reminder_minutes + 5) * kMinute));

  // Fail some produce requests for good (the transaction must abort) and
  // an offset commit transiently (retried inside the transaction); each
  // abort makes the pipeline rewind to its local state.
  rd_kafka_mock_push_request_errors(h.cluster().raw(), kApiProduce, 2,
                                    RD_KAFKA_RESP_ERR_INVALID_RECORD,
                                    RD_KAFKA_RESP_ERR_INVALID_RECORD);
  rd_kafka_mock_push_request_errors(h.cluster().raw(), kApiTxnOffsetCommit, 1,
                                    RD_KAFKA_RESP_ERR_NOT_COORDINATOR);

  // Done when the local state (written only after a committed transaction)
  // covers every input record; the stats also count aborted attempts.
  const auto durable = [&](const std::string& topic) {
    auto offset = p->store().GetOffset(topic, 0);
    return offset.ok() && offset->has_value() ? **offset : 0;
  };
  ASSERT_TRUE(h.RunUntil(
      *p,
      [&] {
        return durable("privacy") == kCustomers + 1 &&
               durable("clickstream") == kCustomers;
      },
      absl::Seconds(60)));
  ASSERT_TRUE(p->Shutdown().ok());
  EXPECT_GE(p->aborted_transactions(), 1);

  // Every profile saw each of its events exactly once.
  for (int c = 0; c < kCustomers; ++c) {
    std::string bytes;
    auto found = p->store().GetProfile(0, absl::StrCat("c", c), &bytes);
    ASSERT_TRUE(found.ok() && *found) << c;
    tailor::v1::CustomerProfile profile;
    ASSERT_TRUE(profile.ParseFromString(bytes));
    EXPECT_EQ(profile.events(), 2) << "customer c" << c;
  }

  // The embedded broker (librdkafka 2.0.2's mock cluster) does not hide the
  // records of aborted transactions from read_committed readers, so a
  // decision of an aborted and redone transaction can show up here twice. It
  // must then be the same decision, byte for byte: the redo is
  // deterministic.
  EXPECT_EQ(ExpectConsistentDecisionIds(h), kCustomers);
}

TEST(ExactlyOnce, RestartOnAnEmptyDiskSeesEveryDecisionOnce) {
  Harness h;
  auto engine = TestEngine();
  const std::string dir = h.state_dir();
  constexpr int kCustomers = 10;
  {
    auto p = h.StartPipeline(engine, [&](auto* cfg) {
      ExactlyOnce(cfg);
      cfg->set_state_dir(dir + "/a");
    });
    ASSERT_NE(p, nullptr);
    for (int c = 0; c < kCustomers; ++c) {
      const std::string id = absl::StrCat("c", c);
      h.Send(Consent(id, kBaseMs + c));
      h.Send(CartAdd(id, kBaseMs + kMinute + c, "p1", 30000));
    }
    ASSERT_TRUE(
        h.RunUntil(*p, [&] { return p->stats().events == 2 * kCustomers; }));
    ASSERT_TRUE(p->Shutdown().ok());
  }
  {  // A new pod with an empty disk: restore, then the reminders fire once.
    auto p = h.StartPipeline(engine, [&](auto* cfg) {
      ExactlyOnce(cfg);
      cfg->set_state_dir(dir + "/b");
    });
    ASSERT_NE(p, nullptr);
    h.Send(Consent("late", kBaseMs + 24 * 60 * kMinute));
    ASSERT_TRUE(
        h.RunUntil(*p, [&] { return p->stats().timers_fired >= kCustomers; }));
    ASSERT_TRUE(p->Shutdown().ok());
    EXPECT_EQ(p->stats().events, 1);
    EXPECT_EQ(p->aborted_transactions(), 0);
  }
  absl::flat_hash_map<std::string, int> seen;
  int reminders = 0;
  for (const auto& d : h.ReadDecisions()) {
    EXPECT_EQ(++seen[d.decision_id()], 1)
        << "decision seen twice: " << d.ShortDebugString();
    if (d.kind() == tailor::v1::DECISION_KIND_CART_REMINDER &&
        d.cart_reminder().step() == 1) {
      ++reminders;
    }
  }
  EXPECT_EQ(reminders, kCustomers);
}

}  // namespace
}  // namespace tailor::testing
