// What measurement needs from the rules: the campaigns, their conversion
// windows and the shop-wide control group.
#include "libs/base/stable_hash.h"
#include "libs/decide/internal.h"
#include "libs/decide/rules.h"

namespace tailor::decide {

namespace v1 = ::tailor::v1;

std::vector<const v1::CampaignCommon*> CampaignsOf(const v1::RulesConfig& r) {
  return {&r.abandoned_cart().common(),
          &r.browse_abandonment().common(),
          &r.first_order_coupon().common(),
          &r.cart_threshold_coupon().common(),
          &r.win_back_coupon().common(),
          &r.loyalty_coupon().common(),
          &r.service_recovery_coupon().common(),
          &r.human_escalation().common()};
}

int64_t ConversionWindowMs(const v1::RulesConfig& rules,
                           absl::string_view campaign) {
  for (const v1::CampaignCommon* c : CampaignsOf(rules)) {
    if (c->name() == campaign && c->has_conversion_window_hours()) {
      return c->conversion_window_hours() * internal::kHourMs;
    }
  }
  return kDefaultConversionWindowHours * internal::kHourMs;
}

bool InGlobalControl(const v1::ControlGroup& group,
                     absl::string_view customer_id) {
  if (group.percent() <= 0) return false;
  const absl::string_view salt = group.salt().empty()
                                     ? absl::string_view("global_control")
                                     : absl::string_view(group.salt());
  return StableUnitInterval({salt, customer_id, "global_control"}) * 100.0 <
         group.percent();
}

}  // namespace tailor::decide
