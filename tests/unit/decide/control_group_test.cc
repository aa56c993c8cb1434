// The shop-wide control group: validated, stable by hash, held out of every
// automated campaign (recorded HOLD_OUT "global_control"), never of an agent
// escalation; and the conversion window's validation and default.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/decide/engine.h"
#include "libs/decide/rules.h"
#include "tests/unit/decide/decide_test_util.h"

namespace tailor::decide {
namespace {

namespace v1 = ::tailor::v1;
using ::testing::HasSubstr;
using testing::T0;
using testing::TestRules;

std::unique_ptr<Engine> MakeEngine(const v1::RulesConfig& rules) {
  absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Create(rules);
  EXPECT_TRUE(e.ok()) << e.status();
  return std::move(e).value();
}

TEST(ControlGroup, PercentIsValidatedNamingTheField) {
  v1::RulesConfig rules = TestRules();
  for (double bad : {-1.0, 15.5, 50.0}) {
    rules.mutable_control_group()->set_percent(bad);
    const absl::Status s = ValidateRules(rules);
    EXPECT_THAT(s.message(),
                HasSubstr("control_group.percent: must be in 0..15"))
        << bad;
  }
  rules.mutable_control_group()->set_percent(15);
  EXPECT_TRUE(ValidateRules(rules).ok());
}

TEST(ControlGroup, MembershipIsStableAndSizedByPercent) {
  v1::ControlGroup group;
  group.set_percent(10);
  int members = 0;
  constexpr int kCustomers = 100000;
  for (int i = 0; i < kCustomers; ++i) {
    const std::string id = absl::StrCat("c", i);
    const bool in = InGlobalControl(group, id);
    EXPECT_EQ(in, InGlobalControl(group, id));
    members += in ? 1 : 0;
  }
  EXPECT_NEAR(static_cast<double>(members) / kCustomers, 0.10, 0.005);
  group.set_percent(0);
  EXPECT_FALSE(InGlobalControl(group, "c1"));
}

TEST(ControlGroup, MembersGetEveryAutomatedDecisionHeldOut) {
  v1::RulesConfig rules = TestRules();
  rules.mutable_control_group()->set_percent(15);
  rules.mutable_control_group()->set_salt("s1");
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  v1::Event e;
  e.set_event_time_ms(T0());
  e.mutable_order_returned()->set_order_id("o1");
  int held = 0;
  int sent = 0;
  for (int i = 0; i < 2000; ++i) {
    v1::CustomerProfile p;
    p.set_customer_id(absl::StrCat("c", i));
    p.add_consented_channels(v1::CHANNEL_EMAIL);
    v1::PartitionState partition;
    Outcome out;
    engine->OnEvent(e, &p, &partition, &out);
    ASSERT_EQ(out.decisions.size(), 1u);  // the service-recovery coupon
    const v1::Decision& d = out.decisions[0];
    if (InGlobalControl(rules.control_group(), p.customer_id())) {
      ++held;
      EXPECT_EQ(d.action(), v1::DECISION_ACTION_HOLD_OUT);
      EXPECT_EQ(d.holdout(), "global_control");
      EXPECT_EQ(p.coupons_issued(), 0);
    } else {
      ++sent;
      EXPECT_EQ(d.action(), v1::DECISION_ACTION_SEND);
      EXPECT_EQ(d.holdout(), "");
    }
  }
  EXPECT_GT(held, 200);
  EXPECT_GT(sent, 1500);
}

TEST(ControlGroup, ACampaignHoldoutSaysSo) {
  v1::RulesConfig rules = TestRules();
  rules.mutable_service_recovery_coupon()
      ->mutable_common()
      ->set_holdout_percent(100);
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  v1::Event e;
  e.set_event_time_ms(T0());
  e.mutable_order_returned()->set_order_id("o1");
  v1::CustomerProfile p;
  p.set_customer_id("c1");
  p.add_consented_channels(v1::CHANNEL_EMAIL);
  v1::PartitionState partition;
  Outcome out;
  engine->OnEvent(e, &p, &partition, &out);
  ASSERT_EQ(out.decisions.size(), 1u);
  EXPECT_EQ(out.decisions[0].action(), v1::DECISION_ACTION_HOLD_OUT);
  EXPECT_EQ(out.decisions[0].holdout(), "campaign");
}

TEST(ConversionWindow, DefaultsTo72HoursAndIsValidated) {
  v1::RulesConfig rules = TestRules();
  EXPECT_EQ(ConversionWindowMs(rules, "abandoned_cart"), 72 * testing::kHour);
  EXPECT_EQ(ConversionWindowMs(rules, "no_such_campaign"), 72 * testing::kHour);
  v1::CampaignCommon* c = rules.mutable_abandoned_cart()->mutable_common();
  c->set_conversion_window_hours(24);
  EXPECT_EQ(ConversionWindowMs(rules, c->name()), 24 * testing::kHour);
  EXPECT_TRUE(ValidateRules(rules).ok());
  c->set_conversion_window_hours(0);
  EXPECT_THAT(ValidateRules(rules).message(),
              HasSubstr("abandoned_cart.common.conversion_window_hours: must "
                        "be in 1..720"));
}

}  // namespace
}  // namespace tailor::decide
