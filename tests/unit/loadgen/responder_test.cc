// The closed loop's customers: they respond with the configured
// probabilities, deterministically, and held-out customers at the base rate.
#include "tools/loadgen/responder.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tailor::loadgen {
namespace {

namespace v1 = ::tailor::v1;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

v1::Decision Reminder(int i, v1::DecisionAction action) {
  v1::Decision d;
  d.set_decision_id(absl::StrCat("d", i));
  d.set_customer_id(absl::StrCat("c", i));
  d.set_campaign("abandoned_cart");
  d.set_kind(v1::DECISION_KIND_CART_REMINDER);
  d.set_action(action);
  d.set_created_at_ms(1'000'000);
  return d;
}

Responder Make(const std::string& spec) {
  ResponderOptions options;
  EXPECT_TRUE(ParseResponses(spec, &options).ok()) << spec;
  return Responder(options);
}

TEST(ResponderTest, ParsesAndRefusesWithThePart) {
  ResponderOptions options;
  ASSERT_TRUE(ParseResponses(
                  "abandoned_cart:open=0.3,treated=0.08,base=0.05;*:base=0.01",
                  &options)
                  .ok());
  EXPECT_DOUBLE_EQ(options.campaigns["abandoned_cart"].treated, 0.08);
  ASSERT_TRUE(options.fallback.has_value());
  EXPECT_DOUBLE_EQ(options.fallback->base, 0.01);
  EXPECT_THAT(ParseResponses("x:open=2", &options).message(),
              HasSubstr("\"open=2\": the value must be a probability"));
  EXPECT_THAT(ParseResponses("x:click=0.1", &options).message(),
              HasSubstr("unknown key"));
  EXPECT_THAT(ParseResponses(":open=0.1", &options).message(),
              HasSubstr("no campaign name"));
}

TEST(ResponderTest, RatesFollowTheArmAndRepeatsGiveTheSameResponses) {
  const Responder r = Make("abandoned_cart:open=0.3,treated=0.08,base=0.05");
  int sent_orders = 0, held_orders = 0, opens = 0;
  constexpr int kN = 20000;
  for (int i = 0; i < kN; ++i) {
    for (v1::DecisionAction a :
         {v1::DECISION_ACTION_SEND, v1::DECISION_ACTION_HOLD_OUT}) {
      std::vector<Response> out, again;
      r.Respond(Reminder(i, a), &out);
      r.Respond(Reminder(i, a), &again);
      ASSERT_EQ(out.size(), again.size());
      for (const Response& x : out) {
        EXPECT_GT(x.event.event_time_ms(), 1'000'000);
        EXPECT_EQ(x.event.customer_id(), absl::StrCat("c", i));
        if (x.event.has_push_opened()) {
          EXPECT_EQ(a, v1::DECISION_ACTION_SEND);
          EXPECT_EQ(x.topic, v1::EVENT_TOPIC_CLICKSTREAM);
          ++opens;
        }
        if (x.event.has_order_placed()) {
          EXPECT_EQ(x.topic, v1::EVENT_TOPIC_ORDERS);
          ++(a == v1::DECISION_ACTION_SEND ? sent_orders : held_orders);
        }
      }
    }
  }
  EXPECT_NEAR(opens / double{kN}, 0.30, 0.015);
  EXPECT_NEAR(sent_orders / double{kN}, 0.08, 0.008);
  EXPECT_NEAR(held_orders / double{kN}, 0.05, 0.008);
}

TEST(ResponderTest, ACouponIsUsedAndRedeemed) {
  const Responder r = Make("first_order:treated=1");
  v1::Decision d = Reminder(1, v1::DECISION_ACTION_SEND);
  d.set_campaign("first_order");
  d.set_kind(v1::DECISION_KIND_COUPON);
  d.mutable_coupon()->set_code("FIRST-1");
  std::vector<Response> out;
  r.Respond(d, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].event.order_placed().coupon_code(), "FIRST-1");
  EXPECT_EQ(out[1].event.coupon_redeemed().coupon_code(), "FIRST-1");
  EXPECT_EQ(out[1].event.coupon_redeemed().order_id(),
            out[0].event.order_placed().order_id());
}

TEST(ResponderTest, SuppressedAndUnconfiguredGetNothing) {
  const Responder r = Make("abandoned_cart:open=1,treated=1,base=1");
  std::vector<Response> out;
  r.Respond(Reminder(1, v1::DECISION_ACTION_SUPPRESSED), &out);
  v1::Decision other = Reminder(2, v1::DECISION_ACTION_SEND);
  other.set_campaign("win_back");
  r.Respond(other, &out);
  EXPECT_THAT(out, IsEmpty());
}

}  // namespace
}  // namespace tailor::loadgen
