// File: rules.h
// Checking and defaults of the rules config (tailor.v1.RulesConfig) that the
// decision engine runs.
#ifndef TAILOR_LIBS_DECIDE_RULES_H_
#define TAILOR_LIBS_DECIDE_RULES_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tailor/v1/config.pb.h"

namespace tailor::decide {

// Checks a rules config. Returns InvalidArgument naming the field path and
// the reason of the first problem, e.g.
//   "abandoned_cart.first_reminder_minutes: must be > 0"
//   "quiet_hours.default_time_zone: unknown time zone \"Europe/Warsw\""
//   "frequency_caps[1].period_hours: must be > 0"
//   "first_order_coupon.coupon.percent_off: must be in 1..90"
// Disabled campaigns are not checked (a rules file may leave them out).
[[nodiscard]] absl::Status ValidateRules(const tailor::v1::RulesConfig& rules);

// CampaignCommon.conversion_window_hours when unset, and its range.
inline constexpr int64_t kDefaultConversionWindowHours = 72;
inline constexpr int64_t kMaxConversionWindowHours = 720;
// The largest control_group.percent.
inline constexpr double kMaxControlGroupPercent = 15;

// The campaigns of `rules` (enabled or not), in the order of RulesConfig's
// fields.
std::vector<const tailor::v1::CampaignCommon*> CampaignsOf(
    const tailor::v1::RulesConfig& rules);

// How long after a decision of `campaign` an order counts as its conversion,
// in ms: the campaign's conversion_window_hours, unset (or a campaign the
// rules do not hold) kDefaultConversionWindowHours.
int64_t ConversionWindowMs(const tailor::v1::RulesConfig& rules,
                           absl::string_view campaign);

// True when the customer is in the rules' shop-wide control group:
// StableUnitInterval({salt, customer_id, "global_control"}) * 100 < percent
// (salt "global_control" when unset).
bool InGlobalControl(const tailor::v1::ControlGroup& group,
                     absl::string_view customer_id);

// A starting rule set a shop can run: every campaign enabled with the values
// documented in libs/decide/rules.example.yaml (kept in sync by hand).
// Passes ValidateRules.
tailor::v1::RulesConfig DefaultRules();

}  // namespace tailor::decide

#endif  // TAILOR_LIBS_DECIDE_RULES_H_
