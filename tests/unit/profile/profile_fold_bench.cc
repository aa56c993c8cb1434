// Folding throughput of tailor::profile on a realistic mix of shop events.
// Reports events/s (items_per_second) and heap allocations per event.
// Run: build/tests/unit/profile/profile_fold_bench
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/profile/fold.h"
#include "libs/profile/validate.h"

namespace {

std::atomic<int64_t> g_allocations{0};

}  // namespace

// Counts heap allocations so the benchmark can report them per event. GCC
// cannot see that these replacements pair malloc with free consistently.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace tailor::profile {
namespace {

using ::tailor::v1::CustomerProfile;
using ::tailor::v1::Event;

constexpr int kEvents = 8192;
constexpr int kProducts = 400;
constexpr int kCategories = 40;
constexpr int64_t kStart = 1700000000000;
constexpr int64_t kStepMs = 20 * 1000;  // One event every 20 s per customer.

// Skewed pick in [0, n): low ids are much more popular.
int Skewed(std::mt19937_64& rng, int n) {
  const double u = std::uniform_real_distribution<double>(0, 1)(rng);
  return static_cast<int>(u * u * u * n);
}

void SetItem(std::mt19937_64& rng, int product, tailor::v1::LineItem* item) {
  item->set_product_id(absl::StrCat("sku-", product));
  item->set_category_id(absl::StrCat("cat-", product % kCategories));
  item->set_quantity(1 + static_cast<int>(rng() % 3));
  item->mutable_unit_price()->set_minor_units(1000 + product * 37);
  item->mutable_unit_price()->set_currency("PLN");
}

// A browsing-heavy mix: about 45% product views, 20% page views, 8%
// searches, 10% cart adds, 3% removes, 2% checkouts, 2% orders, the rest
// app opens, feedback, deliveries, cancellations, returns and consent.
std::vector<Event> MakeMix(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Event> events(kEvents);
  int session = 0;
  for (int i = 0; i < kEvents; ++i) {
    Event& e = events[i];
    e.set_customer_id("customer-000042");
    e.set_event_id(absl::StrCat("ev-", i));
    if (rng() % 30 == 0) ++session;
    auto* context = e.mutable_context();
    context->set_session_id(absl::StrCat("session-", session));
    context->set_device(tailor::v1::DEVICE_CLASS_MOBILE_WEB);
    context->set_locale("pl-PL");
    context->set_time_zone("Europe/Warsaw");
    const int product = Skewed(rng, kProducts);
    const int roll = static_cast<int>(rng() % 1000);
    if (roll < 450) {
      auto* v = e.mutable_product_view();
      v->set_product_id(absl::StrCat("sku-", product));
      v->set_category_id(absl::StrCat("cat-", product % kCategories));
      v->mutable_price()->set_minor_units(1000 + product * 37);
    } else if (roll < 650) {
      e.mutable_page_view()->set_page_type("category");
      e.mutable_page_view()->set_category_id(
          absl::StrCat("cat-", Skewed(rng, kCategories)));
    } else if (roll < 730) {
      e.mutable_search()->set_query_category_id(
          absl::StrCat("cat-", Skewed(rng, kCategories)));
      e.mutable_search()->set_results(24);
    } else if (roll < 830) {
      SetItem(rng, product, e.mutable_cart_add()->mutable_item());
    } else if (roll < 860) {
      e.mutable_cart_remove()->set_product_id(absl::StrCat("sku-", product));
    } else if (roll < 880) {
      e.mutable_checkout_started();
    } else if (roll < 900) {
      auto* o = e.mutable_order_placed();
      o->set_order_id(absl::StrCat("order-", i));
      SetItem(rng, product, o->add_items());
      SetItem(rng, Skewed(rng, kProducts), o->add_items());
      o->mutable_total()->set_minor_units(5000 + product * 11);
      o->mutable_total()->set_currency("PLN");
      if (rng() % 4 == 0) o->set_coupon_code("WELCOME10");
    } else if (roll < 940) {
      e.mutable_app_open();
    } else if (roll < 960) {
      e.mutable_push_opened()->set_decision_id(absl::StrCat("d-", i));
    } else if (roll < 975) {
      e.mutable_order_delivered()->set_order_id(absl::StrCat("order-", i));
    } else if (roll < 982) {
      e.mutable_coupon_redeemed()->set_coupon_code("WELCOME10");
    } else if (roll < 988) {
      e.mutable_order_cancelled()->set_order_id(absl::StrCat("order-", i - 1));
    } else if (roll < 994) {
      auto* r = e.mutable_order_returned();
      r->set_order_id(absl::StrCat("order-", i - 1));
      SetItem(rng, product, r->add_items());
    } else {
      auto* c = e.mutable_consent_updated();
      c->add_granted_channels(tailor::v1::CHANNEL_PUSH);
      c->add_granted_channels(tailor::v1::CHANNEL_EMAIL);
    }
  }
  return events;
}

// Folds the mix into `customers` profiles, round robin, each reused across
// iterations. Event times keep increasing so every fold is in order.
void BM_FoldMix(benchmark::State& state) {
  const int customers = static_cast<int>(state.range(0));
  std::vector<Event> events = MakeMix(42);
  std::vector<CustomerProfile> profiles(customers);
  const tailor::v1::ProfileSpec spec;
  int64_t now = kStart;
  // Warm up: let every profile reach its steady-state size.
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < kEvents; ++i) {
      Event& e = events[i];
      now += kStepMs / customers + 1;
      e.set_event_time_ms(now);
      FoldEvent(e, spec, &profiles[i % customers]);
    }
  }
  const int64_t allocations_before = g_allocations.load();
  int i = 0;
  for (auto _ : state) {
    Event& e = events[i];
    now += kStepMs / customers + 1;
    e.set_event_time_ms(now);
    benchmark::DoNotOptimize(FoldEvent(e, spec, &profiles[i % customers]));
    if (++i == kEvents) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["allocs_per_event"] = benchmark::Counter(
      static_cast<double>(g_allocations.load() - allocations_before) /
      static_cast<double>(state.iterations()));
}
BENCHMARK(BM_FoldMix)->Arg(1)->Arg(1000);

void BM_ValidateMix(benchmark::State& state) {
  std::vector<Event> events = MakeMix(7);
  const ValidationLimits limits;
  const int64_t now = kStart + 1000;
  for (Event& e : events) e.set_event_time_ms(kStart);
  int i = 0;
  int64_t invalid = 0;
  for (auto _ : state) {
    const Event& e = events[i];
    invalid += !ValidateEvent(e, TopicOfPayload(e), limits, now).ok();
    if (++i == kEvents) i = 0;
  }
  if (invalid != 0) state.SkipWithError("mix contains invalid events");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ValidateMix);

}  // namespace
}  // namespace tailor::profile

BENCHMARK_MAIN();
