#include "tools/loadgen/shopper_sim.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace tailor::loadgen {
namespace {

using ::tailor::v1::Event;
using ::tailor::v1::EventTopic;

constexpr int64_t kStartMs = 1'760'000'000'000;  // 2025-10-09

// The topic a payload belongs on, per the field numbering rule in
// events.proto: 10-29 clickstream, 30-49 orders, 50-69 privacy.
EventTopic TopicOfPayload(const Event& e) {
  const int field = static_cast<int>(e.payload_case());
  if (field >= 10 && field <= 29) return tailor::v1::EVENT_TOPIC_CLICKSTREAM;
  if (field >= 30 && field <= 49) return tailor::v1::EVENT_TOPIC_ORDERS;
  if (field >= 50 && field <= 69) return tailor::v1::EVENT_TOPIC_PRIVACY;
  return tailor::v1::EVENT_TOPIC_UNSPECIFIED;
}

void ExpectValidItem(const tailor::v1::LineItem& item) {
  EXPECT_FALSE(item.product_id().empty());
  EXPECT_FALSE(item.category_id().empty());
  EXPECT_GT(item.quantity(), 0);
  EXPECT_GE(item.unit_price().minor_units(), 999);
  EXPECT_LE(item.unit_price().minor_units(), 99999);
  EXPECT_EQ(item.unit_price().currency(), "PLN");
}

ShopperSimOptions SmallWorld(uint64_t seed) {
  ShopperSimOptions o;
  o.customers = 100'000;
  o.seed = seed;
  o.max_active_sessions = 2'000;
  return o;
}

TEST(ShopperSimTest, SameSeedGivesSameSequenceOtherSeedDoesNot) {
  ShopperSim a(SmallWorld(7)), b(SmallWorld(7)), c(SmallWorld(8));
  Event ea, eb, ec;
  int differences_to_other_seed = 0;
  for (int i = 0; i < 5000; ++i) {
    const int64_t now = kStartMs + i * 10;
    const EventTopic ta = a.Next(now, &ea);
    const EventTopic tb = b.Next(now, &eb);
    c.Next(now, &ec);
    ASSERT_EQ(ta, tb) << "event " << i;
    ASSERT_EQ(ea.SerializeAsString(), eb.SerializeAsString()) << "event " << i;
    if (ea.customer_id() != ec.customer_id()) ++differences_to_other_seed;
  }
  EXPECT_GT(differences_to_other_seed, 1000);
}

TEST(ShopperSimTest, EventsFollowSchemaRulesAndCausalOrder) {
  ShopperSim sim(SmallWorld(3));
  Event e;
  absl::flat_hash_set<std::string> event_ids;
  absl::flat_hash_set<std::string> sessions_with_cart;
  absl::flat_hash_set<std::string> sessions_at_checkout;
  absl::flat_hash_map<std::string, std::string> order_customer;
  for (int i = 0; i < 100'000; ++i) {
    const int64_t now = kStartMs + i;
    const EventTopic topic = sim.Next(now, &e);
    ASSERT_FALSE(e.customer_id().empty());
    ASSERT_EQ(e.event_time_ms(), now);
    ASSERT_TRUE(event_ids.insert(e.event_id()).second) << e.event_id();
    ASSERT_NE(e.payload_case(), Event::PAYLOAD_NOT_SET);
    ASSERT_EQ(TopicOfPayload(e), topic) << e.ShortDebugString();
    EXPECT_FALSE(e.context().locale().empty());
    EXPECT_FALSE(e.context().time_zone().empty());
    const std::string& session = e.context().session_id();
    switch (e.payload_case()) {
      case Event::kProductView:
        EXPECT_FALSE(e.product_view().product_id().empty());
        EXPECT_GE(e.product_view().price().minor_units(), 999);
        break;
      case Event::kCartAdd:
        ExpectValidItem(e.cart_add().item());
        sessions_with_cart.insert(session);
        break;
      case Event::kCheckoutStarted:
        ASSERT_TRUE(sessions_with_cart.contains(session))
            << "checkout before cart";
        EXPECT_GT(e.checkout_started().cart_value().minor_units(), 0);
        sessions_at_checkout.insert(session);
        break;
      case Event::kOrderPlaced: {
        ASSERT_TRUE(sessions_at_checkout.contains(session))
            << "order before checkout";
        const auto& order = e.order_placed();
        ASSERT_GT(order.items_size(), 0);
        int64_t sum = 0;
        for (const auto& item : order.items()) {
          ExpectValidItem(item);
          sum += item.unit_price().minor_units() * item.quantity();
        }
        if (order.coupon_code().empty()) {
          EXPECT_EQ(order.total().minor_units(), sum);
        } else {
          EXPECT_LT(order.total().minor_units(), sum);
        }
        order_customer[order.order_id()] = e.customer_id();
        break;
      }
      case Event::kOrderDelivered:
      case Event::kOrderCancelled:
      case Event::kOrderReturned: {
        const std::string& id =
            e.has_order_delivered()   ? e.order_delivered().order_id()
            : e.has_order_cancelled() ? e.order_cancelled().order_id()
                                      : e.order_returned().order_id();
        auto it = order_customer.find(id);
        ASSERT_NE(it, order_customer.end()) << "follow-up before order " << id;
        EXPECT_EQ(it->second, e.customer_id());
        break;
      }
      case Event::kCouponRedeemed:
        ASSERT_TRUE(order_customer.contains(e.coupon_redeemed().order_id()));
        break;
      default:
        break;
    }
  }
}

TEST(ShopperSimTest, MixOfBehaviourAndSkewedActivity) {
  ShopperSim sim(SmallWorld(11));
  Event e;
  absl::flat_hash_map<Event::PayloadCase, int> kinds;
  absl::flat_hash_map<std::string, int> per_customer;
  int mobile = 0;
  int with_device = 0;
  int consent_with_push = 0;
  constexpr int kEvents = 200'000;
  for (int i = 0; i < kEvents; ++i) {
    sim.Next(kStartMs + i, &e);
    ++kinds[e.payload_case()];
    ++per_customer[e.customer_id()];
    if (e.context().device() != tailor::v1::DEVICE_CLASS_UNSPECIFIED) {
      ++with_device;
      if (e.context().device() != tailor::v1::DEVICE_CLASS_DESKTOP_WEB)
        ++mobile;
    }
    if (e.has_consent_updated()) {
      for (int c : e.consent_updated().granted_channels()) {
        if (c == tailor::v1::CHANNEL_PUSH) ++consent_with_push;
      }
    }
  }
  EXPECT_GT(kinds[Event::kProductView], kEvents / 5);
  EXPECT_GT(kinds[Event::kPageView], 0);
  EXPECT_GT(kinds[Event::kSearch], 0);
  EXPECT_GT(kinds[Event::kCartAdd], 1000);
  EXPECT_GT(kinds[Event::kCartRemove], 0);
  EXPECT_GT(kinds[Event::kCheckoutStarted], 0);
  EXPECT_GT(kinds[Event::kOrderPlaced], 100);
  EXPECT_GT(kinds[Event::kOrderDelivered], 0);
  EXPECT_GT(kinds[Event::kConsentUpdated], 1000);
  EXPECT_GT(consent_with_push, 0);
  // Most carts are abandoned: fewer orders than sessions with a checkout.
  EXPECT_LT(kinds[Event::kOrderPlaced], kinds[Event::kCheckoutStarted]);
  // Mostly mobile (~79%).
  EXPECT_GT(mobile, with_device * 7 / 10);
  EXPECT_LT(mobile, with_device * 9 / 10);

  // The top 1% of the population produces far more than 1% of the events.
  std::vector<int> counts;
  counts.reserve(per_customer.size());
  for (const auto& [id, n] : per_customer) counts.push_back(n);
  std::sort(counts.begin(), counts.end(), std::greater<int>());
  const size_t top = static_cast<size_t>(sim.options().customers / 100);
  int64_t top_events = 0;
  for (size_t i = 0; i < std::min(top, counts.size()); ++i)
    top_events += counts[i];
  EXPECT_GT(top_events, kEvents / 10) << "top 1% share too small";
}

TEST(ShopperSimTest, ActiveSessionsStayWithinCap) {
  ShopperSimOptions o = SmallWorld(5);
  o.customers = 5'000'000;
  o.max_active_sessions = 300;
  ShopperSim sim(o);
  Event e;
  size_t max_seen = 0;
  for (int i = 0; i < 200'000; ++i) {
    sim.Next(kStartMs + i, &e);
    max_seen = std::max(max_seen, sim.active_sessions());
    ASSERT_LE(sim.pending_orders(), 4096u);
  }
  EXPECT_LE(max_seen, 300u);
  EXPECT_GE(max_seen, 250u);  // The cap is actually reached.
}

TEST(ShopperSimTest, MalformedMessagesAreMalformedInTheirOwnWay) {
  ShopperSim sim(SmallWorld(9));
  Event e;
  for (int i = 0; i < 50; ++i) {
    SimMessage bytes = sim.MakeMalformed(MalformedKind::kRandomBytes, kStartMs);
    EXPECT_TRUE(bytes.malformed);
    EXPECT_FALSE(e.ParseFromString(bytes.value));

    SimMessage anonymous =
        sim.MakeMalformed(MalformedKind::kMissingCustomerId, kStartMs);
    ASSERT_TRUE(e.ParseFromString(anonymous.value));
    EXPECT_TRUE(e.customer_id().empty());

    SimMessage absurd =
        sim.MakeMalformed(MalformedKind::kAbsurdTimestamp, kStartMs);
    ASSERT_TRUE(e.ParseFromString(absurd.value));
    EXPECT_TRUE(e.event_time_ms() < 31'536'000'000 ||     // in 1970
                e.event_time_ms() >= 4'102'444'800'000);  // 2100 or later
    EXPECT_EQ(absurd.key, e.customer_id());

    SimMessage wrong = sim.MakeMalformed(MalformedKind::kWrongTopic, kStartMs);
    ASSERT_TRUE(e.ParseFromString(wrong.value));
    EXPECT_NE(TopicOfPayload(e), wrong.topic);
    EXPECT_NE(wrong.topic, tailor::v1::EVENT_TOPIC_UNSPECIFIED);
  }

  ShopperSimOptions o = SmallWorld(9);
  o.malformed_share = 0.10;
  ShopperSim mixed(o);
  int malformed = 0;
  for (int i = 0; i < 10'000; ++i) {
    SimMessage m = mixed.NextMessage(kStartMs + i);
    if (m.malformed) {
      ++malformed;
    } else {
      ASSERT_TRUE(e.ParseFromString(m.value));
      EXPECT_EQ(m.key, e.customer_id());
      EXPECT_EQ(TopicOfPayload(e), m.topic);
    }
  }
  EXPECT_GT(malformed, 700);
  EXPECT_LT(malformed, 1300);
}

}  // namespace
}  // namespace tailor::loadgen
