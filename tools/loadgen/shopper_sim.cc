#include "tools/loadgen/shopper_sim.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tailor::loadgen {
namespace {

using ::tailor::v1::Channel;
using ::tailor::v1::DeviceClass;
using ::tailor::v1::Event;
using ::tailor::v1::EventTopic;

constexpr size_t kMaxPendingOrders = 4096;
constexpr size_t kMaxCartLines = 20;
constexpr int64_t kMinPrice = 999;
constexpr int64_t kMaxPrice = 99999;
constexpr int64_t kYear1970Ms = 86'400'000;         // 1970-01-02
constexpr int64_t kYear2100Ms = 4'102'444'800'000;  // 2100-01-01

// Probabilities of the behaviour model.
constexpr double kNewSessionChance = 0.15;
constexpr double kOrderFollowUpChance = 0.03;
constexpr double kConsentOnFirstVisit = 0.90;
constexpr double kPushOpenedChance = 0.03;
constexpr double kCheckoutChance = 0.5;  // of sessions with a cart
constexpr double kOrderChance = 0.6;     // of checkouts: 30% of carts order
constexpr double kCouponChance = 0.08;
constexpr double kRepeatViewChance = 0.3;

constexpr const char* kPolishRegions[] = {
    "PL-DS", "PL-KP", "PL-LU", "PL-LB", "PL-LD", "PL-MA", "PL-MZ", "PL-OP",
    "PL-PK", "PL-PD", "PL-PM", "PL-SL", "PL-SK", "PL-WN", "PL-WP", "PL-ZP"};
constexpr const char* kCampaigns[] = {"cart_reminder_push",
                                      "browse_abandon_push", "win_back",
                                      "first_order", "loyalty"};
constexpr const char* kCancelReasons[] = {"late_delivery", "changed_mind",
                                          "payment_failed"};
constexpr const char* kReturnReasons[] = {"damaged", "wrong_size",
                                          "not_as_described"};

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double Helper1(double x) {  // log1p(x) / x
  return std::abs(x) > 1e-8 ? std::log1p(x) / x
                            : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}
double Helper2(double x) {  // expm1(x) / x
  return std::abs(x) > 1e-8
             ? std::expm1(x) / x
             : 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
}

EventTopic OtherTopic(EventTopic topic) {
  switch (topic) {
    case tailor::v1::EVENT_TOPIC_CLICKSTREAM:
      return tailor::v1::EVENT_TOPIC_ORDERS;
    case tailor::v1::EVENT_TOPIC_ORDERS:
      return tailor::v1::EVENT_TOPIC_PRIVACY;
    default:
      return tailor::v1::EVENT_TOPIC_CLICKSTREAM;
  }
}

}  // namespace

// --- Zipf ---------------------------------------------------------------

ShopperSim::Zipf::Zipf(int64_t n, double exponent)
    : n_(std::max<int64_t>(n, 1)), s_(exponent) {
  h_integral_x1_ = HIntegral(1.5) - 1.0;
  h_integral_n_ = HIntegral(static_cast<double>(n_) + 0.5);
  threshold_ = 2.0 - HIntegralInverse(HIntegral(2.5) - H(2.0));
}

double ShopperSim::Zipf::H(double x) const {
  return std::exp(-s_ * std::log(x));
}

double ShopperSim::Zipf::HIntegral(double x) const {
  const double log_x = std::log(x);
  return Helper2((1.0 - s_) * log_x) * log_x;
}

double ShopperSim::Zipf::HIntegralInverse(double x) const {
  double t = x * (1.0 - s_);
  if (t < -1.0) t = -1.0;
  return std::exp(Helper1(t) * x);
}

int64_t ShopperSim::Zipf::Sample(std::mt19937_64& rng) const {
  while (true) {
    const double u01 = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    const double u = h_integral_n_ + u01 * (h_integral_x1_ - h_integral_n_);
    const double x = HIntegralInverse(u);
    int64_t k = static_cast<int64_t>(x + 0.5);
    if (k < 1) k = 1;
    if (k > n_) k = n_;
    if (static_cast<double>(k) - x <= threshold_ ||
        u >= HIntegral(static_cast<double>(k) + 0.5) -
                 H(static_cast<double>(k))) {
      return k;
    }
  }
}

// --- ShopperSim ----------------------------------------------------------

ShopperSim::ShopperSim(ShopperSimOptions options)
    : options_(std::move(options)),
      rng_(options_.seed),
      customer_zipf_(std::max<int64_t>(options_.customers, 1), options_.skew),
      product_zipf_(std::max<int64_t>(options_.products, 1), 0.9),
      seen_(static_cast<size_t>(std::max<int64_t>(options_.customers, 1)),
            false) {
  options_.customers = std::max<int64_t>(options_.customers, 1);
  options_.products = std::max<int64_t>(options_.products, 1);
  options_.categories = std::max<int32_t>(options_.categories, 1);
  options_.max_active_sessions =
      std::max<int32_t>(options_.max_active_sessions, 1);
  active_.reserve(options_.max_active_sessions);
  active_by_customer_.reserve(options_.max_active_sessions);
}

std::string ShopperSim::CustomerId(int64_t index) {
  return absl::StrCat("c-", index);
}

double ShopperSim::Uniform() {
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

int64_t ShopperSim::UniformInt(int64_t n) {
  return n <= 1 ? 0 : static_cast<int64_t>(rng_() % static_cast<uint64_t>(n));
}

uint64_t ShopperSim::CustomerTrait(int64_t customer, uint64_t salt) const {
  return SplitMix64(static_cast<uint64_t>(customer) ^
                    SplitMix64(options_.seed * 0x100000001b3ULL + salt));
}

int64_t ShopperSim::SampleCustomer() {
  const int64_t rank = customer_zipf_.Sample(rng_);
  // Spread the popular ranks over the id space (2654435761 is prime, so this
  // is a permutation unless the population is a multiple of it).
  return static_cast<int64_t>(
      (static_cast<uint64_t>(rank - 1) * 2654435761ULL) %
      static_cast<uint64_t>(options_.customers));
}

std::string ShopperSim::ProductId(int64_t product) const {
  return absl::StrCat("p-", product);
}

std::string ShopperSim::CategoryId(int64_t product) const {
  return absl::StrCat("cat-", product % options_.categories);
}

int64_t ShopperSim::Price(int64_t product) const {
  // Log-uniform between 9.99 and 999.99: cheap products are more common.
  const uint64_t h = SplitMix64(static_cast<uint64_t>(product) ^
                                (options_.seed * 0x9e3779b97f4a7c15ULL));
  const double u = static_cast<double>(h >> 11) * 0x1.0p-53;
  const double price = static_cast<double>(kMinPrice) *
                       std::pow(static_cast<double>(kMaxPrice) / kMinPrice, u);
  return std::clamp<int64_t>(static_cast<int64_t>(price), kMinPrice, kMaxPrice);
}

void ShopperSim::FillLineItem(tailor::v1::LineItem* item,
                              const CartLine& line) const {
  item->set_product_id(ProductId(line.product));
  item->set_category_id(CategoryId(line.product));
  item->set_quantity(line.quantity);
  item->mutable_unit_price()->set_minor_units(Price(line.product));
  item->mutable_unit_price()->set_currency(options_.currency);
}

void ShopperSim::FillContext(tailor::v1::Context* ctx, int64_t customer,
                             DeviceClass device, const std::string& session) {
  const uint64_t t = CustomerTrait(customer, 1);
  const int where = static_cast<int>(t % 100);
  if (where < 92) {
    ctx->set_locale("pl-PL");
    ctx->set_time_zone("Europe/Warsaw");
    ctx->set_region(kPolishRegions[(t >> 8) % std::size(kPolishRegions)]);
  } else if (where < 96) {
    ctx->set_locale("en-GB");
    ctx->set_time_zone("Europe/London");
    ctx->set_region("GB-LND");
  } else {
    ctx->set_locale("de-DE");
    ctx->set_time_zone("Europe/Berlin");
    ctx->set_region("DE-BE");
  }
  ctx->set_device(device);
  ctx->set_session_id(session);
}

void ShopperSim::BeginForCustomer(Event* out, int64_t now_ms,
                                  int64_t customer) {
  out->Clear();
  out->set_event_id(absl::StrCat("e-", options_.seed, "-", event_counter_++));
  out->set_customer_id(CustomerId(customer));
  out->set_event_time_ms(now_ms);
}

void ShopperSim::Begin(Event* out, int64_t now_ms, const Session& s) {
  BeginForCustomer(out, now_ms, s.customer);
  FillContext(out->mutable_context(), s.customer, s.device,
              absl::StrCat("s-", options_.seed, "-", s.number));
}

EventTopic ShopperSim::Next(int64_t now_ms, Event* out) {
  if (!orders_.empty() && Chance(kOrderFollowUpChance)) {
    return OrderFollowUp(now_ms, out);
  }
  size_t slot = 0;
  const bool may_start =
      active_.size() < static_cast<size_t>(options_.max_active_sessions);
  if (may_start && (active_.empty() || Chance(kNewSessionChance))) {
    const int64_t customer = SampleCustomer();
    auto it = active_by_customer_.find(customer);
    if (it != active_by_customer_.end()) {
      slot = it->second;  // One session per customer at a time.
    } else {
      Session s;
      s.customer = customer;
      s.number = session_counter_++;
      s.first_visit = !seen_[customer];
      seen_[customer] = true;
      // 79% mobile (app or mobile web), mostly on the customer's usual device.
      const uint64_t t = CustomerTrait(customer, 2);
      const double usual = static_cast<double>(t % 1000) / 1000.0;
      const double d = Chance(0.85) ? usual : Uniform();
      s.device = d < 0.45   ? tailor::v1::DEVICE_CLASS_APP
                 : d < 0.79 ? tailor::v1::DEVICE_CLASS_MOBILE_WEB
                            : tailor::v1::DEVICE_CLASS_DESKTOP_WEB;
      s.browse_left = 3 + static_cast<int32_t>(UniformInt(12));
      slot = active_.size();
      active_.push_back(std::move(s));
      active_by_customer_.emplace(customer, slot);
    }
  } else {
    slot =
        static_cast<size_t>(UniformInt(static_cast<int64_t>(active_.size())));
  }
  bool done = false;
  const EventTopic topic = Step(active_[slot], now_ms, out, &done);
  if (done) EndSession(slot);
  return topic;
}

void ShopperSim::EndSession(size_t slot) {
  active_by_customer_.erase(active_[slot].customer);
  if (slot + 1 != active_.size()) {
    active_[slot] = std::move(active_.back());
    active_by_customer_[active_[slot].customer] = slot;
  }
  active_.pop_back();
}

EventTopic ShopperSim::Step(Session& s, int64_t now_ms, Event* out,
                            bool* done) {
  Begin(out, now_ms, s);
  switch (s.stage) {
    case Stage::kStart:
      s.stage = Stage::kOpen;
      if (s.first_visit) {
        if (Chance(kConsentOnFirstVisit)) {
          auto* consent = out->mutable_consent_updated();
          const double r = Uniform();
          if (r < 0.75) {
            consent->add_granted_channels(tailor::v1::CHANNEL_PUSH);
            consent->add_granted_channels(tailor::v1::CHANNEL_EMAIL);
            consent->add_granted_channels(tailor::v1::CHANNEL_ONSITE);
          } else if (r < 0.90) {
            consent->add_granted_channels(tailor::v1::CHANNEL_EMAIL);
          }
          consent->set_profiling_opt_out(Chance(0.02));
          return tailor::v1::EVENT_TOPIC_PRIVACY;
        }
      } else {
        if (Chance(options_.erasure_share)) {
          out->mutable_erasure_requested()->set_request_id(
              absl::StrCat("er-", options_.seed, "-", s.number));
          seen_[s.customer] = false;  // A later visit is a new customer.
          *done = true;
          return tailor::v1::EVENT_TOPIC_PRIVACY;
        }
        if (Chance(kPushOpenedChance)) {
          auto* opened = out->mutable_push_opened();
          opened->set_decision_id(absl::StrFormat(
              "%016x", SplitMix64(options_.seed ^ (s.number << 1))));
          opened->set_campaign(kCampaigns[UniformInt(2)]);
          return tailor::v1::EVENT_TOPIC_CLICKSTREAM;
        }
      }
      [[fallthrough]];
    case Stage::kOpen:
      if (s.device == tailor::v1::DEVICE_CLASS_APP) {
        out->mutable_app_open();
      } else {
        out->mutable_page_view()->set_page_type("home");
      }
      s.stage = Stage::kBrowse;
      return tailor::v1::EVENT_TOPIC_CLICKSTREAM;
    case Stage::kBrowse: {
      const EventTopic topic = Browse(s, out);
      if (--s.browse_left <= 0) {
        if (!s.cart.empty() && Chance(kCheckoutChance)) {
          s.stage = Stage::kCheckout;
        } else {
          *done = true;  // Left: an abandoned cart if it holds anything.
        }
      }
      return topic;
    }
    case Stage::kCheckout: {
      int64_t value = 0;
      for (const CartLine& line : s.cart)
        value += Price(line.product) * line.quantity;
      auto* money = out->mutable_checkout_started()->mutable_cart_value();
      money->set_minor_units(value);
      money->set_currency(options_.currency);
      if (Chance(kOrderChance)) {
        s.stage = Stage::kOrder;
      } else {
        *done = true;
      }
      return tailor::v1::EVENT_TOPIC_CLICKSTREAM;
    }
    case Stage::kOrder: {
      auto* order = out->mutable_order_placed();
      s.order_id = absl::StrCat("o-", options_.seed, "-", order_counter_++);
      order->set_order_id(s.order_id);
      int64_t total = 0;
      for (const CartLine& line : s.cart) {
        FillLineItem(order->add_items(), line);
        total += Price(line.product) * line.quantity;
      }
      if (Chance(kCouponChance)) {
        s.coupon_code = absl::StrFormat(
            "TL-%08X", SplitMix64(options_.seed + s.number) & 0xffffffffULL);
        order->set_coupon_code(s.coupon_code);
        total -= total / 10;  // 10% off.
        s.stage = Stage::kCoupon;
      } else {
        *done = true;
      }
      order->mutable_total()->set_minor_units(total);
      order->mutable_total()->set_currency(options_.currency);
      Remember(PastOrder{s.customer, s.order_id, s.cart, OrderState::kPlaced});
      s.cart.clear();
      return tailor::v1::EVENT_TOPIC_ORDERS;
    }
    case Stage::kCoupon: {
      auto* redeemed = out->mutable_coupon_redeemed();
      redeemed->set_coupon_code(s.coupon_code);
      redeemed->set_campaign(kCampaigns[2 + UniformInt(3)]);
      redeemed->set_order_id(s.order_id);
      *done = true;
      return tailor::v1::EVENT_TOPIC_CLICKSTREAM;
    }
  }
  *done = true;
  out->mutable_page_view()->set_page_type("home");
  return tailor::v1::EVENT_TOPIC_CLICKSTREAM;
}

EventTopic ShopperSim::Browse(Session& s, Event* out) {
  const double r = Uniform();
  if (!s.cart.empty() && r < 0.05) {
    const size_t i =
        static_cast<size_t>(UniformInt(static_cast<int64_t>(s.cart.size())));
    auto* remove = out->mutable_cart_remove();
    remove->set_product_id(ProductId(s.cart[i].product));
    if (s.cart[i].quantity > 1 && Chance(0.5)) {
      remove->set_quantity(1);
      --s.cart[i].quantity;
    } else {
      remove->set_quantity(0);  // The whole line.
      s.cart.erase(s.cart.begin() + static_cast<ptrdiff_t>(i));
    }
    return tailor::v1::EVENT_TOPIC_CLICKSTREAM;
  }
  if (r < 0.15) {
    auto* search = out->mutable_search();
    search->set_query_category_id(CategoryId(product_zipf_.Sample(rng_) - 1));
    search->set_results(static_cast<int32_t>(UniformInt(200)));
    return tailor::v1::EVENT_TOPIC_CLICKSTREAM;
  }
  if (r < 0.30) {
    auto* page = out->mutable_page_view();
    page->set_page_type("category");
    page->set_category_id(CategoryId(product_zipf_.Sample(rng_) - 1));
    return tailor::v1::EVENT_TOPIC_CLICKSTREAM;
  }
  if (r < 0.78) {
    const int64_t product = s.last_product >= 0 && Chance(kRepeatViewChance)
                                ? s.last_product
                                : product_zipf_.Sample(rng_) - 1;
    s.last_product = product;
    auto* view = out->mutable_product_view();
    view->set_product_id(ProductId(product));
    view->set_category_id(CategoryId(product));
    view->mutable_price()->set_minor_units(Price(product));
    view->mutable_price()->set_currency(options_.currency);
    return tailor::v1::EVENT_TOPIC_CLICKSTREAM;
  }
  int64_t product =
      s.last_product >= 0 ? s.last_product : product_zipf_.Sample(rng_) - 1;
  if (s.cart.size() >= kMaxCartLines) {
    // A full cart only grows in quantity.
    product = s.cart[static_cast<size_t>(
                         UniformInt(static_cast<int64_t>(s.cart.size())))]
                  .product;
  }
  const int32_t quantity =
      Chance(0.85) ? 1 : 2 + static_cast<int32_t>(UniformInt(2));
  auto it = std::find_if(s.cart.begin(), s.cart.end(), [&](const CartLine& l) {
    return l.product == product;
  });
  if (it != s.cart.end()) {
    it->quantity += quantity;
  } else {
    s.cart.push_back(CartLine{product, quantity});
  }
  FillLineItem(out->mutable_cart_add()->mutable_item(),
               CartLine{product, quantity});
  return tailor::v1::EVENT_TOPIC_CLICKSTREAM;
}

void ShopperSim::Remember(PastOrder order) {
  if (orders_.size() < kMaxPendingOrders) {
    orders_.push_back(std::move(order));
  } else {
    orders_[orders_next_] = std::move(order);  // Forget the oldest slot.
    orders_next_ = (orders_next_ + 1) % kMaxPendingOrders;
  }
}

EventTopic ShopperSim::OrderFollowUp(int64_t now_ms, Event* out) {
  const size_t i =
      static_cast<size_t>(UniformInt(static_cast<int64_t>(orders_.size())));
  PastOrder& order = orders_[i];
  BeginForCustomer(out, now_ms, order.customer);
  FillContext(out->mutable_context(), order.customer,
              tailor::v1::DEVICE_CLASS_UNSPECIFIED, "");
  bool finished = false;
  if (order.state == OrderState::kPlaced) {
    if (Chance(0.08)) {
      auto* cancelled = out->mutable_order_cancelled();
      cancelled->set_order_id(order.order_id);
      cancelled->set_reason(
          kCancelReasons[UniformInt(std::size(kCancelReasons))]);
      finished = true;
    } else {
      out->mutable_order_delivered()->set_order_id(order.order_id);
      order.state = OrderState::kDelivered;
      finished = !Chance(0.15);  // Only some delivered orders may come back.
    }
  } else {
    auto* returned = out->mutable_order_returned();
    returned->set_order_id(order.order_id);
    FillLineItem(returned->add_items(),
                 order.items[static_cast<size_t>(
                     UniformInt(static_cast<int64_t>(order.items.size())))]);
    returned->set_reason(kReturnReasons[UniformInt(std::size(kReturnReasons))]);
    finished = true;
  }
  if (finished) {
    if (i + 1 != orders_.size()) orders_[i] = std::move(orders_.back());
    orders_.pop_back();
    if (orders_next_ >= orders_.size()) orders_next_ = 0;
  }
  return tailor::v1::EVENT_TOPIC_ORDERS;
}

SimMessage ShopperSim::MakeMalformed(MalformedKind kind, int64_t now_ms) {
  SimMessage msg;
  msg.malformed = true;
  if (kind == MalformedKind::kRandomBytes) {
    msg.topic = static_cast<EventTopic>(1 + UniformInt(3));
    msg.key = CustomerId(SampleCustomer());
    const int64_t len = 8 + UniformInt(57);
    msg.value.resize(static_cast<size_t>(len));
    for (char& c : msg.value) c = static_cast<char>(rng_() & 0xff);
    msg.value[0] = 0x07;  // Field 0 with wire type 7: never a valid Event.
    return msg;
  }
  Event event;
  msg.topic = Next(now_ms, &event);
  switch (kind) {
    case MalformedKind::kMissingCustomerId:
      event.clear_customer_id();
      break;
    case MalformedKind::kAbsurdTimestamp:
      event.set_event_time_ms(Chance(0.5) ? kYear1970Ms : kYear2100Ms);
      msg.key = event.customer_id();
      break;
    case MalformedKind::kWrongTopic:
      msg.topic = OtherTopic(msg.topic);
      msg.key = event.customer_id();
      break;
    case MalformedKind::kRandomBytes:
      break;
  }
  event.SerializeToString(&msg.value);
  return msg;
}

SimMessage ShopperSim::NextMessage(int64_t now_ms) {
  if (options_.malformed_share > 0 && Chance(options_.malformed_share)) {
    return MakeMalformed(static_cast<MalformedKind>(UniformInt(4)), now_ms);
  }
  SimMessage msg;
  msg.topic = Next(now_ms, &scratch_);
  msg.key = scratch_.customer_id();
  scratch_.SerializeToString(&msg.value);
  return msg;
}

}  // namespace tailor::loadgen
