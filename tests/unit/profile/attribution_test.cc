// Attribution of opens, redemptions and orders to a customer's recent
// decisions: window edges, last touch, a coupon redeemed on an order, a push
// opened twice, an erased customer's history.
#include "libs/profile/attribution.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/profile/fold.h"
#include "libs/profile/limits.h"

namespace tailor::profile {
namespace {

namespace v1 = ::tailor::v1;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kHour = 3'600'000;
constexpr int64_t kWindow = 72 * kHour;

class AttributionTest : public ::testing::Test {
 protected:
  AttributionTest() { profile_.set_customer_id("c1"); }

  void Decide(const std::string& id, const std::string& campaign,
              v1::DecisionAction action, int64_t at,
              const std::string& coupon = "") {
    v1::Decision d;
    d.set_decision_id(id);
    d.set_customer_id("c1");
    d.set_campaign(campaign);
    d.set_variant("A");
    d.set_action(action);
    d.set_kind(coupon.empty() ? v1::DECISION_KIND_PUSH
                              : v1::DECISION_KIND_COUPON);
    d.set_created_at_ms(at);
    if (!coupon.empty()) d.mutable_coupon()->set_code(coupon);
    RememberDecision(d, kWindow, &profile_);
  }

  v1::Event NewEvent(int64_t at) {
    v1::Event e;
    e.set_customer_id("c1");
    e.set_event_id("e" + std::to_string(++events_));
    e.set_event_time_ms(at);
    return e;
  }

  std::vector<v1::Outcome> Order(int64_t at, const std::string& coupon = "",
                                 int64_t total = 10000) {
    v1::Event e = NewEvent(at);
    e.mutable_order_placed()->set_order_id("o" + std::to_string(events_));
    e.mutable_order_placed()->mutable_total()->set_minor_units(total);
    e.mutable_order_placed()->mutable_total()->set_currency("PLN");
    e.mutable_order_placed()->set_coupon_code(coupon);
    return Run(e);
  }

  std::vector<v1::Outcome> Open(int64_t at, const std::string& decision) {
    v1::Event e = NewEvent(at);
    e.mutable_push_opened()->set_decision_id(decision);
    return Run(e);
  }

  std::vector<v1::Outcome> Redeem(int64_t at, const std::string& code) {
    v1::Event e = NewEvent(at);
    e.mutable_coupon_redeemed()->set_coupon_code(code);
    return Run(e);
  }

  std::vector<v1::Outcome> Run(const v1::Event& e) {
    std::vector<v1::Outcome> out;
    Attribute(e, &profile_, &out);
    return out;
  }

  // "<decision> <KIND>" per outcome.
  static std::vector<std::string> Names(const std::vector<v1::Outcome>& os) {
    std::vector<std::string> names;
    for (const v1::Outcome& o : os) {
      names.push_back(o.decision_id() + " " +
                      v1::OutcomeKind_Name(o.outcome()).substr(13));
    }
    return names;
  }

  v1::CustomerProfile profile_;
  int events_ = 0;
};

TEST_F(AttributionTest, AnOrderAtTheWindowsEdgeConvertsOneMillisecondLaterNot) {
  Decide("d1", "abandoned_cart", v1::DECISION_ACTION_SEND, kT0);
  EXPECT_THAT(Names(Order(kT0 + kWindow)), ElementsAre("d1 CONVERSION"));
  EXPECT_THAT(Order(kT0 + kWindow + 1), IsEmpty());
}

TEST_F(AttributionTest, AnOrderBeforeTheDecisionIsNotItsConversion) {
  Decide("d1", "abandoned_cart", v1::DECISION_ACTION_SEND, kT0);
  EXPECT_THAT(Order(kT0 - 1), IsEmpty());  // a late event
  EXPECT_THAT(Names(Order(kT0)), ElementsAre("d1 CONVERSION"));
}

TEST_F(AttributionTest, TheLastTouchWinsAndHoldoutsConvertToo) {
  Decide("d1", "browse_abandonment", v1::DECISION_ACTION_SEND, kT0);
  Decide("d2", "abandoned_cart", v1::DECISION_ACTION_HOLD_OUT, kT0 + kHour);
  Decide("d3", "win_back", v1::DECISION_ACTION_SUPPRESSED, kT0 + 2 * kHour);
  const std::vector<v1::Outcome> out = Order(kT0 + 3 * kHour, "", 25900);
  ASSERT_THAT(Names(out), ElementsAre("d2 CONVERSION"));
  EXPECT_EQ(out[0].action(), v1::DECISION_ACTION_HOLD_OUT);
  EXPECT_EQ(out[0].campaign(), "abandoned_cart");
  EXPECT_EQ(out[0].variant(), "A");
  EXPECT_EQ(out[0].value().minor_units(), 25900);
  EXPECT_EQ(out[0].value().currency(), "PLN");
  EXPECT_EQ(out[0].minutes_since_decision(), 120);
  EXPECT_EQ(out[0].customer_id(), "c1");
  EXPECT_EQ(out[0].decided_at_ms(), kT0 + kHour);
  // Once the last touch's window is over, the earlier one's still counts.
  Decide("d4", "loyalty", v1::DECISION_ACTION_SEND, kT0 + 4 * kHour);
  EXPECT_THAT(Names(Order(kT0 + 5 * kHour)), ElementsAre("d4 CONVERSION"));
}

TEST_F(AttributionTest, ACouponRedeemedOnAnOrderCountsOnceAndTheOrderIsItsOwn) {
  Decide("d1", "first_order", v1::DECISION_ACTION_SEND, kT0, "FIRST-1");
  Decide("d2", "browse_abandonment", v1::DECISION_ACTION_SEND, kT0 + kHour);
  const std::vector<v1::Outcome> out = Order(kT0 + 2 * kHour, "FIRST-1", 5000);
  // The coupon names its decision, ahead of the later push.
  EXPECT_THAT(Names(out), ElementsAre("d1 REDEMPTION", "d1 CONVERSION"));
  EXPECT_EQ(out[0].value().minor_units(), 5000);
  EXPECT_EQ(out[0].order_id(), out[1].order_id());
  // The coupon_redeemed that follows the order adds nothing.
  EXPECT_THAT(Redeem(kT0 + 2 * kHour, "FIRST-1"), IsEmpty());
}

TEST_F(AttributionTest, ARedemptionWithoutAnOrderCountsOnce) {
  Decide("d1", "win_back", v1::DECISION_ACTION_SEND, kT0, "WINBACK-1");
  EXPECT_THAT(Names(Redeem(kT0 + kHour, "WINBACK-1")),
              ElementsAre("d1 REDEMPTION"));
  EXPECT_THAT(Redeem(kT0 + 2 * kHour, "WINBACK-1"), IsEmpty());
  EXPECT_THAT(Redeem(kT0 + 2 * kHour, "UNKNOWN-1"), IsEmpty());
}

TEST_F(AttributionTest, APushOpenedTwiceIsOneOpen) {
  Decide("d1", "browse_abandonment", v1::DECISION_ACTION_SEND, kT0);
  const std::vector<v1::Outcome> first = Open(kT0 + 60'000, "d1");
  ASSERT_THAT(Names(first), ElementsAre("d1 OPEN"));
  EXPECT_EQ(first[0].minutes_since_decision(), 1);
  EXPECT_THAT(Open(kT0 + 120'000, "d1"), IsEmpty());
}

TEST_F(AttributionTest, AHeldOutOrUnknownDecisionIsNeverOpened) {
  Decide("d1", "browse_abandonment", v1::DECISION_ACTION_HOLD_OUT, kT0);
  EXPECT_THAT(Open(kT0 + 1, "d1"), IsEmpty());
  EXPECT_THAT(Open(kT0 + 1, "nope"), IsEmpty());
}

TEST_F(AttributionTest, AnErasedCustomersHistoryIsGone) {
  Decide("d1", "abandoned_cart", v1::DECISION_ACTION_SEND, kT0);
  v1::Event erase = NewEvent(kT0 + kHour);
  erase.mutable_erasure_requested();
  ASSERT_EQ(FoldEvent(erase, WithDefaults({}), &profile_), FoldResult::kErased);
  EXPECT_THAT(profile_.recent_decisions(), IsEmpty());
  EXPECT_THAT(Order(kT0 + 2 * kHour), IsEmpty());
}

TEST_F(AttributionTest, ACustomerWhoObjectsToProfilingIsNotMeasured) {
  Decide("d1", "abandoned_cart", v1::DECISION_ACTION_SEND, kT0);
  profile_.set_profiling_opt_out(true);
  EXPECT_THAT(Open(kT0 + 1, "d1"), IsEmpty());
  EXPECT_THAT(Order(kT0 + kHour), IsEmpty());
}

TEST_F(AttributionTest, TheHistoryIsBoundedAndARedoReplacesItsEntry) {
  for (int i = 0; i < kMaxRecentDecisions + 5; ++i) {
    Decide("d" + std::to_string(i), "browse_abandonment",
           v1::DECISION_ACTION_SEND, kT0 + i);
  }
  Decide("d36", "browse_abandonment", v1::DECISION_ACTION_SEND, kT0 + 36);
  ASSERT_EQ(profile_.recent_decisions_size(), kMaxRecentDecisions);
  EXPECT_EQ(profile_.recent_decisions(0).decision_id(), "d5");
  EXPECT_EQ(profile_.recent_decisions(kMaxRecentDecisions - 1).decision_id(),
            "d36");
  EXPECT_THAT(Open(kT0 + 100, "d0"), IsEmpty());  // forgotten
}

TEST_F(AttributionTest, TheSameInputGivesTheSameOutcomeId) {
  Decide("d1", "browse_abandonment", v1::DECISION_ACTION_SEND, kT0);
  v1::Event open = NewEvent(kT0 + 1);
  open.mutable_push_opened()->set_decision_id("d1");
  v1::CustomerProfile before = profile_;
  const std::vector<v1::Outcome> a = Run(open);
  profile_ = before;
  const std::vector<v1::Outcome> b = Run(open);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].SerializeAsString(), b[0].SerializeAsString());
  EXPECT_EQ(a[0].outcome_id().size(), 32u);
}

}  // namespace
}  // namespace tailor::profile
