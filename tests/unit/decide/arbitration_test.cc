// Arbitration across campaigns, beyond the summaries of timeline_test.cc:
// the suppressed candidate names the winning decision, a replacing coupon
// names the code it replaces, the profile's active coupons and message
// history follow the sends, the rules are validated naming the field, and
// the outcome is a pure function of profile, event and rules.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/decide/engine.h"
#include "tests/unit/decide/decide_test_util.h"

namespace tailor::decide::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const int64_t T = T0();

std::unique_ptr<Engine> MakeEngine(const v1::RulesConfig& rules) {
  absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Create(rules);
  EXPECT_TRUE(e.ok()) << e.status();
  return std::move(e).value();
}

std::string FactOf(const v1::Decision& d, const std::string& name) {
  for (const v1::Fact& f : d.facts()) {
    if (f.name() == name) return f.value();
  }
  return "";
}

TEST(Arbitration, LoserNamesTheWinningDecision) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.profile().set_orders(0);
  s.AddToCart(T, "p1", 26000);
  ASSERT_THAT(
      s.summaries(),
      ElementsAre("first_order SEND", "cart_threshold SUPPRESSED/arbitration"));
  const v1::Decision& winner = s.decisions()[0];
  const v1::Decision& loser = s.decisions()[1];
  EXPECT_EQ(loser.arbitration_winner_id(), winner.decision_id());
  EXPECT_EQ(FactOf(loser, "arbitration_winner_campaign"), "first_order");
  EXPECT_TRUE(winner.arbitration_winner_id().empty());
  // Only the winner holds a coupon slot and counts as a message.
  ASSERT_EQ(s.profile().active_coupons_size(), 1);
  EXPECT_EQ(s.profile().active_coupons(0).code(), winner.coupon().code());
  EXPECT_EQ(s.profile().active_coupons(0).decision_id(), winner.decision_id());
  EXPECT_EQ(s.profile().active_coupons(0).expires_at_ms(),
            winner.expires_at_ms());
  EXPECT_THAT(s.profile().messages_sent_at_ms(), ElementsAre(T));
  EXPECT_EQ(s.profile().coupons_issued(), 1);
}

TEST(Arbitration, CandidatesOnOtherChannelsAreNotArbitrated) {
  // A win-back e-mail and a browse push on one product view: different
  // channels, no coupon conflict for the push.
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.View(T, "p9");
  s.View(T + kMin, "p9");
  s.profile().set_last_seen_ms(T - 60 * kDay);
  s.View(T + 2 * kMin, "p9");
  EXPECT_THAT(s.summaries(),
              ElementsAre("win_back SEND", "browse_abandonment SEND"));
}

TEST(Arbitration, HeldOutWinnerStillTakesTheChannel) {
  v1::RulesConfig rules = TestRules();
  rules.mutable_first_order_coupon()->mutable_common()->set_holdout_percent(
      100);
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.profile().set_orders(0);
  s.AddToCart(T, "p1", 26000);
  // The held-out customer is treated like the others, minus the message.
  EXPECT_THAT(s.summaries(),
              ElementsAre("first_order HOLD_OUT",
                          "cart_threshold SUPPRESSED/arbitration"));
  EXPECT_EQ(s.profile().active_coupons_size(), 0);
}

TEST(Arbitration, SuppressedWinnerLeavesTheChannelToTheNext) {
  // Today's first-order budget is used up: the threshold coupon goes.
  v1::RulesConfig rules = TestRules();
  rules.mutable_first_order_coupon()->mutable_coupon()->set_daily_budget_count(
      1);
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  v1::PartitionState partition;
  v1::BudgetUsage* used = partition.add_budgets();
  used->set_campaign("first_order");
  used->set_epoch_day(T / kDay);
  used->set_count(1);
  Shopper s(engine.get(), "cust-1", &partition);
  s.profile().set_orders(0);
  s.AddToCart(T, "p1", 26000);
  EXPECT_THAT(s.summaries(),
              ElementsAre("first_order SUPPRESSED/budget_exhausted",
                          "cart_threshold SEND"));
}

TEST(Arbitration, CouponActiveNamesTheActiveCode) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.profile().set_orders(0);
  s.AddToCart(T, "p1", 6000);
  s.AddToCart(T + 5 * kMin, "p2", 20000);
  ASSERT_THAT(s.summaries(),
              ElementsAre("first_order SEND",
                          "cart_threshold SUPPRESSED/coupon_active"));
  EXPECT_EQ(FactOf(s.decisions()[1], "active_coupon_code"),
            s.decisions()[0].coupon().code());
  EXPECT_EQ(s.profile().active_coupons_size(), 1);
}

TEST(Arbitration, ReplacingCouponNamesTheCodeItReplaces) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.AddToCart(T, "p1", 26000);
  s.Return(T + kHour, "o1");
  ASSERT_THAT(s.summaries(),
              ElementsAre("cart_threshold SEND", "service_recovery SEND"));
  const std::string replaced = s.decisions()[0].coupon().code();
  const v1::Decision& recovery = s.decisions()[1];
  EXPECT_EQ(recovery.replaces_coupon_code(), replaced);
  EXPECT_TRUE(s.decisions()[0].replaces_coupon_code().empty());
  // The replaced coupon left the profile; the new one holds the slot.
  ASSERT_EQ(s.profile().active_coupons_size(), 1);
  EXPECT_EQ(s.profile().active_coupons(0).code(), recovery.coupon().code());
}

TEST(Arbitration, WithoutReplacementTheCouponIsSuppressed) {
  v1::RulesConfig rules = TestRules();
  rules.mutable_arbitration()->clear_replace_active_coupon();
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.AddToCart(T, "p1", 26000);
  s.Return(T + kHour, "o1");
  EXPECT_THAT(s.summaries(),
              ElementsAre("cart_threshold SEND",
                          "service_recovery SUPPRESSED/coupon_active"));
}

TEST(Arbitration, RedemptionFreesTheSlotForAnotherCampaign) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.profile().set_orders(0);
  s.AddToCart(T, "p1", 6000);
  s.Redeem(T + kMin, "NOT-A-TAILOR-CODE");  // Unknown: changes nothing.
  EXPECT_EQ(s.profile().active_coupons_size(), 1);
  s.Redeem(T + 2 * kMin, s.LastCouponCode("first_order"));
  EXPECT_EQ(s.profile().active_coupons_size(), 0);
  s.AddToCart(T + 5 * kMin, "p2", 20000);
  EXPECT_THAT(s.summaries(),
              ElementsAre("first_order SEND", "cart_threshold SEND"));
}

TEST(Arbitration, SameInputsGiveTheSameBytes) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  auto play = [&engine] {
    v1::PartitionState partition;
    Shopper s(engine.get(), "cust-1", &partition);
    s.profile().set_orders(0);
    s.AddToCart(T, "p1", 26000);
    s.Return(T + kHour, "o1");
    s.AdvanceTo(T + 2 * kDay);
    std::vector<std::string> bytes;
    for (const v1::Decision& d : s.decisions()) {
      bytes.push_back(d.SerializeAsString());
    }
    bytes.push_back(s.profile().SerializeAsString());
    return bytes;
  };
  const std::vector<std::string> first = play();
  EXPECT_GT(first.size(), 3u);
  EXPECT_EQ(first, play());
}

// --- Validation --------------------------------------------------------------

absl::Status Validate(void (*tweak)(v1::RulesConfig&)) {
  v1::RulesConfig r = DefaultRules();
  tweak(r);
  return ValidateRules(r);
}

TEST(ArbitrationRules, DefaultsAreValid) {
  EXPECT_TRUE(ValidateRules(DefaultRules()).ok());
}

TEST(ArbitrationRules, UnknownCampaignInPriorityNamesTheField) {
  const absl::Status st = Validate([](v1::RulesConfig& r) {
    r.mutable_arbitration()->add_priority("frist_order");
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("arbitration.priority[7]: unknown campaign "
                        "\"frist_order\""));
}

TEST(ArbitrationRules, DuplicatePriorityNamesTheField) {
  const absl::Status st = Validate([](v1::RulesConfig& r) {
    r.mutable_arbitration()->add_priority("first_order");
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("arbitration.priority[7]: \"first_order\" is listed "
                        "twice"));
}

TEST(ArbitrationRules, UnknownReplacingCampaignNamesTheField) {
  const absl::Status st = Validate([](v1::RulesConfig& r) {
    r.mutable_arbitration()->add_replace_active_coupon("nope");
  });
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("arbitration.replace_active_coupon[1]: unknown "
                        "campaign \"nope\""));
}

TEST(ArbitrationRules, LimitsAreChecked) {
  EXPECT_THAT(std::string(Validate([](v1::RulesConfig& r) {
                            r.mutable_arbitration()->set_max_active_coupons(17);
                          }).message()),
              HasSubstr("arbitration.max_active_coupons"));
  EXPECT_THAT(
      std::string(Validate([](v1::RulesConfig& r) {
                    r.mutable_arbitration()->set_max_messages_per_day(-1);
                  }).message()),
      HasSubstr("arbitration.max_messages_per_day"));
  EXPECT_TRUE(Validate([](v1::RulesConfig& r) {
                r.mutable_arbitration()->set_max_active_coupons(0);
              }).ok());
}

TEST(ArbitrationRules, UnsetMaxActiveCouponsMeansOne) {
  v1::RulesConfig rules = TestRules();
  rules.mutable_arbitration()->clear_max_active_coupons();
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  s.profile().set_orders(0);
  s.AddToCart(T, "p1", 6000);
  s.AddToCart(T + 5 * kMin, "p2", 20000);
  EXPECT_THAT(s.summaries(),
              ElementsAre("first_order SEND",
                          "cart_threshold SUPPRESSED/coupon_active"));
}

}  // namespace
}  // namespace tailor::decide::testing
