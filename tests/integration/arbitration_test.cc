// Arbitration through the broker: the load generator's synthetic shoppers
// (tailor::loadgen::ShopperSim, the demo workload of tools/run.sh) go
// through the real pipeline with the shipped default rules, and the coupons
// read back from the decision topics are counted per customer: nobody gets
// two SEND coupons within one hour unless the later one names the code it
// replaces.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "libs/decide/rules.h"
#include "tests/integration/harness.h"
#include "tools/loadgen/shopper_sim.h"

namespace tailor::testing {
namespace {

using tailor::v1::Decision;

constexpr int64_t kHourMs = 60 * 60 * 1000;

// The coupon code a decision carries, or "".
std::string CouponCode(const Decision& d) {
  if (d.has_coupon()) return d.coupon().code();
  if (d.has_cart_reminder() && d.cart_reminder().has_coupon()) {
    return d.cart_reminder().coupon().code();
  }
  return "";
}

TEST(ArbitrationThroughTheBroker, NoTwoCouponsWithinAnHourUnlessReplaced) {
  Harness h(2);
  auto p = h.StartPipeline(EngineFor(decide::DefaultRules()));
  ASSERT_NE(p, nullptr);

  // The demo's workload: shop time from 10:00 in Warsaw, one event every
  // 250 ms of shop time (run.sh: 3000 events/s at x120 is 40 ms), a small
  // population so that customers come back within the hours simulated.
  loadgen::ShopperSimOptions options;
  options.customers = 400;
  options.seed = 14;
  options.erasure_share = 0;
  options.max_active_sessions = 200;
  loadgen::ShopperSim sim(options);
  absl::TimeZone warsaw;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Warsaw", &warsaw));
  const int64_t start = absl::ToUnixMillis(
      absl::FromCivil(absl::CivilSecond(2026, 1, 15, 10, 0, 0), warsaw));
  constexpr int kEvents = 40'000;
  std::vector<tailor::v1::Event> events(kEvents);
  for (int i = 0; i < kEvents; ++i) sim.Next(start + i * 250LL, &events[i]);
  h.SendAll(events);
  ASSERT_TRUE(h.RunUntil(
      *p, [&] { return p->stats().events == kEvents; }, absl::Seconds(120)));
  ASSERT_TRUE(p->Shutdown().ok());

  std::map<std::string, std::vector<Decision>> sent_coupons;
  int arbitration = 0;
  int coupon_active = 0;
  int replacements = 0;
  for (Decision& d : h.ReadDecisions()) {
    if (d.action() == tailor::v1::DECISION_ACTION_SUPPRESSED) {
      if (d.suppression() == "arbitration") {
        ++arbitration;
        EXPECT_EQ(d.arbitration_winner_id().size(), 32u)
            << d.ShortDebugString();
      }
      if (d.suppression() == "coupon_active") ++coupon_active;
      continue;
    }
    if (d.action() != tailor::v1::DECISION_ACTION_SEND) continue;
    if (CouponCode(d).empty()) continue;
    if (!d.replaces_coupon_code().empty()) ++replacements;
    sent_coupons[d.customer_id()].push_back(std::move(d));
  }

  int within_an_hour = 0;
  int coupons = 0;
  for (auto& [customer, list] : sent_coupons) {
    std::stable_sort(list.begin(), list.end(),
                     [](const Decision& a, const Decision& b) {
                       return a.created_at_ms() < b.created_at_ms();
                     });
    coupons += static_cast<int>(list.size());
    for (size_t i = 1; i < list.size(); ++i) {
      const Decision& before = list[i - 1];
      const Decision& after = list[i];
      if (after.created_at_ms() - before.created_at_ms() >= kHourMs) continue;
      ++within_an_hour;
      EXPECT_EQ(after.replaces_coupon_code(), CouponCode(before))
          << customer << " got two coupons within an hour:\n  "
          << before.ShortDebugString() << "\n  " << after.ShortDebugString();
    }
  }
  // The workload exercises what is counted: coupons went out, and both
  // arbitration and the coupon rule held some back.
  EXPECT_GT(coupons, 20);
  EXPECT_GT(arbitration, 0);
  EXPECT_GT(coupon_active, 0);
  std::printf(
      "arbitration_test: sent_coupons=%d within_an_hour=%d (replacements=%d) "
      "suppressed arbitration=%d coupon_active=%d\n",
      coupons, within_an_hour, replacements, arbitration, coupon_active);
}

}  // namespace
}  // namespace tailor::testing
