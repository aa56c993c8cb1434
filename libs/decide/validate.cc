// ValidateRules: every problem is reported as "<field path>: <reason>".
#include <algorithm>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "libs/base/status_macros.h"
#include "libs/decide/internal.h"
#include "libs/decide/rules.h"

namespace tailor::decide {

namespace v1 = ::tailor::v1;

namespace {

absl::Status Invalid(absl::string_view path, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", reason));
}

bool ValidName(absl::string_view name) {
  for (char ch : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '_' &&
        ch != '-' && ch != '.') {
      return false;
    }
  }
  return !name.empty();
}

absl::Status ValidateCommon(const v1::CampaignCommon& c,
                            const std::string& path, bool agent,
                            std::set<std::string>* names) {
  const std::string p = path + ".common.";
  if (c.name().empty()) return Invalid(p + "name", "must be set");
  if (!ValidName(c.name())) {
    return Invalid(p + "name", "may hold only letters, digits, '_', '-', '.'");
  }
  if (!names->insert(c.name()).second) {
    return Invalid(p + "name", absl::StrCat("\"", c.name(),
                                            "\" is used by another campaign"));
  }
  if (agent) {
    if (c.channel() != v1::CHANNEL_UNSPECIFIED &&
        c.channel() != v1::CHANNEL_AGENT) {
      return Invalid(p + "channel", "must be CHANNEL_AGENT");
    }
  } else if (c.channel() == v1::CHANNEL_UNSPECIFIED) {
    return Invalid(p + "channel", "must be set");
  } else if (c.channel() == v1::CHANNEL_AGENT) {
    return Invalid(p + "channel", "CHANNEL_AGENT is only for human_escalation");
  }
  if (c.cooldown_minutes() < 0)
    return Invalid(p + "cooldown_minutes", "must be >= 0");
  if (c.expires_after_minutes() <= 0) {
    return Invalid(p + "expires_after_minutes", "must be > 0");
  }
  if (!(c.holdout_percent() >= 0 && c.holdout_percent() <= 100)) {
    return Invalid(p + "holdout_percent", "must be in 0..100");
  }
  if (c.max_per_customer() < 0)
    return Invalid(p + "max_per_customer", "must be >= 0");
  if (c.has_conversion_window_hours() &&
      (c.conversion_window_hours() < 1 ||
       c.conversion_window_hours() > kMaxConversionWindowHours)) {
    return Invalid(
        p + "conversion_window_hours",
        absl::StrCat("must be in 1..", kMaxConversionWindowHours,
                     " (unset = ", kDefaultConversionWindowHours, ")"));
  }
  std::set<std::string> variant_names;
  for (int i = 0; i < c.variants_size(); ++i) {
    const v1::Variant& v = c.variants(i);
    const std::string vp = absl::StrCat(p, "variants[", i, "].");
    if (v.name().empty()) return Invalid(vp + "name", "must be set");
    if (!variant_names.insert(v.name()).second) {
      return Invalid(vp + "name", absl::StrCat("duplicate \"", v.name(), "\""));
    }
    if (!(v.weight() > 0)) return Invalid(vp + "weight", "must be > 0");
    if (v.percent_off() < 0 || v.percent_off() > 90) {
      return Invalid(vp + "percent_off", "must be in 0..90 (0 = no override)");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateCoupon(const v1::CouponSpec& c, const std::string& path) {
  const std::string p = path + ".";
  if (c.amount_off_minor() < 0)
    return Invalid(p + "amount_off_minor", "must be >= 0");
  if (c.amount_off_minor() > 0) {
    if (c.percent_off() != 0) {
      return Invalid(p + "percent_off",
                     "must be 0 when amount_off_minor is set");
    }
  } else if (c.percent_off() < 1 || c.percent_off() > 90) {
    return Invalid(p + "percent_off", "must be in 1..90");
  }
  if (c.min_order_value_minor() < 0) {
    return Invalid(p + "min_order_value_minor", "must be >= 0");
  }
  if (c.daily_budget_count() < 0)
    return Invalid(p + "daily_budget_count", "must be >= 0");
  if (c.daily_budget_value_minor() < 0) {
    return Invalid(p + "daily_budget_value_minor", "must be >= 0");
  }
  return absl::OkStatus();
}

absl::Status ValidateCouponCampaign(const v1::CampaignCommon& common,
                                    const v1::CouponSpec& coupon,
                                    const std::string& path,
                                    std::set<std::string>* names) {
  TAILOR_RETURN_IF_ERROR(ValidateCommon(common, path, false, names));
  return ValidateCoupon(coupon, path + ".coupon");
}

// Every campaign name the file sets, enabled or not.
std::set<std::string> CampaignNames(const v1::RulesConfig& r) {
  std::set<std::string> names;
  for (const v1::CampaignCommon* c : CampaignsOf(r)) {
    if (!c->name().empty()) names.insert(c->name());
  }
  return names;
}

// A list of campaign names: each one a campaign of the file, at most once.
absl::Status ValidateCampaignList(
    const google::protobuf::RepeatedPtrField<std::string>& list,
    const std::string& path, const std::set<std::string>& known) {
  std::set<std::string> seen;
  for (int i = 0; i < list.size(); ++i) {
    const std::string p = absl::StrCat(path, "[", i, "]");
    if (known.count(list.Get(i)) == 0) {
      return Invalid(p, absl::StrCat("unknown campaign \"", list.Get(i), "\""));
    }
    if (!seen.insert(list.Get(i)).second) {
      return Invalid(p,
                     absl::StrCat("\"", list.Get(i),
                                  "\" is listed twice (duplicate priority)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateControlGroup(const v1::ControlGroup& g) {
  if (!(g.percent() >= 0 && g.percent() <= kMaxControlGroupPercent)) {
    return Invalid("control_group.percent",
                   absl::StrCat("must be in 0..", kMaxControlGroupPercent));
  }
  return absl::OkStatus();
}

absl::Status ValidateArbitration(const v1::RulesConfig& r) {
  const v1::ArbitrationSpec& a = r.arbitration();
  const std::set<std::string> known = CampaignNames(r);
  TAILOR_RETURN_IF_ERROR(
      ValidateCampaignList(a.priority(), "arbitration.priority", known));
  TAILOR_RETURN_IF_ERROR(ValidateCampaignList(
      a.replace_active_coupon(), "arbitration.replace_active_coupon", known));
  if (a.has_max_active_coupons() &&
      (a.max_active_coupons() < 0 ||
       a.max_active_coupons() > internal::kMaxActiveCoupons)) {
    return Invalid("arbitration.max_active_coupons",
                   absl::StrCat("must be in 0..", internal::kMaxActiveCoupons,
                                " (0 = no limit)"));
  }
  if (a.max_messages_per_day() < 0) {
    return Invalid("arbitration.max_messages_per_day",
                   "must be >= 0 (0 = no limit)");
  }
  if (!v1::MessageBudgetWindow_IsValid(a.message_budget_window())) {
    return Invalid("arbitration.message_budget_window", "unknown value");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRules(const v1::RulesConfig& r) {
  const v1::ProfileSpec& ps = r.profile();
  if (ps.affinity_half_life_hours() < 0) {
    return Invalid("profile.affinity_half_life_hours", "must be >= 0");
  }
  if (ps.top_k() < 0) return Invalid("profile.top_k", "must be >= 0");
  if (ps.recent_products() < 0)
    return Invalid("profile.recent_products", "must be >= 0");
  if (ps.signal_horizon_days() < 0) {
    return Invalid("profile.signal_horizon_days", "must be >= 0");
  }
  if (ps.session_gap_minutes() < 0) {
    return Invalid("profile.session_gap_minutes", "must be >= 0");
  }
  for (int i = 0; i < r.frequency_caps_size(); ++i) {
    const v1::FrequencyCap& cap = r.frequency_caps(i);
    const std::string p = absl::StrCat("frequency_caps[", i, "].");
    if (cap.channel() == v1::CHANNEL_UNSPECIFIED)
      return Invalid(p + "channel", "must be set");
    if (cap.max() <= 0) return Invalid(p + "max", "must be > 0");
    if (cap.period_hours() <= 0)
      return Invalid(p + "period_hours", "must be > 0");
  }
  const v1::QuietHours& qh = r.quiet_hours();
  if (qh.start_hour() < 0 || qh.start_hour() > 23) {
    return Invalid("quiet_hours.start_hour", "must be in 0..23");
  }
  if (qh.end_hour() < 0 || qh.end_hour() > 23) {
    return Invalid("quiet_hours.end_hour", "must be in 0..23");
  }
  absl::TimeZone zone;
  if (!qh.default_time_zone().empty() &&
      !absl::LoadTimeZone(qh.default_time_zone(), &zone)) {
    return Invalid(
        "quiet_hours.default_time_zone",
        absl::StrCat("unknown time zone \"", qh.default_time_zone(), "\""));
  }
  if (r.max_recommendations() < 0 || r.max_recommendations() > 50) {
    return Invalid("max_recommendations", "must be in 0..50 (0 = 3)");
  }
  TAILOR_RETURN_IF_ERROR(ValidateControlGroup(r.control_group()));

  std::set<std::string> names;
  if (const v1::AbandonedCartRule& ac = r.abandoned_cart();
      ac.common().enabled()) {
    TAILOR_RETURN_IF_ERROR(
        ValidateCommon(ac.common(), "abandoned_cart", false, &names));
    if (ac.first_reminder_minutes() <= 0) {
      return Invalid("abandoned_cart.first_reminder_minutes", "must be > 0");
    }
    if (ac.second_reminder_minutes() < 0 ||
        (ac.second_reminder_minutes() > 0 &&
         ac.second_reminder_minutes() <= ac.first_reminder_minutes())) {
      return Invalid("abandoned_cart.second_reminder_minutes",
                     "must be 0 (none) or > first_reminder_minutes");
    }
    if (ac.window_hours() <= 0)
      return Invalid("abandoned_cart.window_hours", "must be > 0");
    if (ac.window_hours() * 60 <
        std::max(ac.first_reminder_minutes(), ac.second_reminder_minutes())) {
      return Invalid("abandoned_cart.window_hours",
                     "must cover the last reminder (window_hours * 60 >= "
                     "reminder minutes)");
    }
    if (ac.second_reminder_minutes() > 0 &&
        ac.common().cooldown_minutes() >=
            ac.second_reminder_minutes() - ac.first_reminder_minutes()) {
      return Invalid(
          "abandoned_cart.common.cooldown_minutes",
          "must be < second_reminder_minutes - first_reminder_minutes, "
          "or reminder 2 is always suppressed");
    }
    if (ac.coupon_min_cart_value_minor() < 0) {
      return Invalid("abandoned_cart.coupon_min_cart_value_minor",
                     "must be >= 0");
    }
    if (ac.coupon().percent_off() != 0 || ac.coupon().amount_off_minor() != 0) {
      TAILOR_RETURN_IF_ERROR(
          ValidateCoupon(ac.coupon(), "abandoned_cart.coupon"));
    }
    if (!(ac.discount_waiter_share() >= 0 && ac.discount_waiter_share() <= 1)) {
      return Invalid("abandoned_cart.discount_waiter_share", "must be in 0..1");
    }
  }
  if (const v1::BrowseAbandonmentRule& b = r.browse_abandonment();
      b.common().enabled()) {
    TAILOR_RETURN_IF_ERROR(
        ValidateCommon(b.common(), "browse_abandonment", false, &names));
    if (b.min_product_views() < 1) {
      return Invalid("browse_abandonment.min_product_views", "must be >= 1");
    }
    if (b.min_category_views() < 0) {
      return Invalid("browse_abandonment.min_category_views", "must be >= 0");
    }
  }
  if (const v1::FirstOrderCouponRule& f = r.first_order_coupon();
      f.common().enabled()) {
    TAILOR_RETURN_IF_ERROR(ValidateCouponCampaign(
        f.common(), f.coupon(), "first_order_coupon", &names));
    if (f.min_cart_value_minor() < 0) {
      return Invalid("first_order_coupon.min_cart_value_minor", "must be >= 0");
    }
  }
  if (const v1::CartThresholdCouponRule& t = r.cart_threshold_coupon();
      t.common().enabled()) {
    TAILOR_RETURN_IF_ERROR(ValidateCouponCampaign(
        t.common(), t.coupon(), "cart_threshold_coupon", &names));
    if (t.min_cart_value_minor() <= 0) {
      return Invalid("cart_threshold_coupon.min_cart_value_minor",
                     "must be > 0");
    }
  }
  if (const v1::WinBackCouponRule& w = r.win_back_coupon();
      w.common().enabled()) {
    TAILOR_RETURN_IF_ERROR(ValidateCouponCampaign(w.common(), w.coupon(),
                                                  "win_back_coupon", &names));
    if (w.inactive_days() <= 0)
      return Invalid("win_back_coupon.inactive_days", "must be > 0");
    if (w.min_orders() < 1)
      return Invalid("win_back_coupon.min_orders", "must be >= 1");
  }
  if (const v1::LoyaltyCouponRule& l = r.loyalty_coupon();
      l.common().enabled()) {
    TAILOR_RETURN_IF_ERROR(ValidateCouponCampaign(l.common(), l.coupon(),
                                                  "loyalty_coupon", &names));
    if (l.order_tiers_size() == 0) {
      return Invalid("loyalty_coupon.order_tiers", "must not be empty");
    }
    for (int i = 0; i < l.order_tiers_size(); ++i) {
      const std::string p = absl::StrCat("loyalty_coupon.order_tiers[", i, "]");
      if (l.order_tiers(i) <= 0) return Invalid(p, "must be > 0");
      if (i > 0 && l.order_tiers(i) <= l.order_tiers(i - 1)) {
        return Invalid(p, absl::StrCat("must be > order_tiers[", i - 1, "]"));
      }
    }
  }
  if (const v1::ServiceRecoveryCouponRule& s = r.service_recovery_coupon();
      s.common().enabled()) {
    TAILOR_RETURN_IF_ERROR(ValidateCouponCampaign(
        s.common(), s.coupon(), "service_recovery_coupon", &names));
  }
  if (const v1::HumanEscalationRule& h = r.human_escalation();
      h.common().enabled()) {
    TAILOR_RETURN_IF_ERROR(
        ValidateCommon(h.common(), "human_escalation", true, &names));
    if (h.min_lifetime_value_minor() < 0) {
      return Invalid("human_escalation.min_lifetime_value_minor",
                     "must be >= 0");
    }
    if (h.min_incidents() < 1)
      return Invalid("human_escalation.min_incidents", "must be >= 1");
    if (h.period_days() <= 0)
      return Invalid("human_escalation.period_days", "must be > 0");
    if (h.queue().empty())
      return Invalid("human_escalation.queue", "must be set");
    if (h.has_pause_automation_days() && h.pause_automation_days() < 0) {
      return Invalid("human_escalation.pause_automation_days",
                     "must be >= 0 (0 = no pause)");
    }
  }
  return ValidateArbitration(r);
}

}  // namespace tailor::decide
