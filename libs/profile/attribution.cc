#include "libs/profile/attribution.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/base/stable_hash.h"
#include "libs/profile/limits.h"

namespace tailor::profile {
namespace {

namespace v1 = ::tailor::v1;

constexpr int64_t kMinuteMs = 60'000;

const v1::CouponPayload* CouponOf(const v1::Decision& d) {
  if (d.has_coupon()) return &d.coupon();
  if (d.has_cart_reminder() && d.cart_reminder().has_coupon()) {
    return &d.cart_reminder().coupon();
  }
  return nullptr;
}

// The sent decision that carried coupon `code`, or nullptr.
v1::RecentDecision* ByCoupon(v1::CustomerProfile* p, const std::string& code) {
  if (code.empty()) return nullptr;
  for (v1::RecentDecision& r : *p->mutable_recent_decisions()) {
    if (r.coupon_code() == code && r.action() == v1::DECISION_ACTION_SEND) {
      return &r;
    }
  }
  return nullptr;
}

bool Converts(const v1::RecentDecision& r, int64_t t) {
  return r.created_at_ms() <= t && t <= r.converts_until_ms();
}

void Emit(const v1::RecentDecision& r, v1::OutcomeKind kind,
          const v1::Event& event, const v1::Money* value,
          const std::string& order_id, std::vector<v1::Outcome>* out) {
  v1::Outcome& o = out->emplace_back();
  o.set_outcome_id(OutcomeId(r.decision_id(), kind, event));
  o.set_decision_id(r.decision_id());
  o.set_customer_id(event.customer_id());
  o.set_campaign(r.campaign());
  o.set_variant(r.variant());
  o.set_action(r.action());
  o.set_decision_kind(r.kind());
  o.set_outcome(kind);
  if (value != nullptr) *o.mutable_value() = *value;
  o.set_minutes_since_decision((event.event_time_ms() - r.created_at_ms()) /
                               kMinuteMs);
  o.set_event_time_ms(event.event_time_ms());
  o.set_event_id(event.event_id());
  o.set_order_id(order_id);
  o.set_decided_at_ms(r.created_at_ms());
}

}  // namespace

std::string OutcomeId(const std::string& decision_id, v1::OutcomeKind kind,
                      const v1::Event& event) {
  return StableHashHex128({"outcome", decision_id, absl::StrCat(kind),
                           event.event_id(),
                           absl::StrCat(event.event_time_ms())});
}

void RememberDecision(const v1::Decision& d, int64_t conversion_window_ms,
                      v1::CustomerProfile* profile) {
  if (d.action() != v1::DECISION_ACTION_SEND &&
      d.action() != v1::DECISION_ACTION_HOLD_OUT) {
    return;
  }
  auto* list = profile->mutable_recent_decisions();
  v1::RecentDecision* entry = nullptr;
  for (v1::RecentDecision& r : *list) {
    if (r.decision_id() == d.decision_id()) entry = &r;
  }
  if (entry == nullptr) {
    if (list->size() >= kMaxRecentDecisions) {
      list->DeleteSubrange(0, list->size() - kMaxRecentDecisions + 1);
    }
    entry = list->Add();
  }
  entry->Clear();
  entry->set_decision_id(d.decision_id());
  entry->set_campaign(d.campaign());
  entry->set_variant(d.variant());
  entry->set_action(d.action());
  entry->set_kind(d.kind());
  entry->set_created_at_ms(d.created_at_ms());
  entry->set_converts_until_ms(d.created_at_ms() + conversion_window_ms);
  if (const v1::CouponPayload* coupon = CouponOf(d)) {
    entry->set_coupon_code(coupon->code());
  }
}

void Attribute(const v1::Event& event, v1::CustomerProfile* profile,
               std::vector<v1::Outcome>* out) {
  if (profile->profiling_opt_out()) return;  // not measured either
  const int64_t t = event.event_time_ms();
  switch (event.payload_case()) {
    case v1::Event::kPushOpened: {
      for (v1::RecentDecision& r : *profile->mutable_recent_decisions()) {
        if (r.decision_id() != event.push_opened().decision_id()) continue;
        if (r.action() == v1::DECISION_ACTION_SEND && !r.opened() &&
            r.created_at_ms() <= t) {
          r.set_opened(true);
          Emit(r, v1::OUTCOME_KIND_OPEN, event, nullptr, std::string(), out);
        }
        return;
      }
      return;
    }
    case v1::Event::kCouponRedeemed: {
      const v1::CouponRedeemed& cr = event.coupon_redeemed();
      v1::RecentDecision* r = ByCoupon(profile, cr.coupon_code());
      if (r != nullptr && !r->redeemed()) {
        r->set_redeemed(true);
        Emit(*r, v1::OUTCOME_KIND_REDEMPTION, event, nullptr, cr.order_id(),
             out);
      }
      return;
    }
    case v1::Event::kOrderPlaced: {
      const v1::OrderPlaced& order = event.order_placed();
      v1::RecentDecision* coupon = ByCoupon(profile, order.coupon_code());
      if (coupon != nullptr && !coupon->redeemed()) {
        coupon->set_redeemed(true);
        Emit(*coupon, v1::OUTCOME_KIND_REDEMPTION, event, &order.total(),
             order.order_id(), out);
      }
      const v1::RecentDecision* touch =
          coupon != nullptr && Converts(*coupon, t) ? coupon : nullptr;
      if (touch == nullptr) {
        // Last touch: the latest decision whose window covers the order
        // (the later entry on equal times).
        for (const v1::RecentDecision& r : profile->recent_decisions()) {
          if (Converts(r, t) && (touch == nullptr ||
                                 r.created_at_ms() >= touch->created_at_ms())) {
            touch = &r;
          }
        }
      }
      if (touch != nullptr) {
        Emit(*touch, v1::OUTCOME_KIND_CONVERSION, event, &order.total(),
             order.order_id(), out);
      }
      return;
    }
    default:
      return;
  }
}

}  // namespace tailor::profile
