// Scripted customer timelines through the decision engine: each case sets up
// rules and a shopper, plays events and timers, and asserts the exact
// decisions made.
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/decide/engine.h"
#include "tests/unit/decide/decide_test_util.h"

namespace tailor::decide::testing {
namespace {

using ::testing::ElementsAreArray;

struct TimelineCase {
  std::string name;
  std::function<void(v1::RulesConfig&)>
      rules;  // Tweaks TestRules(); may be empty.
  std::function<void(Shopper&)> script;
  std::vector<std::string> want;
};

// Failure messages name the case.
void PrintTo(const TimelineCase& c, std::ostream* os) { *os << c.name; }

const int64_t T = T0();

std::vector<TimelineCase> Cases() {
  return {
      // --- Abandoned cart ---------------------------------------------------
      {"CartRemindersOneAndTwoFire",
       nullptr,
       [](Shopper& s) {
         s.AddToCart(T, "p1", 15000);
         s.AdvanceTo(T + 61 * kMin);
         s.AdvanceTo(T + 1441 * kMin);
       },
       {"abandoned_cart#1 SEND", "abandoned_cart#2 SEND"}},
      {"SecondReminderCarriesCouponAboveThreshold",
       nullptr,
       [](Shopper& s) {
         s.AddToCart(T, "p1", 22000);
         s.AdvanceTo(T + 61 * kMin);
         s.AdvanceTo(T + 1441 * kMin);
       },
       {"abandoned_cart#1 SEND", "abandoned_cart#2 SEND +coupon"}},
      {"NoCouponForDiscountWaiter",
       nullptr,
       [](Shopper& s) {
         s.profile().set_coupon_orders(3);  // 3 of 4 orders used a coupon.
         s.AddToCart(T, "p1", 22000);
         s.AdvanceTo(T + 61 * kMin);
         s.AdvanceTo(T + 1441 * kMin);
       },
       {"abandoned_cart#1 SEND", "abandoned_cart#2 SEND"}},
      {"NoReminderAfterOrder",
       nullptr,
       [](Shopper& s) {
         s.AddToCart(T, "p1", 15000);
         s.Order(T + 30 * kMin, "o1", 15000);
         s.AdvanceTo(T + 2 * kDay);
       },
       {}},
      {"SecondReminderStopsAfterOrder",
       nullptr,
       [](Shopper& s) {
         s.AddToCart(T, "p1", 15000);
         s.AdvanceTo(T + 61 * kMin);
         s.Order(T + 3 * kHour, "o1", 15000);
         s.AdvanceTo(T + 2 * kDay);
       },
       {"abandoned_cart#1 SEND"}},
      {"NoReminderAfterCartEmptied",
       nullptr,
       [](Shopper& s) {
         s.AddToCart(T, "p1", 15000);
         s.RemoveFromCart(T + 10 * kMin, "p1");
         s.AdvanceTo(T + 2 * kDay);
       },
       {}},
      {"NewerCartChangeMovesReminders",
       nullptr,
       [](Shopper& s) {
         s.AddToCart(T, "p1", 15000);
         s.AddToCart(T + 40 * kMin, "p2", 5000);
         s.AdvanceTo(T + 61 * kMin);  // The first cart's step 1 was replaced.
         s.AdvanceTo(T + 101 * kMin);
         s.AdvanceTo(T + 2 * kDay);
       },
       {"abandoned_cart#1 SEND", "abandoned_cart#2 SEND +coupon"}},
      {"OnlyTheLaterReminderAfterAStreamTimeJump",
       nullptr,
       [](Shopper& s) {
         s.AddToCart(T, "p1", 15000);
         s.AdvanceTo(T + 1441 * kMin);  // Both timers are due at once.
       },
       {"abandoned_cart#2 SEND"}},
      {"StaleCartGetsNoReminder",
       nullptr,
       [](Shopper& s) {
         s.AddToCart(T, "p1", 15000);
         s.AdvanceTo(T + 4 * kDay);  // Stream time jumps past the 72h window.
       },
       {}},
      {"NoConsentSuppressesReminders",
       nullptr,
       [](Shopper& s) {
         s.profile().clear_consented_channels();
         s.AddToCart(T, "p1", 15000);
         s.AdvanceTo(T + 61 * kMin);
         s.AdvanceTo(T + 1441 * kMin);
       },
       {"abandoned_cart#1 SUPPRESSED/no_consent",
        "abandoned_cart#2 SUPPRESSED/no_consent"}},
      {"EmailOnlyConsentSuppressesPush",
       nullptr,
       [](Shopper& s) {
         s.profile().clear_consented_channels();
         s.profile().add_consented_channels(v1::CHANNEL_EMAIL);
         s.AddToCart(T, "p1", 15000);
         s.AdvanceTo(T + 61 * kMin);
       },
       {"abandoned_cart#1 SUPPRESSED/no_consent"}},
      // --- Browse abandonment -----------------------------------------------
      {"BrowseAbandonmentFiresOncePerSessionAndProduct",
       nullptr,
       [](Shopper& s) {
         for (int i = 0; i < 6; ++i) s.View(T + i * kMin, "p9");
       },
       {"browse_abandonment SEND"}},
      {"BrowseAbandonmentFiresAgainInANewSession",
       nullptr,
       [](Shopper& s) {
         for (int i = 0; i < 4; ++i) s.View(T + i * kMin, "p9");
         s.set_session("s2");
         for (int i = 0; i < 4; ++i) s.View(T + 2 * kDay + i * kMin, "p9");
       },
       {"browse_abandonment SEND", "browse_abandonment SEND"}},
      {"NoBrowseAbandonmentForProductInCart",
       nullptr,
       [](Shopper& s) {
         s.AddToCart(T, "p9", 1000);
         for (int i = 1; i <= 3; ++i) s.View(T + i * kMin, "p9");
       },
       {}},
      {"BrowseAbandonmentOfACategory",
       nullptr,
       [](Shopper& s) {
         for (int i = 1; i <= 6; ++i) {
           s.View(T + i * kMin, absl::StrCat("p", i), "shoes");
         }
       },
       {"browse_abandonment SEND"}},
      {"CooldownSuppressesSecondBrowseNudge",
       nullptr,
       [](Shopper& s) {
         for (int i = 0; i < 3; ++i) s.View(T + i * kMin, "p1");
         for (int i = 0; i < 3; ++i) s.View(T + (10 + i) * kMin, "p2");
       },
       {"browse_abandonment SEND", "browse_abandonment SUPPRESSED/cooldown"}},
      {"PushFrequencyCapSuppressesThirdPush",
       [](v1::RulesConfig& r) {
         r.mutable_browse_abandonment()->mutable_common()->set_cooldown_minutes(
             0);
       },
       [](Shopper& s) {
         for (const char* p : {"p1", "p2", "p3"}) {
           for (int i = 0; i < 3; ++i) s.View(T + i * kMin, p);
         }
       },
       {"browse_abandonment SEND", "browse_abandonment SEND",
        "browse_abandonment SUPPRESSED/frequency_cap"}},
      {"FrequencyCapWindowRolls",
       [](v1::RulesConfig& r) {
         r.mutable_browse_abandonment()->mutable_common()->set_cooldown_minutes(
             0);
       },
       [](Shopper& s) {
         for (int i = 0; i < 3; ++i) s.View(T + i * kMin, "p1");
         for (int i = 0; i < 3; ++i) s.View(T + 1 * kHour + i * kMin, "p2");
         // 25 hours later the first two pushes left the 24h window.
         for (int i = 0; i < 3; ++i) s.View(T + 25 * kHour + i * kMin, "p3");
       },
       {"browse_abandonment SEND", "browse_abandonment SEND",
        "browse_abandonment SEND"}},
      // --- Coupons ----------------------------------------------------------
      {"FirstOrderCouponOncePerSession",
       nullptr,
       [](Shopper& s) {
         s.profile().set_orders(0);
         s.AddToCart(T, "p1", 6000);
         s.AddToCart(T + kMin, "p2", 1000);
       },
       {"first_order SEND"}},
      {"NoFirstOrderCouponBelowMinimum",
       nullptr,
       [](Shopper& s) {
         s.profile().set_orders(0);
         s.AddToCart(T, "p1", 4000);
       },
       {}},
      {"NoFirstOrderCouponForCustomerWithOrders",
       nullptr,
       [](Shopper& s) { s.AddToCart(T, "p1", 6000); },
       {}},
      {"NoFirstOrderCouponOnceIssued",
       nullptr,
       [](Shopper& s) {
         s.profile().set_orders(0);
         s.AddToCart(T, "p1", 6000);
         s.set_session("s2");
         s.AddToCart(T + 3 * kDay, "p2", 6000);
       },
       {"first_order SEND"}},
      {"CartThresholdCouponOnUpwardCrossing",
       nullptr,
       [](Shopper& s) {
         s.AddToCart(T, "p1", 20000);
         s.AddToCart(T + kMin, "p2", 6000);  // 20000 -> 26000 crosses 25000.
         s.RemoveFromCart(T + 2 * kMin, "p2");
         s.AddToCart(T + 3 * kMin, "p2", 6000);  // Same session: nothing.
       },
       {"cart_threshold SEND"}},
      {"NoCartThresholdCouponWhenAlreadyAbove",
       nullptr,
       [](Shopper& s) {
         s.AddToCart(T, "p1", 20000);
         s.AddToCart(T + kMin, "p2", 6000);
         s.set_session("s2");
         s.AddToCart(T + kDay, "p3", 1000);  // 26000 -> 27000: no crossing.
       },
       {"cart_threshold SEND"}},
      {"WinBackAfterLongAbsence",
       nullptr,
       [](Shopper& s) {
         s.profile().set_last_seen_ms(T - 60 * kDay);
         s.View(T, "p1");
         s.View(T + kMin, "p2");  // Now active again: nothing more.
       },
       {"win_back SEND"}},
      {"NoWinBackAfterShortAbsence",
       nullptr,
       [](Shopper& s) {
         s.profile().set_last_seen_ms(T - 30 * kDay);
         s.View(T, "p1");
       },
       {}},
      {"NoWinBackWithoutOrders",
       nullptr,
       [](Shopper& s) {
         s.profile().set_orders(0);
         s.profile().set_last_seen_ms(T - 60 * kDay);
         s.View(T, "p1");
       },
       {}},
      {"LoyaltyCouponAtTier",
       nullptr,
       [](Shopper& s) {
         s.profile().set_orders(2);
         s.Order(T, "o3", 10000);  // Third order.
       },
       {"loyalty SEND"}},
      {"NoLoyaltyCouponBetweenTiers",
       nullptr,
       [](Shopper& s) { s.Order(T, "o5", 10000); },
       {}},
      {"ServiceRecoveryAfterReturn",
       nullptr,
       [](Shopper& s) { s.Return(T, "o1"); },
       {"service_recovery SEND"}},
      {"ServiceRecoveryAfterCancellation",
       nullptr,
       [](Shopper& s) { s.Cancel(T, "o1"); },
       {"service_recovery SEND"}},
      {"NoServiceRecoveryAfterDelivery",
       nullptr,
       [](Shopper& s) { s.Deliver(T, "o1"); },
       {}},
      {"EmailCapSuppressesSecondEmailOfTheDay",
       [](v1::RulesConfig& r) {
         r.mutable_service_recovery_coupon()
             ->mutable_common()
             ->set_cooldown_minutes(0);
       },
       [](Shopper& s) {
         s.Return(T, "o1");
         s.Return(T + kHour, "o2");
       },
       {"service_recovery SEND", "service_recovery SUPPRESSED/frequency_cap"}},
      {"CustomerLimit",
       [](v1::RulesConfig& r) {
         auto* c = r.mutable_service_recovery_coupon()->mutable_common();
         c->set_cooldown_minutes(0);
         c->set_max_per_customer(1);
       },
       [](Shopper& s) {
         s.Return(T, "o1");
         s.Return(T + 3 * kDay, "o2");
       },
       {"service_recovery SEND", "service_recovery SUPPRESSED/customer_limit"}},
      {"HoldoutCountsForCooldown",
       [](v1::RulesConfig& r) {
         r.mutable_service_recovery_coupon()
             ->mutable_common()
             ->set_holdout_percent(100);
       },
       [](Shopper& s) {
         s.Return(T, "o1");
         s.Return(T + kDay, "o2");
       },
       {"service_recovery HOLD_OUT", "service_recovery SUPPRESSED/cooldown"}},
      // --- Arbitration across campaigns --------------------------------------
      // One cart_add makes a first-order and a threshold coupon: one goes.
      {"FirstCartAddOverThresholdYieldsOneCoupon",
       nullptr,
       [](Shopper& s) {
         s.profile().set_orders(0);
         s.AddToCart(T, "p1", 26000);
       },
       {"first_order SEND", "cart_threshold SUPPRESSED/arbitration"}},
      {"PrioritiesChangeTheWinner",
       [](v1::RulesConfig& r) {
         auto* priority = r.mutable_arbitration()->mutable_priority();
         priority->Clear();
         priority->Add("cart_threshold");
         priority->Add("first_order");
       },
       [](Shopper& s) {
         s.profile().set_orders(0);
         s.AddToCart(T, "p1", 26000);
       },
       // Emitted in arbitration order.
       {"cart_threshold SEND", "first_order SUPPRESSED/arbitration"}},
      {"SecondCouponWaitsUntilTheFirstIsRedeemed",
       nullptr,
       [](Shopper& s) {
         s.profile().set_orders(0);
         s.AddToCart(T, "p1", 6000);              // First-order coupon.
         s.AddToCart(T + 5 * kMin, "p2", 20000);  // Crosses 250.00: held.
         s.Redeem(T + 10 * kMin, s.LastCouponCode("first_order"));
         s.set_session("s2");
         s.RemoveFromCart(T + 20 * kMin, "p2");
         s.AddToCart(T + 21 * kMin, "p2", 20000);  // Crosses again: sent.
       },
       {"first_order SEND", "cart_threshold SUPPRESSED/coupon_active",
        "cart_threshold SEND"}},
      {"SecondCouponWaitsUntilTheFirstExpires",
       nullptr,
       [](Shopper& s) {
         s.profile().set_orders(0);
         s.AddToCart(T, "p1", 6000);  // Expires after 7 days.
         s.AddToCart(T + 5 * kMin, "p2", 20000);
         s.set_session("s2");
         s.RemoveFromCart(T + 7 * kDay - 2 * kMin, "p2");
         s.AddToCart(T + 7 * kDay - kMin, "p2", 20000);  // Still active.
         s.set_session("s3");
         s.RemoveFromCart(T + 7 * kDay, "p2");
         s.AddToCart(T + 7 * kDay + kMin, "p2", 20000);  // Expired: sent.
       },
       {"first_order SEND", "cart_threshold SUPPRESSED/coupon_active",
        "cart_threshold SUPPRESSED/coupon_active", "cart_threshold SEND"}},
      {"ReminderGoesWithoutItsCouponWhileOneIsActive",
       nullptr,
       [](Shopper& s) {
         s.profile().set_orders(0);
         s.AddToCart(T, "p1", 26000);  // First-order coupon, for 7 days.
         s.AdvanceTo(T + 61 * kMin);
         s.AdvanceTo(T + 1441 * kMin);  // Reminder 2 would carry one.
       },
       {"first_order SEND", "cart_threshold SUPPRESSED/arbitration",
        "abandoned_cart#1 SEND", "abandoned_cart#2 SEND"}},
      {"ReplacingCampaignIsSentWhileACouponIsActive",
       nullptr,
       [](Shopper& s) {
         s.AddToCart(T, "p1", 26000);  // Threshold coupon.
         s.Return(T + kHour, "o1");    // service_recovery replaces it.
       },
       {"cart_threshold SEND", "service_recovery SEND"}},
      {"DailyMessageBudgetAcrossChannels",
       [](v1::RulesConfig& r) {
         r.mutable_arbitration()->set_max_messages_per_day(2);
         r.mutable_arbitration()->set_max_active_coupons(0);
       },
       [](Shopper& s) {
         for (int i = 0; i < 3; ++i) s.View(T + i * kMin, "p9");  // Push.
         s.Return(T + kHour, "o1");                               // E-mail.
         s.AddToCart(T + 2 * kHour, "p1", 26000);  // On-site: over budget.
         s.set_session("s2");
         s.RemoveFromCart(T + 14 * kHour + kMin, "p1");  // 00:01 next day.
         s.AddToCart(T + 14 * kHour + 2 * kMin, "p1", 26000);
       },
       {"browse_abandonment SEND", "service_recovery SEND",
        "cart_threshold SUPPRESSED/message_budget", "cart_threshold SEND"}},
      {"DailyMessageBudgetAsARolling24Hours",
       [](v1::RulesConfig& r) {
         r.mutable_arbitration()->set_max_messages_per_day(2);
         r.mutable_arbitration()->set_max_active_coupons(0);
         r.mutable_arbitration()->set_message_budget_window(
             v1::MESSAGE_BUDGET_WINDOW_ROLLING_24H);
       },
       [](Shopper& s) {
         for (int i = 0; i < 3; ++i) s.View(T + i * kMin, "p9");
         s.Return(T + kHour, "o1");
         s.AddToCart(T + 2 * kHour, "p1", 26000);
         s.set_session("s2");
         s.RemoveFromCart(T + 14 * kHour + kMin, "p1");
         s.AddToCart(T + 14 * kHour + 2 * kMin, "p1", 26000);  // Same 24 h.
         s.set_session("s3");
         s.RemoveFromCart(T + 24 * kHour + 4 * kMin, "p1");
         // The push (T + 2 min) has left the window, the e-mail not.
         s.AddToCart(T + 24 * kHour + 5 * kMin, "p1", 26000);
       },
       {"browse_abandonment SEND", "service_recovery SEND",
        "cart_threshold SUPPRESSED/message_budget",
        "cart_threshold SUPPRESSED/message_budget", "cart_threshold SEND"}},
      // --- Human escalation -------------------------------------------------
      {"EscalationForDissatisfiedValuableCustomerSuppressesNudge",
       nullptr,
       [](Shopper& s) {
         s.profile().mutable_lifetime_value()->set_minor_units(300000);
         s.profile().mutable_dissatisfaction()->add_returns_at_ms(T -
                                                                  10 * kDay);
         s.Cancel(T, "o7");
         // Inside the period: no second escalation; the nudge goes out again.
         s.Return(T + kDay, "o8");
       },
       {"human_escalation SEND",
        "service_recovery SUPPRESSED/escalated_to_agent",
        "service_recovery SEND"}},
      {"NoEscalationForLowValueCustomer",
       nullptr,
       [](Shopper& s) {
         s.profile().mutable_lifetime_value()->set_minor_units(10000);
         s.profile().mutable_dissatisfaction()->add_returns_at_ms(T -
                                                                  10 * kDay);
         s.Cancel(T, "o7");
       },
       {"service_recovery SEND"}},
      {"NoEscalationForOldIncidents",
       nullptr,
       [](Shopper& s) {
         s.profile().mutable_lifetime_value()->set_minor_units(300000);
         s.profile().mutable_dissatisfaction()->add_returns_at_ms(T -
                                                                  40 * kDay);
         s.Cancel(T, "o7");
       },
       {"service_recovery SEND"}},
      {"EscalationNeedsNoConsent",
       nullptr,
       [](Shopper& s) {
         s.profile().clear_consented_channels();
         s.profile().mutable_lifetime_value()->set_minor_units(300000);
         s.profile().mutable_dissatisfaction()->add_returns_at_ms(T - 1 * kDay);
         s.Return(T, "o7");
       },
       {"human_escalation SEND",
        "service_recovery SUPPRESSED/escalated_to_agent"}},
      // --- Privacy ----------------------------------------------------------
      {"ProfilingOptOutMakesNoDecisionAtAll",
       nullptr,
       [](Shopper& s) {
         s.profile().set_profiling_opt_out(true);
         s.AddToCart(T, "p1", 30000);
         for (int i = 0; i < 3; ++i) s.View(T + i * kMin, "p9");
         s.Return(T, "o1");
         s.AdvanceTo(T + 2 * kDay);
         EXPECT_TRUE(s.timers().empty());
       },
       {}},
  };
}

class TimelineTest : public ::testing::TestWithParam<TimelineCase> {};

TEST_P(TimelineTest, MakesExactlyTheExpectedDecisions) {
  const TimelineCase& c = GetParam();
  v1::RulesConfig rules = TestRules();
  if (c.rules) c.rules(rules);
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(rules);
  ASSERT_TRUE(engine.ok()) << engine.status();
  v1::PartitionState partition;
  Shopper shopper(engine->get(), "cust-1", &partition);
  c.script(shopper);
  EXPECT_THAT(shopper.summaries(), ElementsAreArray(c.want));
}

INSTANTIATE_TEST_SUITE_P(Decide, TimelineTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace tailor::decide::testing
