// End to end on the embedded broker: events in, decisions out, with the
// fields a subscriber relies on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/integration/harness.h"

namespace tailor::testing {
namespace {

using tailor::v1::Decision;

constexpr int64_t kMinute = 60 * 1000;

void ExpectWellFormed(const Decision& d, const std::string& customer) {
  EXPECT_EQ(d.customer_id(), customer);
  EXPECT_EQ(d.decision_id().size(), 32u) << d.decision_id();
  EXPECT_EQ(d.action(), tailor::v1::DECISION_ACTION_SEND);
  EXPECT_FALSE(d.campaign().empty());
  EXPECT_FALSE(d.reason_codes().empty());
  EXPECT_GT(d.created_at_ms(), 0);
  EXPECT_GT(d.expires_at_ms(), d.created_at_ms());
}

TEST(PipelineEndToEnd, EventsInExpectedDecisionsOut) {
  Harness h;
  auto engine = PlainEngine();
  auto p = h.StartPipeline(engine);
  ASSERT_NE(p, nullptr);

  h.Send(Consent("c1", kBaseMs));
  for (int i = 1; i <= 3; ++i) {
    h.Send(ProductView("c1", kBaseMs + i * kMinute, "p1", "shoes"));
  }
  h.Send(CartAdd("c1", kBaseMs + 5 * kMinute, "p2", 30000));
  // Another customer's event moves stream time past c1's reminder time.
  h.Send(Consent("c2", kBaseMs + 40 * kMinute));

  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == 6; }));
  ASSERT_TRUE(p->Shutdown().ok());

  std::vector<Decision> decisions = h.ReadDecisions();
  const Decision* push =
      FindDecision(decisions, tailor::v1::DECISION_KIND_PUSH);
  const Decision* coupon =
      FindDecision(decisions, tailor::v1::DECISION_KIND_COUPON);
  const Decision* reminder =
      FindDecision(decisions, tailor::v1::DECISION_KIND_CART_REMINDER);
  ASSERT_NE(push, nullptr);
  ASSERT_NE(coupon, nullptr);
  ASSERT_NE(reminder, nullptr);

  ExpectWellFormed(*push, "c1");
  EXPECT_EQ(push->campaign(),
            engine->rules().browse_abandonment().common().name());
  EXPECT_EQ(push->channel(), tailor::v1::CHANNEL_PUSH);
  EXPECT_EQ(push->push().product_id(), "p1");

  ExpectWellFormed(*coupon, "c1");
  EXPECT_EQ(coupon->campaign(),
            engine->rules().first_order_coupon().common().name());
  EXPECT_FALSE(coupon->coupon().code().empty());

  ExpectWellFormed(*reminder, "c1");
  EXPECT_EQ(reminder->campaign(),
            engine->rules().abandoned_cart().common().name());
  EXPECT_EQ(reminder->cart_reminder().step(), 1);
  ASSERT_EQ(reminder->cart_reminder().items().size(), 1);
  EXPECT_EQ(reminder->cart_reminder().items(0).product_id(), "p2");
  EXPECT_EQ(reminder->cart_reminder().cart_value().minor_units(), 30000);
  // Fired by the timer at cart change + 30 minutes.
  EXPECT_EQ(reminder->created_at_ms(), kBaseMs + 35 * kMinute);
}

TEST(PipelineEndToEnd, OrderCancelsTheReminder) {
  Harness h;
  auto p = h.StartPipeline(PlainEngine());
  ASSERT_NE(p, nullptr);
  h.Send(Consent("c1", kBaseMs));
  h.Send(CartAdd("c1", kBaseMs + kMinute, "p2", 30000));
  h.Send(OrderPlaced("c1", kBaseMs + 10 * kMinute, "o1", 30000));
  h.Send(Consent("c2", kBaseMs + 60 * kMinute));
  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == 4; }));
  ASSERT_TRUE(p->Shutdown().ok());
  EXPECT_EQ(
      FindDecision(h.ReadDecisions(), tailor::v1::DECISION_KIND_CART_REMINDER),
      nullptr);
}

// Every decision is on the log, only SENDs on the delivery topics; opens and
// orders after a reminder come out on tailor.outcomes, attributed to it.
TEST(PipelineEndToEnd, OutcomesAreAttributedToTheReminder) {
  Harness h;
  auto p = h.StartPipeline(PlainEngine());
  ASSERT_NE(p, nullptr);
  h.Send(Consent("c1", kBaseMs));
  h.Send(CartAdd("c1", kBaseMs + kMinute, "p2", 30000));
  h.Send(Consent("c2", kBaseMs + 40 * kMinute));  // fires the reminder
  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == 3; }));
  const std::vector<Decision> first = h.ReadDecisions();
  const Decision* reminder =
      FindDecision(first, tailor::v1::DECISION_KIND_CART_REMINDER);
  ASSERT_NE(reminder, nullptr);
  const std::string id = reminder->decision_id();
  for (int i = 0; i < 2; ++i) {  // opened twice: one open
    tailor::v1::Event opened = MakeEvent("c1", kBaseMs + (42 + i) * kMinute);
    opened.mutable_push_opened()->set_decision_id(id);
    h.Send(opened);
  }
  h.Send(OrderPlaced("c1", kBaseMs + 50 * kMinute, "o1", 30000));
  ASSERT_TRUE(h.RunUntil(*p, [&] { return p->stats().events == 6; }));
  ASSERT_TRUE(p->Shutdown().ok());

  std::vector<std::string> outcomes;
  for (const OutputMessage& m : h.ReadAll({"tailor.outcomes"})) {
    tailor::v1::Outcome o;
    ASSERT_TRUE(o.ParseFromString(m.value));
    EXPECT_EQ(m.key, "c1");
    EXPECT_EQ(o.decision_id(), id);
    EXPECT_EQ(o.campaign(), reminder->campaign());
    EXPECT_EQ(o.action(), tailor::v1::DECISION_ACTION_SEND);
    outcomes.push_back(absl::StrCat(tailor::v1::OutcomeKind_Name(o.outcome()),
                                    " ", o.minutes_since_decision(), " ",
                                    o.value().minor_units()));
  }
  EXPECT_THAT(outcomes, ::testing::ElementsAre("OUTCOME_KIND_OPEN 11 0",
                                               "OUTCOME_KIND_CONVERSION 19 "
                                               "30000"));
  // The delivery topics carry the SENDs of the log, nothing else.
  int sent = 0;
  for (const Decision& d : h.ReadDecisions()) {
    if (d.action() == tailor::v1::DECISION_ACTION_SEND) ++sent;
  }
  int delivered = 0;
  for (const OutputMessage& m :
       h.ReadAll({"decisions.coupons", "decisions.push",
                  "decisions.cart-reminders", "decisions.agent-escalations"})) {
    Decision d;
    ASSERT_TRUE(d.ParseFromString(m.value));
    EXPECT_EQ(d.action(), tailor::v1::DECISION_ACTION_SEND) << m.topic;
    ++delivered;
  }
  EXPECT_EQ(delivered, sent);
}

TEST(PipelineEndToEnd, RefusesInputTopicsThatAreNotCoPartitioned) {
  Harness h;
  ASSERT_TRUE(h.cluster().CreateTopic("orders-wide", 3).ok());
  pipeline::PipelineOptions options;
  options.config = h.ServiceConfig();
  options.config.mutable_topics()->set_orders("orders-wide");
  auto p = pipeline::Pipeline::Create(std::move(options), PlainEngine());
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(absl::StrContains(p.status().message(), "co-partitioned"))
      << p.status();
  EXPECT_TRUE(absl::StrContains(p.status().message(), "orders-wide=3"))
      << p.status();
}

}  // namespace
}  // namespace tailor::testing
