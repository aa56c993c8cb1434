// File: rules.h
// Checking and defaults of the rules config (tailor.v1.RulesConfig) that the
// decision engine runs.
#ifndef TAILOR_LIBS_DECIDE_RULES_H_
#define TAILOR_LIBS_DECIDE_RULES_H_

#include "absl/status/status.h"
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

// A starting rule set a shop can run: every campaign enabled with the values
// documented in libs/decide/rules.example.yaml (kept in sync by hand).
// Passes ValidateRules.
tailor::v1::RulesConfig DefaultRules();

}  // namespace tailor::decide

#endif  // TAILOR_LIBS_DECIDE_RULES_H_
