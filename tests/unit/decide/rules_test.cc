// ValidateRules names the field and the reason for each kind of error;
// DefaultRules is valid and Engine::Create refuses invalid rules.
#include "libs/decide/rules.h"

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "libs/decide/engine.h"

namespace tailor::decide {
namespace {

namespace v1 = ::tailor::v1;

TEST(DefaultRules, Validates) {
  const absl::Status s = ValidateRules(DefaultRules());
  EXPECT_TRUE(s.ok()) << s;
}

TEST(DefaultRules, EnablesEveryCampaign) {
  const v1::RulesConfig r = DefaultRules();
  for (const v1::CampaignCommon* c :
       {&r.abandoned_cart().common(), &r.browse_abandonment().common(),
        &r.first_order_coupon().common(), &r.cart_threshold_coupon().common(),
        &r.win_back_coupon().common(), &r.loyalty_coupon().common(),
        &r.service_recovery_coupon().common(),
        &r.human_escalation().common()}) {
    EXPECT_TRUE(c->enabled()) << c->name();
  }
}

TEST(DefaultRules, EmptyRulesAreValidAndDecideNothing) {
  EXPECT_TRUE(ValidateRules(v1::RulesConfig()).ok());
}

struct ValidateCase {
  std::string name;
  std::function<void(v1::RulesConfig&)> mutate;
  std::string want;
};

// Failure messages name the case.
void PrintTo(const ValidateCase& c, std::ostream* os) { *os << c.name; }

class ValidateRulesTest : public ::testing::TestWithParam<ValidateCase> {};

TEST_P(ValidateRulesTest, NamesFieldAndReason) {
  v1::RulesConfig r = DefaultRules();
  GetParam().mutate(r);
  const absl::Status s = ValidateRules(r);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), GetParam().want);
  EXPECT_FALSE(Engine::Create(r).ok());
}

INSTANTIATE_TEST_SUITE_P(
    Decide, ValidateRulesTest,
    ::testing::ValuesIn(std::vector<ValidateCase>{
        {"FirstReminder",
         [](v1::RulesConfig& r) {
           r.mutable_abandoned_cart()->set_first_reminder_minutes(0);
         },
         "abandoned_cart.first_reminder_minutes: must be > 0"},
        {"SecondReminderBeforeFirst",
         [](v1::RulesConfig& r) {
           r.mutable_abandoned_cart()->set_second_reminder_minutes(30);
         },
         "abandoned_cart.second_reminder_minutes: must be 0 (none) or > "
         "first_reminder_minutes"},
        {"WindowTooShort",
         [](v1::RulesConfig& r) {
           r.mutable_abandoned_cart()->set_window_hours(12);
         },
         "abandoned_cart.window_hours: must cover the last reminder "
         "(window_hours * 60 >= reminder minutes)"},
        {"CartCooldownHidesSecondReminder",
         [](v1::RulesConfig& r) {
           r.mutable_abandoned_cart()->mutable_common()->set_cooldown_minutes(
               1440);
         },
         "abandoned_cart.common.cooldown_minutes: must be < "
         "second_reminder_minutes - first_reminder_minutes, or reminder 2 is "
         "always suppressed"},
        {"DiscountWaiterShare",
         [](v1::RulesConfig& r) {
           r.mutable_abandoned_cart()->set_discount_waiter_share(1.5);
         },
         "abandoned_cart.discount_waiter_share: must be in 0..1"},
        {"UnknownTimeZone",
         [](v1::RulesConfig& r) {
           r.mutable_quiet_hours()->set_default_time_zone("Europe/Warsw");
         },
         "quiet_hours.default_time_zone: unknown time zone \"Europe/Warsw\""},
        {"QuietHour",
         [](v1::RulesConfig& r) { r.mutable_quiet_hours()->set_end_hour(24); },
         "quiet_hours.end_hour: must be in 0..23"},
        {"CapPeriod",
         [](v1::RulesConfig& r) {
           r.mutable_frequency_caps(1)->set_period_hours(0);
         },
         "frequency_caps[1].period_hours: must be > 0"},
        {"CapMax",
         [](v1::RulesConfig& r) { r.mutable_frequency_caps(0)->set_max(0); },
         "frequency_caps[0].max: must be > 0"},
        {"CapChannel",
         [](v1::RulesConfig& r) {
           r.mutable_frequency_caps(2)->set_channel(v1::CHANNEL_UNSPECIFIED);
         },
         "frequency_caps[2].channel: must be set"},
        {"PercentOff",
         [](v1::RulesConfig& r) {
           r.mutable_first_order_coupon()->mutable_coupon()->set_percent_off(
               95);
         },
         "first_order_coupon.coupon.percent_off: must be in 1..90"},
        {"PercentAndAmount",
         [](v1::RulesConfig& r) {
           r.mutable_cart_threshold_coupon()->mutable_coupon()->set_percent_off(
               5);
         },
         "cart_threshold_coupon.coupon.percent_off: must be 0 when "
         "amount_off_minor is set"},
        {"Budget",
         [](v1::RulesConfig& r) {
           r.mutable_win_back_coupon()
               ->mutable_coupon()
               ->set_daily_budget_count(-1);
         },
         "win_back_coupon.coupon.daily_budget_count: must be >= 0"},
        {"MissingName",
         [](v1::RulesConfig& r) {
           r.mutable_loyalty_coupon()->mutable_common()->clear_name();
         },
         "loyalty_coupon.common.name: must be set"},
        {"DuplicateName",
         [](v1::RulesConfig& r) {
           r.mutable_win_back_coupon()->mutable_common()->set_name(
               "first_order");
         },
         "win_back_coupon.common.name: \"first_order\" is used by another "
         "campaign"},
        {"BadNameCharacters",
         [](v1::RulesConfig& r) {
           r.mutable_win_back_coupon()->mutable_common()->set_name("win back");
         },
         "win_back_coupon.common.name: may hold only letters, digits, '_', "
         "'-', '.'"},
        {"MissingChannel",
         [](v1::RulesConfig& r) {
           r.mutable_browse_abandonment()->mutable_common()->clear_channel();
         },
         "browse_abandonment.common.channel: must be set"},
        {"AgentChannelOnACoupon",
         [](v1::RulesConfig& r) {
           r.mutable_service_recovery_coupon()->mutable_common()->set_channel(
               v1::CHANNEL_AGENT);
         },
         "service_recovery_coupon.common.channel: CHANNEL_AGENT is only for "
         "human_escalation"},
        {"EscalationChannel",
         [](v1::RulesConfig& r) {
           r.mutable_human_escalation()->mutable_common()->set_channel(
               v1::CHANNEL_PUSH);
         },
         "human_escalation.common.channel: must be CHANNEL_AGENT"},
        {"Expiry",
         [](v1::RulesConfig& r) {
           r.mutable_loyalty_coupon()
               ->mutable_common()
               ->set_expires_after_minutes(0);
         },
         "loyalty_coupon.common.expires_after_minutes: must be > 0"},
        {"Holdout",
         [](v1::RulesConfig& r) {
           r.mutable_browse_abandonment()
               ->mutable_common()
               ->set_holdout_percent(101);
         },
         "browse_abandonment.common.holdout_percent: must be in 0..100"},
        {"VariantWeight",
         [](v1::RulesConfig& r) {
           r.mutable_first_order_coupon()
               ->mutable_common()
               ->mutable_variants(1)
               ->set_weight(0);
         },
         "first_order_coupon.common.variants[1].weight: must be > 0"},
        {"VariantPercent",
         [](v1::RulesConfig& r) {
           r.mutable_first_order_coupon()
               ->mutable_common()
               ->mutable_variants(0)
               ->set_percent_off(91);
         },
         "first_order_coupon.common.variants[0].percent_off: must be in 0..90 "
         "(0 = no override)"},
        {"ProductViews",
         [](v1::RulesConfig& r) {
           r.mutable_browse_abandonment()->set_min_product_views(0);
         },
         "browse_abandonment.min_product_views: must be >= 1"},
        {"ThresholdValue",
         [](v1::RulesConfig& r) {
           r.mutable_cart_threshold_coupon()->set_min_cart_value_minor(0);
         },
         "cart_threshold_coupon.min_cart_value_minor: must be > 0"},
        {"InactiveDays",
         [](v1::RulesConfig& r) {
           r.mutable_win_back_coupon()->set_inactive_days(0);
         },
         "win_back_coupon.inactive_days: must be > 0"},
        {"LoyaltyTiersOrder",
         [](v1::RulesConfig& r) {
           r.mutable_loyalty_coupon()->set_order_tiers(2, 5);
         },
         "loyalty_coupon.order_tiers[2]: must be > order_tiers[1]"},
        {"LoyaltyTiersEmpty",
         [](v1::RulesConfig& r) {
           r.mutable_loyalty_coupon()->clear_order_tiers();
         },
         "loyalty_coupon.order_tiers: must not be empty"},
        {"EscalationQueue",
         [](v1::RulesConfig& r) {
           r.mutable_human_escalation()->clear_queue();
         },
         "human_escalation.queue: must be set"},
        {"EscalationIncidents",
         [](v1::RulesConfig& r) {
           r.mutable_human_escalation()->set_min_incidents(0);
         },
         "human_escalation.min_incidents: must be >= 1"},
        {"HalfLife",
         [](v1::RulesConfig& r) {
           r.mutable_profile()->set_affinity_half_life_hours(-1);
         },
         "profile.affinity_half_life_hours: must be >= 0"},
        {"MaxRecommendations",
         [](v1::RulesConfig& r) { r.set_max_recommendations(-1); },
         "max_recommendations: must be in 0..50 (0 = 3)"},
    }),
    [](const auto& info) { return info.param.name; });

TEST(ValidateRules, DisabledCampaignsAreNotChecked) {
  v1::RulesConfig r = DefaultRules();
  r.mutable_abandoned_cart()->mutable_common()->set_enabled(false);
  r.mutable_abandoned_cart()->set_first_reminder_minutes(0);
  EXPECT_TRUE(ValidateRules(r).ok());
}

}  // namespace
}  // namespace tailor::decide
