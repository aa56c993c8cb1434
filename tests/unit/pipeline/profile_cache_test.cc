// The profile cache: least-recently-used order, the entry and byte bounds,
// dirty and pinned entries that must stay, the in-memory factor it charges
// (measured against the heap), and the bounds through the Processor on a
// real RocksDB store.
#include "libs/pipeline/profile_cache.h"

#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/pipeline/processor.h"
#include "tailor/v1/events.pb.h"
#include "tailor/v1/profile.pb.h"
#include "tests/unit/pipeline/processor_test_base.h"

namespace tailor::pipeline {
namespace {

using tailor::v1::CustomerProfile;
using ::testing::ElementsAre;

// The customer ids of the cache, coldest first.
std::vector<std::string> ColdestFirst(ProfileCache& cache,
                                      const std::vector<std::string>& ids) {
  // Evicting everything clean, one bound step at a time, reveals the order.
  std::vector<std::string> order;
  for (size_t left = ids.size(); left > 0; --left) {
    cache.EvictTo(left - 1, std::numeric_limits<size_t>::max(), 0);
    for (const std::string& id : ids) {
      const bool gone = cache.Find(id) == nullptr;
      const bool listed =
          std::find(order.begin(), order.end(), id) != order.end();
      if (gone && !listed) order.push_back(id);
    }
  }
  return order;
}

TEST(ProfileCacheTest, EvictsLeastRecentlyUsedFirst) {
  ProfileCache cache;
  const std::vector<std::string> ids = {"a", "b", "c", "d"};
  for (const std::string& id : ids) cache.Insert(id);
  cache.Touch(cache.Find("a"));
  cache.Touch(cache.Find("c"));
  cache.Touch(cache.Find("a"));  // twice: still one entry, the hottest
  EXPECT_THAT(ColdestFirst(cache, ids), ElementsAre("b", "d", "c", "a"));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(ProfileCacheTest, FindIsNotAUse) {
  ProfileCache cache;
  const std::vector<std::string> ids = {"a", "b"};
  for (const std::string& id : ids) cache.Insert(id);
  ASSERT_NE(cache.Find("a"), nullptr);
  EXPECT_THAT(ColdestFirst(cache, ids), ElementsAre("a", "b"));
}

TEST(ProfileCacheTest, ChargesKeyEntryAndMeasuredProfile) {
  ProfileCache cache;
  CachedProfile* entry = cache.Insert("customer-1");
  EXPECT_EQ(cache.bytes(), ProfileCache::ChargeFor(10, 0));
  cache.Measure(entry, 1000);
  EXPECT_EQ(cache.bytes(), ProfileCache::ChargeFor(10, 1000));
  cache.Measure(entry, 200);  // re-measured after a change
  cache.Insert("c2");
  EXPECT_EQ(cache.bytes(),
            ProfileCache::ChargeFor(10, 200) + ProfileCache::ChargeFor(2, 0));
}

TEST(ProfileCacheTest, ByteBoundEvictsColdestUntilItHolds) {
  ProfileCache cache;
  for (int i = 0; i < 10; ++i) {
    cache.Measure(cache.Insert(absl::StrCat("c", i)), 10000);
  }
  const size_t one = ProfileCache::ChargeFor(2, 10000);
  ASSERT_EQ(cache.bytes(), 10 * one);
  EXPECT_EQ(cache.EvictTo(1000, 4 * one, 0), 6u);
  EXPECT_EQ(cache.size(), 4u);
  EXPECT_EQ(cache.bytes(), 4 * one);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(cache.Find(absl::StrCat("c", i)), nullptr);
  for (int i = 6; i < 10; ++i)
    EXPECT_NE(cache.Find(absl::StrCat("c", i)), nullptr);
}

TEST(ProfileCacheTest, EntryBoundHoldsWhenBytesAreFree) {
  ProfileCache cache;
  for (int i = 0; i < 100; ++i) cache.Insert(absl::StrCat("c", i));
  EXPECT_EQ(cache.EvictTo(30, std::numeric_limits<size_t>::max(), 0), 70u);
  EXPECT_EQ(cache.size(), 30u);
  EXPECT_NE(cache.Find("c99"), nullptr);
  EXPECT_EQ(cache.Find("c69"), nullptr);
}

TEST(ProfileCacheTest, BothBoundsHold) {
  ProfileCache cache;
  for (int i = 0; i < 20; ++i) {
    cache.Measure(cache.Insert(absl::StrCat("c", i)), i < 10 ? 100000 : 10);
  }
  // The byte bound asks for more than the entry bound here: every big one
  // goes, though 15 entries would be allowed.
  cache.EvictTo(15, 10 * ProfileCache::ChargeFor(3, 10), 0);
  EXPECT_EQ(cache.size(), 10u);
  EXPECT_EQ(cache.Find("c9"), nullptr);
  // And the entry bound asks for more than the byte bound here.
  cache.EvictTo(4, std::numeric_limits<size_t>::max(), 0);
  EXPECT_EQ(cache.size(), 4u);
  EXPECT_NE(cache.Find("c19"), nullptr);
}

TEST(ProfileCacheTest, DirtyAndPinnedEntriesAreNeverEvicted) {
  ProfileCache cache;
  for (int i = 0; i < 6; ++i) {
    cache.Measure(cache.Insert(absl::StrCat("c", i)), 5000);
  }
  cache.MarkDirty(cache.Find("c0"));   // coldest, unwritten
  cache.Find("c1")->pinned_until = 7;  // in commit 7, not durable
  cache.Find("c2")->pinned_until = 5;  // in commit 5, durable
  EXPECT_EQ(cache.EvictTo(0, 0, /*durable_seq=*/5), 4u);
  EXPECT_NE(cache.Find("c0"), nullptr);
  EXPECT_NE(cache.Find("c1"), nullptr);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.bytes(), 2 * ProfileCache::ChargeFor(2, 5000));
  // Once written and durable they may go.
  cache.DrainDirty([](const std::string&, CachedProfile&) {});
  EXPECT_EQ(cache.EvictTo(0, 0, /*durable_seq=*/7), 2u);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(ProfileCacheTest, EvictedCustomerCanComeBack) {
  ProfileCache cache;
  cache.Insert("a")->profile.set_customer_id("a");
  cache.Insert("b");
  cache.EvictTo(1, std::numeric_limits<size_t>::max(), 0);
  ASSERT_EQ(cache.Find("a"), nullptr);
  CachedProfile* again = cache.Insert("a");
  EXPECT_TRUE(again->profile.customer_id().empty());  // a fresh entry
  EXPECT_THAT(ColdestFirst(cache, {"a", "b"}), ElementsAre("b", "a"));
}

// --- the in-memory factor ----------------------------------------------------

void AddLine(CustomerProfile* p, const std::string& product,
             const std::string& category) {
  tailor::v1::LineItem* line = p->mutable_cart()->add_items();
  line->set_product_id(product);
  line->set_category_id(category);
  line->set_quantity(1);
  line->mutable_unit_price()->set_minor_units(1999);
  line->mutable_unit_price()->set_currency("PLN");
  p->mutable_cart()->add_item_added_at_ms(1793577600000 +
                                          p->cart().items_size());
}

struct Shape {
  std::string name;
  CustomerProfile profile;
  bool common = false;  // what most customers have
};

// The profile shapes a shop makes, from small to the per-part limits.
std::vector<Shape> Shapes() {
  std::vector<Shape> out;
  CustomerProfile minimal;
  minimal.set_customer_id("customer-000123");
  minimal.set_events(1);
  minimal.mutable_context()->set_locale("pl-PL");
  minimal.mutable_context()->set_time_zone("Europe/Warsaw");
  minimal.add_recent_viewed_product_ids("p-2000");
  minimal.add_recent_viewed_at_ms(1793577600000);
  out.push_back({"one view", minimal, true});
  CustomerProfile typical = minimal;
  typical.set_customer_id("customer-000123");
  typical.set_events(40);
  typical.set_last_session_id("session-00042");
  for (int i = 0; i < 10; ++i) {
    auto* a = typical.add_product_affinity();
    a->set_id(absl::StrCat("p-", 1000 + i));
    a->set_score(1.5);
    a->set_updated_at_ms(1793577600000);
    typical.add_category_affinity()->set_id(absl::StrCat("c-", i));
  }
  for (int i = 0; i < 20; ++i) {
    typical.add_recent_viewed_product_ids(absl::StrCat("p-", 2000 + i));
    typical.add_recent_viewed_at_ms(1793577600000 + i);
  }
  for (int i = 0; i < 3; ++i) {
    AddLine(&typical, absl::StrCat("p-", 3000 + i), "c-7");
  }
  for (int i = 0; i < 5; ++i) {
    auto* d = typical.add_recent_decisions();
    d->set_decision_id(absl::StrCat("0123456789abcdef0123456789abcd", i));
    d->set_campaign("cart_reminder");
    d->set_created_at_ms(1793577600000);
  }
  out.push_back({"typical", typical, true});

  CustomerProfile short_cart;
  for (int i = 0; i < 100; ++i) {
    AddLine(&short_cart, absl::StrCat("p-", i), absl::StrCat("c-", i % 9));
  }
  out.push_back({"100 cart lines, short ids", short_cart});

  CustomerProfile long_cart;
  for (int i = 0; i < 100; ++i) {
    AddLine(&long_cart, absl::StrCat("p-", i, "-", std::string(110, 'x')),
            absl::StrCat("k-", std::string(120, 'y')));
  }
  out.push_back({"100 cart lines, 128-byte ids", long_cart});

  CustomerProfile order;
  for (int i = 0; i < 1000; ++i) {
    order.mutable_last_order()->add_product_ids(absl::StrCat("p-", i));
    order.add_purchased_product_hashes(0x9e3779b97f4a7c15ULL * (i + 1));
  }
  out.push_back({"an order of 1000 lines", order});
  CustomerProfile uuid_order;
  for (int i = 0; i < 1000; ++i) {
    uuid_order.mutable_last_order()->add_product_ids(
        absl::StrCat("3f2b8c1e-5d4a-4e6b-9c7d-", 100000000000 + i));
  }
  out.push_back({"an order of 1000 uuid lines", uuid_order});
  return out;
}

// Heap bytes in use (glibc: chunks including their headers).
size_t HeapInUse() { return mallinfo2().uordblks; }

// The factor is the heap per serialized byte of the common profiles, and
// within a third under to three times over the heap of the others: many
// tiny elements (a full cart of short ids) take more per byte, long ids
// less. Prints the measurements.
TEST(ProfileCacheTest, InMemoryFactorFollowsTheHeap) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan replaces malloc: mallinfo2() does not see its heap";
#endif
  constexpr int kCopies = 200;
  for (const auto& [shape, profile, common] : Shapes()) {
    const std::string wire = profile.SerializeAsString();
    std::vector<std::unique_ptr<CustomerProfile>> copies;
    copies.reserve(kCopies);
    const size_t before = HeapInUse();
    for (int i = 0; i < kCopies; ++i) {
      copies.push_back(std::make_unique<CustomerProfile>());
      ASSERT_TRUE(copies.back()->ParseFromString(wire));
    }
    const double heap = static_cast<double>(HeapInUse() - before) / kCopies -
                        sizeof(CustomerProfile);
    const double factor = heap / static_cast<double>(wire.size());
    RecordProperty(shape, absl::StrCat(factor));
    std::printf("%-30s wire %7zu B, heap %9.0f B, factor %.2f\n", shape.c_str(),
                wire.size(), heap, factor);
    const double charged =
        static_cast<double>(ProfileCache::kInMemoryFactor * wire.size());
    if (common) {
      EXPECT_GE(charged, heap) << shape;
    }
    EXPECT_GE(charged, heap * 2 / 3) << shape;
    EXPECT_LE(charged, heap * 3) << shape;
  }
  std::printf("entry overhead %zu B\n", ProfileCache::kEntryOverhead);
}

// --- through the Processor ---------------------------------------------------

class ProcessorCacheTest : public ProcessorTestBase {
 protected:
  void Start(size_t entries, size_t bytes) {
    ProcessorOptions options = DefaultTopics();
    options.limits.max_future_skew_ms = std::numeric_limits<int64_t>::max() / 2;
    options.profile_cache_entries = entries;
    options.profile_cache_bytes = bytes;
    StartProcessor(std::move(options));
  }

  // One commit of `lines` cart adds (products first_line, first_line + 1,
  // ...) for each of `customers` customers from `first` on. Events are 10 ms
  // apart: no cart reminder falls due.
  void CartAdds(int first, int customers, int lines, int first_line = 0) {
    std::vector<std::string> keys, values;
    for (int c = first; c < first + customers; ++c) {
      for (int i = first_line; i < first_line + lines; ++i) {
        tailor::v1::Event e;
        e.set_customer_id(absl::StrCat("customer-", c));
        e.set_event_id(absl::StrCat(c, "/", i));
        e.set_event_time_ms(t_ += 10);
        auto* item = e.mutable_cart_add()->mutable_item();
        item->set_product_id(absl::StrCat("p-", i, "-", std::string(100, 'x')));
        item->set_quantity(1);
        item->mutable_unit_price()->set_minor_units(1999);
        item->mutable_unit_price()->set_currency("PLN");
        keys.push_back(e.customer_id());
        values.push_back(e.SerializeAsString());
      }
    }
    std::vector<InputRecord> records(keys.size());
    for (size_t i = 0; i < records.size(); ++i) {
      records[i].kind = tailor::v1::EVENT_TOPIC_CLICKSTREAM;
      records[i].topic = "clickstream";
      records[i].offset = offset_++;
      records[i].key = keys[i];
      records[i].value = values[i];
    }
    ASSERT_TRUE(
        processor_
            ->ProcessBatch(records, t_, std::numeric_limits<int64_t>::max())
            .ok());
    processor_->PrepareCommit();
    for (const OutputRecord& out : processor_->outputs()) {
      if (out.kind == OutputKind::kChangelog) changelog_[out.key] = out.value;
    }
    ASSERT_TRUE(processor_->WriteState().ok());
  }

  // The cart lines of the customer's last changelog record.
  int CartLines(int customer) {
    CustomerProfile profile;
    EXPECT_TRUE(profile.ParseFromString(
        changelog_[absl::StrCat("customer-", customer)]));
    return profile.cart().items_size();
  }

  std::map<std::string, std::string> changelog_;
  int64_t t_ = 1793577600000;
  int64_t offset_ = 0;
};

TEST_F(ProcessorCacheTest, ByteBoundHoldsAfterEveryCommit) {
  constexpr size_t kLimit = 256 * 1024;
  Start(/*entries=*/100000, kLimit);
  for (int round = 0; round < 10; ++round) {
    CartAdds(round * 20, 20, 30);
    EXPECT_LE(processor_->cached_profile_bytes(), kLimit) << round;
  }
  EXPECT_GT(processor_->stats().profiles_evicted, 0);
  EXPECT_LT(processor_->cached_profiles(), 200u);
  EXPECT_GT(processor_->cached_profiles(), 0u);
  // An evicted customer is read back from the store with its cart whole.
  const int64_t misses = processor_->stats().cache_misses;
  ASSERT_EQ(CartLines(0), 30);
  CartAdds(0, 1, 1, /*first_line=*/30);
  EXPECT_EQ(processor_->stats().cache_misses, misses + 1);
  EXPECT_EQ(CartLines(0), 31);
}

TEST_F(ProcessorCacheTest, EntryBoundStillHolds) {
  Start(/*entries=*/100, /*bytes=*/size_t{1} << 30);
  for (int round = 0; round < 5; ++round) CartAdds(round * 60, 60, 2);
  EXPECT_EQ(processor_->cached_profiles(), 100u);
  EXPECT_EQ(processor_->stats().profiles_evicted, 200);
}

}  // namespace
}  // namespace tailor::pipeline
