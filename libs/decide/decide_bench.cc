// Benchmarks of Engine::OnEvent on a realistic profile: 20 product and
// category affinities, 20 recent views, a 3-line cart, some channel history.
// Run: build/libs/decide/decide_bench
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "libs/decide/engine.h"

namespace tailor::decide {
namespace {

namespace v1 = ::tailor::v1;

constexpr int64_t kNow = 1709629200000;  // 2024-03-05 09:00 UTC.

v1::CustomerProfile RealisticProfile() {
  v1::CustomerProfile p;
  p.set_customer_id("customer-000123456");
  p.set_last_seen_ms(kNow - 60'000);
  p.set_previous_seen_ms(kNow - 120'000);
  p.set_last_session_id("session-abc");
  p.mutable_context()->set_time_zone("Europe/Warsaw");
  p.set_orders(4);
  p.mutable_lifetime_value()->set_minor_units(84000);
  for (v1::Channel c :
       {v1::CHANNEL_PUSH, v1::CHANNEL_EMAIL, v1::CHANNEL_ONSITE})
    p.add_consented_channels(c);
  for (int i = 0; i < 20; ++i) {
    v1::Affinity* a = p.add_product_affinity();
    a->set_id("product-" + std::to_string(i));
    a->set_score(20 - i);
    a->set_updated_at_ms(kNow - i * 3'600'000);
    a->set_views(1);
    v1::Affinity* c = p.add_category_affinity();
    c->set_id("category-" + std::to_string(i));
    c->set_score(20 - i);
    c->set_updated_at_ms(kNow - i * 3'600'000);
    c->set_views(1);
    p.add_recent_viewed_product_ids("product-" + std::to_string(i));
    p.add_purchased_product_ids("bought-" + std::to_string(i));
  }
  for (int i = 0; i < 3; ++i) {
    v1::LineItem* item = p.mutable_cart()->add_items();
    item->set_product_id("product-" + std::to_string(i));
    item->set_quantity(1);
    item->mutable_unit_price()->set_minor_units(5000);
  }
  p.mutable_cart()->mutable_value()->set_minor_units(15000);
  p.mutable_cart()->set_version(7);
  p.mutable_cart()->set_updated_at_ms(kNow);
  v1::ChannelStats* s = p.add_channel_stats();
  s->set_channel(v1::CHANNEL_PUSH);
  s->set_sent(12);
  s->add_recent_sent_at_ms(kNow - 30 * 3'600'000);
  return p;
}

std::unique_ptr<Engine> MakeEngine() {
  return std::move(Engine::Create(DefaultRules())).value();
}

// The common case: a product view that makes no decision.
void BM_OnEventProductViewNoDecision(benchmark::State& state) {
  std::unique_ptr<Engine> engine = MakeEngine();
  v1::CustomerProfile profile = RealisticProfile();
  v1::PartitionState partition;
  v1::Event e;
  e.set_event_id("e1");
  e.set_customer_id(profile.customer_id());
  e.set_event_time_ms(kNow);
  e.mutable_context()->set_session_id("session-abc");
  e.mutable_product_view()->set_product_id("product-5");
  e.mutable_product_view()->set_category_id("category-5");
  Outcome out;
  for (auto _ : state) {
    out.Clear();
    engine->OnEvent(e, &profile, &partition, &out);
    benchmark::DoNotOptimize(out.decisions.data());
  }
}
BENCHMARK(BM_OnEventProductViewNoDecision);

// A cart_add: sets two reminder timers.
void BM_OnEventCartAddSetsTimers(benchmark::State& state) {
  std::unique_ptr<Engine> engine = MakeEngine();
  v1::CustomerProfile profile = RealisticProfile();
  v1::PartitionState partition;
  v1::Event e;
  e.set_event_id("e2");
  e.set_customer_id(profile.customer_id());
  e.set_event_time_ms(kNow);
  v1::LineItem* item = e.mutable_cart_add()->mutable_item();
  item->set_product_id("product-2");
  item->set_quantity(1);
  item->mutable_unit_price()->set_minor_units(5000);
  Outcome out;
  for (auto _ : state) {
    out.Clear();
    engine->OnEvent(e, &profile, &partition, &out);
    benchmark::DoNotOptimize(out.timers.data());
  }
}
BENCHMARK(BM_OnEventCartAddSetsTimers);

// A product view that reaches the browse threshold and sends a push with
// recommendations (the profile copy is part of each iteration).
void BM_OnEventBrowsePushSent(benchmark::State& state) {
  std::unique_ptr<Engine> engine = MakeEngine();
  v1::CustomerProfile base = RealisticProfile();
  base.mutable_product_affinity(9)->set_views(3);
  v1::Event e;
  e.set_event_id("e3");
  e.set_customer_id(base.customer_id());
  e.set_event_time_ms(kNow);
  e.mutable_context()->set_session_id("session-abc");
  e.mutable_product_view()->set_product_id("product-9");
  e.mutable_product_view()->set_category_id("category-9");
  Outcome out;
  for (auto _ : state) {
    v1::CustomerProfile profile = base;
    v1::PartitionState partition;
    out.Clear();
    engine->OnEvent(e, &profile, &partition, &out);
    benchmark::DoNotOptimize(out.decisions.data());
  }
}
BENCHMARK(BM_OnEventBrowsePushSent);

}  // namespace
}  // namespace tailor::decide

BENCHMARK_MAIN();
