// DefaultRules: the starting rule set. Keep libs/decide/rules.example.yaml in
// sync with every value here.
#include <string>

#include "libs/decide/rules.h"

namespace tailor::decide {

namespace v1 = ::tailor::v1;

namespace {

void SetCommon(v1::CampaignCommon* c, const std::string& name,
               v1::Channel channel, int64_t cooldown_minutes,
               int64_t expires_after_minutes, double holdout_percent,
               int32_t max_per_customer, const std::string& template_id) {
  c->set_name(name);
  c->set_enabled(true);
  c->set_channel(channel);
  c->set_cooldown_minutes(cooldown_minutes);
  c->set_expires_after_minutes(expires_after_minutes);
  c->set_holdout_percent(holdout_percent);
  c->set_max_per_customer(max_per_customer);
  c->set_template_id(template_id);
}

void SetCoupon(v1::CouponSpec* c, int32_t percent_off, int64_t amount_off_minor,
               int64_t min_order_value_minor, int64_t daily_budget_count,
               int64_t daily_budget_value_minor) {
  c->set_percent_off(percent_off);
  c->set_amount_off_minor(amount_off_minor);
  c->set_min_order_value_minor(min_order_value_minor);
  c->set_daily_budget_count(daily_budget_count);
  c->set_daily_budget_value_minor(daily_budget_value_minor);
}

}  // namespace

v1::RulesConfig DefaultRules() {
  v1::RulesConfig r;
  v1::ProfileSpec* ps = r.mutable_profile();
  ps->set_affinity_half_life_hours(72);
  ps->set_top_k(20);
  ps->set_recent_products(20);
  ps->set_signal_horizon_days(90);
  ps->set_session_gap_minutes(30);

  auto cap = [&](v1::Channel channel, int32_t max, int64_t period_hours) {
    v1::FrequencyCap* c = r.add_frequency_caps();
    c->set_channel(channel);
    c->set_max(max);
    c->set_period_hours(period_hours);
  };
  cap(v1::CHANNEL_PUSH, 2, 24);
  cap(v1::CHANNEL_PUSH, 5, 168);
  cap(v1::CHANNEL_EMAIL, 1, 24);
  cap(v1::CHANNEL_EMAIL, 3, 168);
  cap(v1::CHANNEL_ONSITE, 3, 24);

  v1::QuietHours* qh = r.mutable_quiet_hours();
  qh->set_start_hour(21);
  qh->set_end_hour(8);
  qh->set_default_time_zone("Europe/Warsaw");
  r.set_default_currency("PLN");
  r.set_max_recommendations(3);

  v1::AbandonedCartRule* ac = r.mutable_abandoned_cart();
  SetCommon(ac->mutable_common(), "abandoned_cart", v1::CHANNEL_PUSH, 600, 1440,
            10, 0, "cart_reminder_v1");
  ac->set_first_reminder_minutes(60);
  ac->set_second_reminder_minutes(1440);
  ac->set_window_hours(72);
  ac->set_coupon_min_cart_value_minor(20000);
  SetCoupon(ac->mutable_coupon(), 10, 0, 0, 500, 0);
  ac->set_discount_waiter_share(0.5);

  v1::BrowseAbandonmentRule* ba = r.mutable_browse_abandonment();
  SetCommon(ba->mutable_common(), "browse_abandonment", v1::CHANNEL_PUSH, 1440,
            720, 10, 0, "browse_abandonment_v1");
  ba->set_min_product_views(3);
  ba->set_min_category_views(5);

  v1::FirstOrderCouponRule* fo = r.mutable_first_order_coupon();
  SetCommon(fo->mutable_common(), "first_order", v1::CHANNEL_ONSITE, 1440,
            10080, 10, 1, "first_order_v1");
  v1::Variant* a = fo->mutable_common()->add_variants();
  a->set_name("A");
  a->set_weight(50);
  a->set_percent_off(10);
  v1::Variant* b = fo->mutable_common()->add_variants();
  b->set_name("B");
  b->set_weight(50);
  b->set_percent_off(15);
  SetCoupon(fo->mutable_coupon(), 10, 0, 10000, 1000, 0);
  fo->set_min_cart_value_minor(5000);

  v1::CartThresholdCouponRule* ct = r.mutable_cart_threshold_coupon();
  SetCommon(ct->mutable_common(), "cart_threshold", v1::CHANNEL_ONSITE, 1440,
            1440, 10, 0, "cart_threshold_v1");
  SetCoupon(ct->mutable_coupon(), 0, 2000, 30000, 500, 1000000);
  ct->set_min_cart_value_minor(25000);

  v1::WinBackCouponRule* wb = r.mutable_win_back_coupon();
  SetCommon(wb->mutable_common(), "win_back", v1::CHANNEL_EMAIL, 43200, 20160,
            10, 0, "win_back_v1");
  SetCoupon(wb->mutable_coupon(), 15, 0, 10000, 300, 0);
  wb->set_inactive_days(45);
  wb->set_min_orders(1);

  v1::LoyaltyCouponRule* lo = r.mutable_loyalty_coupon();
  SetCommon(lo->mutable_common(), "loyalty", v1::CHANNEL_EMAIL, 0, 43200, 5, 0,
            "loyalty_v1");
  SetCoupon(lo->mutable_coupon(), 10, 0, 0, 0, 0);
  lo->add_order_tiers(3);
  lo->add_order_tiers(10);
  lo->add_order_tiers(25);

  v1::ServiceRecoveryCouponRule* sr = r.mutable_service_recovery_coupon();
  SetCommon(sr->mutable_common(), "service_recovery", v1::CHANNEL_EMAIL, 10080,
            43200, 10, 0, "service_recovery_v1");
  SetCoupon(sr->mutable_coupon(), 0, 2500, 0, 200, 0);

  v1::HumanEscalationRule* he = r.mutable_human_escalation();
  SetCommon(he->mutable_common(), "human_escalation", v1::CHANNEL_AGENT, 0,
            4320, 0, 0, "");
  he->set_min_lifetime_value_minor(200000);
  he->set_min_incidents(2);
  he->set_period_days(30);
  he->set_queue("vip-care");
  he->set_pause_automation_days(7);

  v1::ArbitrationSpec* arb = r.mutable_arbitration();
  for (const char* name :
       {"service_recovery", "loyalty", "win_back", "first_order",
        "cart_threshold", "browse_abandonment", "abandoned_cart"}) {
    arb->add_priority(name);
  }
  arb->set_max_active_coupons(1);
  arb->add_replace_active_coupon("service_recovery");
  arb->set_max_messages_per_day(4);
  arb->set_message_budget_window(v1::MESSAGE_BUDGET_WINDOW_LOCAL_DAY);
  return r;
}

}  // namespace tailor::decide
