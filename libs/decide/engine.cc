// Engine creation (validation and precomputation) and the entry points.
#include "libs/decide/engine.h"

#include <algorithm>
#include <utility>

#include "libs/base/status_macros.h"
#include "libs/decide/internal.h"

namespace tailor::decide {

namespace v1 = ::tailor::v1;

void Outcome::Clear() {
  decisions.clear();
  timers.clear();
}

namespace {

void InitCampaign(const v1::CampaignCommon& common,
                  const v1::CouponSpec* coupon, v1::DecisionKind kind,
                  internal::Campaign* c) {
  c->common = &common;
  c->coupon = coupon;
  c->kind = kind;
  c->channel = kind == v1::DECISION_KIND_AGENT_ESCALATION ? v1::CHANNEL_AGENT
                                                          : common.channel();
  c->salt = common.salt().empty() ? common.name() : common.salt();
  double sum = 0;
  for (const v1::Variant& v : common.variants()) {
    sum += v.weight();
    c->cumulative_weights.push_back(sum);
  }
}

// Longer pauses are cut to this (a century), so days * kDayMs cannot
// overflow.
constexpr int64_t kMaxPauseDays = 36500;

bool HasCoupon(const v1::CouponSpec& spec) {
  return spec.percent_off() > 0 || spec.amount_off_minor() > 0;
}

}  // namespace

Engine::Engine(std::unique_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(
    const v1::RulesConfig& rules) {
  TAILOR_RETURN_IF_ERROR(ValidateRules(rules));
  auto impl = std::make_unique<Impl>();
  impl->rules = rules;
  const v1::RulesConfig& r = impl->rules;  // Campaigns point into this copy.
  impl->default_zone = absl::UTCTimeZone();
  if (!r.quiet_hours().default_time_zone().empty() &&
      !absl::LoadTimeZone(r.quiet_hours().default_time_zone(),
                          &impl->default_zone)) {
    return absl::InvalidArgumentError("quiet_hours.default_time_zone: unknown");
  }
  for (const v1::FrequencyCap& cap : r.frequency_caps()) {
    impl->caps.push_back(
        {cap.channel(), cap.max(), cap.period_hours() * internal::kHourMs});
  }
  if (r.max_recommendations() > 0) {
    impl->max_recommendations = r.max_recommendations();
  }
  if (r.profile().affinity_half_life_hours() > 0) {
    impl->half_life_hours = r.profile().affinity_half_life_hours();
  }
  impl->signal_horizon_ms =
      r.profile().signal_horizon_days() * internal::kDayMs;
  impl->cart_window_ms = r.abandoned_cart().window_hours() * internal::kHourMs;
  // Unset means the default; applied also while human_escalation is disabled
  // (then unvalidated), so an escalation sent before still pauses.
  const v1::HumanEscalationRule& he = r.human_escalation();
  const int64_t pause_days =
      he.has_pause_automation_days()
          ? std::clamp<int64_t>(he.pause_automation_days(), 0, kMaxPauseDays)
          : internal::kDefaultPauseAutomationDays;
  impl->escalation_pause_ms = pause_days * internal::kDayMs;

  const v1::AbandonedCartRule& ac = r.abandoned_cart();
  InitCampaign(ac.common(), HasCoupon(ac.coupon()) ? &ac.coupon() : nullptr,
               v1::DECISION_KIND_CART_REMINDER, &impl->abandoned_cart);
  InitCampaign(r.browse_abandonment().common(), nullptr, v1::DECISION_KIND_PUSH,
               &impl->browse_abandonment);
  InitCampaign(r.first_order_coupon().common(),
               &r.first_order_coupon().coupon(), v1::DECISION_KIND_COUPON,
               &impl->first_order);
  InitCampaign(r.cart_threshold_coupon().common(),
               &r.cart_threshold_coupon().coupon(), v1::DECISION_KIND_COUPON,
               &impl->cart_threshold);
  InitCampaign(r.win_back_coupon().common(), &r.win_back_coupon().coupon(),
               v1::DECISION_KIND_COUPON, &impl->win_back);
  InitCampaign(r.loyalty_coupon().common(), &r.loyalty_coupon().coupon(),
               v1::DECISION_KIND_COUPON, &impl->loyalty);
  InitCampaign(r.service_recovery_coupon().common(),
               &r.service_recovery_coupon().coupon(), v1::DECISION_KIND_COUPON,
               &impl->service_recovery);
  InitCampaign(r.human_escalation().common(), nullptr,
               v1::DECISION_KIND_AGENT_ESCALATION, &impl->human_escalation);
  // Every automated nudge pauses after an escalation is sent; the escalation
  // itself and the service-recovery coupon do not.
  for (internal::Campaign* c :
       {&impl->abandoned_cart, &impl->browse_abandonment, &impl->first_order,
        &impl->cart_threshold, &impl->win_back, &impl->loyalty}) {
    c->paused_by_escalation = true;
  }
  // Arbitration: rank by arbitration.priority, the unlisted after it in
  // evaluation order (the order of Impl::OnEvent).
  const v1::ArbitrationSpec& arb = r.arbitration();
  internal::Campaign* const in_evaluation_order[] = {
      &impl->human_escalation,   &impl->service_recovery, &impl->loyalty,
      &impl->win_back,           &impl->first_order,      &impl->cart_threshold,
      &impl->browse_abandonment, &impl->abandoned_cart};
  int next_rank = arb.priority_size();
  for (internal::Campaign* c : in_evaluation_order) {
    const auto& listed = arb.priority();
    const auto it = std::find(listed.begin(), listed.end(), c->name());
    c->rank = it != listed.end() && !c->name().empty()
                  ? static_cast<int>(it - listed.begin())
                  : next_rank++;
    const auto& replacing = arb.replace_active_coupon();
    c->replaces_active_coupon =
        !c->name().empty() && std::find(replacing.begin(), replacing.end(),
                                        c->name()) != replacing.end();
  }
  impl->max_active_coupons = arb.has_max_active_coupons()
                                 ? arb.max_active_coupons()
                                 : internal::kDefaultMaxActiveCoupons;
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

const v1::RulesConfig& Engine::rules() const { return impl_->rules; }

void Engine::OnEvent(const v1::Event& event, v1::CustomerProfile* profile,
                     v1::PartitionState* partition_state, Outcome* out) const {
  // Guard 1: a profiling opt-out makes no decision and sets no timer.
  if (profile->profiling_opt_out()) return;
  internal::CallState s{event.event_time_ms(), profile, partition_state, out};
  impl_->OnEvent(event, s);
}

void Engine::OnTimer(const v1::Timer& timer, int64_t now_ms,
                     v1::CustomerProfile* profile,
                     v1::PartitionState* partition_state, Outcome* out) const {
  if (profile->profiling_opt_out()) return;
  internal::CallState s{now_ms, profile, partition_state, out};
  impl_->OnTimer(timer, s);
}

}  // namespace tailor::decide
