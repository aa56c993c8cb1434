// The campaigns: which event or timer makes which candidate decision.
#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/base/stable_hash.h"
#include "libs/decide/internal.h"

namespace tailor::decide {

namespace v1 = ::tailor::v1;
using internal::kDayMs;
using internal::kMinuteMs;

namespace {

std::string SessionOf(const v1::Event& e, const v1::CustomerProfile& p) {
  return e.context().session_id().empty() ? p.last_session_id()
                                          : e.context().session_id();
}

// A dedupe reference kept in CampaignState.last_trigger_ref.
int64_t TriggerRef(std::initializer_list<absl::string_view> parts) {
  return static_cast<int64_t>(StableHash64(parts));
}

// Records `ref` for the campaign; false if it was already the last one.
bool MarkTrigger(v1::CustomerProfile* p, absl::string_view campaign,
                 int64_t ref) {
  v1::CampaignState* st = internal::MutableCampaignState(p, campaign);
  if (st->last_trigger_ref() == ref) return false;
  st->set_last_trigger_ref(ref);
  return true;
}

bool InCart(const v1::CustomerProfile& p, absl::string_view product_id) {
  for (const v1::LineItem& i : p.cart().items()) {
    if (i.product_id() == product_id) return true;
  }
  return false;
}

const v1::Affinity* FindAffinity(
    const google::protobuf::RepeatedPtrField<v1::Affinity>& list,
    absl::string_view id) {
  for (const v1::Affinity& a : list) {
    if (a.id() == id) return &a;
  }
  return nullptr;
}

bool IsClickstream(const v1::Event& e) {
  const int payload = static_cast<int>(e.payload_case());
  return payload >= 10 && payload < 30;
}

}  // namespace

const internal::Campaign* Engine::Impl::FindCampaign(
    absl::string_view name) const {
  for (const Campaign* c :
       {&abandoned_cart, &browse_abandonment, &first_order, &cart_threshold,
        &win_back, &loyalty, &service_recovery, &human_escalation}) {
    if (c->enabled() && c->name() == name) return c;
  }
  return nullptr;
}

// --- Building candidates -----------------------------------------------------

namespace {

// A candidate of `c` about `trigger`, made by the input named by
// `occurrence` (its event or timer id is `trigger_event_id`).
internal::Candidate MakeCandidate(const internal::Campaign& c,
                                  const internal::CallState& s,
                                  std::string trigger, std::string occurrence,
                                  absl::string_view trigger_event_id) {
  internal::Candidate cand;
  cand.campaign = &c;
  cand.trigger = std::move(trigger);
  cand.occurrence = std::move(occurrence);
  v1::Decision& d = cand.decision;
  const std::string& customer = s.profile->customer_id();
  d.set_decision_id(
      internal::DecisionId(c.name(), customer, cand.trigger, cand.occurrence));
  d.set_customer_id(customer);
  d.set_kind(c.kind);
  d.set_channel(c.channel);
  d.set_campaign(c.name());
  if (const v1::Variant* v = c.VariantFor(customer)) d.set_variant(v->name());
  d.set_created_at_ms(s.now_ms);
  d.set_expires_at_ms(s.now_ms + c.common->expires_after_minutes() * kMinuteMs);
  d.set_trigger_event_id(std::string(trigger_event_id));
  return cand;
}

}  // namespace

internal::Candidate Engine::Impl::NewCandidate(const Campaign& c,
                                               const CallState& s,
                                               std::string trigger,
                                               const v1::Event& event) const {
  return MakeCandidate(c, s, std::move(trigger),
                       internal::EventOccurrence(event), event.event_id());
}

internal::Candidate Engine::Impl::NewCandidate(const Campaign& c,
                                               const CallState& s,
                                               std::string trigger,
                                               const v1::Timer& timer) const {
  return MakeCandidate(c, s, std::move(trigger),
                       internal::TimerOccurrence(timer), timer.timer_id());
}

namespace {

v1::Money MoneyOf(int64_t minor, const std::string& currency) {
  v1::Money m;
  m.set_minor_units(minor);
  m.set_currency(currency);
  return m;
}

}  // namespace

void Engine::Impl::FillCoupon(const CallState& s, int64_t basis_minor,
                              v1::CouponPayload* coupon,
                              Candidate* cand) const {
  const Campaign& c = *cand->campaign;
  const v1::CouponSpec& spec = *c.coupon;
  const v1::CustomerProfile& p = *s.profile;
  int32_t percent = spec.percent_off();
  int64_t amount = spec.amount_off_minor();
  const v1::Variant* v = c.VariantFor(p.customer_id());
  if (v != nullptr && v->percent_off() > 0) {
    percent = v->percent_off();
    amount = 0;
  }
  coupon->set_code(internal::CouponCode(c.name(), p.customer_id(),
                                        cand->trigger, cand->occurrence));
  const std::string& currency = rules.default_currency();
  if (amount > 0) {
    *coupon->mutable_amount_off() = MoneyOf(amount, currency);
  } else {
    coupon->set_percent_off(percent);
  }
  if (spec.min_order_value_minor() > 0) {
    *coupon->mutable_min_order_value() =
        MoneyOf(spec.min_order_value_minor(), currency);
  }
  basis_minor = std::max(basis_minor, spec.min_order_value_minor());
  cand->has_coupon = true;
  cand->coupon_value_minor = amount > 0 ? amount : basis_minor * percent / 100;
  internal::AddFact(&cand->decision, "coupon_value_minor",
                    cand->coupon_value_minor);
}

void Engine::Impl::Recommend(
    const v1::CustomerProfile& p, int64_t now_ms,
    absl::string_view exclude_product_id,
    google::protobuf::RepeatedPtrField<std::string>* out) const {
  auto acceptable = [&](const std::string& id) {
    if (id.empty() || id == exclude_product_id || InCart(p, id)) return false;
    // Every product ever bought (the hash set), and the recent purchases of
    // a profile written before the set existed.
    if (internal::InPurchasedSet(p, id)) return false;
    for (const std::string& bought : p.purchased_product_ids()) {
      if (bought == id) return false;
    }
    for (const std::string& taken : *out) {
      if (taken == id) return false;
    }
    return true;
  };
  const auto& recent = p.recent_viewed_product_ids();
  for (int i = recent.size() - 1; i >= 0; --i) {
    if (out->size() >= max_recommendations) return;
    if (acceptable(recent.Get(i))) out->Add()->assign(recent.Get(i));
  }
  if (out->size() >= max_recommendations) return;
  std::vector<std::pair<double, const std::string*>> scored;
  scored.reserve(p.product_affinity_size());
  for (const v1::Affinity& a : p.product_affinity()) {
    if (signal_horizon_ms > 0 && now_ms - a.updated_at_ms() > signal_horizon_ms)
      continue;
    scored.emplace_back(internal::DecayedScore(a, half_life_hours, now_ms),
                        &a.id());
  }
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first > b.first;
    return *a.second < *b.second;
  });
  for (const auto& [score, id] : scored) {
    if (out->size() >= max_recommendations) return;
    if (acceptable(*id)) out->Add()->assign(*id);
  }
}

// --- Events ------------------------------------------------------------------

void Engine::Impl::OnEvent(const v1::Event& event, CallState& s) const {
  SetCartTimers(event, s);

  // Escalation first: when it is sent, the other candidates of this event
  // are suppressed, and the automated nudges of the following
  // pause_automation_days too (guard 2).
  bool escalated = false;
  if (std::optional<Candidate> c = HumanEscalation(event, s)) {
    const GuardResult r = Guard(std::move(*c), s);
    v1::Dissatisfaction* dis = s.profile->mutable_dissatisfaction();
    if (r == GuardResult::kSent || r == GuardResult::kHeldOut) {
      dis->set_escalated_at_ms(s.now_ms);
    }
    escalated = r == GuardResult::kSent;
    if (escalated) dis->set_escalation_sent_at_ms(s.now_ms);
  }
  // The other campaigns make their candidates in evaluation order; then
  // arbitration decides between them (at most one sent per channel).
  std::vector<Candidate> candidates;
  auto add = [&candidates](std::optional<Candidate> c) {
    if (c.has_value()) candidates.push_back(std::move(*c));
  };
  add(ServiceRecovery(event, s));
  add(Loyalty(event, s));
  add(WinBack(event, s));
  add(FirstOrder(event, s));
  add(CartThreshold(event, s));
  add(BrowseAbandonment(event, s));
  if (escalated) {
    for (Candidate& c : candidates) {
      Suppress(c, internal::kEscalatedToAgent, s);
    }
    return;
  }
  Arbitrate(candidates, s);
}

std::optional<internal::Candidate> Engine::Impl::HumanEscalation(
    const v1::Event& event, const CallState& s) const {
  if (!human_escalation.enabled()) return std::nullopt;
  if (!event.has_order_returned() && !event.has_order_cancelled()) {
    return std::nullopt;
  }
  const v1::HumanEscalationRule& rule = rules.human_escalation();
  const v1::CustomerProfile& p = *s.profile;
  if (p.lifetime_value().minor_units() < rule.min_lifetime_value_minor()) {
    return std::nullopt;
  }
  const int64_t period_ms = rule.period_days() * kDayMs;
  const v1::Dissatisfaction& dis = p.dissatisfaction();
  if (dis.escalated_at_ms() > 0 &&
      s.now_ms - dis.escalated_at_ms() < period_ms) {
    return std::nullopt;
  }
  int64_t incidents = 0;
  for (const auto* list : {&dis.returns_at_ms(), &dis.cancellations_at_ms()}) {
    for (int64_t t : *list) {
      if (t > s.now_ms - period_ms && t <= s.now_ms) ++incidents;
    }
  }
  if (incidents < rule.min_incidents()) return std::nullopt;
  const bool returned = event.has_order_returned();
  const std::string& order_id = returned ? event.order_returned().order_id()
                                         : event.order_cancelled().order_id();
  Candidate cand = NewCandidate(
      human_escalation, s,
      absl::StrCat("order:", order_id, returned ? ":returned" : ":cancelled"),
      event);
  v1::Decision& d = cand.decision;
  d.add_reason_codes("dissatisfied_valuable_customer");
  internal::AddFact(&d, "lifetime_value_minor",
                    p.lifetime_value().minor_units());
  internal::AddFact(&d, "incidents", incidents);
  internal::AddFact(&d, "period_days", rule.period_days());
  internal::AddFact(&d, "order_id", order_id);
  v1::AgentEscalationPayload* payload = d.mutable_agent_escalation();
  payload->set_queue(rule.queue());
  payload->set_summary_code(
      absl::StrCat("returns_and_cancellations_", rule.period_days(), "d"));
  return cand;
}

namespace {

// Order value a percentage coupon is estimated against.
int64_t CouponBasis(const v1::CustomerProfile& p) {
  if (p.cart().value().minor_units() > 0) return p.cart().value().minor_units();
  return p.last_order().total().minor_units();
}

}  // namespace

std::optional<internal::Candidate> Engine::Impl::ServiceRecovery(
    const v1::Event& event, const CallState& s) const {
  if (!service_recovery.enabled()) return std::nullopt;
  const bool returned = event.has_order_returned();
  if (!returned && !event.has_order_cancelled()) return std::nullopt;
  const std::string& order_id = returned ? event.order_returned().order_id()
                                         : event.order_cancelled().order_id();
  const std::string& reason = returned ? event.order_returned().reason()
                                       : event.order_cancelled().reason();
  Candidate cand = NewCandidate(
      service_recovery, s,
      absl::StrCat("order:", order_id, returned ? ":returned" : ":cancelled"),
      event);
  v1::Decision& d = cand.decision;
  d.add_reason_codes(returned ? "order_returned" : "order_cancelled");
  internal::AddFact(&d, "order_id", order_id);
  if (!reason.empty()) internal::AddFact(&d, "reason", reason);
  FillCoupon(s, CouponBasis(*s.profile), d.mutable_coupon(), &cand);
  return cand;
}

std::optional<internal::Candidate> Engine::Impl::Loyalty(
    const v1::Event& event, const CallState& s) const {
  if (!loyalty.enabled() || !event.has_order_placed()) return std::nullopt;
  const int64_t orders = s.profile->orders();
  const auto& tiers = rules.loyalty_coupon().order_tiers();
  if (std::find(tiers.begin(), tiers.end(), orders) == tiers.end()) {
    return std::nullopt;
  }
  Candidate cand = NewCandidate(
      loyalty, s, absl::StrCat("order:", event.order_placed().order_id()),
      event);
  v1::Decision& d = cand.decision;
  d.add_reason_codes(absl::StrCat("loyalty_tier_", orders));
  internal::AddFact(&d, "orders", orders);
  internal::AddFact(&d, "order_id", event.order_placed().order_id());
  FillCoupon(s, CouponBasis(*s.profile), d.mutable_coupon(), &cand);
  return cand;
}

std::optional<internal::Candidate> Engine::Impl::WinBack(
    const v1::Event& event, const CallState& s) const {
  if (!win_back.enabled() || !IsClickstream(event)) return std::nullopt;
  const v1::WinBackCouponRule& rule = rules.win_back_coupon();
  const v1::CustomerProfile& p = *s.profile;
  if (p.orders() < rule.min_orders() || p.previous_seen_ms() <= 0) {
    return std::nullopt;
  }
  const int64_t inactive_ms = s.now_ms - p.previous_seen_ms();
  if (inactive_ms <= rule.inactive_days() * kDayMs) return std::nullopt;
  Candidate cand = NewCandidate(
      win_back, s, absl::StrCat("inactive_since:", p.previous_seen_ms()),
      event);
  v1::Decision& d = cand.decision;
  const int64_t days = inactive_ms / kDayMs;
  d.add_reason_codes("win_back");
  d.add_reason_codes(absl::StrCat("inactive_", days, "d"));
  internal::AddFact(&d, "inactive_days", days);
  internal::AddFact(&d, "orders", p.orders());
  FillCoupon(s, CouponBasis(p), d.mutable_coupon(), &cand);
  return cand;
}

std::optional<internal::Candidate> Engine::Impl::FirstOrder(
    const v1::Event& event, CallState& s) const {
  if (!first_order.enabled() || !event.has_cart_add()) return std::nullopt;
  const v1::CustomerProfile& p = *s.profile;
  const int64_t value = p.cart().value().minor_units();
  if (p.orders() != 0 ||
      value < rules.first_order_coupon().min_cart_value_minor()) {
    return std::nullopt;
  }
  const v1::CampaignState* st =
      internal::FindCampaignState(p, first_order.name());
  if (st != nullptr && st->issued() > 0) return std::nullopt;
  // Offered at most once per session until issued.
  const std::string session = SessionOf(event, p);
  if (!MarkTrigger(s.profile, first_order.name(),
                   TriggerRef({"session", session}))) {
    return std::nullopt;
  }
  Candidate cand =
      NewCandidate(first_order, s, absl::StrCat("session:", session), event);
  v1::Decision& d = cand.decision;
  d.add_reason_codes("first_order");
  internal::AddFact(&d, "cart_value_minor", value);
  internal::AddFact(&d, "orders", 0);
  FillCoupon(s, value, d.mutable_coupon(), &cand);
  return cand;
}

std::optional<internal::Candidate> Engine::Impl::CartThreshold(
    const v1::Event& event, CallState& s) const {
  if (!cart_threshold.enabled() || !event.has_cart_add()) return std::nullopt;
  const v1::CustomerProfile& p = *s.profile;
  const v1::LineItem& item = event.cart_add().item();
  const int64_t after = p.cart().value().minor_units();
  const int64_t before = after - static_cast<int64_t>(item.quantity()) *
                                     item.unit_price().minor_units();
  const int64_t threshold =
      rules.cart_threshold_coupon().min_cart_value_minor();
  if (!(before < threshold && threshold <= after)) return std::nullopt;
  // Once per session: later crossings in the same session do nothing.
  const std::string session = SessionOf(event, p);
  if (!MarkTrigger(s.profile, cart_threshold.name(),
                   TriggerRef({"session", session}))) {
    return std::nullopt;
  }
  Candidate cand = NewCandidate(
      cart_threshold, s,
      absl::StrCat("session:", session, ":cart:v", p.cart().version()), event);
  v1::Decision& d = cand.decision;
  d.add_reason_codes("cart_value_above_threshold");
  internal::AddFact(&d, "cart_value_minor", after);
  internal::AddFact(&d, "cart_value_before_minor", before);
  internal::AddFact(&d, "threshold_minor", threshold);
  FillCoupon(s, after, d.mutable_coupon(), &cand);
  return cand;
}

std::optional<internal::Candidate> Engine::Impl::BrowseAbandonment(
    const v1::Event& event, CallState& s) const {
  if (!browse_abandonment.enabled()) return std::nullopt;
  const v1::BrowseAbandonmentRule& rule = rules.browse_abandonment();
  const v1::CustomerProfile& p = *s.profile;
  std::string product_id;
  std::string category_id;
  if (event.has_product_view()) {
    product_id = event.product_view().product_id();
    category_id = event.product_view().category_id();
  } else if (event.has_page_view()) {
    category_id = event.page_view().category_id();
  } else {
    return std::nullopt;
  }
  const std::string session = SessionOf(event, p);
  std::string trigger;
  int64_t views = 0;
  // The view that makes the session's count reach the threshold fires.
  const v1::Affinity* a = product_id.empty()
                              ? nullptr
                              : FindAffinity(p.product_affinity(), product_id);
  if (a != nullptr && a->views() == rule.min_product_views() &&
      !InCart(p, product_id)) {
    if (!MarkTrigger(s.profile, browse_abandonment.name(),
                     TriggerRef({session, "product", product_id}))) {
      return std::nullopt;
    }
    trigger = absl::StrCat("session:", session, ":product:", product_id);
    views = a->views();
    category_id.clear();
  } else {
    // A product already past its own threshold was the product nudge's
    // business; its views do not make a category nudge as well.
    if (a != nullptr && a->views() >= rule.min_product_views()) {
      return std::nullopt;
    }
    product_id.clear();
    const v1::Affinity* ca =
        category_id.empty() || rule.min_category_views() <= 0
            ? nullptr
            : FindAffinity(p.category_affinity(), category_id);
    if (ca == nullptr || ca->views() != rule.min_category_views()) {
      return std::nullopt;
    }
    if (!MarkTrigger(s.profile, browse_abandonment.name(),
                     TriggerRef({session, "category", category_id}))) {
      return std::nullopt;
    }
    trigger = absl::StrCat("session:", session, ":category:", category_id);
    views = ca->views();
  }
  Candidate cand =
      NewCandidate(browse_abandonment, s, std::move(trigger), event);
  v1::Decision& d = cand.decision;
  d.add_reason_codes(product_id.empty() ? "browse_abandoned_category"
                                        : "browse_abandoned_product");
  if (!product_id.empty()) internal::AddFact(&d, "product_id", product_id);
  if (!category_id.empty()) internal::AddFact(&d, "category_id", category_id);
  internal::AddFact(&d, "session_views", views);
  v1::PushPayload* push = d.mutable_push();
  push->set_template_id(browse_abandonment.TemplateFor(p.customer_id()));
  push->set_product_id(product_id);
  push->set_category_id(category_id);
  Recommend(p, s.now_ms, product_id, push->mutable_recommended_product_ids());
  return cand;
}

// --- Timers ------------------------------------------------------------------

void Engine::Impl::OnTimer(const v1::Timer& timer, CallState& s) const {
  switch (timer.kind()) {
    case v1::TIMER_KIND_CART_REMINDER:
      CartReminderTimer(timer, s);
      return;
    case v1::TIMER_KIND_DEFERRED_DECISION:
      DeferredDecisionTimer(timer, s);
      return;
    default:
      return;
  }
}

void Engine::Impl::DeferredDecisionTimer(const v1::Timer& timer,
                                         CallState& s) const {
  Candidate cand;
  if (!cand.decision.ParseFromString(timer.deferred())) return;
  v1::Decision& d = cand.decision;
  cand.campaign = FindCampaign(d.campaign());
  if (cand.campaign == nullptr) return;  // Disabled or removed since.
  const v1::CustomerProfile& p = *s.profile;
  if (d.customer_id() != p.customer_id()) return;
  // Re-check what may have changed overnight.
  if (d.has_cart_reminder()) {
    if (!CartStillAbandoned(p, timer.trigger_ref(), s.now_ms)) return;
    RelistRemindedLines(p.cart(), s.now_ms, &d);
  }
  if (cand.campaign == &first_order && p.orders() != 0) return;
  cand.trigger_ref = timer.trigger_ref();
  if (internal::FindFact(d, "deferred_from_ms") == nullptr) {
    internal::AddFact(&d, "deferred_from_ms", d.created_at_ms());
  }
  d.set_created_at_ms(s.now_ms);
  d.set_expires_at_ms(
      s.now_ms + cand.campaign->common->expires_after_minutes() * kMinuteMs);
  const bool has_coupon = d.has_coupon() || (d.has_cart_reminder() &&
                                             d.cart_reminder().has_coupon());
  if (has_coupon) {
    cand.has_coupon = true;
    cand.coupon_optional = d.has_cart_reminder();
    if (const std::string* v = internal::FindFact(d, "coupon_value_minor")) {
      cand.coupon_value_minor = std::strtoll(v->c_str(), nullptr, 10);
    }
  }
  Guard(std::move(cand), s);
}

}  // namespace tailor::decide
