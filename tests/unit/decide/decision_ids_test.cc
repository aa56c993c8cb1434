// Decision ids follow what the customer did: every distinct decision gets an
// id of its own, even when the shop reuses a session id, an order is returned
// twice or an erased customer comes back with cart versions starting over;
// the same input gives the same ids and the same bytes again (a redo after a
// crash, a replay). Subscribers de-duplicate on the id, so a reused id would
// silently drop a decision.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/decide/engine.h"
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

// The decisions of `campaign` in the log, in order.
std::vector<v1::Decision> Of(const Shopper& s, const std::string& campaign) {
  std::vector<v1::Decision> out;
  for (const v1::Decision& d : s.decisions()) {
    if (d.campaign() == campaign) out.push_back(d);
  }
  return out;
}

// Every id is 32 lowercase hex characters and no two decisions share one.
void ExpectOwnIds(const std::vector<v1::Decision>& log) {
  std::set<std::string> seen;
  for (const v1::Decision& d : log) {
    EXPECT_THAT(d.decision_id(), MatchesRegex("[0-9a-f]{32}"));
    EXPECT_TRUE(seen.insert(d.decision_id()).second)
        << "id of two decisions: " << d.ShortDebugString();
  }
}

TEST(DecisionIds, ReusedSessionIdOnAnotherDayGetsItsOwnBrowsePush) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  const int64_t monday = T0();
  for (int i = 0; i < 3; ++i) s.View(monday + i * kMin, "p9");
  s.set_session("s2");
  const int64_t tuesday = monday + kDay + kHour;
  for (int i = 0; i < 3; ++i) s.View(tuesday + i * kMin, "p9");
  s.set_session("s1");  // The shop hands out "s1" again.
  const int64_t wednesday = monday + 2 * kDay + 2 * kHour;
  for (int i = 0; i < 3; ++i) s.View(wednesday + i * kMin, "p9");

  ASSERT_THAT(s.summaries(),
              ElementsAre("browse_abandonment SEND", "browse_abandonment SEND",
                          "browse_abandonment SEND"));
  const v1::Decision& first = s.decisions()[0];
  const v1::Decision& again = s.decisions()[2];
  EXPECT_EQ(first.created_at_ms(), monday + 2 * kMin);
  EXPECT_EQ(again.created_at_ms(), wednesday + 2 * kMin);
  // Two pushes, two ids: a subscriber that drops repeats delivers both.
  EXPECT_NE(first.decision_id(), again.decision_id());
  ExpectOwnIds(s.decisions());
}

TEST(DecisionIds, FirstOrderCouponSentInAReusedSessionIsNotTheSuppressedOne) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.profile().set_orders(0);
  s.profile().clear_consented_channels();  // No on-site consent yet.
  const int64_t monday = T0();
  s.AddToCart(monday, "p1", 6000);
  s.set_session("s2");
  s.AddToCart(monday + kDay, "p2", 6000);
  s.profile().add_consented_channels(v1::CHANNEL_ONSITE);
  s.set_session("s1");  // The shop hands out "s1" again.
  s.AddToCart(monday + 2 * kDay, "p3", 6000);

  const std::vector<v1::Decision> coupons = Of(s, "first_order");
  std::vector<std::string> summaries;
  for (const v1::Decision& d : coupons) summaries.push_back(Summary(d));
  ASSERT_THAT(summaries, ElementsAre("first_order SUPPRESSED/no_consent",
                                     "first_order SUPPRESSED/no_consent",
                                     "first_order SEND"));
  // The subscriber saw Monday's suppressed decision; Wednesday's sent coupon
  // must not look like a repeat of it.
  EXPECT_NE(coupons[0].decision_id(), coupons[2].decision_id());
  EXPECT_NE(coupons[0].coupon().code(), coupons[2].coupon().code());
  ExpectOwnIds(s.decisions());
}

TEST(DecisionIds, EachReturnOfOneOrderGetsItsOwnServiceRecoveryCoupon) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.Return(T0(), "o1");
  s.Return(T0() + 8 * kDay, "o1");  // A second, partial return; past cooldown.

  ASSERT_THAT(s.summaries(),
              ElementsAre("service_recovery SEND", "service_recovery SEND"));
  const v1::Decision& first = s.decisions()[0];
  const v1::Decision& second = s.decisions()[1];
  EXPECT_NE(first.decision_id(), second.decision_id());
  EXPECT_NE(first.coupon().code(), second.coupon().code());
}

TEST(DecisionIds, CartReminderAfterErasureIsNotTheOldOne) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  const int64_t t = T0();
  s.AddToCart(t, "p1", 15000);  // Cart version 1.
  s.AdvanceTo(t + 61 * kMin);
  s.AdvanceTo(t + 1441 * kMin);
  // The customer asks to be forgotten: libs/profile clears the profile, so
  // its cart versions start over. A month later they are back.
  s.profile().Clear();
  s.profile().set_customer_id("cust-1");
  s.profile().add_consented_channels(v1::CHANNEL_PUSH);
  s.set_session("s2");
  const int64_t back = t + 30 * kDay;
  s.AddToCart(back, "p2", 15000);  // Cart version 1 again.
  s.AdvanceTo(back + 61 * kMin);

  const std::vector<v1::Decision> reminders = Of(s, "abandoned_cart");
  std::vector<std::string> summaries;
  for (const v1::Decision& d : reminders) summaries.push_back(Summary(d));
  ASSERT_THAT(summaries,
              ElementsAre("abandoned_cart#1 SEND", "abandoned_cart#2 SEND",
                          "abandoned_cart#1 SEND"));
  EXPECT_EQ(reminders[2].cart_reminder().items(0).product_id(), "p2");
  EXPECT_NE(reminders[0].decision_id(), reminders[2].decision_id());
  ExpectOwnIds(s.decisions());
}

TEST(DecisionIds, RedoOfTheSameEventGivesTheSameDecision) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.View(T0(), "p9");
  s.View(T0() + kMin, "p9");
  // The third view, folded: the state a redo after a crash starts from.
  v1::CustomerProfile before = s.profile();
  for (v1::Affinity& a : *before.mutable_product_affinity()) {
    a.set_views(a.views() + 1);
  }
  v1::Event view;
  view.set_event_id("cust-1-e3");
  view.set_customer_id("cust-1");
  view.set_event_time_ms(T0() + 2 * kMin);
  view.mutable_context()->set_session_id("s1");
  view.mutable_product_view()->set_product_id("p9");
  view.mutable_product_view()->set_category_id("cat_p9");

  std::vector<std::string> runs;
  std::vector<std::string> ids;
  for (int run = 0; run < 2; ++run) {
    v1::CustomerProfile profile = before;
    v1::PartitionState state = partition;
    Outcome out;
    engine->OnEvent(view, &profile, &state, &out);
    ASSERT_EQ(out.decisions.size(), 1u);
    ids.push_back(out.decisions[0].decision_id());
    runs.push_back(out.decisions[0].SerializeAsString() +
                   profile.SerializeAsString());
  }
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(runs[0], runs[1]);
  // The same in every process and build: checked in.
  EXPECT_EQ(ids[0], "14793d5447bffb20f83a45072d0c5220");

  // Another view at another time is another occurrence.
  v1::CustomerProfile profile = before;
  v1::PartitionState state = partition;
  view.set_event_id("cust-1-e9");
  view.set_event_time_ms(T0() + 3 * kMin);
  Outcome out;
  engine->OnEvent(view, &profile, &state, &out);
  ASSERT_EQ(out.decisions.size(), 1u);
  EXPECT_NE(out.decisions[0].decision_id(), ids[0]);
}

TEST(DecisionIds, RedoOfTheSameTimerFiringGivesTheSameReminder) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.AddToCart(T0(), "p1", 22000);
  const v1::Timer timer = s.timers().at("abandoned_cart/2");
  std::vector<std::string> runs;
  v1::Decision reminder;
  for (int run = 0; run < 2; ++run) {
    v1::CustomerProfile profile = s.profile();
    v1::PartitionState state = partition;
    Outcome out;
    engine->OnTimer(timer, timer.fire_at_ms(), &profile, &state, &out);
    ASSERT_EQ(out.decisions.size(), 1u);
    reminder = out.decisions[0];
    runs.push_back(reminder.SerializeAsString() + profile.SerializeAsString() +
                   state.SerializeAsString());
  }
  EXPECT_EQ(runs[0], runs[1]);
  // The same in every process and build: checked in.
  EXPECT_EQ(reminder.decision_id(), "ad3d1bde514047016adb402b1cb38f1e");
  EXPECT_EQ(reminder.cart_reminder().coupon().code(),
            "ABANDONEDCAR-D5MR4VVF4Y");
}

// Three weeks of one customer whose shop recycles session ids: sessions s1,
// s2, s1 again with browse pushes, coupons and reminders in each; a cart
// reminder deferred by quiet hours; an order returned twice and an
// escalation; an erasure after which cart versions start over. Returns every
// decision, in order.
std::vector<v1::Decision> PlayWeeksWithReusedIds() {
  v1::RulesConfig rules = TestRules();
  for (v1::CampaignCommon* c :
       {rules.mutable_browse_abandonment()->mutable_common(),
        rules.mutable_service_recovery_coupon()->mutable_common(),
        rules.mutable_first_order_coupon()->mutable_common(),
        rules.mutable_cart_threshold_coupon()->mutable_common()}) {
    c->set_cooldown_minutes(0);
  }
  rules.clear_frequency_caps();
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-7", &partition);
  const int64_t t = T0();
  s.profile().set_orders(0);
  s.profile().mutable_lifetime_value()->set_minor_units(300000);
  for (int day = 0; day < 3; ++day) {
    s.set_session(day == 1 ? "s2" : "s1");
    const int64_t at = t + day * kDay;
    for (int i = 0; i < 3; ++i) s.View(at + i * kMin, "p9");
    for (int i = 0; i < 5; ++i) {
      s.View(at + (10 + i) * kMin, absl::StrCat("q", i), "shoes");
    }
    s.AddToCart(at + 20 * kMin, absl::StrCat("c", day), 6000);
    s.AddToCart(at + 21 * kMin, absl::StrCat("big", day), 20000);
    s.AdvanceTo(at + 22 * kHour);
    s.RemoveFromCart(at + 22 * kHour, absl::StrCat("c", day));
    s.RemoveFromCart(at + 22 * kHour + kMin, absl::StrCat("big", day));
  }
  s.AddToCart(t + 3 * kDay + 10 * kHour, "p1", 30000);  // Reminder at 21:xx.
  s.AdvanceExactlyTo(t + 5 * kDay);
  s.Order(t + 5 * kDay, "o1", 30000);
  s.Return(t + 6 * kDay, "o1");
  s.Return(t + 7 * kDay, "o1");  // A second, partial return.
  s.profile().Clear();           // Erasure; the customer comes back.
  s.profile().set_customer_id("cust-7");
  s.profile().add_consented_channels(v1::CHANNEL_PUSH);
  s.profile().add_consented_channels(v1::CHANNEL_ONSITE);
  s.AddToCart(t + 20 * kDay, "p2", 10000);
  s.AddToCart(t + 20 * kDay + kMin, "p3", 5000);
  s.AdvanceExactlyTo(t + 22 * kDay);
  return s.decisions();
}

TEST(DecisionIds, ReplayGivesTheSameBytesAndEveryDecisionItsOwnId) {
  const std::vector<v1::Decision> first = PlayWeeksWithReusedIds();
  const std::vector<v1::Decision> replay = PlayWeeksWithReusedIds();
  ASSERT_EQ(first.size(), replay.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].SerializeAsString(), replay[i].SerializeAsString())
        << "decision " << i << ": " << first[i].ShortDebugString();
  }
  // Every campaign but win-back and loyalty (no history for them) made
  // decisions, several of them in sessions of the same id.
  std::set<std::string> campaigns;
  for (const v1::Decision& d : first) campaigns.insert(d.campaign());
  EXPECT_THAT(campaigns, ElementsAre("abandoned_cart", "browse_abandonment",
                                     "cart_threshold", "first_order",
                                     "human_escalation", "service_recovery"));
  ExpectOwnIds(first);
}

}  // namespace
}  // namespace tailor::decide::testing
