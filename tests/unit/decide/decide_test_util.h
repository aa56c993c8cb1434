// File: decide_test_util.h
// Test helpers for libs/decide: a scripted shopper whose profile is folded by
// a minimal stand-in for libs/profile (enough for the rules), civil-time
// helpers and one-line summaries of decisions. Single-threaded; owned by the
// test that creates it.
#ifndef TAILOR_TESTS_UNIT_DECIDE_DECIDE_TEST_UTIL_H_
#define TAILOR_TESTS_UNIT_DECIDE_DECIDE_TEST_UTIL_H_

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "libs/base/stable_hash.h"
#include "libs/decide/engine.h"

namespace tailor::decide::testing {

namespace v1 = ::tailor::v1;

inline constexpr int64_t kMin = 60'000;
inline constexpr int64_t kHour = 60 * kMin;
inline constexpr int64_t kDay = 24 * kHour;
// profile.recent_products of DefaultRules: purchased_product_ids keeps these.
inline constexpr int kRecentProducts = 20;

// Epoch ms of a local civil time in `zone`.
inline int64_t At(const std::string& zone, int y, int mo, int d, int h,
                  int mi = 0) {
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(zone, &tz)) std::abort();
  return absl::ToUnixMillis(
      absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0), tz));
}

// Tuesday 2024-03-05 10:00 in Warsaw: outside quiet hours.
inline int64_t T0() { return At("Europe/Warsaw", 2024, 3, 5, 10); }

// "campaign[#step] ACTION[/suppression][ +coupon]".
inline std::string Summary(const v1::Decision& d) {
  std::string s = d.campaign();
  if (d.has_cart_reminder()) absl::StrAppend(&s, "#", d.cart_reminder().step());
  switch (d.action()) {
    case v1::DECISION_ACTION_SEND:
      absl::StrAppend(&s, " SEND");
      break;
    case v1::DECISION_ACTION_HOLD_OUT:
      absl::StrAppend(&s, " HOLD_OUT");
      break;
    case v1::DECISION_ACTION_SUPPRESSED:
      absl::StrAppend(&s, " SUPPRESSED/", d.suppression());
      break;
    default:
      absl::StrAppend(&s, " ?");
  }
  if (d.has_cart_reminder() && d.cart_reminder().has_coupon()) {
    absl::StrAppend(&s, " +coupon");
  }
  return s;
}

// The rules most tests run: DefaultRules without holdout or variants, so
// that every decision of a consenting customer is SEND.
inline v1::RulesConfig TestRules() {
  v1::RulesConfig r = DefaultRules();
  for (v1::CampaignCommon* c :
       {r.mutable_abandoned_cart()->mutable_common(),
        r.mutable_browse_abandonment()->mutable_common(),
        r.mutable_first_order_coupon()->mutable_common(),
        r.mutable_cart_threshold_coupon()->mutable_common(),
        r.mutable_win_back_coupon()->mutable_common(),
        r.mutable_loyalty_coupon()->mutable_common(),
        r.mutable_service_recovery_coupon()->mutable_common(),
        r.mutable_human_escalation()->mutable_common()}) {
    c->set_holdout_percent(0);
    c->clear_variants();
  }
  return r;
}

// A customer driven through a timeline. Folds each event into its profile
// the way libs/profile does for the fields the rules read, calls the engine,
// keeps the timers (same id replaces) and logs every decision.
class Shopper {
 public:
  Shopper(const Engine* engine, std::string id, v1::PartitionState* partition)
      : engine_(engine), partition_(partition) {
    profile_.set_customer_id(std::move(id));
    profile_.mutable_context()->set_time_zone("Europe/Warsaw");
    profile_.add_consented_channels(v1::CHANNEL_PUSH);
    profile_.add_consented_channels(v1::CHANNEL_EMAIL);
    profile_.add_consented_channels(v1::CHANNEL_ONSITE);
    profile_.set_orders(4);  // A known customer; no first-order/loyalty noise.
    profile_.set_last_seen_ms(T0() - kHour);
  }

  v1::CustomerProfile& profile() { return profile_; }
  const std::vector<v1::Decision>& decisions() const { return log_; }
  std::vector<std::string> summaries() const {
    std::vector<std::string> out;
    for (const v1::Decision& d : log_) out.push_back(Summary(d));
    return out;
  }
  const std::map<std::string, v1::Timer>& timers() const { return timers_; }
  void set_session(std::string s) { session_ = std::move(s); }

  // A product view; the category defaults to one of the product's own.
  void View(int64_t t, const std::string& product, std::string category = "") {
    if (category.empty()) category = "cat_" + product;
    v1::Event e = NewEvent(t);
    e.mutable_product_view()->set_product_id(product);
    e.mutable_product_view()->set_category_id(category);
    Bump(profile_.mutable_product_affinity(), product, t);
    Bump(profile_.mutable_category_affinity(), category, t);
    profile_.add_recent_viewed_product_ids(product);
    Run(e);
  }

  void AddToCart(int64_t t, const std::string& product, int64_t price,
                 int quantity = 1) {
    v1::Event e = NewEvent(t);
    v1::LineItem* item = e.mutable_cart_add()->mutable_item();
    item->set_product_id(product);
    item->set_category_id("cat_" + product);
    item->set_quantity(quantity);
    item->mutable_unit_price()->set_minor_units(price);
    item->mutable_unit_price()->set_currency("PLN");
    *profile_.mutable_cart()->add_items() = *item;
    profile_.mutable_cart()->add_item_added_at_ms(t);
    CartChanged(t, price * quantity);
    Run(e);
  }

  void RemoveFromCart(int64_t t, const std::string& product) {
    v1::Event e = NewEvent(t);
    e.mutable_cart_remove()->set_product_id(product);
    auto* items = profile_.mutable_cart()->mutable_items();
    for (int i = 0; i < items->size(); ++i) {
      if (items->Get(i).product_id() == product) {
        CartChanged(t, -items->Get(i).quantity() *
                           items->Get(i).unit_price().minor_units());
        items->DeleteSubrange(i, 1);
        auto* times = profile_.mutable_cart()->mutable_item_added_at_ms();
        times->erase(times->begin() + i);
        break;
      }
    }
    Run(e);
  }

  void Order(int64_t t, const std::string& order_id, int64_t total,
             bool with_coupon = false) {
    v1::Event e = NewEvent(t);
    e.mutable_order_placed()->set_order_id(order_id);
    e.mutable_order_placed()->mutable_total()->set_minor_units(total);
    if (with_coupon) e.mutable_order_placed()->set_coupon_code("X");
    profile_.set_orders(profile_.orders() + 1);
    if (with_coupon) profile_.set_coupon_orders(profile_.coupon_orders() + 1);
    profile_.mutable_lifetime_value()->set_minor_units(
        profile_.lifetime_value().minor_units() + total);
    profile_.mutable_last_order()->set_order_id(order_id);
    profile_.mutable_last_order()->set_placed_at_ms(t);
    profile_.mutable_last_order()->mutable_total()->set_minor_units(total);
    for (const v1::LineItem& i : profile_.cart().items()) {
      Bought(i.product_id());
    }
    profile_.mutable_cart()->clear_items();
    profile_.mutable_cart()->clear_item_added_at_ms();
    profile_.mutable_cart()->clear_value();
    profile_.mutable_cart()->set_version(profile_.cart().version() + 1);
    profile_.mutable_cart()->set_updated_at_ms(t);
    Run(e);
  }

  void Return(int64_t t, const std::string& order_id) {
    v1::Event e = NewEvent(t);
    e.mutable_order_returned()->set_order_id(order_id);
    e.mutable_order_returned()->set_reason("damaged");
    profile_.mutable_dissatisfaction()->add_returns_at_ms(t);
    Run(e);
  }

  void Cancel(int64_t t, const std::string& order_id) {
    v1::Event e = NewEvent(t);
    e.mutable_order_cancelled()->set_order_id(order_id);
    e.mutable_order_cancelled()->set_reason("late_delivery");
    profile_.mutable_dissatisfaction()->add_cancellations_at_ms(t);
    profile_.set_orders(std::max<int64_t>(0, profile_.orders() - 1));
    Run(e);
  }

  // A coupon was redeemed: as libs/profile, its entry leaves active_coupons.
  void Redeem(int64_t t, const std::string& code) {
    v1::Event e = NewEvent(t);
    e.mutable_coupon_redeemed()->set_coupon_code(code);
    auto* active = profile_.mutable_active_coupons();
    for (int i = 0; i < active->size(); ++i) {
      if (active->Get(i).code() == code) {
        active->DeleteSubrange(i, 1);
        break;
      }
    }
    Run(e);
  }

  // The code of the last SEND decision of `campaign` that carries a coupon,
  // or "".
  std::string LastCouponCode(const std::string& campaign) const {
    std::string code;
    for (const v1::Decision& d : log_) {
      if (d.campaign() != campaign || d.action() != v1::DECISION_ACTION_SEND) {
        continue;
      }
      if (d.has_coupon()) code = d.coupon().code();
      if (d.has_cart_reminder() && d.cart_reminder().has_coupon()) {
        code = d.cart_reminder().coupon().code();
      }
    }
    return code;
  }

  void Deliver(int64_t t, const std::string& order_id) {
    v1::Event e = NewEvent(t);
    e.mutable_order_delivered()->set_order_id(order_id);
    Run(e);
  }

  // Stream time advances to `t`: fires due timers in (fire_at, id) order at
  // now = t, as the pipeline does after an idle gap.
  void AdvanceTo(int64_t t) {
    while (true) {
      auto due = timers_.end();
      for (auto it = timers_.begin(); it != timers_.end(); ++it) {
        if (it->second.fire_at_ms() <= t &&
            (due == timers_.end() ||
             it->second.fire_at_ms() < due->second.fire_at_ms())) {
          due = it;
        }
      }
      if (due == timers_.end()) return;
      const v1::Timer timer = due->second;
      timers_.erase(due);
      Outcome out;
      engine_->OnTimer(timer, t, &profile_, partition_, &out);
      Collect(out);
    }
  }

  // Like AdvanceTo, but each timer fires exactly at its fire time.
  void AdvanceExactlyTo(int64_t t) {
    while (true) {
      int64_t next = t + 1;
      for (const auto& [id, timer] : timers_) {
        next = std::min(next, timer.fire_at_ms());
      }
      if (next > t) return;
      AdvanceTo(next);
    }
  }

 private:
  v1::Event NewEvent(int64_t t) {
    v1::Event e;
    e.set_event_id(absl::StrCat(profile_.customer_id(), "-e", ++seq_));
    e.set_customer_id(profile_.customer_id());
    e.set_event_time_ms(t);
    e.mutable_context()->set_session_id(session_);
    if (profile_.last_session_id() != session_) {
      profile_.set_last_session_id(session_);
      for (auto* list : {profile_.mutable_product_affinity(),
                         profile_.mutable_category_affinity()}) {
        for (v1::Affinity& a : *list) a.set_views(0);
      }
    }
    profile_.set_previous_seen_ms(profile_.last_seen_ms());
    profile_.set_last_seen_ms(t);
    return e;
  }

  // As libs/profile: the last kRecentProducts ids, and every product in the
  // sorted set of StableHash64({id}).
  void Bought(const std::string& product) {
    auto* ids = profile_.mutable_purchased_product_ids();
    ids->Add()->assign(product);
    if (ids->size() > kRecentProducts) ids->DeleteSubrange(0, 1);
    auto* set = profile_.mutable_purchased_product_hashes();
    const uint64_t h = StableHash64({product});
    auto at = std::lower_bound(set->begin(), set->end(), h);
    if (at == set->end() || *at != h) set->Add(h);
    std::sort(set->begin(), set->end());
  }

  static void Bump(google::protobuf::RepeatedPtrField<v1::Affinity>* list,
                   const std::string& id, int64_t t) {
    for (v1::Affinity& a : *list) {
      if (a.id() == id) {
        a.set_views(a.views() + 1);
        a.set_score(a.score() + 1);
        a.set_updated_at_ms(t);
        return;
      }
    }
    v1::Affinity* a = list->Add();
    a->set_id(id);
    a->set_views(1);
    a->set_score(1);
    a->set_updated_at_ms(t);
  }

  void CartChanged(int64_t t, int64_t delta) {
    v1::Cart* c = profile_.mutable_cart();
    c->mutable_value()->set_minor_units(c->value().minor_units() + delta);
    c->mutable_value()->set_currency("PLN");
    c->set_version(c->version() + 1);
    c->set_updated_at_ms(t);
  }

  void Run(const v1::Event& e) {
    Outcome out;
    engine_->OnEvent(e, &profile_, partition_, &out);
    Collect(out);
  }

  void Collect(const Outcome& out) {
    for (const v1::Decision& d : out.decisions) log_.push_back(d);
    for (const v1::Timer& t : out.timers) {
      EXPECT_EQ(t.customer_id(), profile_.customer_id());
      timers_[t.timer_id()] = t;
    }
  }

  const Engine* engine_;
  v1::PartitionState* partition_;
  v1::CustomerProfile profile_;
  std::string session_ = "s1";
  int seq_ = 0;
  std::map<std::string, v1::Timer> timers_;
  std::vector<v1::Decision> log_;
};

}  // namespace tailor::decide::testing

#endif  // TAILOR_TESTS_UNIT_DECIDE_DECIDE_TEST_UTIL_H_
