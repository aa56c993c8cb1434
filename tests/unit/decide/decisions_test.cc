// What a decision carries: deterministic ids and coupon codes (golden values),
// payloads, reason codes, facts, expiry and recommendations.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/decide/engine.h"
#include "libs/decide/internal.h"
#include "tests/unit/decide/decide_test_util.h"

namespace tailor::decide::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::MatchesRegex;

std::unique_ptr<Engine> MakeEngine(const v1::RulesConfig& rules) {
  absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Create(rules);
  EXPECT_TRUE(e.ok()) << e.status();
  return std::move(e).value();
}

// A busy day of one customer touching every campaign; returns everything
// the engine produced, serialized, plus the final profile and partition.
std::string PlayBusyDay(const v1::RulesConfig& rules) {
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-42", &partition);
  const int64_t t = T0();
  s.profile().set_orders(2);
  s.profile().set_last_seen_ms(t - 50 * kDay);
  s.profile().mutable_lifetime_value()->set_minor_units(400000);
  for (int i = 0; i < 3; ++i) s.View(t + i * kMin, "p1");
  s.AddToCart(t + 5 * kMin, "p2", 22000);
  s.AddToCart(t + 6 * kMin, "p3", 4000);
  s.AdvanceTo(t + 2 * kHour);
  s.Order(t + 3 * kHour, "o1", 26000);
  s.Return(t + 4 * kHour, "o1");
  s.Cancel(t + 5 * kHour, "o0");
  s.AddToCart(t + 11 * kHour, "p4", 9000);  // Reminder falls in quiet hours.
  s.AdvanceExactlyTo(t + 3 * kDay);
  std::string out;
  for (const v1::Decision& d : s.decisions()) out += d.SerializeAsString();
  for (const auto& [id, timer] : s.timers()) out += timer.SerializeAsString();
  out += s.profile().SerializeAsString();
  out += partition.SerializeAsString();
  return out;
}

TEST(Determinism, SameInputsGiveTheSameBytes) {
  const std::string first = PlayBusyDay(DefaultRules());
  const std::string second = PlayBusyDay(DefaultRules());
  EXPECT_FALSE(first.empty());
  EXPECT_EQ(first, second);
  // The day exercised many campaigns, not an empty log.
  EXPECT_GT(first.size(), 2000u);
}

TEST(Determinism, GoldenIdsAndCouponCodes) {
  // Checked in: changing these breaks subscribers' de-duplication.
  v1::Event event;
  event.set_event_id("e-1");
  event.set_event_time_ms(1709629200000);
  EXPECT_EQ(internal::EventOccurrence(event), "event:1709629200000:e-1");
  v1::Timer timer;
  timer.set_timer_id("abandoned_cart/2");
  timer.set_fire_at_ms(1709715720000);
  EXPECT_EQ(internal::TimerOccurrence(timer),
            "timer:1709715720000:abandoned_cart/2");
  EXPECT_EQ(internal::DecisionId("first_order", "cust-1", "session:s1",
                                 "event:1709629200000:e-1"),
            "eea529037cd55648177f510a291b6e03");
  EXPECT_EQ(internal::CouponCode("first_order", "cust-1", "session:s1",
                                 "event:1709629200000:e-1"),
            "FIRSTORDER-WKQWWB74PJ");
  EXPECT_EQ(
      internal::CouponCode("service_recovery", "cust-1", "order:o1:returned",
                           "event:1709629200000:e-1"),
      "SERVICERECOV-9HDGY9JAKQ");
  EXPECT_THAT(internal::CouponCode("a-very-long campaign name", "c", "t", "o"),
              MatchesRegex("AVERYLONGCAM-[0-9A-HJKMNP-TV-Z]{10}"));
}

TEST(Determinism, HoldoutAndVariantAssignmentIsStable) {
  internal::Campaign c;
  v1::CampaignCommon common;
  common.set_name("first_order");
  common.set_holdout_percent(50);
  common.add_variants()->set_name("A");
  common.mutable_variants(0)->set_weight(1);
  common.add_variants()->set_name("B");
  common.mutable_variants(1)->set_weight(1);
  c.common = &common;
  c.salt = "first_order";
  c.cumulative_weights = {1, 2};
  std::string assignment;
  for (const char* id : {"cust-1", "cust-2", "cust-3", "cust-4", "cust-5"}) {
    assignment += c.HeldOut(id) ? "H" : "-";
    assignment += c.VariantFor(id)->name();
  }
  EXPECT_EQ(assignment, "HB-B-B-A-B");
}

TEST(Payloads, CartReminderWithCoupon) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  const int64_t t = T0();
  s.View(t, "p7");
  s.View(t + kMin, "p8");
  s.AddToCart(t + 2 * kMin, "p1", 11000, 2);
  const int64_t fire = t + 2 * kMin + 1440 * kMin;
  s.AdvanceTo(fire);
  ASSERT_THAT(s.summaries(), ElementsAre("abandoned_cart#2 SEND +coupon"));
  const v1::Decision& d = s.decisions()[0];
  // The trigger says what (cart version 1, step 2), the occurrence which
  // firing of which timer.
  const std::string occurrence =
      absl::StrCat("timer:", fire, ":abandoned_cart/2");
  EXPECT_EQ(d.decision_id(), internal::DecisionId("abandoned_cart", "cust-1",
                                                  "cart:v1:step2", occurrence));
  EXPECT_EQ(d.customer_id(), "cust-1");
  EXPECT_EQ(d.kind(), v1::DECISION_KIND_CART_REMINDER);
  EXPECT_EQ(d.channel(), v1::CHANNEL_PUSH);
  EXPECT_EQ(d.trigger_event_id(), "abandoned_cart/2");
  EXPECT_EQ(d.created_at_ms(), fire);
  EXPECT_EQ(d.expires_at_ms(), fire + 1440 * kMin);
  EXPECT_THAT(d.reason_codes(), ElementsAre("cart_abandoned", "reminder_step_2",
                                            "cart_value_above_threshold"));
  const v1::CartReminderPayload& p = d.cart_reminder();
  EXPECT_EQ(p.step(), 2);
  ASSERT_EQ(p.items_size(), 1);
  EXPECT_EQ(p.items(0).quantity(), 2);
  EXPECT_EQ(p.cart_value().minor_units(), 22000);
  EXPECT_EQ(p.template_id(), "cart_reminder_v1");
  EXPECT_EQ(p.coupon().percent_off(), 10);
  EXPECT_EQ(p.coupon().code(),
            internal::CouponCode("abandoned_cart", "cust-1", "cart:v1:step2",
                                 occurrence));
  // Newest viewed first; the carted product is never recommended.
  EXPECT_THAT(p.recommended_product_ids(), ElementsAre("p8", "p7"));
  EXPECT_EQ(*internal::FindFact(d, "cart_value_minor"), "22000");
  EXPECT_EQ(*internal::FindFact(d, "minutes_since_cart_change"), "1440");
  EXPECT_EQ(*internal::FindFact(d, "coupon_value_minor"), "2200");
  // Bookkeeping of a sent coupon.
  EXPECT_EQ(s.profile().coupons_issued(), 1);
  ASSERT_EQ(partition.budgets_size(), 1);
  EXPECT_EQ(partition.budgets(0).count(), 1);
  EXPECT_EQ(partition.budgets(0).value_minor(), 2200);
}

TEST(Payloads, BrowseAbandonmentPushAndRecommendations) {
  v1::RulesConfig rules = TestRules();
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  const int64_t t = T0();
  v1::CustomerProfile& p = s.profile();
  p.add_purchased_product_ids("bought");
  for (const char* id : {"old", "bought", "x", "x"}) {
    p.add_recent_viewed_product_ids(id);
  }
  // Affinities beyond the recent views, ranked by decayed score.
  for (auto [id, score, age_h] :
       std::vector<std::tuple<const char*, double, int>>{
           {"aff_fresh", 4.0, 0},
           {"aff_stale", 8.0, 24 * 5},
           {"bought", 99, 0}}) {
    v1::Affinity* a = p.add_product_affinity();
    a->set_id(id);
    a->set_score(score);
    a->set_updated_at_ms(t - age_h * kHour);
  }
  for (int i = 0; i < 3; ++i) s.View(t + i * kMin, "p9");
  ASSERT_THAT(s.summaries(), ElementsAre("browse_abandonment SEND"));
  const v1::Decision& d = s.decisions()[0];
  EXPECT_EQ(d.kind(), v1::DECISION_KIND_PUSH);
  EXPECT_THAT(d.reason_codes(), ElementsAre("browse_abandoned_product"));
  EXPECT_EQ(d.push().product_id(), "p9");
  EXPECT_EQ(d.push().template_id(), "browse_abandonment_v1");
  // p9 itself excluded, "bought" excluded, duplicates removed; 8 halved five
  // times (72h half-life, 120h old) is below 4.
  EXPECT_THAT(d.push().recommended_product_ids(),
              ElementsAre("x", "old", "aff_fresh"));
  // The third view (event cust-1-e3) made it.
  EXPECT_EQ(d.trigger_event_id(), "cust-1-e3");
  EXPECT_EQ(d.decision_id(),
            internal::DecisionId(
                "browse_abandonment", "cust-1", "session:s1:product:p9",
                absl::StrCat("event:", t + 2 * kMin, ":cust-1-e3")));
}

TEST(Payloads, WinBackReasonsAndCoupon) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.profile().set_last_seen_ms(T0() - 47 * kDay - kHour);
  s.View(T0(), "p1");
  ASSERT_THAT(s.summaries(), ElementsAre("win_back SEND"));
  const v1::Decision& d = s.decisions()[0];
  EXPECT_EQ(d.kind(), v1::DECISION_KIND_COUPON);
  EXPECT_EQ(d.channel(), v1::CHANNEL_EMAIL);
  EXPECT_THAT(d.reason_codes(), ElementsAre("win_back", "inactive_47d"));
  EXPECT_EQ(d.coupon().percent_off(), 15);
  EXPECT_EQ(d.coupon().min_order_value().minor_units(), 10000);
  EXPECT_EQ(d.coupon().min_order_value().currency(), "PLN");
  EXPECT_EQ(d.trigger_event_id(), "cust-1-e1");
  EXPECT_EQ(d.expires_at_ms(), T0() + 20160 * kMin);
}

TEST(Payloads, EscalationGoesToTheAgentQueue) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.profile().mutable_lifetime_value()->set_minor_units(250000);
  s.profile().mutable_dissatisfaction()->add_returns_at_ms(T0() - kDay);
  s.Return(T0(), "o9");
  ASSERT_GE(s.decisions().size(), 1u);
  const v1::Decision& d = s.decisions()[0];
  EXPECT_EQ(d.kind(), v1::DECISION_KIND_AGENT_ESCALATION);
  EXPECT_EQ(d.channel(), v1::CHANNEL_AGENT);
  EXPECT_EQ(d.agent_escalation().queue(), "vip-care");
  EXPECT_EQ(d.agent_escalation().summary_code(),
            "returns_and_cancellations_30d");
  EXPECT_EQ(*internal::FindFact(d, "incidents"), "2");
  EXPECT_EQ(s.profile().dissatisfaction().escalated_at_ms(), T0());
}

TEST(Timers, CartChangeSetsBothReminderTimers) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.AddToCart(T0(), "p1", 1000);
  s.AddToCart(T0() + kMin, "p2", 1000);
  ASSERT_EQ(s.timers().size(), 2u);
  const v1::Timer& one = s.timers().at("abandoned_cart/1");
  EXPECT_EQ(one.kind(), v1::TIMER_KIND_CART_REMINDER);
  EXPECT_EQ(one.fire_at_ms(), T0() + kMin + 60 * kMin);
  EXPECT_EQ(one.trigger_ref(), 2);
  EXPECT_EQ(one.step(), 1);
  EXPECT_EQ(s.timers().at("abandoned_cart/2").fire_at_ms(),
            T0() + kMin + 1440 * kMin);
}

TEST(Timers, StaleVersionTimerDoesNothing) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.AddToCart(T0(), "p1", 1000);
  v1::Timer stale = s.timers().at("abandoned_cart/1");
  s.AddToCart(T0() + kMin, "p2", 1000);  // Cart version 2.
  Outcome out;
  engine->OnTimer(stale, stale.fire_at_ms(), &s.profile(), &partition, &out);
  EXPECT_TRUE(out.decisions.empty());
  EXPECT_TRUE(out.timers.empty());
  stale.set_trigger_ref(2);  // The same timer for the current version fires.
  engine->OnTimer(stale, T0() + 61 * kMin, &s.profile(), &partition, &out);
  EXPECT_EQ(out.decisions.size(), 1u);
}

}  // namespace
}  // namespace tailor::decide::testing
