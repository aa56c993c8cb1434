#include "libs/profile/fold.h"

#include <gmock/gmock.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace tailor::profile {
namespace {

using ::tailor::v1::Affinity;
using ::tailor::v1::CustomerProfile;
using ::tailor::v1::Event;
using ::tailor::v1::ProfileSpec;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
// Repeated message fields are checked with size() and empty(): gmock's
// SizeIs and IsEmpty would print the messages through GoogleTest's
// ProtobufPrinter, where GCC 12 at -O3 reports a false -Wrestrict
// (GCC bug 105651).
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr int64_t kT0 = 1700000000000;
constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

Event Parse(const std::string& text) {
  Event event;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &event))
      << text;
  return event;
}

// An event of customer c1 at time t in session `session` ("" = none).
Event At(int64_t t, const std::string& payload,
         const std::string& session = "s1") {
  return Parse(absl::StrCat("customer_id: 'c1' event_time_ms: ", t,
                            " context { session_id: '", session, "' } ",
                            payload));
}

std::string View(const std::string& product, const std::string& category) {
  return absl::StrCat("product_view { product_id: '", product,
                      "' category_id: '", category, "' }");
}

std::string CartAdd(const std::string& product, int quantity, int64_t price,
                    const std::string& currency = "PLN",
                    const std::string& category = "cat") {
  return absl::StrCat("cart_add { item { product_id: '", product,
                      "' category_id: '", category, "' quantity: ", quantity,
                      " unit_price { minor_units: ", price, " currency: '",
                      currency, "' } } }");
}

std::string Order(const std::string& id, int64_t total,
                  const std::string& products_text = "",
                  const std::string& coupon = "") {
  return absl::StrCat("order_placed { order_id: '", id, "' ", products_text,
                      " total { minor_units: ", total,
                      " currency: 'PLN' } coupon_code: '", coupon, "' }");
}

std::string Item(const std::string& product, int quantity, int64_t price) {
  return absl::StrCat(
      "items { product_id: '", product, "' quantity: ", quantity,
      " unit_price { minor_units: ", price, " currency: 'PLN' } }");
}

const Affinity* Find(const google::protobuf::RepeatedPtrField<Affinity>& list,
                     const std::string& id) {
  for (const Affinity& a : list) {
    if (a.id() == id) return &a;
  }
  return nullptr;
}

std::vector<std::string> Ids(
    const google::protobuf::RepeatedPtrField<Affinity>& list) {
  std::vector<std::string> ids;
  for (const Affinity& a : list) ids.push_back(a.id());
  return ids;
}

class FoldTest : public ::testing::Test {
 protected:
  FoldResult Fold(const Event& event) {
    return FoldEvent(event, spec_, &profile_);
  }

  ProfileSpec spec_;
  CustomerProfile profile_;
};

// --- envelope --------------------------------------------------------------

TEST_F(FoldTest, FirstEventInitializesTheEnvelope) {
  EXPECT_EQ(Fold(At(kT0, "app_open {}")), FoldResult::kUpdated);
  EXPECT_EQ(profile_.customer_id(), "c1");
  EXPECT_EQ(profile_.events(), 1);
  EXPECT_EQ(profile_.first_seen_ms(), kT0);
  EXPECT_EQ(profile_.last_seen_ms(), kT0);
  EXPECT_EQ(profile_.previous_seen_ms(), 0);
  EXPECT_EQ(profile_.sessions(), 1);
  EXPECT_EQ(profile_.last_session_id(), "s1");
}

TEST_F(FoldTest, NewerEventSetsPreviousSeen) {
  Fold(At(kT0, "app_open {}"));
  Fold(At(kT0 + 5 * kMinute, "app_open {}"));
  EXPECT_EQ(profile_.previous_seen_ms(), kT0);
  EXPECT_EQ(profile_.last_seen_ms(), kT0 + 5 * kMinute);
  EXPECT_EQ(profile_.events(), 2);
}

TEST_F(FoldTest, EventAtTheSameTimeKeepsPreviousSeen) {
  Fold(At(kT0, "app_open {}"));
  Fold(At(kT0 + 5 * kDay, "app_open {}"));
  Fold(At(kT0 + 5 * kDay, "page_view {}"));
  EXPECT_EQ(profile_.previous_seen_ms(), kT0);
  EXPECT_EQ(profile_.last_seen_ms(), kT0 + 5 * kDay);
}

TEST_F(FoldTest, OutOfOrderEventDoesNotMoveLastSeenBack) {
  Fold(At(kT0, "app_open {}"));
  Fold(At(kT0 + 10 * kMinute, "app_open {}"));
  Event late = At(kT0 - kMinute, View("p1", "shoes"));
  late.mutable_context()->set_locale("en-GB");
  Fold(late);
  EXPECT_EQ(profile_.events(), 3);
  EXPECT_EQ(profile_.last_seen_ms(), kT0 + 10 * kMinute);
  EXPECT_EQ(profile_.previous_seen_ms(), kT0);
  EXPECT_EQ(profile_.first_seen_ms(), kT0 - kMinute);
  EXPECT_EQ(profile_.context().locale(), "");  // Old context is not applied.
  // The signal itself is folded.
  ASSERT_NE(Find(profile_.product_affinity(), "p1"), nullptr);
}

TEST_F(FoldTest, ContextUpdatesOnlyNonEmptyFields) {
  Event first = At(kT0, "app_open {}");
  first.mutable_context()->set_device(tailor::v1::DEVICE_CLASS_APP);
  first.mutable_context()->set_locale("pl-PL");
  first.mutable_context()->set_region("PL-MZ");
  first.mutable_context()->set_time_zone("Europe/Warsaw");
  Fold(first);
  Event second = At(kT0 + 1, "app_open {}");
  second.mutable_context()->set_locale("en-US");
  Fold(second);
  EXPECT_EQ(profile_.context().device(), tailor::v1::DEVICE_CLASS_APP);
  EXPECT_EQ(profile_.context().locale(), "en-US");
  EXPECT_EQ(profile_.context().region(), "PL-MZ");
  EXPECT_EQ(profile_.context().time_zone(), "Europe/Warsaw");
  EXPECT_EQ(profile_.context().session_id(), "");
}

// --- sessions --------------------------------------------------------------

struct SessionCase {
  std::string name;
  std::string first_session;
  std::string second_session;
  int64_t gap_ms;
  int64_t want_sessions;
  std::string want_last_session_id;
};

TEST_F(FoldTest, SessionDetectionByIdAndByGap) {
  const std::vector<SessionCase> cases = {
      {"same id", "s1", "s1", 5 * kMinute, 1, "s1"},
      {"same id after a long gap", "s1", "s1", 3 * kHour, 1, "s1"},
      {"different id", "s1", "s2", kMinute, 2, "s2"},
      {"no id within the gap", "", "", 30 * kMinute, 1, ""},
      {"no id beyond the gap", "", "", 30 * kMinute + 1, 2, ""},
      {"id then no id within the gap", "s1", "", 10 * kMinute, 1, "s1"},
      {"id then no id beyond the gap", "s1", "", 31 * kMinute, 2, ""},
  };
  for (const SessionCase& c : cases) {
    CustomerProfile profile;
    FoldEvent(At(kT0, View("p1", "shoes"), c.first_session), spec_, &profile);
    FoldEvent(At(kT0 + c.gap_ms, View("p1", "shoes"), c.second_session), spec_,
              &profile);
    EXPECT_EQ(profile.sessions(), c.want_sessions) << c.name;
    EXPECT_EQ(profile.last_session_id(), c.want_last_session_id) << c.name;
    // Per-session views restart with a new session.
    EXPECT_EQ(Find(profile.product_affinity(), "p1")->views(),
              c.want_sessions == 1 ? 2 : 1)
        << c.name;
  }
}

TEST_F(FoldTest, SessionGapComesFromTheSpec) {
  spec_.set_session_gap_minutes(5);
  Fold(At(kT0, "app_open {}", ""));
  Fold(At(kT0 + 6 * kMinute, "app_open {}", ""));
  EXPECT_EQ(profile_.sessions(), 2);
}

TEST_F(FoldTest, NewSessionResetsCategoryAndProductViews) {
  Fold(At(kT0, View("p1", "shoes"), "s1"));
  Fold(At(kT0 + 1, View("p2", "shoes"), "s1"));
  EXPECT_EQ(Find(profile_.category_affinity(), "shoes")->views(), 2);
  Fold(At(kT0 + 2, "app_open {}", "s2"));
  EXPECT_EQ(Find(profile_.category_affinity(), "shoes")->views(), 0);
  EXPECT_EQ(Find(profile_.product_affinity(), "p1")->views(), 0);
  EXPECT_EQ(Find(profile_.product_affinity(), "p2")->views(), 0);
}

// --- interest --------------------------------------------------------------

struct InterestCase {
  std::string payload;
  std::string category;  // Expected category affinity id ("" = none).
  double category_score;
  std::string product;  // Expected product affinity id ("" = none).
  double product_score;
};

TEST_F(FoldTest, EachSignalAddsItsWeight) {
  const std::vector<InterestCase> cases = {
      {View("p1", "shoes"), "shoes", 1.0, "p1", 1.0},
      {"page_view { page_type: 'category' category_id: 'shoes' }", "shoes", 0.5,
       "", 0},
      {"page_view { page_type: 'home' }", "", 0, "", 0},
      {"search { query_category_id: 'shoes' results: 3 }", "shoes", 0.5, "", 0},
      {"search { results: 3 }", "", 0, "", 0},
      {CartAdd("p1", 1, 100, "PLN", "shoes"), "shoes", 2.0, "p1", 2.0},
  };
  for (const InterestCase& c : cases) {
    CustomerProfile profile;
    FoldEvent(At(kT0, c.payload), spec_, &profile);
    if (c.category.empty()) {
      EXPECT_TRUE(profile.category_affinity().empty()) << c.payload;
    } else {
      ASSERT_EQ(profile.category_affinity().size(), 1) << c.payload;
      EXPECT_EQ(profile.category_affinity(0).id(), c.category);
      EXPECT_DOUBLE_EQ(profile.category_affinity(0).score(), c.category_score)
          << c.payload;
      EXPECT_EQ(profile.category_affinity(0).updated_at_ms(), kT0);
    }
    if (c.product.empty()) {
      EXPECT_TRUE(profile.product_affinity().empty()) << c.payload;
    } else {
      ASSERT_EQ(profile.product_affinity().size(), 1) << c.payload;
      EXPECT_EQ(profile.product_affinity(0).id(), c.product);
      EXPECT_DOUBLE_EQ(profile.product_affinity(0).score(), c.product_score)
          << c.payload;
    }
  }
}

TEST_F(FoldTest, ProductViewCountsViewsAndRecentProducts) {
  Fold(At(kT0, View("p1", "shoes")));
  Fold(At(kT0 + 1, View("p2", "shoes")));
  Fold(At(kT0 + 2, View("p1", "shoes")));
  EXPECT_EQ(Find(profile_.product_affinity(), "p1")->views(), 2);
  EXPECT_EQ(Find(profile_.product_affinity(), "p2")->views(), 1);
  EXPECT_EQ(Find(profile_.category_affinity(), "shoes")->views(), 3);
  EXPECT_THAT(profile_.recent_viewed_product_ids(), ElementsAre("p2", "p1"));
  EXPECT_THAT(profile_.recent_viewed_at_ms(), ElementsAre(kT0 + 1, kT0 + 2));
}

TEST_F(FoldTest, RecentViewedProductsAreBoundedNewestLast) {
  spec_.set_recent_products(3);
  for (int i = 1; i <= 4; ++i) {
    Fold(At(kT0 + i, View(absl::StrCat("p", i), "c")));
  }
  EXPECT_THAT(profile_.recent_viewed_product_ids(),
              ElementsAre("p2", "p3", "p4"));
  Fold(At(kT0 + 10, View("p2", "c")));
  EXPECT_THAT(profile_.recent_viewed_product_ids(),
              ElementsAre("p3", "p4", "p2"));
  EXPECT_THAT(profile_.recent_viewed_at_ms(),
              ElementsAre(kT0 + 3, kT0 + 4, kT0 + 10));
  // A late view of an unseen product older than everything kept is dropped.
  Fold(At(kT0 + 1, View("p9", "c")));
  EXPECT_THAT(profile_.recent_viewed_product_ids(),
              ElementsAre("p3", "p4", "p2"));
}

TEST(DecayedScoreTest, HalvesAfterEachHalfLife) {
  Affinity a;
  a.set_score(8.0);
  a.set_updated_at_ms(kT0);
  EXPECT_DOUBLE_EQ(DecayedScore(a, 72, kT0), 8.0);
  EXPECT_DOUBLE_EQ(DecayedScore(a, 72, kT0 + 72 * kHour), 4.0);
  EXPECT_DOUBLE_EQ(DecayedScore(a, 72, kT0 + 144 * kHour), 2.0);
  EXPECT_DOUBLE_EQ(DecayedScore(a, 1, kT0 + kHour), 4.0);
  EXPECT_DOUBLE_EQ(DecayedScore(a, 72, kT0 - kHour), 8.0);  // Never grows.
}

TEST_F(FoldTest, RepeatedSignalAddsToTheDecayedScore) {
  spec_.set_affinity_half_life_hours(10);
  Fold(At(kT0, View("p1", "shoes")));
  Fold(At(kT0 + 10 * kHour, View("p1", "shoes")));
  const Affinity* p1 = Find(profile_.product_affinity(), "p1");
  EXPECT_DOUBLE_EQ(p1->score(), 1.5);
  EXPECT_EQ(p1->updated_at_ms(), kT0 + 10 * kHour);
  // A late signal is added as decayed to the entry's time.
  Fold(At(kT0, View("p1", "shoes")));
  EXPECT_DOUBLE_EQ(Find(profile_.product_affinity(), "p1")->score(), 2.0);
  EXPECT_EQ(Find(profile_.product_affinity(), "p1")->updated_at_ms(),
            kT0 + 10 * kHour);
}

TEST_F(FoldTest, TopKIsBoundedAndEvictsTheWeakest) {
  spec_.set_top_k(3);
  spec_.set_affinity_half_life_hours(1);
  Fold(At(kT0, View("p1", "c")));
  Fold(At(kT0, View("p1", "c")));
  Fold(At(kT0, View("p2", "c")));
  Fold(At(kT0, View("p2", "c")));
  Fold(At(kT0, View("p2", "c")));
  Fold(At(kT0, View("p3", "c")));
  EXPECT_THAT(Ids(profile_.product_affinity()), ElementsAre("p2", "p1", "p3"));
  // Same time: p4 (1.0) is not stronger than p3 (1.0), nothing changes.
  Fold(At(kT0, View("p4", "c")));
  EXPECT_THAT(Ids(profile_.product_affinity()), ElementsAre("p2", "p1", "p3"));
  // An hour later p3 has decayed to 0.5 and p4 replaces it.
  Fold(At(kT0 + kHour, View("p4", "c")));
  EXPECT_THAT(Ids(profile_.product_affinity()), ElementsAre("p2", "p1", "p4"));
  // A cart add (2.0) is now the strongest: p2 and p1 decayed to 1.5 and 1.0.
  Fold(At(kT0 + kHour, CartAdd("p5", 1, 100)));
  EXPECT_THAT(Ids(profile_.product_affinity()), ElementsAre("p5", "p2", "p1"));
  EXPECT_EQ(profile_.product_affinity().size(), 3);
}

TEST_F(FoldTest, BumpedEntryMovesToItsRank) {
  Fold(At(kT0, View("p1", "c")));
  Fold(At(kT0, View("p1", "c")));
  Fold(At(kT0, View("p2", "c")));
  EXPECT_THAT(Ids(profile_.product_affinity()), ElementsAre("p1", "p2"));
  Fold(At(kT0, CartAdd("p2", 1, 100)));
  EXPECT_THAT(Ids(profile_.product_affinity()), ElementsAre("p2", "p1"));
}

// --- cart ------------------------------------------------------------------

TEST_F(FoldTest, CartAddMergesByProductAndRecomputesValue) {
  Fold(At(kT0, CartAdd("p1", 1, 1000)));
  Fold(At(kT0 + 1, CartAdd("p1", 2, 900)));
  Fold(At(kT0 + 2, CartAdd("p2", 1, 500)));
  const auto& cart = profile_.cart();
  ASSERT_EQ(cart.items().size(), 2);
  EXPECT_EQ(cart.items(0).product_id(), "p1");
  EXPECT_EQ(cart.items(0).quantity(), 3);
  EXPECT_EQ(cart.items(0).unit_price().minor_units(), 900);
  EXPECT_EQ(cart.value().minor_units(), 3 * 900 + 500);
  EXPECT_EQ(cart.value().currency(), "PLN");
  EXPECT_EQ(cart.version(), 3);
  EXPECT_EQ(cart.updated_at_ms(), kT0 + 2);
}

TEST_F(FoldTest, CartValueKeepsTheFirstCurrency) {
  Fold(At(kT0, CartAdd("p1", 1, 1000, "PLN")));
  Fold(At(kT0 + 1, CartAdd("p2", 2, 300, "EUR")));
  EXPECT_EQ(profile_.cart().items().size(), 2);
  EXPECT_EQ(profile_.cart().value().minor_units(), 1000);
  EXPECT_EQ(profile_.cart().value().currency(), "PLN");
}

struct RemoveCase {
  std::string name;
  std::string payload;
  int want_lines;
  int want_p1_quantity;  // -1: line gone.
  int64_t want_value;
  int64_t want_version;
};

TEST_F(FoldTest, CartRemoveReducesOrRemovesTheLine) {
  const std::vector<RemoveCase> cases = {
      {"reduce", "cart_remove { product_id: 'p1' quantity: 2 }", 2, 1, 1500, 3},
      {"zero removes", "cart_remove { product_id: 'p1' quantity: 0 }", 1, -1,
       500, 3},
      {"more than in cart removes",
       "cart_remove { product_id: 'p1' quantity: 9 }", 1, -1, 500, 3},
      {"unknown product changes nothing",
       "cart_remove { product_id: 'p7' quantity: 1 }", 2, 3, 3500, 2},
  };
  for (const RemoveCase& c : cases) {
    CustomerProfile profile;
    FoldEvent(At(kT0, CartAdd("p1", 3, 1000)), spec_, &profile);
    FoldEvent(At(kT0 + 1, CartAdd("p2", 1, 500)), spec_, &profile);
    FoldEvent(At(kT0 + 2, c.payload), spec_, &profile);
    EXPECT_EQ(profile.cart().items().size(), c.want_lines) << c.name;
    int p1_quantity = -1;
    for (const auto& line : profile.cart().items()) {
      if (line.product_id() == "p1") p1_quantity = line.quantity();
    }
    EXPECT_EQ(p1_quantity, c.want_p1_quantity) << c.name;
    EXPECT_EQ(profile.cart().value().minor_units(), c.want_value) << c.name;
    EXPECT_EQ(profile.cart().version(), c.want_version) << c.name;
    EXPECT_EQ(profile.cart().updated_at_ms(),
              c.want_version == 3 ? kT0 + 2 : kT0 + 1)
        << c.name;
  }
}

TEST_F(FoldTest, RemovingTheLastLineEmptiesTheCart) {
  Fold(At(kT0, CartAdd("p1", 1, 1000)));
  Fold(At(kT0 + 1, "cart_remove { product_id: 'p1' }"));
  EXPECT_TRUE(profile_.cart().items().empty());
  EXPECT_EQ(profile_.cart().value().minor_units(), 0);
  EXPECT_EQ(profile_.cart().value().currency(), "");
  EXPECT_EQ(profile_.cart().version(), 2);
  EXPECT_EQ(profile_.cart().updated_at_ms(), kT0 + 1);
}

TEST_F(FoldTest, CheckoutStartedIsResetByTheNextCartChange) {
  Fold(At(kT0, CartAdd("p1", 1, 1000)));
  Fold(At(kT0 + 1, "checkout_started { cart_value { minor_units: 1000 } }"));
  EXPECT_EQ(profile_.cart().checkout_started_at_ms(), kT0 + 1);
  EXPECT_EQ(profile_.cart().version(), 1);
  Fold(At(kT0 + 2, CartAdd("p2", 1, 10)));
  EXPECT_EQ(profile_.cart().checkout_started_at_ms(), 0);
}

TEST_F(FoldTest, CartLinesRememberWhenTheyWereLastAdded) {
  const int64_t t30 = kT0 + 30 * kDay;
  const int64_t t31 = kT0 + 31 * kDay;
  Fold(At(kT0, CartAdd("p1", 1, 1000)));
  Fold(At(t30, CartAdd("p2", 1, 500), "s2"));
  EXPECT_THAT(profile_.cart().item_added_at_ms(), ElementsAre(kT0, t30));
  // Adding p1 again moves its line forward; a late add does not move it back.
  Fold(At(t31, CartAdd("p1", 1, 1000), "s3"));
  Fold(At(t30 + 1, CartAdd("p1", 1, 1000), "s3"));
  EXPECT_THAT(profile_.cart().item_added_at_ms(), ElementsAre(t31, t30));
  // A partial removal keeps the time; removing a line removes its time.
  Fold(At(t31 + 1, "cart_remove { product_id: 'p1' quantity: 1 }", "s3"));
  EXPECT_EQ(profile_.cart().items(0).quantity(), 2);
  EXPECT_THAT(profile_.cart().item_added_at_ms(), ElementsAre(t31, t30));
  Fold(At(t31 + 2, "cart_remove { product_id: 'p1' }", "s3"));
  ASSERT_EQ(profile_.cart().items().size(), 1);
  EXPECT_EQ(profile_.cart().items(0).product_id(), "p2");
  EXPECT_THAT(profile_.cart().item_added_at_ms(), ElementsAre(t30));
  Fold(At(t31 + 3, Order("o1", 500, Item("p2", 1, 500)), "s3"));
  EXPECT_THAT(profile_.cart().item_added_at_ms(), IsEmpty());
}

TEST_F(FoldTest, CartLinesWithoutAddTimesGetTheLastChangeTime) {
  Fold(At(kT0, CartAdd("p1", 1, 1000)));
  Fold(At(kT0 + 5, CartAdd("p2", 1, 1000)));
  // A profile written before lines had add times.
  profile_.mutable_cart()->clear_item_added_at_ms();
  Fold(At(kT0 + 9, CartAdd("p3", 1, 1000)));
  EXPECT_THAT(profile_.cart().item_added_at_ms(),
              ElementsAre(kT0 + 5, kT0 + 5, kT0 + 9));
}

TEST_F(FoldTest, PrunedCartLosesItsLineTimes) {
  Fold(At(kT0, CartAdd("p1", 1, 1000)));
  Fold(At(kT0 + 91 * kDay, "app_open {}", "s2"));
  EXPECT_TRUE(profile_.cart().items().empty());
  EXPECT_THAT(profile_.cart().item_added_at_ms(), IsEmpty());
}

// --- orders ----------------------------------------------------------------

TEST_F(FoldTest, OrderPlacedUpdatesHistoryAndClearsTheCart) {
  Fold(At(kT0, CartAdd("p1", 2, 1000)));
  Fold(At(kT0 + 1, "checkout_started {}"));
  Fold(At(kT0 + 2,
          Order("o1", 2000, Item("p1", 2, 1000) + Item("p2", 1, 0), "WELCOME"),
          ""));
  EXPECT_EQ(profile_.orders(), 1);
  EXPECT_EQ(profile_.lifetime_value().minor_units(), 2000);
  EXPECT_EQ(profile_.lifetime_value().currency(), "PLN");
  EXPECT_EQ(profile_.coupon_orders(), 1);
  EXPECT_EQ(profile_.last_order().order_id(), "o1");
  EXPECT_EQ(profile_.last_order().placed_at_ms(), kT0 + 2);
  EXPECT_EQ(profile_.last_order().total().minor_units(), 2000);
  EXPECT_THAT(profile_.last_order().product_ids(), ElementsAre("p1", "p2"));
  EXPECT_THAT(profile_.purchased_product_ids(), ElementsAre("p1", "p2"));
  EXPECT_TRUE(profile_.cart().items().empty());
  EXPECT_EQ(profile_.cart().value().minor_units(), 0);
  EXPECT_EQ(profile_.cart().value().currency(), "");
  EXPECT_EQ(profile_.cart().version(), 2);
  EXPECT_EQ(profile_.cart().checkout_started_at_ms(), 0);

  Fold(At(kT0 + 3, Order("o2", 500, Item("p3", 1, 500) + Item("p1", 1, 0))));
  EXPECT_EQ(profile_.orders(), 2);
  EXPECT_EQ(profile_.lifetime_value().minor_units(), 2500);
  EXPECT_EQ(profile_.coupon_orders(), 1);
  EXPECT_THAT(profile_.purchased_product_ids(), ElementsAre("p2", "p3", "p1"));
  EXPECT_EQ(profile_.last_order().order_id(), "o2");
}

TEST_F(FoldTest, LateCartEventOfAnOrderedCartDoesNotRefillIt) {
  Fold(At(kT0 + 10, Order("o1", 1000, Item("p1", 1, 1000))));
  Fold(At(kT0 + 5, CartAdd("p1", 1, 1000)));
  EXPECT_TRUE(profile_.cart().items().empty());
  // Interest is still recorded.
  EXPECT_NE(Find(profile_.product_affinity(), "p1"), nullptr);
}

TEST_F(FoldTest, LateOrderTakesOnlyItsLinesOutOfANewerCart) {
  Fold(At(kT0, CartAdd("p1", 1, 1000)));
  Fold(At(kT0 + 20, CartAdd("p2", 1, 300)));
  Fold(At(kT0 + 10, Order("o1", 1000, Item("p1", 1, 1000))));
  ASSERT_EQ(profile_.cart().items().size(), 1);
  EXPECT_EQ(profile_.cart().items(0).product_id(), "p2");
  EXPECT_THAT(profile_.cart().item_added_at_ms(), ElementsAre(kT0 + 20));
  EXPECT_EQ(profile_.cart().value().minor_units(), 300);
  EXPECT_EQ(profile_.cart().version(), 3);
}

TEST_F(FoldTest, CancellationOfTheLastOrderSubtractsItsTotal) {
  Fold(At(kT0, Order("o1", 1000)));
  Fold(At(kT0 + 1, Order("o2", 300)));
  Fold(At(kT0 + 2, "order_cancelled { order_id: 'o2' reason: 'late' }"));
  EXPECT_EQ(profile_.orders(), 1);
  EXPECT_EQ(profile_.lifetime_value().minor_units(), 1000);
  EXPECT_THAT(profile_.dissatisfaction().cancellations_at_ms(),
              ElementsAre(kT0 + 2));
  // An older order: the count drops, its total is unknown (best effort).
  Fold(At(kT0 + 3, "order_cancelled { order_id: 'o1' }"));
  EXPECT_EQ(profile_.orders(), 0);
  EXPECT_EQ(profile_.lifetime_value().minor_units(), 1000);
  // Never below zero.
  Fold(At(kT0 + 4, "order_cancelled { order_id: 'o9' }"));
  EXPECT_EQ(profile_.orders(), 0);
  EXPECT_THAT(profile_.dissatisfaction().cancellations_at_ms(),
              ElementsAre(kT0 + 2, kT0 + 3, kT0 + 4));
}

TEST_F(FoldTest, ReturnSubtractsReturnedItemsNotBelowZero) {
  Fold(At(kT0, Order("o1", 5000)));
  Fold(At(kT0 + 1, "order_returned { order_id: 'o1' " + Item("p1", 2, 1000) +
                       " reason: 'damaged' }"));
  EXPECT_EQ(profile_.lifetime_value().minor_units(), 3000);
  EXPECT_THAT(profile_.dissatisfaction().returns_at_ms(), ElementsAre(kT0 + 1));
  Fold(At(kT0 + 2,
          "order_returned { order_id: 'o1' " + Item("p2", 1, 9000) + " }"));
  EXPECT_EQ(profile_.lifetime_value().minor_units(), 0);
  EXPECT_THAT(profile_.dissatisfaction().returns_at_ms(), SizeIs(2));
}

TEST_F(FoldTest, DissatisfactionListsAreBounded) {
  for (int i = 0; i < kMaxDissatisfactionEntries + 5; ++i) {
    Fold(At(kT0 + i, "order_cancelled { order_id: 'o' }"));
  }
  EXPECT_THAT(profile_.dissatisfaction().cancellations_at_ms(),
              SizeIs(kMaxDissatisfactionEntries));
  EXPECT_EQ(profile_.dissatisfaction().cancellations_at_ms(0), kT0 + 5);
}

TEST_F(FoldTest, PayloadsWithoutProfileEffectOnlyTouchTheEnvelope) {
  for (const std::string payload :
       {"order_delivered { order_id: 'o1' }", "app_open {}"}) {
    CustomerProfile profile;
    FoldEvent(At(kT0, Order("o1", 100)), spec_, &profile);
    CustomerProfile expected = profile;
    FoldEvent(At(kT0 + kMinute, payload), spec_, &profile);
    expected.set_events(2);
    expected.set_previous_seen_ms(kT0);
    expected.set_last_seen_ms(kT0 + kMinute);
    EXPECT_EQ(profile.SerializeAsString(), expected.SerializeAsString())
        << payload << "\n"
        << profile.DebugString();
  }
}

// --- feedback and privacy --------------------------------------------------

TEST_F(FoldTest, FeedbackCounters) {
  Fold(At(kT0, "push_opened { decision_id: 'd1' campaign: 'cart' }"));
  Fold(At(kT0 + 1, "push_opened { decision_id: 'd2' campaign: 'cart' }"));
  ASSERT_EQ(profile_.channel_stats().size(), 1);
  EXPECT_EQ(profile_.channel_stats(0).channel(), tailor::v1::CHANNEL_PUSH);
  EXPECT_EQ(profile_.channel_stats(0).opened(), 2);
  Fold(At(kT0 + 2, "coupon_redeemed { coupon_code: 'X' campaign: 'c' }"));
  EXPECT_EQ(profile_.coupons_redeemed(), 1);
}

TEST_F(FoldTest, ConsentReplacesChannelsSortedAndUnique) {
  Fold(At(kT0,
          "consent_updated { granted_channels: [CHANNEL_EMAIL, CHANNEL_PUSH, "
          "CHANNEL_PUSH] }",
          ""));
  EXPECT_THAT(profile_.consented_channels(),
              ElementsAre(tailor::v1::CHANNEL_PUSH, tailor::v1::CHANNEL_EMAIL));
  EXPECT_FALSE(profile_.profiling_opt_out());
  Fold(At(kT0 + 1,
          "consent_updated { granted_channels: [CHANNEL_ONSITE] "
          "profiling_opt_out: true }",
          ""));
  EXPECT_THAT(profile_.consented_channels(),
              ElementsAre(tailor::v1::CHANNEL_ONSITE));
  EXPECT_TRUE(profile_.profiling_opt_out());
  Fold(At(kT0 + 2, "consent_updated {}", ""));
  EXPECT_THAT(profile_.consented_channels(), IsEmpty());
  EXPECT_FALSE(profile_.profiling_opt_out());
}

TEST_F(FoldTest, OptOutKeepsOnlyTheIdAndTheConsent) {
  Fold(At(kT0, View("p1", "shoes")));
  Fold(At(kT0 + 1, CartAdd("p1", 2, 5000)));
  Fold(At(kT0 + 2, Order("o1", 10000, Item("p1", 2, 5000))));
  Fold(At(kT0 + 3, CartAdd("p2", 1, 700)));
  Fold(At(kT0 + 4, "push_opened { decision_id: 'd1' campaign: 'cart' }"));
  profile_.add_pending_timers()->set_timer_id("t1");
  ASSERT_FALSE(profile_.product_affinity().empty());
  ASSERT_GT(profile_.orders(), 0);

  Fold(At(kT0 + 5,
          "consent_updated { granted_channels: [CHANNEL_EMAIL] "
          "profiling_opt_out: true }",
          ""));
  CustomerProfile expected;
  expected.set_customer_id("c1");
  expected.add_consented_channels(tailor::v1::CHANNEL_EMAIL);
  expected.set_profiling_opt_out(true);
  EXPECT_EQ(profile_.SerializeAsString(), expected.SerializeAsString())
      << profile_.DebugString();
}

TEST_F(FoldTest, OptedOutCustomerBehaviourIsNotRecorded) {
  Fold(At(kT0, "consent_updated { profiling_opt_out: true }", ""));
  const std::string before = profile_.SerializeAsString();
  Fold(At(kT0 + 1, View("p1", "shoes")));
  Fold(At(kT0 + 2, CartAdd("p1", 1, 100)));
  Fold(At(kT0 + 3, Order("o1", 100, Item("p1", 1, 100))));
  Fold(At(kT0 + 4, "order_returned { order_id: 'o1' }"));
  EXPECT_EQ(profile_.SerializeAsString(), before) << profile_.DebugString();
  // A new statement of consent still applies.
  Fold(At(kT0 + 5,
          "consent_updated { granted_channels: [CHANNEL_PUSH] "
          "profiling_opt_out: true }",
          ""));
  EXPECT_THAT(profile_.consented_channels(),
              ElementsAre(tailor::v1::CHANNEL_PUSH));
  EXPECT_EQ(profile_.events(), 0);
}

TEST_F(FoldTest, OptInStartsProfilingFromAnEmptyProfile) {
  Fold(At(kT0, View("p1", "shoes")));
  Fold(At(kT0 + 1, "consent_updated { profiling_opt_out: true }", ""));
  Fold(At(kT0 + 2, "consent_updated { granted_channels: [CHANNEL_PUSH] }", ""));
  EXPECT_FALSE(profile_.profiling_opt_out());
  Fold(At(kT0 + 3, View("p2", "bags")));
  EXPECT_EQ(Find(profile_.product_affinity(), "p1"), nullptr);
  EXPECT_NE(Find(profile_.product_affinity(), "p2"), nullptr);
  EXPECT_EQ(profile_.first_seen_ms(), kT0 + 2);
}

TEST_F(FoldTest, ErasureReturnsErasedAndClearsTheProfile) {
  Fold(At(kT0, CartAdd("p1", 1, 100)));
  EXPECT_EQ(Fold(At(kT0 + 1, "erasure_requested { request_id: 'r1' }", "")),
            FoldResult::kErased);
  EXPECT_EQ(profile_.ByteSizeLong(), 0u);
}

TEST_F(FoldTest, NoFreeTextIsCopiedIntoTheProfile) {
  Fold(At(kT0, Order("o1", 100)));
  Fold(At(kT0 + 1, "order_cancelled { order_id: 'o1' reason: 'zzreasonzz' }"));
  Fold(At(kT0 + 2, "order_returned { order_id: 'o1' reason: 'yyreasonyy' }"));
  Fold(At(kT0 + 3, "coupon_redeemed { coupon_code: 'CODEQQ' campaign: 'c' }"));
  const std::string bytes = profile_.SerializeAsString();
  EXPECT_EQ(bytes.find("zzreasonzz"), std::string::npos);
  EXPECT_EQ(bytes.find("yyreasonyy"), std::string::npos);
  EXPECT_EQ(bytes.find("CODEQQ"), std::string::npos);
}

TEST_F(FoldTest, FoldingIsDeterministic) {
  std::vector<Event> events = {
      At(kT0, View("p1", "shoes")),
      At(kT0 + kMinute, CartAdd("p1", 1, 999)),
      At(kT0 + 2 * kMinute, "page_view { category_id: 'bags' }", ""),
      At(kT0 - kMinute, View("p2", "bags")),
      At(kT0 + 3 * kHour, Order("o1", 999, Item("p1", 1, 999))),
  };
  CustomerProfile a, b;
  for (const Event& e : events) FoldEvent(e, spec_, &a);
  for (const Event& e : events) FoldEvent(e, spec_, &b);
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
}

// --- horizon ---------------------------------------------------------------

TEST(PruneExpiredTest, DropsACartOlderThanTheHorizon) {
  ProfileSpec spec;
  CustomerProfile profile;
  FoldEvent(At(kT0, CartAdd("p1", 1, 1000)), spec, &profile);

  CustomerProfile kept = profile;
  PruneExpired(spec, kT0 + 89 * kDay, &kept);
  EXPECT_EQ(kept.cart().items().size(), 1);
  EXPECT_EQ(kept.cart().version(), 1);

  PruneExpired(spec, kT0 + 91 * kDay, &profile);
  EXPECT_TRUE(profile.cart().items().empty());
  EXPECT_EQ(profile.cart().value().minor_units(), 0);
  EXPECT_EQ(profile.cart().value().currency(), "");
  EXPECT_EQ(profile.cart().version(), 2);
  // Idempotent.
  PruneExpired(spec, kT0 + 92 * kDay, &profile);
  EXPECT_EQ(profile.cart().version(), 2);
}

TEST(PruneExpiredTest, ACartFromYearsAgoNeverComesBack) {
  ProfileSpec spec;
  CustomerProfile profile;
  FoldEvent(At(kT0, CartAdd("old", 1, 1000)), spec, &profile);
  FoldEvent(At(kT0 + 3 * 365 * kDay, CartAdd("new", 1, 50)), spec, &profile);
  ASSERT_EQ(profile.cart().items().size(), 1);
  EXPECT_EQ(profile.cart().items(0).product_id(), "new");
  EXPECT_EQ(profile.cart().value().minor_units(), 50);
  EXPECT_EQ(Find(profile.product_affinity(), "old"), nullptr);
}

TEST(PruneExpiredTest, DropsEverySignalOlderThanTheHorizon) {
  ProfileSpec spec;
  spec.set_signal_horizon_days(10);
  CustomerProfile profile;
  FoldEvent(At(kT0, View("old", "oldcat")), spec, &profile);
  FoldEvent(At(kT0, "order_cancelled { order_id: 'o1' }"), spec, &profile);
  FoldEvent(At(kT0, "order_returned { order_id: 'o1' }"), spec, &profile);
  FoldEvent(At(kT0 + 5 * kDay, View("new", "newcat")), spec, &profile);
  FoldEvent(At(kT0 + 5 * kDay, "order_returned { order_id: 'o2' }"), spec,
            &profile);
  auto* stats = profile.add_channel_stats();
  stats->set_channel(tailor::v1::CHANNEL_PUSH);
  stats->add_recent_sent_at_ms(kT0);
  stats->add_recent_sent_at_ms(kT0 + 5 * kDay);

  PruneExpired(spec, kT0 + 12 * kDay, &profile);
  EXPECT_THAT(Ids(profile.product_affinity()), ElementsAre("new"));
  EXPECT_THAT(Ids(profile.category_affinity()), ElementsAre("newcat"));
  EXPECT_THAT(profile.recent_viewed_product_ids(), ElementsAre("new"));
  EXPECT_THAT(profile.recent_viewed_at_ms(), ElementsAre(kT0 + 5 * kDay));
  EXPECT_THAT(profile.dissatisfaction().cancellations_at_ms(), IsEmpty());
  EXPECT_THAT(profile.dissatisfaction().returns_at_ms(),
              ElementsAre(kT0 + 5 * kDay));
  EXPECT_THAT(profile.channel_stats(0).recent_sent_at_ms(),
              ElementsAre(kT0 + 5 * kDay));
  // Counters are history, not signals: they stay.
  EXPECT_EQ(profile.events(), 5);
}

TEST_F(FoldTest, LateEventOlderThanTheHorizonAddsNoSignal) {
  spec_.set_signal_horizon_days(10);
  Fold(At(kT0 + 20 * kDay, "app_open {}"));
  Fold(At(kT0, View("p1", "c")));
  Fold(At(kT0, CartAdd("p2", 1, 100)));
  Fold(At(kT0, "order_cancelled { order_id: 'o1' }"));
  EXPECT_EQ(profile_.events(), 4);
  EXPECT_TRUE(profile_.product_affinity().empty());
  EXPECT_THAT(profile_.recent_viewed_product_ids(), IsEmpty());
  EXPECT_TRUE(profile_.cart().items().empty());
  EXPECT_THAT(profile_.dissatisfaction().cancellations_at_ms(), IsEmpty());
}

TEST(WithDefaultsTest, FillsOnlyUnsetFields) {
  ProfileSpec empty;
  const ProfileSpec d = WithDefaults(empty);
  EXPECT_DOUBLE_EQ(d.affinity_half_life_hours(), 72);
  EXPECT_EQ(d.top_k(), 10);
  EXPECT_EQ(d.recent_products(), 20);
  EXPECT_EQ(d.signal_horizon_days(), 90);
  EXPECT_EQ(d.session_gap_minutes(), 30);

  ProfileSpec set;
  set.set_affinity_half_life_hours(5);
  set.set_top_k(3);
  set.set_recent_products(4);
  set.set_signal_horizon_days(7);
  set.set_session_gap_minutes(15);
  EXPECT_EQ(WithDefaults(set).SerializeAsString(), set.SerializeAsString());
}

// Active coupons (written by libs/decide) leave the profile when redeemed,
// which frees their arbitration slot.
class ActiveCouponFoldTest : public FoldTest {
 protected:
  void SetUp() override {
    for (const char* code : {"FIRSTORDER-AAAA", "CARTTHRESHO-BBBB"}) {
      tailor::v1::ActiveCoupon* c = profile_.add_active_coupons();
      c->set_code(code);
      c->set_expires_at_ms(1'000'000'000);
    }
  }
  std::vector<std::string> Codes() const {
    std::vector<std::string> codes;
    for (const auto& c : profile_.active_coupons()) codes.push_back(c.code());
    return codes;
  }
};

TEST_F(ActiveCouponFoldTest, RedemptionRemovesTheCoupon) {
  Fold(At(1000, "coupon_redeemed { coupon_code: 'FIRSTORDER-AAAA' }"));
  EXPECT_THAT(Codes(), ElementsAre("CARTTHRESHO-BBBB"));
  EXPECT_EQ(profile_.coupons_redeemed(), 1);
}

TEST_F(ActiveCouponFoldTest, OrderWithTheCodeRemovesTheCoupon) {
  Fold(At(1000, Order("o1", 5000, Item("p1", 1, 5000), "CARTTHRESHO-BBBB")));
  EXPECT_THAT(Codes(), ElementsAre("FIRSTORDER-AAAA"));
}

TEST_F(ActiveCouponFoldTest, UnknownCodeChangesNothing) {
  Fold(At(1000, "coupon_redeemed { coupon_code: 'SHOP-OWN-CODE' }"));
  Fold(At(2000, Order("o1", 5000, Item("p1", 1, 5000), "SHOP-OWN-CODE")));
  EXPECT_THAT(Codes(), ElementsAre("FIRSTORDER-AAAA", "CARTTHRESHO-BBBB"));
}

}  // namespace
}  // namespace tailor::profile
