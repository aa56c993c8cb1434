// Old cart lines do not linger: a cart reminder lists only the lines added
// inside abandoned_cart.window_hours, and its cart value (fact, coupon
// threshold and coupon basis) is the value of those lines.
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/decide/engine.h"
#include "libs/decide/internal.h"
#include "tests/unit/decide/decide_test_util.h"

namespace tailor::decide::testing {
namespace {

using ::testing::ElementsAre;

const char kWaw[] = "Europe/Warsaw";

std::unique_ptr<Engine> MakeEngine(const v1::RulesConfig& rules) {
  absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Create(rules);
  EXPECT_TRUE(e.ok()) << e.status();
  return std::move(e).value();
}

// TestRules without the cart-threshold coupon, whose on-site decisions would
// only add noise to these timelines.
v1::RulesConfig Rules() {
  v1::RulesConfig r = TestRules();
  r.mutable_cart_threshold_coupon()->mutable_common()->set_enabled(false);
  return r;
}

// The value of fact `name`, or "<missing>".
std::string Fact(const v1::Decision& d, const std::string& name) {
  const std::string* value = internal::FindFact(d, name);
  return value != nullptr ? *value : "<missing>";
}

std::vector<std::string> ItemIds(const v1::Decision& d) {
  std::vector<std::string> ids;
  for (const v1::LineItem& i : d.cart_reminder().items()) {
    ids.push_back(i.product_id());
  }
  return ids;
}

TEST(CartWindow, CustomerBackAfterThirtyDaysIsRemindedOfTheNewLineOnly) {
  std::unique_ptr<Engine> engine = MakeEngine(Rules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  const int64_t t = T0();
  s.AddToCart(t, "old", 22000);
  s.AdvanceTo(t + 61 * kMin);
  s.AdvanceTo(t + 1441 * kMin);
  s.set_session("s2");
  const int64_t back = t + 30 * kDay;
  s.AddToCart(back, "new", 5000);
  s.AdvanceTo(back + 61 * kMin);
  s.AdvanceTo(back + 1441 * kMin);
  ASSERT_THAT(
      s.summaries(),
      ElementsAre("abandoned_cart#1 SEND", "abandoned_cart#2 SEND +coupon",
                  "abandoned_cart#1 SEND", "abandoned_cart#2 SEND"));
  // The first cart's reminders listed its line.
  EXPECT_THAT(ItemIds(s.decisions()[0]), ElementsAre("old"));
  for (int i : {2, 3}) {
    const v1::Decision& d = s.decisions()[i];
    EXPECT_THAT(ItemIds(d), ElementsAre("new")) << i;
    EXPECT_EQ(d.cart_reminder().cart_value().minor_units(), 5000) << i;
    EXPECT_EQ(d.cart_reminder().cart_value().currency(), "PLN") << i;
    EXPECT_EQ(Fact(d, "cart_value_minor"), "5000") << i;
    EXPECT_EQ(Fact(d, "cart_items"), "1") << i;
    EXPECT_EQ(Fact(d, "cart_items_outside_window"), "1") << i;
  }
  // 220.00 + 50.00 would earn the coupon; the listed 50.00 does not.
  EXPECT_EQ(Fact(s.decisions()[3], "coupon_withheld"), "below_threshold");
}

TEST(CartWindow, CouponBasisIsTheValueOfTheListedLines) {
  std::unique_ptr<Engine> engine = MakeEngine(Rules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  const int64_t t = T0();
  s.AddToCart(t, "old", 9000);
  s.set_session("s2");
  s.AddToCart(t + 30 * kDay, "new", 21000);
  s.AdvanceTo(t + 30 * kDay + 1441 * kMin);
  ASSERT_THAT(s.summaries(), ElementsAre("abandoned_cart#2 SEND +coupon"));
  const v1::Decision& d = s.decisions()[0];
  EXPECT_THAT(ItemIds(d), ElementsAre("new"));
  // 10% of 210.00, not of 300.00.
  EXPECT_EQ(Fact(d, "coupon_value_minor"), "2100");
  EXPECT_EQ(partition.budgets(0).value_minor(), 2100);
}

TEST(CartWindow, NoReminderWhenOnlyOldLinesAreLeft) {
  std::unique_ptr<Engine> engine = MakeEngine(Rules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  const int64_t t = T0();
  s.AddToCart(t, "old", 15000);
  s.AdvanceTo(t + 1441 * kMin);
  s.set_session("s2");
  s.AddToCart(t + 30 * kDay, "new", 5000);
  // Taking the new line out is a cart change, but the cart left holds only
  // a line the customer was already reminded of a month ago.
  s.RemoveFromCart(t + 30 * kDay + kMin, "new");
  s.AdvanceTo(t + 32 * kDay);
  EXPECT_THAT(s.summaries(), ElementsAre("abandoned_cart#2 SEND"));
}

TEST(CartWindow, ReaddingAnOldProductBringsItsLineBack) {
  std::unique_ptr<Engine> engine = MakeEngine(Rules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  const int64_t t = T0();
  s.AddToCart(t, "a", 5000);
  s.AddToCart(t + kMin, "b", 5000);
  s.set_session("s2");
  const int64_t back = t + 30 * kDay;
  // What libs/profile does when a product already in the cart is added
  // again: the line's add time moves forward.
  s.profile().mutable_cart()->set_item_added_at_ms(0, back);
  s.AddToCart(back, "c", 5000);
  s.AdvanceTo(back + 61 * kMin);
  ASSERT_THAT(s.summaries(), ElementsAre("abandoned_cart#1 SEND"));
  EXPECT_THAT(ItemIds(s.decisions()[0]), ElementsAre("a", "c"));
}

TEST(CartWindow, ProfileWithoutLineTimesListsEveryLine) {
  std::unique_ptr<Engine> engine = MakeEngine(Rules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  const int64_t t = T0();
  s.AddToCart(t, "a", 5000);
  s.AddToCart(t + kMin, "b", 5000);
  // Written before lines had add times: the last cart change stands in.
  s.profile().mutable_cart()->clear_item_added_at_ms();
  s.AdvanceTo(t + 62 * kMin);
  ASSERT_THAT(s.summaries(), ElementsAre("abandoned_cart#1 SEND"));
  EXPECT_THAT(ItemIds(s.decisions()[0]), ElementsAre("a", "b"));
  EXPECT_EQ(s.decisions()[0].cart_reminder().cart_value().minor_units(), 10000);
}

TEST(CartWindow, DeferredReminderListsItsLinesAgainWhenItFires) {
  std::unique_ptr<Engine> engine = MakeEngine(Rules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  // Line a at Wednesday 00:00; its reminders are deferred to 08:00.
  s.AddToCart(At(kWaw, 2024, 3, 6, 0), "a", 15000);
  s.AdvanceExactlyTo(At(kWaw, 2024, 3, 7, 21, 30));
  // Line b on Thursday 21:30. Reminder 2 is due Friday 21:30, inside quiet
  // hours: made with a (69.5 h old) and b, it is deferred to Saturday 08:00,
  // when a is 80 h old, past the 72 h window.
  s.AddToCart(At(kWaw, 2024, 3, 7, 21, 30), "b", 3000);
  s.AdvanceExactlyTo(At(kWaw, 2024, 3, 9, 12));
  ASSERT_THAT(s.summaries(),
              ElementsAre("abandoned_cart#1 SEND", "abandoned_cart#2 SEND",
                          "abandoned_cart#1 SEND", "abandoned_cart#2 SEND"));
  EXPECT_THAT(ItemIds(s.decisions()[2]), ElementsAre("a", "b"));
  const v1::Decision& last = s.decisions()[3];
  EXPECT_EQ(last.created_at_ms(), At(kWaw, 2024, 3, 9, 8));
  EXPECT_NE(internal::FindFact(last, "deferred_from_ms"), nullptr);
  EXPECT_THAT(ItemIds(last), ElementsAre("b"));
  EXPECT_EQ(last.cart_reminder().cart_value().minor_units(), 3000);
  EXPECT_EQ(Fact(last, "cart_value_minor"), "3000");
  EXPECT_EQ(Fact(last, "cart_items"), "1");
  EXPECT_EQ(Fact(last, "cart_items_outside_window"), "1");
}

}  // namespace
}  // namespace tailor::decide::testing
