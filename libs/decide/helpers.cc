// Pure helpers of the decision engine: occurrences, ids, coupon codes, decay,
// quiet hours, purchased products, budget shares, facts.
#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "libs/base/stable_hash.h"
#include "libs/decide/internal.h"

namespace tailor::decide::internal {

namespace v1 = ::tailor::v1;

const v1::Variant* Campaign::VariantFor(absl::string_view customer_id) const {
  if (cumulative_weights.empty()) return nullptr;
  const double u = StableUnitInterval({salt, customer_id, "variant"}) *
                   cumulative_weights.back();
  for (size_t i = 0; i < cumulative_weights.size(); ++i) {
    if (u < cumulative_weights[i])
      return &common->variants(static_cast<int>(i));
  }
  return &common->variants(common->variants_size() - 1);
}

const std::string& Campaign::TemplateFor(absl::string_view customer_id) const {
  const v1::Variant* v = VariantFor(customer_id);
  if (v != nullptr && !v->template_id().empty()) return v->template_id();
  return common->template_id();
}

bool Campaign::HeldOut(absl::string_view customer_id) const {
  if (common->holdout_percent() <= 0) return false;
  return StableUnitInterval({salt, customer_id, "holdout"}) * 100.0 <
         common->holdout_percent();
}

std::string EventOccurrence(const v1::Event& event) {
  return absl::StrCat("event:", event.event_time_ms(), ":", event.event_id());
}

std::string TimerOccurrence(const v1::Timer& timer) {
  return absl::StrCat("timer:", timer.fire_at_ms(), ":", timer.timer_id());
}

std::string DecisionId(absl::string_view campaign,
                       absl::string_view customer_id, absl::string_view trigger,
                       absl::string_view occurrence) {
  return StableHashHex128({campaign, customer_id, trigger, occurrence});
}

std::string CouponCode(absl::string_view campaign,
                       absl::string_view customer_id, absl::string_view trigger,
                       absl::string_view occurrence) {
  static constexpr char kBase32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::string code;
  code.reserve(24);
  for (char ch : campaign) {
    if (code.size() == 12) break;
    if (absl::ascii_isalnum(static_cast<unsigned char>(ch))) {
      code.push_back(absl::ascii_toupper(static_cast<unsigned char>(ch)));
    }
  }
  code.push_back('-');
  uint64_t h =
      StableHash64({"coupon", campaign, customer_id, trigger, occurrence});
  for (int i = 0; i < 10; ++i) {
    code.push_back(kBase32[h & 31]);
    h >>= 5;
  }
  return code;
}

double DecayedScore(const v1::Affinity& a, double half_life_hours,
                    int64_t now_ms) {
  if (half_life_hours <= 0 || now_ms <= a.updated_at_ms()) return a.score();
  const double hours =
      static_cast<double>(now_ms - a.updated_at_ms()) / kHourMs;
  return a.score() * std::exp2(-hours / half_life_hours);
}

int64_t EpochDay(int64_t ms) {
  int64_t day = ms / kDayMs;
  if (ms % kDayMs < 0) --day;
  return day;
}

std::optional<int64_t> QuietHoursEnd(const v1::QuietHours& qh,
                                     const absl::TimeZone& zone,
                                     int64_t now_ms) {
  const int start = qh.start_hour();
  const int end = qh.end_hour();
  if (start == end) return std::nullopt;
  const absl::Time now = absl::FromUnixMillis(now_ms);
  const absl::CivilSecond local = zone.At(now).cs;
  const int hour = local.hour();
  absl::CivilDay end_day(local);
  if (start < end) {  // Same-day window, e.g. 13-15.
    if (hour < start || hour >= end) return std::nullopt;
  } else if (hour >= start) {  // Wrapping window, evening part.
    end_day += 1;
  } else if (hour >= end) {  // Wrapping window, daytime: not quiet.
    return std::nullopt;
  }
  const absl::CivilSecond end_local(end_day.year(), end_day.month(),
                                    end_day.day(), end, 0, 0);
  const int64_t end_ms = absl::ToUnixMillis(absl::FromCivil(end_local, zone));
  if (end_ms <= now_ms) return std::nullopt;
  return end_ms;
}

bool IsDiscountWaiter(const v1::CustomerProfile& p, double share) {
  if (p.orders() < 2) return false;
  return static_cast<double>(p.coupon_orders()) /
             static_cast<double>(p.orders()) >
         share;
}

uint64_t PurchasedProductHash(absl::string_view product_id) {
  return StableHash64({product_id});
}

bool InPurchasedSet(const v1::CustomerProfile& p,
                    absl::string_view product_id) {
  const auto& set = p.purchased_product_hashes();
  if (set.empty()) return false;
  return std::binary_search(set.begin(), set.end(),
                            PurchasedProductHash(product_id));
}

int64_t BudgetShare(int64_t budget, const v1::PartitionState& ps) {
  if (budget <= 0) return budget;
  const int64_t n = ps.partition_count() > 0 ? ps.partition_count() : 1;
  const int64_t p = ps.partition();
  return budget / n + (p >= 0 && p < budget % n ? 1 : 0);
}

const v1::CampaignState* FindCampaignState(const v1::CustomerProfile& p,
                                           absl::string_view campaign) {
  for (const v1::CampaignState& s : p.campaigns()) {
    if (s.campaign() == campaign) return &s;
  }
  return nullptr;
}

v1::CampaignState* MutableCampaignState(v1::CustomerProfile* p,
                                        absl::string_view campaign) {
  for (v1::CampaignState& s : *p->mutable_campaigns()) {
    if (s.campaign() == campaign) return &s;
  }
  v1::CampaignState* s = p->add_campaigns();
  s->set_campaign(std::string(campaign));
  return s;
}

void AddFact(v1::Decision* d, absl::string_view name, absl::string_view value) {
  v1::Fact* f = d->add_facts();
  f->set_name(std::string(name));
  f->set_value(std::string(value));
}

void AddFact(v1::Decision* d, absl::string_view name, int64_t value) {
  AddFact(d, name, absl::StrCat(value));
}

void SetFact(v1::Decision* d, absl::string_view name, int64_t value) {
  for (v1::Fact& f : *d->mutable_facts()) {
    if (f.name() == name) {
      f.set_value(absl::StrCat(value));
      return;
    }
  }
  AddFact(d, name, value);
}

const std::string* FindFact(const v1::Decision& d, absl::string_view name) {
  for (const v1::Fact& f : d.facts()) {
    if (f.name() == name) return &f.value();
  }
  return nullptr;
}

}  // namespace tailor::decide::internal
