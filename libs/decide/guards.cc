// The guards every candidate decision passes, in the order documented in
// libs/decide/README.md, and the bookkeeping of sent decisions.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/civil_time.h"
#include "libs/decide/internal.h"
#include "libs/decide/rules.h"

namespace tailor::decide {

namespace v1 = ::tailor::v1;
using internal::kMinuteMs;

namespace {

bool Consented(const v1::CustomerProfile& p, v1::Channel channel) {
  if (channel == v1::CHANNEL_AGENT) return true;
  for (int c : p.consented_channels()) {
    if (c == channel) return true;
  }
  return false;
}

// Quiet hours apply to channels that interrupt the customer. ONSITE is only
// seen while the customer is on the site, AGENT is an internal queue.
bool QuietHoursApply(v1::Channel channel) {
  return channel == v1::CHANNEL_PUSH || channel == v1::CHANNEL_EMAIL;
}

const v1::ChannelStats* FindChannelStats(const v1::CustomerProfile& p,
                                         v1::Channel channel) {
  for (const v1::ChannelStats& s : p.channel_stats()) {
    if (s.channel() == channel) return &s;
  }
  return nullptr;
}

// A human took over: an escalation was sent less than the pause ago.
bool AgentHandlesCustomer(const v1::CustomerProfile& p, int64_t pause_ms,
                          int64_t now) {
  const int64_t sent = p.dissatisfaction().escalation_sent_at_ms();
  return pause_ms > 0 && sent > 0 && now - sent < pause_ms;
}

v1::BudgetUsage* FindBudget(v1::PartitionState* ps, absl::string_view campaign,
                            int64_t day) {
  for (v1::BudgetUsage& b : *ps->mutable_budgets()) {
    if (b.epoch_day() == day && b.campaign() == campaign) return &b;
  }
  return nullptr;
}

// The coupon a decision carries, or nullptr.
const v1::CouponPayload* CouponOf(const v1::Decision& d) {
  if (d.has_coupon()) return &d.coupon();
  if (d.has_cart_reminder() && d.cart_reminder().has_coupon()) {
    return &d.cart_reminder().coupon();
  }
  return nullptr;
}

// Messages the daily budget counts: everything but the agent queue.
bool CountsAsMessage(v1::Channel channel) {
  return channel != v1::CHANNEL_AGENT;
}

}  // namespace

void Engine::Impl::Arbitrate(std::vector<Candidate>& candidates,
                             CallState& s) const {
  // Rank, then evaluation order (the vector's order): a total order.
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) {
                     return a.campaign->rank < b.campaign->rank;
                   });
  struct Winner {
    v1::Channel channel;
    std::string decision_id;
    const Campaign* campaign;
  };
  std::vector<Winner> winners;  // Few channels: a flat list.
  for (Candidate& cand : candidates) {
    const v1::Channel channel = cand.decision.channel();
    const Winner* winner = nullptr;
    for (const Winner& w : winners) {
      if (w.channel == channel) winner = &w;
    }
    if (winner != nullptr) {
      cand.decision.set_arbitration_winner_id(winner->decision_id);
      internal::AddFact(&cand.decision, "arbitration_winner_campaign",
                        winner->campaign->name());
      Suppress(cand, internal::kArbitration, s);
      continue;
    }
    Winner w{channel, cand.decision.decision_id(), cand.campaign};
    // A held-out or deferred candidate takes the channel too: a held-out
    // customer must be treated like the others minus the message, and a
    // deferred one is sent later.
    if (Guard(std::move(cand), s) != GuardResult::kSuppressed) {
      winners.push_back(std::move(w));
    }
  }
}

int64_t Engine::Impl::MessageBudgetStart(const v1::CustomerProfile& p,
                                         int64_t now_ms) const {
  if (rules.arbitration().message_budget_window() ==
      v1::MESSAGE_BUDGET_WINDOW_ROLLING_24H) {
    return now_ms - internal::kDayMs + 1;
  }
  absl::TimeZone storage;
  const absl::TimeZone& zone = ZoneOf(p, &storage);
  const absl::CivilDay today(zone.At(absl::FromUnixMillis(now_ms)).cs);
  return absl::ToUnixMillis(absl::FromCivil(today, zone));
}

const absl::TimeZone& Engine::Impl::ZoneOf(const v1::CustomerProfile& p,
                                           absl::TimeZone* storage) const {
  const std::string& name = p.context().time_zone();
  if (!name.empty() && absl::LoadTimeZone(name, storage)) return *storage;
  return default_zone;
}

void Engine::Impl::Suppress(Candidate& cand, absl::string_view why,
                            CallState& s) const {
  cand.decision.set_action(v1::DECISION_ACTION_SUPPRESSED);
  cand.decision.set_suppression(std::string(why));
  s.out->decisions.push_back(std::move(cand.decision));
}

Engine::Impl::GuardResult Engine::Impl::Guard(Candidate cand,
                                              CallState& s) const {
  const Campaign& c = *cand.campaign;
  v1::Decision& d = cand.decision;
  v1::CustomerProfile& p = *s.profile;
  const int64_t now = s.now_ms;

  // 2. Agent hand-over: automated nudges wait while a human handles the
  // customer.
  if (c.paused_by_escalation &&
      AgentHandlesCustomer(p, escalation_pause_ms, now)) {
    Suppress(cand, internal::kEscalatedToAgent, s);
    return GuardResult::kSuppressed;
  }
  // 3. Consent.
  if (!Consented(p, d.channel())) {
    Suppress(cand, internal::kNoConsent, s);
    return GuardResult::kSuppressed;
  }
  const v1::CampaignState* state = internal::FindCampaignState(p, c.name());
  // 4. Lifetime limit per customer.
  if (c.common->max_per_customer() > 0 && state != nullptr &&
      state->issued() >= c.common->max_per_customer()) {
    Suppress(cand, internal::kCustomerLimit, s);
    return GuardResult::kSuppressed;
  }
  // 5. Cooldown of the campaign.
  if (c.common->cooldown_minutes() > 0 && state != nullptr &&
      state->last_sent_at_ms() > 0 &&
      now - state->last_sent_at_ms() <
          c.common->cooldown_minutes() * kMinuteMs) {
    Suppress(cand, internal::kCooldown, s);
    return GuardResult::kSuppressed;
  }
  // 6. Frequency caps of the channel (rolling windows).
  const v1::ChannelStats* stats = FindChannelStats(p, d.channel());
  for (const Cap& cap : caps) {
    if (cap.channel != d.channel()) continue;
    int64_t sent = 0;
    if (stats != nullptr) {
      for (int64_t t : stats->recent_sent_at_ms()) {
        if (t > now - cap.period_ms && t <= now) ++sent;
      }
    }
    if (sent >= cap.max) {
      Suppress(cand, internal::kFrequencyCap, s);
      return GuardResult::kSuppressed;
    }
  }
  // 7. Daily message budget across channels.
  const v1::ArbitrationSpec& arb = rules.arbitration();
  if (arb.max_messages_per_day() > 0 && CountsAsMessage(d.channel())) {
    const int64_t from = MessageBudgetStart(p, now);
    int64_t sent = 0;
    for (int64_t t : p.messages_sent_at_ms()) {
      if (t >= from && t <= now) ++sent;
    }
    if (sent >= arb.max_messages_per_day()) {
      internal::AddFact(&d, "messages_in_window", sent);
      Suppress(cand, internal::kMessageBudget, s);
      return GuardResult::kSuppressed;
    }
  }
  // 8. No coupon stacking: at most max_active_coupons unexpired, unredeemed
  // coupons. Recomputed when a deferred decision fires.
  d.clear_replaces_coupon_code();
  if (cand.has_coupon && max_active_coupons > 0) {
    int active = 0;
    const v1::ActiveCoupon* oldest = nullptr;
    const v1::ActiveCoupon* newest = nullptr;
    for (const v1::ActiveCoupon& ac : p.active_coupons()) {
      if (ac.expires_at_ms() <= now) continue;
      ++active;
      if (oldest == nullptr) oldest = &ac;
      newest = &ac;
    }
    if (active >= max_active_coupons) {
      if (c.replaces_active_coupon) {
        d.set_replaces_coupon_code(oldest->code());
      } else if (cand.coupon_optional) {
        d.mutable_cart_reminder()->clear_coupon();
        internal::AddFact(&d, "coupon_withheld", internal::kCouponActive);
        cand.has_coupon = false;
      } else {
        internal::AddFact(&d, "active_coupon_code", newest->code());
        Suppress(cand, internal::kCouponActive, s);
        return GuardResult::kSuppressed;
      }
    }
  }
  // 9. Coupon budget of the campaign, per UTC day: this partition's share
  // of the shop-wide budget (which may be 0).
  const int64_t day = internal::EpochDay(now);
  if (cand.has_coupon && c.coupon != nullptr) {
    const v1::BudgetUsage* used = FindBudget(s.partition, c.name(), day);
    const int64_t count = used != nullptr ? used->count() : 0;
    const int64_t value = used != nullptr ? used->value_minor() : 0;
    const int64_t count_share =
        internal::BudgetShare(c.coupon->daily_budget_count(), *s.partition);
    const int64_t value_share = internal::BudgetShare(
        c.coupon->daily_budget_value_minor(), *s.partition);
    const bool exhausted =
        (c.coupon->daily_budget_count() > 0 && count >= count_share) ||
        (c.coupon->daily_budget_value_minor() > 0 &&
         value + cand.coupon_value_minor > value_share);
    if (exhausted && cand.coupon_optional) {
      d.mutable_cart_reminder()->clear_coupon();
      internal::AddFact(&d, "coupon_withheld", internal::kBudgetExhausted);
      cand.has_coupon = false;
    } else if (exhausted) {
      Suppress(cand, internal::kBudgetExhausted, s);
      return GuardResult::kSuppressed;
    }
  }
  // 10. Quiet hours in the customer's time zone: defer to the window's end.
  if (QuietHoursApply(d.channel())) {
    absl::TimeZone storage;
    const std::optional<int64_t> end =
        internal::QuietHoursEnd(rules.quiet_hours(), ZoneOf(p, &storage), now);
    if (end.has_value()) {
      v1::Timer& t = s.out->timers.emplace_back();
      t.set_customer_id(p.customer_id());
      t.set_fire_at_ms(*end);
      t.set_kind(v1::TIMER_KIND_DEFERRED_DECISION);
      t.set_timer_id("deferred/" + d.decision_id());
      t.set_campaign(c.name());
      if (d.has_cart_reminder()) t.set_step(d.cart_reminder().step());
      t.set_trigger_ref(cand.trigger_ref);
      d.SerializeToString(t.mutable_deferred());
      return GuardResult::kDeferred;
    }
  }
  // 11. Holdout: logged, never delivered; counts for cooldown and limits.
  // The shop-wide control group first (an agent escalation is service, not
  // a nudge: it is never held out globally), then the campaign's own.
  v1::CampaignState* mstate = internal::MutableCampaignState(&p, c.name());
  mstate->set_last_sent_at_ms(now);
  mstate->set_issued(mstate->issued() + 1);
  const bool global_control =
      d.channel() != v1::CHANNEL_AGENT &&
      InGlobalControl(rules.control_group(), p.customer_id());
  if (global_control || c.HeldOut(p.customer_id())) {
    d.set_action(v1::DECISION_ACTION_HOLD_OUT);
    d.set_holdout(std::string(global_control ? internal::kGlobalControl
                                             : internal::kCampaignHoldout));
    s.out->decisions.push_back(std::move(d));
    return GuardResult::kHeldOut;
  }
  // 12. The variant was assigned when the candidate was built. Send.
  d.set_action(v1::DECISION_ACTION_SEND);

  // Bookkeeping of a sent decision: channel stats and caps' window.
  v1::ChannelStats* ms = nullptr;
  for (v1::ChannelStats& cs : *p.mutable_channel_stats()) {
    if (cs.channel() == d.channel()) ms = &cs;
  }
  if (ms == nullptr) {
    ms = p.add_channel_stats();
    ms->set_channel(d.channel());
  }
  ms->set_sent(ms->sent() + 1);
  int64_t longest = 0;
  for (const Cap& cap : caps) {
    if (cap.channel == d.channel()) longest = std::max(longest, cap.period_ms);
  }
  auto* recent = ms->mutable_recent_sent_at_ms();
  int kept = 0;
  for (int i = 0; i < recent->size(); ++i) {
    if (recent->Get(i) > now - longest) recent->Set(kept++, recent->Get(i));
  }
  recent->Truncate(kept);
  if (longest > 0) {
    recent->Add(now);
    std::sort(recent->begin(), recent->end());
  }
  // The daily message budget's history.
  if (CountsAsMessage(d.channel())) {
    auto* times = p.mutable_messages_sent_at_ms();
    int kept_times = 0;
    for (int i = 0; i < times->size(); ++i) {
      if (times->Get(i) > now - internal::kMessageHistoryMs) {
        times->Set(kept_times++, times->Get(i));
      }
    }
    times->Truncate(kept_times);
    times->Add(now);
    std::sort(times->begin(), times->end());
    if (times->size() > internal::kMaxMessageHistory) {
      times->erase(
          times->begin(),
          times->begin() + (times->size() - internal::kMaxMessageHistory));
    }
  }
  // Coupons and budgets.
  if (cand.has_coupon) {
    p.set_coupons_issued(p.coupons_issued() + 1);
    // The coupon takes a slot; expired ones and the one it replaces leave.
    auto* active = p.mutable_active_coupons();
    int kept_coupons = 0;
    for (int i = 0; i < active->size(); ++i) {
      const v1::ActiveCoupon& ac = active->Get(i);
      if (ac.expires_at_ms() <= now || ac.code() == d.replaces_coupon_code()) {
        continue;
      }
      if (kept_coupons != i) active->SwapElements(kept_coupons, i);
      ++kept_coupons;
    }
    active->DeleteSubrange(kept_coupons, active->size() - kept_coupons);
    if (active->size() >= internal::kMaxActiveCoupons) {
      active->DeleteSubrange(0,
                             active->size() - internal::kMaxActiveCoupons + 1);
    }
    if (const v1::CouponPayload* coupon = CouponOf(d)) {
      v1::ActiveCoupon* ac = active->Add();
      ac->set_code(coupon->code());
      ac->set_campaign(c.name());
      ac->set_decision_id(d.decision_id());
      ac->set_issued_at_ms(now);
      ac->set_expires_at_ms(d.expires_at_ms());
    }
    auto* budgets = s.partition->mutable_budgets();
    int keep = 0;  // Drop days before yesterday, keeping the order.
    for (int i = 0; i < budgets->size(); ++i) {
      if (budgets->Get(i).epoch_day() >= day - 1) {
        if (keep != i) budgets->SwapElements(keep, i);
        ++keep;
      }
    }
    budgets->DeleteSubrange(keep, budgets->size() - keep);
    v1::BudgetUsage* used = FindBudget(s.partition, c.name(), day);
    if (used == nullptr) {
      used = budgets->Add();
      used->set_campaign(c.name());
      used->set_epoch_day(day);
    }
    used->set_count(used->count() + 1);
    used->set_value_minor(used->value_minor() + cand.coupon_value_minor);
  }
  s.out->decisions.push_back(std::move(d));
  return GuardResult::kSent;
}

}  // namespace tailor::decide
