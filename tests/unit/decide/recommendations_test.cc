// Recommendations never name a product the customer bought, however many
// products they bought: the set of purchased product hashes is checked, not
// only the last few purchases.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/stable_hash.h"
#include "libs/decide/engine.h"
#include "libs/decide/internal.h"
#include "tests/unit/decide/decide_test_util.h"

namespace tailor::decide::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::unique_ptr<Engine> MakeEngine(const v1::RulesConfig& rules) {
  absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Create(rules);
  EXPECT_TRUE(e.ok()) << e.status();
  return std::move(e).value();
}

TEST(Recommendations, PurchasedProductHashIsTheStoredFormat) {
  // The same golden value is checked by libs/profile's tests: the fold
  // writes these hashes, the engine looks them up.
  EXPECT_EQ(internal::PurchasedProductHash("p1"), 0x407aaee55052cdebu);
  EXPECT_EQ(internal::PurchasedProductHash("p1"), StableHash64({"p1"}));
}

TEST(Recommendations, NeverNameAnyOfThirtyPurchases) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  const int64_t t = T0();
  s.View(t, "n1");
  s.View(t + kMin, "n2");
  // Five orders of six products each: more than recent_products (20).
  std::vector<std::string> bought;
  for (int order = 0; order < 5; ++order) {
    for (int line = 0; line < 6; ++line) {
      bought.push_back(absl::StrCat("b", bought.size()));
      s.AddToCart(t + (10 + order * 10 + line) * kMin, bought.back(), 1000);
    }
    s.Order(t + (16 + order * 10) * kMin, absl::StrCat("o", order), 6000);
  }
  ASSERT_EQ(s.profile().purchased_product_ids_size(), kRecentProducts);
  // Every bought product is viewed again, after n1 and n2, so each one is a
  // fresher candidate than they are.
  for (size_t i = 0; i < bought.size(); ++i) {
    s.View(t + 2 * kHour + static_cast<int64_t>(i) * kMin, bought[i]);
  }
  for (int i = 0; i < 3; ++i) s.View(t + 3 * kHour + i * kMin, "q");
  std::vector<const v1::Decision*> pushes;
  for (const v1::Decision& d : s.decisions()) {
    if (d.has_push()) pushes.push_back(&d);
  }
  ASSERT_EQ(pushes.size(), 1u);
  EXPECT_EQ(pushes[0]->push().product_id(), "q");
  EXPECT_THAT(pushes[0]->push().recommended_product_ids(),
              ElementsAre("n2", "n1"));
}

TEST(Recommendations, CartReminderLeavesOutProductsBoughtLongAgo) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  const int64_t t = T0();
  // Bought once, long ago; only the hash set remembers it.
  s.profile().add_purchased_product_hashes(StableHash64({"old_buy"}));
  s.View(t, "old_buy");
  s.AddToCart(t + kMin, "p1", 1000);
  s.AdvanceTo(t + 62 * kMin);
  ASSERT_THAT(s.summaries(), ElementsAre("abandoned_cart#1 SEND"));
  EXPECT_THAT(s.decisions()[0].cart_reminder().recommended_product_ids(),
              IsEmpty());
}

TEST(Recommendations, ProductsNotBoughtAreStillRecommended) {
  std::unique_ptr<Engine> engine = MakeEngine(TestRules());
  v1::PartitionState partition;
  Shopper s(engine.get(), "cust-1", &partition);
  const int64_t t = T0();
  s.profile().add_purchased_product_hashes(StableHash64({"bought"}));
  s.View(t, "seen");
  s.View(t + kMin, "bought");
  s.AddToCart(t + 2 * kMin, "p1", 1000);
  s.AdvanceTo(t + 63 * kMin);
  ASSERT_THAT(s.summaries(), ElementsAre("abandoned_cart#1 SEND"));
  EXPECT_THAT(s.decisions()[0].cart_reminder().recommended_product_ids(),
              ElementsAre("seen"));
}

}  // namespace
}  // namespace tailor::decide::testing
