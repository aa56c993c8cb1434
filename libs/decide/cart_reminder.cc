// The abandoned-cart campaign: reminder timers set on cart changes, the
// checks when they fire, and the cart lines a reminder lists.
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/decide/internal.h"

namespace tailor::decide {

namespace v1 = ::tailor::v1;
using internal::kMinuteMs;

namespace {

// When line `i` was last added to. A profile folded before lines had add
// times gives every line the time of the last cart change.
int64_t LineAddedAt(const v1::Cart& cart, int i) {
  return i < cart.item_added_at_ms_size() ? cart.item_added_at_ms(i)
                                          : cart.updated_at_ms();
}

bool LineInWindow(const v1::Cart& cart, int i, int64_t now_ms,
                  int64_t window_ms) {
  return now_ms - LineAddedAt(cart, i) <= window_ms;
}

// quantity x unit price, added to `sum`; saturates instead of overflowing.
int64_t AddLineValue(int64_t sum, const v1::LineItem& line) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t value;
  if (__builtin_mul_overflow(static_cast<int64_t>(line.quantity()),
                             line.unit_price().minor_units(), &value)) {
    return kMax;
  }
  int64_t out;
  if (__builtin_add_overflow(sum, value, &out)) return kMax;
  return out;
}

}  // namespace

void Engine::Impl::SetCartTimers(const v1::Event& event, CallState& s) const {
  const v1::AbandonedCartRule& rule = rules.abandoned_cart();
  if (!abandoned_cart.enabled()) return;
  if (!event.has_cart_add() && !event.has_cart_remove()) return;
  const v1::Cart& cart = s.profile->cart();
  if (cart.items_size() == 0) return;
  auto add = [&](int step, int64_t minutes) {
    v1::Timer& t = s.out->timers.emplace_back();
    t.set_customer_id(s.profile->customer_id());
    t.set_fire_at_ms(cart.updated_at_ms() + minutes * kMinuteMs);
    t.set_kind(v1::TIMER_KIND_CART_REMINDER);
    t.set_timer_id(absl::StrCat(abandoned_cart.name(), "/", step));
    t.set_campaign(abandoned_cart.name());
    t.set_step(step);
    t.set_trigger_ref(cart.version());
  };
  add(1, rule.first_reminder_minutes());
  if (rule.second_reminder_minutes() > 0) {
    add(2, rule.second_reminder_minutes());
  }
}

bool Engine::Impl::CartStillAbandoned(const v1::CustomerProfile& p,
                                      int64_t version, int64_t now_ms) const {
  const v1::Cart& cart = p.cart();
  if (cart.items_size() == 0 || cart.version() != version) return false;
  if (p.last_order().placed_at_ms() > 0 &&
      p.last_order().placed_at_ms() >= cart.updated_at_ms()) {
    return false;
  }
  if (now_ms - cart.updated_at_ms() > cart_window_ms) return false;
  // Only lines added inside the window are reminded of: none, no reminder.
  for (int i = 0; i < cart.items_size(); ++i) {
    if (LineInWindow(cart, i, now_ms, cart_window_ms)) return true;
  }
  return false;
}

int Engine::Impl::ListRemindedLines(const v1::Cart& cart, int64_t now_ms,
                                    v1::CartReminderPayload* payload) const {
  payload->clear_items();
  int64_t value = 0;
  int left_out = 0;
  const std::string* currency = nullptr;
  for (int i = 0; i < cart.items_size(); ++i) {
    if (!LineInWindow(cart, i, now_ms, cart_window_ms)) {
      ++left_out;
      continue;
    }
    const v1::LineItem& line = cart.items(i);
    *payload->add_items() = line;
    // As the fold values a cart: in the first line's currency; lines in
    // another currency are listed but not counted.
    if (currency == nullptr) currency = &line.unit_price().currency();
    if (line.unit_price().currency() == *currency) {
      value = AddLineValue(value, line);
    }
  }
  v1::Money* money = payload->mutable_cart_value();
  money->set_minor_units(value);
  money->set_currency(currency != nullptr && !currency->empty()
                          ? *currency
                          : rules.default_currency());
  return left_out;
}

void Engine::Impl::RelistRemindedLines(const v1::Cart& cart, int64_t now_ms,
                                       v1::Decision* d) const {
  v1::CartReminderPayload* payload = d->mutable_cart_reminder();
  const int left_out = ListRemindedLines(cart, now_ms, payload);
  internal::SetFact(d, "cart_value_minor", payload->cart_value().minor_units());
  internal::SetFact(d, "cart_items", payload->items_size());
  if (left_out > 0) {
    internal::SetFact(d, "cart_items_outside_window", left_out);
  }
}

void Engine::Impl::CartReminderTimer(const v1::Timer& timer,
                                     CallState& s) const {
  if (!abandoned_cart.enabled()) return;
  const v1::AbandonedCartRule& rule = rules.abandoned_cart();
  const int step = timer.step();
  if (step != 1 && !(step == 2 && rule.second_reminder_minutes() > 0)) return;
  const v1::CustomerProfile& p = *s.profile;
  if (!CartStillAbandoned(p, timer.trigger_ref(), s.now_ms)) return;
  // Stream time jumped past reminder 2 as well (replay, downtime): only the
  // later reminder goes out.
  if (step == 1 && rule.second_reminder_minutes() > 0 &&
      s.now_ms - p.cart().updated_at_ms() >=
          rule.second_reminder_minutes() * kMinuteMs) {
    return;
  }

  const v1::Cart& cart = p.cart();
  Candidate cand = NewCandidate(
      abandoned_cart, s, absl::StrCat("cart:v", cart.version(), ":step", step),
      timer);
  cand.trigger_ref = cart.version();
  v1::Decision& d = cand.decision;
  v1::CartReminderPayload* payload = d.mutable_cart_reminder();
  // The reminder lists the lines added inside the window, and its value (the
  // fact, the coupon threshold and the coupon's basis) is theirs.
  const int left_out = ListRemindedLines(cart, s.now_ms, payload);
  const int64_t value = payload->cart_value().minor_units();
  d.add_reason_codes("cart_abandoned");
  d.add_reason_codes(absl::StrCat("reminder_step_", step));
  internal::AddFact(&d, "cart_value_minor", value);
  internal::AddFact(&d, "cart_version", cart.version());
  internal::AddFact(&d, "cart_items", payload->items_size());
  if (left_out > 0) {
    internal::AddFact(&d, "cart_items_outside_window", left_out);
  }
  internal::AddFact(&d, "minutes_since_cart_change",
                    (s.now_ms - cart.updated_at_ms()) / kMinuteMs);
  payload->set_step(step);
  payload->set_template_id(abandoned_cart.TemplateFor(p.customer_id()));
  if (step == 2 && abandoned_cart.coupon != nullptr) {
    if (value < rule.coupon_min_cart_value_minor()) {
      internal::AddFact(&d, "coupon_withheld", "below_threshold");
    } else if (internal::IsDiscountWaiter(p, rule.discount_waiter_share())) {
      internal::AddFact(&d, "coupon_withheld", "discount_waiter");
    } else {
      d.add_reason_codes("cart_value_above_threshold");
      FillCoupon(s, value, payload->mutable_coupon(), &cand);
      cand.coupon_optional = true;
    }
  }
  Recommend(p, s.now_ms, "", payload->mutable_recommended_product_ids());
  Guard(std::move(cand), s);
}

}  // namespace tailor::decide
