#include "libs/profile/fold.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "absl/strings/string_view.h"
#include "libs/profile/purchases.h"

namespace tailor::profile {
namespace {

using ::google::protobuf::RepeatedField;
using ::google::protobuf::RepeatedPtrField;
using ::tailor::v1::Affinity;
using ::tailor::v1::Cart;
using ::tailor::v1::CustomerProfile;
using ::tailor::v1::Event;
using ::tailor::v1::LineItem;
using ::tailor::v1::Money;
using ::tailor::v1::ProfileSpec;

using Affinities = RepeatedPtrField<Affinity>;
using Ids = RepeatedPtrField<std::string>;
using Times = RepeatedField<int64_t>;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kMsPerMinute = 60 * 1000;
constexpr int64_t kMsPerHour = 60 * kMsPerMinute;
constexpr int64_t kMsPerDay = 24 * kMsPerHour;

// ProfileSpec with defaults applied, in the units the fold works in. A plain
// struct so that resolving it per event costs nothing.
struct Params {
  double half_life_hours;
  int top_k;
  int recent_products;
  int64_t horizon_ms;
  int64_t session_gap_ms;
};

int64_t SaturatingMul(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_mul_overflow(a, b, &out)) {
    return (a < 0) != (b < 0) ? kInt64Min : kInt64Max;
  }
  return out;
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_add_overflow(a, b, &out)) return b < 0 ? kInt64Min : kInt64Max;
  return out;
}

int64_t SaturatingSub(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_sub_overflow(a, b, &out)) return b > 0 ? kInt64Min : kInt64Max;
  return out;
}

Params Resolve(const ProfileSpec& spec) {
  Params p;
  p.half_life_hours = spec.affinity_half_life_hours() > 0
                          ? spec.affinity_half_life_hours()
                          : kDefaultAffinityHalfLifeHours;
  p.top_k = spec.top_k() > 0 ? spec.top_k() : kDefaultTopK;
  p.recent_products = spec.recent_products() > 0 ? spec.recent_products()
                                                 : kDefaultRecentProducts;
  p.horizon_ms =
      SaturatingMul(spec.signal_horizon_days() > 0 ? spec.signal_horizon_days()
                                                   : kDefaultSignalHorizonDays,
                    kMsPerDay);
  p.session_gap_ms =
      SaturatingMul(spec.session_gap_minutes() > 0 ? spec.session_gap_minutes()
                                                   : kDefaultSessionGapMinutes,
                    kMsPerMinute);
  return p;
}

// Signals with a time before the cutoff are outside the horizon.
int64_t CutoffMs(int64_t now_ms, int64_t horizon_ms) {
  return SaturatingSub(now_ms, horizon_ms);
}

double DecayFactor(int64_t age_ms, double half_life_hours) {
  if (age_ms <= 0 || !(half_life_hours > 0)) return 1.0;
  return std::exp2(-static_cast<double>(age_ms) /
                   (half_life_hours * static_cast<double>(kMsPerHour)));
}

// Id equality with a cheap first filter: ids of one shop mostly share a
// prefix and a length, so the last byte rejects most candidates without a
// memcmp call.
inline bool IdEquals(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() &&
         (a.empty() || (a.back() == b.back() &&
                        std::memcmp(a.data(), b.data(), a.size()) == 0));
}

void AssignString(absl::string_view value, std::string* out) {
  out->assign(value.data(), value.size());
}

// --- ordered removal helpers (keep element objects for reuse) -------------
//
// These work on the element arrays directly (pointer iterators for pointer
// lists): the RepeatedField/RepeatedPtrField accessors for int64 and
// std::string are compiled into libprotobuf and are not inlined, which costs
// more than the work itself on lists this small.

// Removes element `index` of a pointer list, keeping the order of the others.
template <typename T>
void RemoveAt(RepeatedPtrField<T>* list, int index) {
  auto data = list->pointer_begin();
  std::rotate(data + index, data + index + 1, data + list->size());
  list->RemoveLast();
}

void RemoveAt(Times* list, int index) {
  int64_t* data = list->mutable_data();
  std::copy(data + index + 1, data + list->size(), data + index);
  list->RemoveLast();
}

// Index of the first entry older than cutoff_ms, or -1.
int FirstBefore(const Times& times, int64_t cutoff_ms) {
  const int64_t* data = times.data();
  const int n = times.size();
  for (int i = 0; i < n; ++i) {
    if (data[i] < cutoff_ms) return i;
  }
  return -1;
}

// Drops the entries older than cutoff_ms from the front of an ascending
// list (oldest first). O(expired entries), so the common case costs one
// comparison.
void PruneAscendingTimes(int64_t cutoff_ms, Times* times) {
  const int64_t* data = times->data();
  const int n = times->size();
  int expired = 0;
  while (expired < n && data[expired] < cutoff_ms) ++expired;
  if (expired == 0) return;
  int64_t* out = times->mutable_data();
  std::copy(out + expired, out + n, out);
  times->Truncate(n - expired);
}

// Inserts t keeping the list ascending; drops the oldest beyond max_size.
void InsertTimeBounded(int64_t t, int max_size, Times* times) {
  times->Add(t);
  int64_t* data = times->mutable_data();
  for (int i = times->size() - 1; i > 0 && data[i - 1] > t; --i) {
    std::swap(data[i - 1], data[i]);
  }
  while (times->size() > max_size) RemoveAt(times, 0);
}

// --- affinities ------------------------------------------------------------

// Lists are kept sorted by decayed score, highest first. Because every entry
// decays by the same factor, that order does not change as time passes; it
// changes only when an entry is bumped, and a bump only raises a score, so the
// bumped entry moves toward the front.
void BubbleUp(int index, double half_life_hours, int64_t ref_ms,
              Affinities* list) {
  const double mine = DecayedScore(list->Get(index), half_life_hours, ref_ms);
  while (index > 0 &&
         DecayedScore(list->Get(index - 1), half_life_hours, ref_ms) < mine) {
    list->SwapElements(index - 1, index);
    --index;
  }
}

// Adds `delta` at event time t to the affinity `id`. ref_ms is the profile's
// stream time (last_seen), at which scores are compared.
void BumpAffinity(absl::string_view id, double delta, int64_t t, int64_t ref_ms,
                  bool count_view, const Params& params, Affinities* list) {
  if (id.empty()) return;
  while (list->size() > params.top_k) list->RemoveLast();  // top_k shrank.
  for (int i = 0; i < list->size(); ++i) {
    Affinity* a = list->Mutable(i);
    if (!IdEquals(a->id(), id)) continue;
    if (t >= a->updated_at_ms()) {
      a->set_score(DecayedScore(*a, params.half_life_hours, t) + delta);
      a->set_updated_at_ms(t);
    } else {
      // Out of order: add the increment as it has decayed by the entry's time.
      a->set_score(a->score() + delta * DecayFactor(a->updated_at_ms() - t,
                                                    params.half_life_hours));
    }
    if (count_view) a->set_views(a->views() + 1);
    BubbleUp(i, params.half_life_hours, ref_ms, list);
    return;
  }
  Affinity* slot;
  if (list->size() < params.top_k) {
    slot = list->Add();
  } else {
    slot = list->Mutable(list->size() - 1);  // The weakest.
    const double incoming =
        delta * DecayFactor(ref_ms - t, params.half_life_hours);
    if (!(incoming > DecayedScore(*slot, params.half_life_hours, ref_ms))) {
      return;
    }
  }
  AssignString(id, slot->mutable_id());
  slot->set_score(delta);
  slot->set_updated_at_ms(t);
  slot->set_views(count_view ? 1 : 0);
  BubbleUp(list->size() - 1, params.half_life_hours, ref_ms, list);
}

void ResetViews(Affinities* list) {
  for (Affinity& a : *list) {
    if (a.views() != 0) a.set_views(0);
  }
}

void PruneAffinities(int64_t cutoff_ms, Affinities* list) {
  int first = 0;
  while (first < list->size() &&
         list->Get(first).updated_at_ms() >= cutoff_ms) {
    ++first;
  }
  if (first == list->size()) return;
  int kept = first;
  for (int i = first + 1; i < list->size(); ++i) {
    if (list->Get(i).updated_at_ms() >= cutoff_ms) {
      if (kept != i) list->SwapElements(kept, i);
      ++kept;
    }
  }
  while (list->size() > kept) list->RemoveLast();
}

// --- bounded id lists ------------------------------------------------------

int IndexOf(const Ids& ids, absl::string_view id) {
  const auto data = ids.pointer_begin();
  const int n = ids.size();
  for (int i = 0; i < n; ++i) {
    if (IdEquals(*data[i], id)) return i;
  }
  return -1;
}

// Appends `id` (moving it to the back if present), newest last, at most
// `limit` entries.
void MoveToBackBounded(absl::string_view id, int limit, Ids* ids) {
  if (id.empty()) return;
  const int found = IndexOf(*ids, id);
  if (found >= 0) {
    auto data = ids->pointer_begin();
    std::rotate(data + found, data + found + 1, data + ids->size());
    return;
  }
  while (ids->size() >= limit && !ids->empty()) RemoveAt(ids, 0);
  AssignString(id, ids->Add());
}

// recent_viewed_product_ids with recent_viewed_at_ms beside it, ascending by
// view time (newest last). Out-of-order views are inserted in time order.
void RepairRecentTimes(int64_t fill_ms, CustomerProfile* profile) {
  Times* times = profile->mutable_recent_viewed_at_ms();
  const int n = profile->recent_viewed_product_ids_size();
  if (times->size() > n) times->Truncate(n);
  while (times->size() < n) times->Add(fill_ms);
}

void TouchRecentViewed(absl::string_view id, int64_t t, int limit,
                       CustomerProfile* profile) {
  if (id.empty() || limit <= 0) return;
  Ids* ids = profile->mutable_recent_viewed_product_ids();
  Times* times = profile->mutable_recent_viewed_at_ms();
  if (times->size() != ids->size()) RepairRecentTimes(t, profile);
  const int found = IndexOf(*ids, id);
  if (found >= 0) {
    if (t <= times->Get(found)) return;  // A newer view is already recorded.
    if (found == ids->size() - 1) {      // Already the newest: refresh only.
      times->Set(found, t);
      return;
    }
    RemoveAt(ids, found);
    RemoveAt(times, found);
  }
  while (ids->size() >= limit) {
    if (t < times->Get(0)) return;  // Older than everything kept.
    RemoveAt(ids, 0);
    RemoveAt(times, 0);
  }
  AssignString(id, ids->Add());
  times->Add(t);
  auto id_data = ids->pointer_begin();
  int64_t* time_data = times->mutable_data();
  for (int i = ids->size() - 1; i > 0 && time_data[i - 1] > t; --i) {
    std::iter_swap(id_data + (i - 1), id_data + i);
    std::swap(time_data[i - 1], time_data[i]);
  }
}

void PruneRecentViewed(int64_t cutoff_ms, CustomerProfile* profile) {
  if (profile->recent_viewed_at_ms_size() !=
      profile->recent_viewed_product_ids_size()) {
    RepairRecentTimes(profile->last_seen_ms(), profile);
  }
  const int first = FirstBefore(profile->recent_viewed_at_ms(), cutoff_ms);
  if (first < 0) return;
  Ids* ids = profile->mutable_recent_viewed_product_ids();
  Times* times = profile->mutable_recent_viewed_at_ms();
  auto id_data = ids->pointer_begin();
  int64_t* time_data = times->mutable_data();
  int kept = first;
  for (int i = first; i < ids->size(); ++i) {
    if (time_data[i] >= cutoff_ms) {
      std::iter_swap(id_data + kept, id_data + i);
      time_data[kept] = time_data[i];
      ++kept;
    }
  }
  while (ids->size() > kept) ids->RemoveLast();
  times->Truncate(kept);
}

// --- money and cart --------------------------------------------------------

// Sum of quantity * unit price over items in `currency`, saturating.
template <typename Items>
int64_t ItemsValue(const Items& items, absl::string_view currency) {
  int64_t sum = 0;
  for (const LineItem& item : items) {
    if (item.unit_price().currency() != currency) continue;
    sum = SaturatingAdd(
        sum, SaturatingMul(item.quantity(), item.unit_price().minor_units()));
  }
  return sum;
}

// Zeroes `money` but keeps the object and its string buffer for reuse, so an
// emptied cart costs no allocation when it fills again.
void ClearMoney(Money* money) {
  money->set_minor_units(0);
  if (!money->currency().empty()) money->mutable_currency()->clear();
}

// Cart value in the currency of the first line; lines in other currencies are
// kept but not counted.
void RecomputeCartValue(Cart* cart) {
  if (cart->items_size() == 0) {
    ClearMoney(cart->mutable_value());
    return;
  }
  const std::string& currency = cart->items(0).unit_price().currency();
  Money* value = cart->mutable_value();
  value->set_minor_units(ItemsValue(cart->items(), currency));
  if (value->currency() != currency) *value->mutable_currency() = currency;
}

void EmptyCart(Cart* cart) {
  cart->mutable_items()->Clear();
  cart->mutable_item_added_at_ms()->Clear();
  ClearMoney(cart->mutable_value());
}

// Gives every line an add time (item_added_at_ms, same index). A profile
// written before the field existed has none: its lines get the time of the
// last cart change, the best that is known.
void RepairLineTimes(Cart* cart) {
  Times* times = cart->mutable_item_added_at_ms();
  const int n = cart->items_size();
  if (times->size() > n) times->Truncate(n);
  while (times->size() < n) times->Add(cart->updated_at_ms());
}

void RemoveLine(int index, Cart* cart) {
  RemoveAt(cart->mutable_items(), index);
  RemoveAt(cart->mutable_item_added_at_ms(), index);
}

void MarkCartChanged(int64_t t, Cart* cart) {
  cart->set_version(cart->version() + 1);
  cart->set_updated_at_ms(std::max(cart->updated_at_ms(), t));
  cart->set_checkout_started_at_ms(0);
}

int FindLine(const Cart& cart, absl::string_view product_id) {
  for (int i = 0; i < cart.items_size(); ++i) {
    if (IdEquals(cart.items(i).product_id(), product_id)) return i;
  }
  return -1;
}

// A cart event older than the last order belongs to the cart that order
// ended; it must not bring those lines back.
bool EndedByOrder(const CustomerProfile& profile, int64_t t) {
  return t < profile.last_order().placed_at_ms();
}

void CartAdd(const LineItem& in, int64_t t, Cart* cart) {
  RepairLineTimes(cart);
  const int line_index = FindLine(*cart, in.product_id());
  if (line_index >= 0) {
    // The customer touched the line again: it counts from the latest add.
    Times* times = cart->mutable_item_added_at_ms();
    times->Set(line_index, std::max(times->Get(line_index), t));
    LineItem* line = cart->mutable_items(line_index);
    const int64_t quantity =
        static_cast<int64_t>(line->quantity()) + in.quantity();
    line->set_quantity(static_cast<int32_t>(
        std::min<int64_t>(quantity, std::numeric_limits<int32_t>::max())));
    *line->mutable_unit_price() = in.unit_price();
    if (line->category_id() != in.category_id()) {
      *line->mutable_category_id() = in.category_id();
    }
  } else {
    if (cart->items_size() >= kMaxCartLines) {
      const Times& times = cart->item_added_at_ms();
      RemoveLine(static_cast<int>(std::min_element(times.begin(), times.end()) -
                                  times.begin()),
                 cart);
    }
    *cart->add_items() = in;
    cart->add_item_added_at_ms(t);
  }
  RecomputeCartValue(cart);
  MarkCartChanged(t, cart);
}

void CartRemove(const tailor::v1::CartRemove& in, int64_t t, Cart* cart) {
  const int line_index = FindLine(*cart, in.product_id());
  if (line_index < 0) return;  // Nothing to change.
  RepairLineTimes(cart);
  LineItem* line = cart->mutable_items(line_index);
  if (in.quantity() <= 0 || in.quantity() >= line->quantity()) {
    RemoveLine(line_index, cart);
  } else {
    line->set_quantity(line->quantity() - in.quantity());
  }
  RecomputeCartValue(cart);
  MarkCartChanged(t, cart);
}

// Subtracts `amount` in `currency` from the lifetime value, never below 0.
void SubtractLifetimeValue(int64_t amount, absl::string_view currency,
                           CustomerProfile* profile) {
  if (!profile->has_lifetime_value()) return;
  Money* ltv = profile->mutable_lifetime_value();
  if (ltv->currency() != currency) return;
  ltv->set_minor_units(
      std::max<int64_t>(0, SaturatingSub(ltv->minor_units(), amount)));
}

// A redeemed coupon frees its arbitration slot: the active coupon with this
// code leaves CustomerProfile.active_coupons (order kept). Unknown codes
// (not issued by tailor, or already gone) change nothing.
void CouponRedeemed(absl::string_view code, CustomerProfile* profile) {
  if (code.empty()) return;
  auto* active = profile->mutable_active_coupons();
  for (int i = 0; i < active->size(); ++i) {
    if (active->Get(i).code() == code) {
      active->DeleteSubrange(i, 1);
      return;
    }
  }
}

void OrderPlaced(const tailor::v1::OrderPlaced& order, int64_t t,
                 const Params& params, CustomerProfile* profile) {
  profile->set_orders(SaturatingAdd(profile->orders(), 1));
  if (!profile->has_lifetime_value()) {
    *profile->mutable_lifetime_value() = order.total();
  } else if (profile->lifetime_value().currency() == order.total().currency()) {
    Money* ltv = profile->mutable_lifetime_value();
    ltv->set_minor_units(
        SaturatingAdd(ltv->minor_units(), order.total().minor_units()));
  }
  if (!order.coupon_code().empty()) {
    profile->set_coupon_orders(profile->coupon_orders() + 1);
    CouponRedeemed(order.coupon_code(), profile);
  }

  const bool newest_order =
      !profile->has_last_order() || t >= profile->last_order().placed_at_ms();
  if (newest_order) {
    tailor::v1::LastOrder* last = profile->mutable_last_order();
    AssignString(order.order_id(), last->mutable_order_id());
    last->set_placed_at_ms(t);
    *last->mutable_total() = order.total();
    Ids* products = last->mutable_product_ids();
    products->Clear();
    for (const LineItem& item : order.items()) {
      AssignString(item.product_id(), products->Add());
    }
  }
  for (const LineItem& item : order.items()) {
    MoveToBackBounded(item.product_id(), params.recent_products,
                      profile->mutable_purchased_product_ids());
  }
  // Every product bought, for recommendations. A profile written before the
  // set existed starts it from the recent purchases it kept.
  if (profile->purchased_product_hashes().empty()) {
    for (const std::string& id : profile->purchased_product_ids()) {
      AddPurchasedProduct(id, profile);
    }
  }
  AddPurchasedProducts(order, profile);

  // The order ends the cart. If the cart changed after the order (the order
  // arrived late), only the ordered lines are taken out.
  Cart* cart = profile->mutable_cart();
  if (t >= cart->updated_at_ms()) {
    EmptyCart(cart);
  } else {
    RepairLineTimes(cart);
    for (const LineItem& item : order.items()) {
      const int line_index = FindLine(*cart, item.product_id());
      if (line_index >= 0) RemoveLine(line_index, cart);
    }
    RecomputeCartValue(cart);
  }
  MarkCartChanged(t, cart);
}

void OrderCancelled(const tailor::v1::OrderCancelled& cancel, int64_t t,
                    bool within_horizon, CustomerProfile* profile) {
  profile->set_orders(std::max<int64_t>(0, profile->orders() - 1));
  const tailor::v1::LastOrder& last = profile->last_order();
  if (!last.order_id().empty() && last.order_id() == cancel.order_id()) {
    SubtractLifetimeValue(last.total().minor_units(), last.total().currency(),
                          profile);
  }
  if (within_horizon) {
    InsertTimeBounded(
        t, kMaxDissatisfactionEntries,
        profile->mutable_dissatisfaction()->mutable_cancellations_at_ms());
  }
}

void OrderReturned(const tailor::v1::OrderReturned& ret, int64_t t,
                   bool within_horizon, CustomerProfile* profile) {
  if (profile->has_lifetime_value()) {
    const std::string& currency = profile->lifetime_value().currency();
    SubtractLifetimeValue(ItemsValue(ret.items(), currency), currency, profile);
  }
  if (within_horizon) {
    InsertTimeBounded(
        t, kMaxDissatisfactionEntries,
        profile->mutable_dissatisfaction()->mutable_returns_at_ms());
  }
}

void PushOpened(CustomerProfile* profile) {
  for (tailor::v1::ChannelStats& stats : *profile->mutable_channel_stats()) {
    if (stats.channel() == tailor::v1::CHANNEL_PUSH) {
      stats.set_opened(stats.opened() + 1);
      return;
    }
  }
  tailor::v1::ChannelStats* stats = profile->add_channel_stats();
  stats->set_channel(tailor::v1::CHANNEL_PUSH);
  stats->set_opened(1);
}

void ConsentUpdated(const tailor::v1::ConsentUpdated& consent,
                    CustomerProfile* profile) {
  uint64_t granted = 0;  // Bit per valid Channel value: sorted and unique.
  for (int channel : consent.granted_channels()) {
    if (channel > 0 && channel < 64) granted |= uint64_t{1} << channel;
  }
  RepeatedField<int>* channels = profile->mutable_consented_channels();
  channels->Clear();
  for (int channel = 1; channel < 64; ++channel) {
    if (granted & (uint64_t{1} << channel)) channels->Add(channel);
  }
  profile->set_profiling_opt_out(consent.profiling_opt_out());
}

// A customer who objects to profiling keeps only what honouring that needs:
// the id, the channel consent and the opt-out itself. Affinities, views,
// cart, orders, counters, campaign state and pending timers go.
void KeepOnlyConsent(CustomerProfile* profile) {
  CustomerProfile kept;
  kept.mutable_customer_id()->swap(*profile->mutable_customer_id());
  kept.mutable_consented_channels()->Swap(
      profile->mutable_consented_channels());
  kept.set_profiling_opt_out(true);
  profile->Swap(&kept);
}

// --- every event -------------------------------------------------------------

void UpdateContext(const tailor::v1::Context& in, CustomerProfile* profile) {
  if (in.device() == tailor::v1::DEVICE_CLASS_UNSPECIFIED &&
      in.locale().empty() && in.region().empty() && in.time_zone().empty()) {
    return;
  }
  tailor::v1::Context* out = profile->mutable_context();
  if (in.device() != tailor::v1::DEVICE_CLASS_UNSPECIFIED) {
    out->set_device(in.device());
  }
  if (!in.locale().empty() && out->locale() != in.locale()) {
    *out->mutable_locale() = in.locale();
  }
  if (!in.region().empty() && out->region() != in.region()) {
    *out->mutable_region() = in.region();
  }
  if (!in.time_zone().empty() && out->time_zone() != in.time_zone()) {
    *out->mutable_time_zone() = in.time_zone();
  }
}

void PruneWithParams(const Params& params, int64_t now_ms,
                     CustomerProfile* profile) {
  const int64_t cutoff = CutoffMs(now_ms, params.horizon_ms);
  PruneAffinities(cutoff, profile->mutable_category_affinity());
  PruneAffinities(cutoff, profile->mutable_product_affinity());
  PruneRecentViewed(cutoff, profile);
  if (profile->has_dissatisfaction()) {
    tailor::v1::Dissatisfaction* d = profile->mutable_dissatisfaction();
    // Kept ascending by InsertTimeBounded.
    PruneAscendingTimes(cutoff, d->mutable_returns_at_ms());
    PruneAscendingTimes(cutoff, d->mutable_cancellations_at_ms());
  }
  for (tailor::v1::ChannelStats& stats : *profile->mutable_channel_stats()) {
    PruneAscendingTimes(cutoff,
                        stats.mutable_recent_sent_at_ms());  // Oldest first.
  }
  if (profile->has_cart() && profile->cart().items_size() > 0 &&
      profile->cart().updated_at_ms() < cutoff) {
    Cart* cart = profile->mutable_cart();
    EmptyCart(cart);
    cart->set_checkout_started_at_ms(0);
    cart->set_version(cart->version() + 1);
  }
}

}  // namespace

double DecayedScore(const Affinity& a, double half_life_hours, int64_t now_ms) {
  return a.score() *
         DecayFactor(SaturatingSub(now_ms, a.updated_at_ms()), half_life_hours);
}

ProfileSpec WithDefaults(const ProfileSpec& spec) {
  ProfileSpec out = spec;
  if (!(out.affinity_half_life_hours() > 0)) {
    out.set_affinity_half_life_hours(kDefaultAffinityHalfLifeHours);
  }
  if (out.top_k() <= 0) out.set_top_k(kDefaultTopK);
  if (out.recent_products() <= 0)
    out.set_recent_products(kDefaultRecentProducts);
  if (out.signal_horizon_days() <= 0) {
    out.set_signal_horizon_days(kDefaultSignalHorizonDays);
  }
  if (out.session_gap_minutes() <= 0) {
    out.set_session_gap_minutes(kDefaultSessionGapMinutes);
  }
  return out;
}

void PruneExpired(const ProfileSpec& spec, int64_t now_ms,
                  CustomerProfile* profile) {
  PruneWithParams(Resolve(spec), now_ms, profile);
}

FoldResult FoldEvent(const Event& event, const ProfileSpec& spec,
                     CustomerProfile* profile) {
  if (event.has_erasure_requested()) {
    profile->Clear();
    return FoldResult::kErased;
  }
  // Nothing of an opted-out customer's behaviour is recorded; only a new
  // statement of consent changes the profile.
  if (profile->profiling_opt_out() && !event.has_consent_updated()) {
    return FoldResult::kUpdated;
  }
  const Params params = Resolve(spec);
  const int64_t t = event.event_time_ms();
  const bool is_new = profile->events() == 0;
  const int64_t last_seen = profile->last_seen_ms();
  const bool in_order = is_new || t >= last_seen;
  const absl::string_view session_id = event.context().session_id();

  // Envelope: counters, times, context and sessions.
  if (profile->customer_id().empty()) {
    AssignString(event.customer_id(), profile->mutable_customer_id());
  }
  profile->set_events(profile->events() + 1);
  profile->set_first_seen_ms(is_new ? t
                                    : std::min(profile->first_seen_ms(), t));
  bool in_current_session;
  if (in_order) {
    if (!is_new && t > last_seen) profile->set_previous_seen_ms(last_seen);
    profile->set_last_seen_ms(t);
    UpdateContext(event.context(), profile);
    const bool new_session =
        is_new || (session_id.empty()
                       ? SaturatingSub(t, last_seen) > params.session_gap_ms
                       : session_id != profile->last_session_id());
    if (new_session) {
      profile->set_sessions(profile->sessions() + 1);
      if (session_id.empty()) {
        profile->clear_last_session_id();
      } else {
        AssignString(session_id, profile->mutable_last_session_id());
      }
      ResetViews(profile->mutable_category_affinity());
      ResetViews(profile->mutable_product_affinity());
    }
    in_current_session = true;
  } else {
    in_current_session =
        session_id.empty()
            ? SaturatingSub(last_seen, t) <= params.session_gap_ms
            : session_id == profile->last_session_id();
  }

  // Stream time of this customer, at which scores are compared and the
  // horizon is measured.
  const int64_t ref_ms = profile->last_seen_ms();
  PruneWithParams(params, ref_ms, profile);
  const bool within_horizon = t >= CutoffMs(ref_ms, params.horizon_ms);

  switch (event.payload_case()) {
    case Event::kPageView:
      if (within_horizon) {
        BumpAffinity(event.page_view().category_id(), kCategoryPageWeight, t,
                     ref_ms, /*count_view=*/false, params,
                     profile->mutable_category_affinity());
      }
      break;
    case Event::kProductView: {
      if (!within_horizon) break;
      const auto& view = event.product_view();
      BumpAffinity(view.product_id(), kProductViewWeight, t, ref_ms,
                   in_current_session, params,
                   profile->mutable_product_affinity());
      BumpAffinity(view.category_id(), kProductViewWeight, t, ref_ms,
                   in_current_session, params,
                   profile->mutable_category_affinity());
      TouchRecentViewed(view.product_id(), t, params.recent_products, profile);
      break;
    }
    case Event::kSearch:
      if (within_horizon) {
        BumpAffinity(event.search().query_category_id(), kSearchCategoryWeight,
                     t, ref_ms, /*count_view=*/false, params,
                     profile->mutable_category_affinity());
      }
      break;
    case Event::kCartAdd: {
      if (!within_horizon) break;
      const LineItem& item = event.cart_add().item();
      BumpAffinity(item.product_id(), kCartAddWeight, t, ref_ms,
                   /*count_view=*/false, params,
                   profile->mutable_product_affinity());
      BumpAffinity(item.category_id(), kCartAddWeight, t, ref_ms,
                   /*count_view=*/false, params,
                   profile->mutable_category_affinity());
      if (!EndedByOrder(*profile, t)) CartAdd(item, t, profile->mutable_cart());
      break;
    }
    case Event::kCartRemove:
      if (within_horizon && !EndedByOrder(*profile, t)) {
        CartRemove(event.cart_remove(), t, profile->mutable_cart());
      }
      break;
    case Event::kCheckoutStarted:
      if (within_horizon && !EndedByOrder(*profile, t)) {
        profile->mutable_cart()->set_checkout_started_at_ms(t);
      }
      break;
    case Event::kPushOpened:
      PushOpened(profile);
      break;
    case Event::kCouponRedeemed:
      profile->set_coupons_redeemed(profile->coupons_redeemed() + 1);
      CouponRedeemed(event.coupon_redeemed().coupon_code(), profile);
      break;
    case Event::kOrderPlaced:
      OrderPlaced(event.order_placed(), t, params, profile);
      break;
    case Event::kOrderCancelled:
      OrderCancelled(event.order_cancelled(), t, within_horizon, profile);
      break;
    case Event::kOrderReturned:
      OrderReturned(event.order_returned(), t, within_horizon, profile);
      break;
    case Event::kConsentUpdated:
      ConsentUpdated(event.consent_updated(), profile);
      break;
    case Event::kAppOpen:
    case Event::kOrderDelivered:
    case Event::kErasureRequested:
    case Event::PAYLOAD_NOT_SET:
      break;
  }
  if (profile->profiling_opt_out()) KeepOnlyConsent(profile);
  return FoldResult::kUpdated;
}

}  // namespace tailor::profile
