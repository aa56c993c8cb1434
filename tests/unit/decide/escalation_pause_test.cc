// A human takes over, the robots step back: after an escalation to an agent
// is SENT, the customer's automated nudges are SUPPRESSED escalated_to_agent
// for human_escalation.pause_automation_days; service recovery is not.
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/decide/engine.h"
#include "libs/decide/rules.h"
#include "tests/unit/decide/decide_test_util.h"

namespace tailor::decide::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

const int64_t T = T0();  // Tuesday 10:00 in Warsaw.

// TestRules with both cart reminders on the same day (1 h and 3 h after the
// last cart change), and coupons that may stack (the service-recovery coupon
// would otherwise hold the one coupon slot; stacking is
// arbitration_test.cc's business).
v1::RulesConfig SameDayReminders() {
  v1::RulesConfig r = TestRules();
  r.mutable_arbitration()->set_max_active_coupons(0);
  r.mutable_abandoned_cart()->mutable_common()->set_cooldown_minutes(0);
  r.mutable_abandoned_cart()->set_second_reminder_minutes(180);
  return r;
}

std::unique_ptr<Engine> MakeEngine(const v1::RulesConfig& rules) {
  absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Create(rules);
  EXPECT_TRUE(e.ok()) << e.status();
  return std::move(e).value();
}

// A valuable customer with a return 10 days ago cancels an order at `t`:
// the second incident in 30 days escalates them to an agent.
void Escalate(Shopper& s, int64_t t) {
  s.profile().mutable_lifetime_value()->set_minor_units(300000);
  s.profile().mutable_dissatisfaction()->add_returns_at_ms(t - 10 * kDay);
  s.Cancel(t, "o7");
}

// A cart crossing the 250.00 threshold at `t`, both reminders, then an
// order that ends the cart.
void CartDay(Shopper& s, int64_t t, const std::string& product) {
  s.AddToCart(t, product, 26000);
  s.AdvanceTo(t + 61 * kMin);
  s.AdvanceTo(t + 181 * kMin);
  s.Order(t + 4 * kHour, "order-" + product, 26000);
}

TEST(EscalationPause, NudgesAreSuppressedForSevenDaysThenResume) {
  std::unique_ptr<Engine> engine = MakeEngine(SameDayReminders());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  Escalate(s, T);
  CartDay(s, T + kHour, "p1");  // The same day.
  for (int i = 0; i < 3; ++i) s.View(T + 6 * kHour + i * kMin, "p9");
  s.Return(T + 2 * kDay, "o8");  // Service recovery is not paused.
  s.set_session("s2");
  CartDay(s, T + 7 * kDay + kHour, "p2");  // The pause is over.
  EXPECT_THAT(
      s.summaries(),
      ElementsAreArray({
          "human_escalation SEND",
          "service_recovery SUPPRESSED/escalated_to_agent",  // Same event.
          "cart_threshold SUPPRESSED/escalated_to_agent",
          "abandoned_cart#1 SUPPRESSED/escalated_to_agent",
          "abandoned_cart#2 SUPPRESSED/escalated_to_agent +coupon",
          "browse_abandonment SUPPRESSED/escalated_to_agent",
          "service_recovery SEND",
          "cart_threshold SEND",
          "abandoned_cart#1 SEND",
          "abandoned_cart#2 SEND +coupon",
      }));
  EXPECT_EQ(s.profile().dissatisfaction().escalation_sent_at_ms(), T);
  // Suppressed nudges left no delivery bookkeeping behind: the coupons
  // issued are the service recovery, the threshold and the reminder coupons
  // after the pause.
  EXPECT_EQ(s.profile().coupons_issued(), 3);
}

TEST(EscalationPause, LastsUntilExactlyThePauseEnds) {
  std::unique_ptr<Engine> engine = MakeEngine(SameDayReminders());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  Escalate(s, T);
  s.AddToCart(T + 7 * kDay - kMin, "p1", 26000);
  s.set_session("s2");
  s.RemoveFromCart(T + 7 * kDay - kMin / 2, "p1");
  s.AddToCart(T + 7 * kDay, "p1", 26000);
  EXPECT_THAT(s.summaries(),
              ElementsAre("human_escalation SEND",
                          "service_recovery SUPPRESSED/escalated_to_agent",
                          "cart_threshold SUPPRESSED/escalated_to_agent",
                          "cart_threshold SEND"));
}

TEST(EscalationPause, DeferredDecisionFiringDuringThePauseIsSuppressed) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  const int64_t evening = At("Europe/Warsaw", 2024, 3, 5, 20);
  s.AddToCart(evening, "p1", 15000);
  s.AdvanceExactlyTo(evening + 60 * kMin);  // Deferred to 08:00.
  Escalate(s, evening + 2 * kHour);
  s.AdvanceExactlyTo(At("Europe/Warsaw", 2024, 3, 6, 8));
  EXPECT_THAT(s.summaries(),
              ElementsAre("human_escalation SEND",
                          "service_recovery SUPPRESSED/escalated_to_agent",
                          "abandoned_cart#1 SUPPRESSED/escalated_to_agent"));
}

struct PauseCase {
  std::string name;
  std::function<void(v1::RulesConfig&)> rules;
  int64_t cart_at;  // After the escalation at T.
  std::vector<std::string> want;
};

// Failure messages name the case.
void PrintTo(const PauseCase& c, std::ostream* os) { *os << c.name; }

class EscalationPauseConfigTest : public ::testing::TestWithParam<PauseCase> {};

TEST_P(EscalationPauseConfigTest, PausesAsConfigured) {
  const PauseCase& c = GetParam();
  v1::RulesConfig rules = TestRules();
  c.rules(rules);
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  Escalate(s, T);
  s.AddToCart(c.cart_at, "p1", 26000);
  EXPECT_THAT(s.summaries(), ElementsAreArray(c.want));
}

INSTANTIATE_TEST_SUITE_P(
    Decide, EscalationPauseConfigTest,
    ::testing::ValuesIn(std::vector<PauseCase>{
        {"UnsetMeansSevenDaysStillPausedOnDaySix",
         [](v1::RulesConfig& r) {
           r.mutable_human_escalation()->clear_pause_automation_days();
         },
         T + 6 * kDay,
         {"human_escalation SEND",
          "service_recovery SUPPRESSED/escalated_to_agent",
          "cart_threshold SUPPRESSED/escalated_to_agent"}},
        {"UnsetMeansSevenDaysOverOnDaySeven",
         [](v1::RulesConfig& r) {
           r.mutable_human_escalation()->clear_pause_automation_days();
         },
         T + 7 * kDay,
         {"human_escalation SEND",
          "service_recovery SUPPRESSED/escalated_to_agent",
          "cart_threshold SEND"}},
        {"TwoDaysOverOnDayTwo",
         [](v1::RulesConfig& r) {
           r.mutable_human_escalation()->set_pause_automation_days(2);
         },
         T + 2 * kDay,
         {"human_escalation SEND",
          "service_recovery SUPPRESSED/escalated_to_agent",
          "cart_threshold SEND"}},
        {"ZeroMeansNoPause",
         [](v1::RulesConfig& r) {
           r.mutable_human_escalation()->set_pause_automation_days(0);
         },
         T + kHour,
         {"human_escalation SEND",
          "service_recovery SUPPRESSED/escalated_to_agent",
          "cart_threshold SEND"}},
        {"HeldOutEscalationPausesNothing",
         [](v1::RulesConfig& r) {
           r.mutable_human_escalation()->mutable_common()->set_holdout_percent(
               100);
           // The service-recovery coupon may stack with the threshold one.
           r.mutable_arbitration()->set_max_active_coupons(0);
         },
         T + kHour,
         {"human_escalation HOLD_OUT", "service_recovery SEND",
          "cart_threshold SEND"}},
    }),
    [](const auto& info) { return info.param.name; });

TEST(EscalationPause, PauseAfterARulesReloadThatDisablesEscalation) {
  std::unique_ptr<Engine> before = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(before.get(), "cust-1", &partition);
  Escalate(s, T);
  v1::RulesConfig off = TestRules();
  off.mutable_human_escalation()->mutable_common()->set_enabled(false);
  std::unique_ptr<Engine> after = MakeEngine(off);
  Shopper t(after.get(), "cust-1", &partition);
  t.profile() = s.profile();
  t.AddToCart(T + kHour, "p1", 26000);
  EXPECT_THAT(t.summaries(),
              ElementsAre("cart_threshold SUPPRESSED/escalated_to_agent"));
}

TEST(EscalationPause, ValidationNamesTheField) {
  v1::RulesConfig r = DefaultRules();
  r.mutable_human_escalation()->set_pause_automation_days(-1);
  const absl::Status status = ValidateRules(r);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "human_escalation.pause_automation_days: must be >= 0 (0 = no "
            "pause)");
  EXPECT_FALSE(Engine::Create(r).ok());
}

TEST(EscalationPause, DefaultRulesPauseSevenDays) {
  const v1::RulesConfig r = DefaultRules();
  ASSERT_TRUE(r.human_escalation().has_pause_automation_days());
  EXPECT_EQ(r.human_escalation().pause_automation_days(), 7);
}

}  // namespace
}  // namespace tailor::decide::testing
