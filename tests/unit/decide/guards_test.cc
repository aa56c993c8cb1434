// Guards that need more than a decision summary: quiet hours (exact deferral
// instants across midnight and DST), budgets shared by a partition, holdout
// and variant shares over many customers.
#include <memory>
#include <ostream>
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
using ::testing::IsEmpty;

std::unique_ptr<Engine> MakeEngine(const v1::RulesConfig& rules) {
  absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Create(rules);
  EXPECT_TRUE(e.ok()) << e.status();
  return std::move(e).value();
}

// --- QuietHoursEnd (pure)
// -----------------------------------------------------

struct QuietCase {
  std::string name;
  int start, end;
  std::string zone;
  int64_t now;
  std::optional<int64_t> want;
};

// Failure messages name the case.
void PrintTo(const QuietCase& c, std::ostream* os) { *os << c.name; }

class QuietHoursEndTest : public ::testing::TestWithParam<QuietCase> {};

TEST_P(QuietHoursEndTest, ComputesTheEndOfTheWindow) {
  const QuietCase& c = GetParam();
  v1::QuietHours qh;
  qh.set_start_hour(c.start);
  qh.set_end_hour(c.end);
  absl::TimeZone tz;
  ASSERT_TRUE(absl::LoadTimeZone(c.zone, &tz));
  EXPECT_EQ(internal::QuietHoursEnd(qh, tz, c.now), c.want);
}

const char kWaw[] = "Europe/Warsaw";
const char kNy[] = "America/New_York";

INSTANTIATE_TEST_SUITE_P(
    Decide, QuietHoursEndTest,
    ::testing::ValuesIn(std::vector<QuietCase>{
        {"EveningWrapsToNextMorning", 21, 8, kWaw, At(kWaw, 2024, 3, 5, 21, 30),
         At(kWaw, 2024, 3, 6, 8)},
        {"AfterMidnightEndsSameMorning", 21, 8, kWaw,
         At(kWaw, 2024, 3, 6, 0, 30), At(kWaw, 2024, 3, 6, 8)},
        {"DaytimeIsNotQuiet", 21, 8, kWaw, At(kWaw, 2024, 3, 5, 12), {}},
        {"EndHourItselfIsNotQuiet", 21, 8, kWaw, At(kWaw, 2024, 3, 5, 8), {}},
        {"StartHourIsQuiet", 21, 8, kWaw, At(kWaw, 2024, 3, 5, 21),
         At(kWaw, 2024, 3, 6, 8)},
        {"SameDayWindow", 13, 15, kWaw, At(kWaw, 2024, 3, 5, 14),
         At(kWaw, 2024, 3, 5, 15)},
        {"SameDayWindowOutside", 13, 15, kWaw, At(kWaw, 2024, 3, 5, 16), {}},
        {"NoWindowWhenStartEqualsEnd", 8, 8, kWaw, At(kWaw, 2024, 3, 5, 3), {}},
        // Spring forward in Warsaw: 2024-03-31 08:00 CEST = 06:00 UTC.
        {"WarsawAcrossDst", 21, 8, kWaw, At(kWaw, 2024, 3, 30, 22),
         At("UTC", 2024, 3, 31, 6)},
        // Spring forward in New York: 2024-03-10 08:00 EDT = 12:00 UTC.
        {"NewYorkAcrossDst", 21, 8, kNy, At(kNy, 2024, 3, 9, 22),
         At("UTC", 2024, 3, 10, 12)},
        // 02:00 does not exist on 2024-03-31 in Warsaw: the window ends at the
        // transition, 01:00 UTC.
        {"SkippedEndHourEndsAtTransition", 22, 2, kWaw,
         At(kWaw, 2024, 3, 30, 23), At("UTC", 2024, 3, 31, 1)},
    }),
    [](const auto& info) { return info.param.name; });

// --- Quiet hours through the engine
// -------------------------------------------

struct DeferCase {
  std::string name;
  std::string zone;     // Customer's time zone.
  int64_t cart_add_at;  // Reminder 1 fires 60 minutes later.
  int64_t want_fire_at;
};

// Failure messages name the case.
void PrintTo(const DeferCase& c, std::ostream* os) { *os << c.name; }

class QuietHoursDeferTest : public ::testing::TestWithParam<DeferCase> {};

TEST_P(QuietHoursDeferTest, DefersToWindowEndThenSends) {
  const DeferCase& c = GetParam();
  v1::RulesConfig rules = TestRules();
  rules.mutable_abandoned_cart()->set_second_reminder_minutes(0);
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-q", &partition);
  s.profile().mutable_context()->set_time_zone(c.zone);
  s.AddToCart(c.cart_add_at, "p1", 15000);
  s.AdvanceExactlyTo(c.cart_add_at + 60 * kMin);

  // Nothing is emitted at deferral time; a deferred-decision timer is set.
  EXPECT_THAT(s.summaries(), IsEmpty());
  ASSERT_EQ(s.timers().size(), 1u);
  const v1::Timer& timer = s.timers().begin()->second;
  EXPECT_EQ(timer.kind(), v1::TIMER_KIND_DEFERRED_DECISION);
  EXPECT_EQ(timer.fire_at_ms(), c.want_fire_at);
  v1::Decision deferred;
  ASSERT_TRUE(deferred.ParseFromString(timer.deferred()));
  EXPECT_EQ(deferred.campaign(), "abandoned_cart");
  EXPECT_EQ(timer.timer_id(), "deferred/" + deferred.decision_id());

  s.AdvanceExactlyTo(c.want_fire_at);
  EXPECT_THAT(s.summaries(), ElementsAre("abandoned_cart#1 SEND"));
  const v1::Decision& sent = s.decisions()[0];
  EXPECT_EQ(sent.decision_id(), deferred.decision_id());
  EXPECT_EQ(sent.created_at_ms(), c.want_fire_at);
  EXPECT_EQ(sent.expires_at_ms(), c.want_fire_at + 1440 * kMin);
  EXPECT_EQ(*internal::FindFact(sent, "deferred_from_ms"),
            std::to_string(c.cart_add_at + 60 * kMin));
}

INSTANTIATE_TEST_SUITE_P(
    Decide, QuietHoursDeferTest,
    ::testing::ValuesIn(std::vector<DeferCase>{
        // Reminder due 21:00 Tuesday Warsaw -> 08:00 Wednesday Warsaw.
        {"WarsawEvening", kWaw, At(kWaw, 2024, 3, 5, 20),
         At(kWaw, 2024, 3, 6, 8)},
        // Reminder due 00:30 Wednesday (past midnight) -> 08:00 Wednesday.
        {"WarsawAfterMidnight", kWaw, At(kWaw, 2024, 3, 5, 23, 30),
         At("UTC", 2024, 3, 6, 7)},
        // Reminder due 22:00 Saturday EST -> 08:00 Sunday EDT (12:00 UTC).
        {"NewYorkAcrossDst", kNy, At(kNy, 2024, 3, 9, 21),
         At("UTC", 2024, 3, 10, 12)},
        // Reminder due 23:00 Tuesday EST -> 08:00 Wednesday EST (13:00 UTC).
        {"NewYorkWinter", kNy, At(kNy, 2024, 1, 9, 22),
         At("UTC", 2024, 1, 10, 13)},
        // An unknown zone falls back to the default zone (Europe/Warsaw).
        {"UnknownZoneUsesDefault", "Mars/Olympus", At(kWaw, 2024, 3, 5, 20),
         At(kWaw, 2024, 3, 6, 8)},
    }),
    [](const auto& info) { return info.param.name; });

TEST(QuietHours, DeferredDecisionReRunsGuardsWhenItFires) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-q", &partition);
  const int64_t evening = At(kWaw, 2024, 3, 5, 20);
  s.AddToCart(evening, "p1", 15000);
  s.AdvanceExactlyTo(evening + 60 * kMin);
  ASSERT_THAT(s.summaries(), IsEmpty());
  s.profile().clear_consented_channels();  // Consent withdrawn overnight.
  s.AdvanceExactlyTo(At(kWaw, 2024, 3, 6, 8));
  EXPECT_THAT(s.summaries(),
              ElementsAre("abandoned_cart#1 SUPPRESSED/no_consent"));
}

TEST(QuietHours, DeferredReminderIsDroppedAfterAnOrderOvernight) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-q", &partition);
  const int64_t evening = At(kWaw, 2024, 3, 5, 20);
  s.AddToCart(evening, "p1", 15000);
  s.AdvanceExactlyTo(evening + 60 * kMin);
  s.Order(At(kWaw, 2024, 3, 5, 23), "o1", 15000);
  s.AdvanceExactlyTo(At(kWaw, 2024, 3, 7, 12));
  EXPECT_THAT(s.summaries(), IsEmpty());
}

TEST(QuietHours, OnsiteCouponsAreNotDeferred) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-q", &partition);
  s.profile().set_orders(0);
  s.AddToCart(At(kWaw, 2024, 3, 5, 23), "p1", 6000);
  EXPECT_THAT(s.summaries(), ElementsAre("first_order SEND"));
}

// --- Budgets
// -------------------------------------------------------------------

TEST(Budgets, DailyCountIsSharedByThePartitionAndResetsNextUtcDay) {
  v1::RulesConfig rules = TestRules();
  rules.mutable_service_recovery_coupon()
      ->mutable_coupon()
      ->set_daily_budget_count(2);
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  v1::PartitionState partition;
  std::vector<std::string> got;
  const int64_t t = T0();
  for (int i = 0; i < 4; ++i) {
    Shopper s(engine.get(), absl::StrCat("cust-", i), &partition);
    s.Return(i < 3 ? t + i * kMin : t + kDay, "o1");
    got.push_back(s.summaries().at(0));
  }
  EXPECT_THAT(got, ElementsAre("service_recovery SEND", "service_recovery SEND",
                               "service_recovery SUPPRESSED/budget_exhausted",
                               "service_recovery SEND"));
  // Only today and yesterday are kept.
  ASSERT_EQ(partition.budgets_size(), 2);
  EXPECT_EQ(partition.budgets(0).count(), 2);
  EXPECT_EQ(partition.budgets(1).count(), 1);
  EXPECT_EQ(partition.budgets(1).epoch_day(), (t + kDay) / kDay);
}

TEST(Budgets, DailyValueBudgetCountsAmountOff) {
  v1::RulesConfig rules = TestRules();
  v1::CouponSpec* c = rules.mutable_service_recovery_coupon()->mutable_coupon();
  c->set_daily_budget_count(0);
  c->set_daily_budget_value_minor(
      6000);  // Two coupons of 25.00 fit, not three.
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  v1::PartitionState partition;
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    Shopper s(engine.get(), absl::StrCat("cust-", i), &partition);
    s.Return(T0(), "o1");
    got.push_back(s.summaries().at(0));
  }
  EXPECT_THAT(got, ElementsAre("service_recovery SEND", "service_recovery SEND",
                               "service_recovery SUPPRESSED/budget_exhausted"));
  EXPECT_EQ(partition.budgets(0).value_minor(), 5000);
}

TEST(Budgets, ExhaustedBudgetStripsTheReminderCouponButSendsTheReminder) {
  v1::RulesConfig rules = TestRules();
  rules.mutable_abandoned_cart()->mutable_coupon()->set_daily_budget_count(1);
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  v1::PartitionState partition;
  std::vector<std::string> got;
  for (int i = 0; i < 2; ++i) {
    Shopper s(engine.get(), absl::StrCat("cust-", i), &partition);
    s.AddToCart(T0(), "p1", 22000);
    s.AdvanceTo(T0() + 61 * kMin);
    s.AdvanceTo(T0() + 1441 * kMin);
    for (const std::string& x : s.summaries()) got.push_back(x);
    if (i == 1) {
      EXPECT_EQ(*internal::FindFact(s.decisions()[1], "coupon_withheld"),
                "budget_exhausted");
      EXPECT_EQ(s.profile().coupons_issued(), 0);
    }
  }
  EXPECT_THAT(
      got, ElementsAre("abandoned_cart#1 SEND", "abandoned_cart#2 SEND +coupon",
                       "abandoned_cart#1 SEND", "abandoned_cart#2 SEND"));
}

// --- Holdout and variants
// --------------------------------------------------------

TEST(Holdout, ShareOfHeldOutCustomersMatchesHoldoutPercent) {
  v1::RulesConfig rules = TestRules();
  rules.mutable_service_recovery_coupon()
      ->mutable_common()
      ->set_holdout_percent(10);
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  constexpr int kCustomers = 100000;
  int held_out = 0;
  int sent = 0;
  v1::Event e;
  e.set_event_time_ms(T0());
  e.mutable_order_returned()->set_order_id("o1");
  Outcome out;
  for (int i = 0; i < kCustomers; ++i) {
    v1::CustomerProfile p;
    p.set_customer_id(absl::StrCat("c", i));
    p.add_consented_channels(v1::CHANNEL_EMAIL);
    v1::PartitionState partition;
    out.Clear();
    engine->OnEvent(e, &p, &partition, &out);
    ASSERT_EQ(out.decisions.size(), 1u);
    const v1::Decision& d = out.decisions[0];
    if (d.action() == v1::DECISION_ACTION_HOLD_OUT) {
      ++held_out;
      // Held out: cooldown bookkeeping, no delivery bookkeeping.
      EXPECT_EQ(p.campaigns(0).last_sent_at_ms(), T0());
      EXPECT_EQ(p.coupons_issued(), 0);
      EXPECT_EQ(partition.budgets_size(), 0);
    } else if (d.action() == v1::DECISION_ACTION_SEND) {
      ++sent;
    }
  }
  EXPECT_EQ(held_out + sent, kCustomers);
  EXPECT_NEAR(static_cast<double>(held_out) / kCustomers, 0.10, 0.005);
}

TEST(Variants, WeightedSplitAndOverrides) {
  v1::RulesConfig rules = TestRules();
  v1::CampaignCommon* c = rules.mutable_first_order_coupon()->mutable_common();
  v1::Variant* a = c->add_variants();
  a->set_name("A");
  a->set_weight(7);
  v1::Variant* b = c->add_variants();
  b->set_name("B");
  b->set_weight(3);
  b->set_percent_off(20);
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  constexpr int kCustomers = 100000;
  int count_b = 0;
  v1::Event e;
  e.set_event_time_ms(T0());
  e.mutable_cart_add()->mutable_item()->set_product_id("p1");
  e.mutable_cart_add()->mutable_item()->set_quantity(1);
  e.mutable_cart_add()->mutable_item()->mutable_unit_price()->set_minor_units(
      6000);
  Outcome out;
  for (int i = 0; i < kCustomers; ++i) {
    v1::CustomerProfile p;
    p.set_customer_id(absl::StrCat("c", i));
    p.add_consented_channels(v1::CHANNEL_ONSITE);
    p.mutable_cart()->add_items()->set_product_id("p1");
    p.mutable_cart()->mutable_value()->set_minor_units(6000);
    v1::PartitionState partition;
    out.Clear();
    engine->OnEvent(e, &p, &partition, &out);
    ASSERT_EQ(out.decisions.size(), 1u);
    const v1::Decision& d = out.decisions[0];
    ASSERT_EQ(d.action(), v1::DECISION_ACTION_SEND);
    if (d.variant() == "B") {
      ++count_b;
      EXPECT_EQ(d.coupon().percent_off(), 20);
    } else {
      ASSERT_EQ(d.variant(), "A");
      EXPECT_EQ(d.coupon().percent_off(), 10);  // The campaign's own value.
    }
  }
  EXPECT_NEAR(static_cast<double>(count_b) / kCustomers, 0.30, 0.005);
}

}  // namespace
}  // namespace tailor::decide::testing
