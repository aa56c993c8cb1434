// The set of every product a customer bought
// (CustomerProfile.purchased_product_hashes): filled by order_placed, sorted,
// unique and bounded, keeping the newest purchase when full.
#include "libs/profile/purchases.h"

#include <gmock/gmock.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/base/stable_hash.h"
#include "libs/profile/fold.h"

namespace tailor::profile {
namespace {

using ::tailor::v1::CustomerProfile;
using ::tailor::v1::Event;
using ::tailor::v1::ProfileSpec;
using ::testing::ElementsAre;
using ::testing::SizeIs;

constexpr int64_t kT0 = 1700000000000;

// An order of c1 at time t with one line per product.
Event OrderOf(int64_t t, const std::string& order_id,
              const std::vector<std::string>& products) {
  std::string items;
  for (const std::string& p : products) {
    absl::StrAppend(&items, "items { product_id: '", p,
                    "' quantity: 1 unit_price { minor_units: 100 } } ");
  }
  Event event;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      absl::StrCat("customer_id: 'c1' event_time_ms: ", t,
                   " order_placed { order_id: '", order_id, "' ", items,
                   " total { minor_units: 100 } }"),
      &event));
  return event;
}

bool StrictlyAscending(const CustomerProfile& p) {
  const auto& set = p.purchased_product_hashes();
  return std::adjacent_find(set.begin(), set.end(), [](uint64_t a, uint64_t b) {
           return a >= b;
         }) == set.end();
}

TEST(PurchasedProductHash, IsStableHash64OfTheId) {
  // Stored in profiles and looked up by libs/decide (whose tests check the
  // same golden value): never change it.
  EXPECT_EQ(PurchasedProductHash("p1"), 0x407aaee55052cdebu);
  EXPECT_EQ(PurchasedProductHash("p1"), StableHash64({"p1"}));
}

TEST(PurchasedProducts, EveryDistinctPurchaseIsRememberedBeyondRecentOnes) {
  ProfileSpec spec;  // recent_products defaults to 20.
  CustomerProfile profile;
  std::vector<std::string> bought;
  for (int order = 0; order < 5; ++order) {
    std::vector<std::string> lines;
    for (int line = 0; line < 6; ++line) {
      bought.push_back(absl::StrCat("product-", bought.size()));
      lines.push_back(bought.back());
    }
    FoldEvent(OrderOf(kT0 + order, absl::StrCat("o", order), lines), spec,
              &profile);
  }
  EXPECT_THAT(profile.purchased_product_ids(), SizeIs(20));
  EXPECT_THAT(profile.purchased_product_hashes(), SizeIs(30));
  EXPECT_TRUE(StrictlyAscending(profile));
  for (const std::string& p : bought)
    EXPECT_TRUE(HasPurchased(profile, p)) << p;
  EXPECT_FALSE(HasPurchased(profile, "never-bought"));
}

TEST(PurchasedProducts, ARefoldedOrderChangesNothing) {
  ProfileSpec spec;
  CustomerProfile profile;
  FoldEvent(OrderOf(kT0, "o1", {"a", "b", "a"}), spec, &profile);
  const std::vector<uint64_t> once(profile.purchased_product_hashes().begin(),
                                   profile.purchased_product_hashes().end());
  EXPECT_THAT(once, SizeIs(2));
  FoldEvent(OrderOf(kT0, "o1", {"a", "b", "a"}), spec, &profile);
  EXPECT_THAT(profile.purchased_product_hashes(),
              ::testing::ElementsAreArray(once));
  EXPECT_TRUE(StrictlyAscending(profile));
}

TEST(PurchasedProducts, FoldingKeepsTheSetBoundedAndTheNewestKept) {
  ProfileSpec spec;
  CustomerProfile profile;
  const int total = kMaxPurchasedProducts + 100;
  for (int i = 0; i < total; i += 4) {
    FoldEvent(OrderOf(kT0 + i, absl::StrCat("o", i),
                      {absl::StrCat("p", i), absl::StrCat("p", i + 1),
                       absl::StrCat("p", i + 2), absl::StrCat("p", i + 3)}),
              spec, &profile);
    // Whatever was dropped, the order just folded is all there.
    for (int j = i; j < i + 4; ++j) {
      ASSERT_TRUE(HasPurchased(profile, absl::StrCat("p", j))) << j;
    }
  }
  EXPECT_THAT(profile.purchased_product_hashes(),
              SizeIs(kMaxPurchasedProducts));
  EXPECT_TRUE(StrictlyAscending(profile));
}

TEST(PurchasedProducts, AnOrderLargerThanTheSetKeepsItsLargestHashes) {
  ProfileSpec spec;
  CustomerProfile profile;
  AddPurchasedProduct("earlier", &profile);
  std::vector<std::string> lines;
  std::vector<uint64_t> hashes;
  for (int i = 0; i < kMaxPurchasedProducts + 6; ++i) {
    lines.push_back(absl::StrCat("bulk-", i));
    hashes.push_back(PurchasedProductHash(lines.back()));
  }
  FoldEvent(OrderOf(kT0, "bulk", lines), spec, &profile);
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(hashes.begin(), hashes.begin() + 6);
  EXPECT_THAT(profile.purchased_product_hashes(),
              ::testing::ElementsAreArray(hashes));
}

// A full set of hashes spread over [lo, hi], ascending.
CustomerProfile FullSet(uint64_t lo, uint64_t hi) {
  CustomerProfile p;
  const uint64_t step = (hi - lo) / (kMaxPurchasedProducts - 1);
  for (int i = 0; i < kMaxPurchasedProducts; ++i) {
    p.add_purchased_product_hashes(lo + step * i);
  }
  return p;
}

TEST(PurchasedProducts, FullSetDropsItsSmallestHashForANewProduct) {
  const uint64_t h = PurchasedProductHash("new");
  ASSERT_GT(h, uint64_t{1} << 40);
  ASSERT_LT(h, ~uint64_t{0} - (uint64_t{1} << 40));
  // The new hash falls in the middle of the set.
  CustomerProfile p = FullSet(h - (uint64_t{1} << 40), h + (uint64_t{1} << 40));
  ASSERT_FALSE(HasPurchased(p, "new"));
  const uint64_t smallest = p.purchased_product_hashes(0);
  const uint64_t second = p.purchased_product_hashes(1);
  AddPurchasedProduct("new", &p);
  EXPECT_THAT(p.purchased_product_hashes(), SizeIs(kMaxPurchasedProducts));
  EXPECT_TRUE(StrictlyAscending(p));
  EXPECT_TRUE(HasPurchased(p, "new"));
  EXPECT_EQ(p.purchased_product_hashes(0), second);
  EXPECT_EQ(std::find(p.purchased_product_hashes().begin(),
                      p.purchased_product_hashes().end(), smallest),
            p.purchased_product_hashes().end())
      << "the smallest hash should be gone";
}

TEST(PurchasedProducts, NewProductWithTheSmallestHashOfAllIsKept) {
  const uint64_t h = PurchasedProductHash("new");
  CustomerProfile p = FullSet(h + 1, ~uint64_t{0});
  const uint64_t smallest = p.purchased_product_hashes(0);
  const uint64_t second = p.purchased_product_hashes(1);
  AddPurchasedProduct("new", &p);
  EXPECT_THAT(p.purchased_product_hashes(), SizeIs(kMaxPurchasedProducts));
  EXPECT_EQ(p.purchased_product_hashes(0), h);
  EXPECT_EQ(p.purchased_product_hashes(1), second);
  EXPECT_NE(p.purchased_product_hashes(0), smallest);
  EXPECT_TRUE(StrictlyAscending(p));
}

TEST(PurchasedProducts, ARebuyIsNotDroppedToMakeRoomForItsOwnOrder) {
  // "old" holds the smallest hash of a full set; an order buys it again
  // with a new product.
  CustomerProfile p = FullSet(PurchasedProductHash("old"), ~uint64_t{0});
  ASSERT_TRUE(HasPurchased(p, "old"));
  ASSERT_FALSE(HasPurchased(p, "new"));
  const uint64_t second = p.purchased_product_hashes(1);
  FoldEvent(OrderOf(kT0, "o1", {"old", "new"}), ProfileSpec(), &p);
  EXPECT_THAT(p.purchased_product_hashes(), SizeIs(kMaxPurchasedProducts));
  EXPECT_TRUE(HasPurchased(p, "old"));
  EXPECT_TRUE(HasPurchased(p, "new"));
  EXPECT_EQ(std::count(p.purchased_product_hashes().begin(),
                       p.purchased_product_hashes().end(), second),
            0);
  EXPECT_TRUE(StrictlyAscending(p));
}

TEST(PurchasedProducts, ProductAlreadyInAFullSetChangesNothing) {
  const uint64_t h = PurchasedProductHash("old");
  CustomerProfile p = FullSet(h, h + (uint64_t{1} << 40));
  const std::string before = p.SerializeAsString();
  AddPurchasedProduct("old", &p);
  EXPECT_EQ(p.SerializeAsString(), before);
}

TEST(PurchasedProducts, RecentPurchasesOfAnOlderProfileSeedTheSet) {
  ProfileSpec spec;
  CustomerProfile profile;
  // Written before the set existed: only the recent ids.
  profile.add_purchased_product_ids("a");
  profile.add_purchased_product_ids("b");
  FoldEvent(OrderOf(kT0, "o1", {"c"}), spec, &profile);
  EXPECT_THAT(profile.purchased_product_ids(), ElementsAre("a", "b", "c"));
  EXPECT_THAT(profile.purchased_product_hashes(), SizeIs(3));
  for (const char* id : {"a", "b", "c"}) {
    EXPECT_TRUE(HasPurchased(profile, id)) << id;
  }
}

}  // namespace
}  // namespace tailor::profile
