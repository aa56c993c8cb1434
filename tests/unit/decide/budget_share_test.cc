// Coupon budgets are shop-wide: each partition enforces its share
// (floor(B / N), plus 1 for the partitions below B % N), so the partitions
// together never issue more than the configured budget.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/decide/engine.h"
#include "libs/decide/internal.h"
#include "tests/unit/decide/decide_test_util.h"

namespace tailor::decide::testing {
namespace {

using ::testing::ElementsAre;

std::unique_ptr<Engine> MakeEngine(const v1::RulesConfig& rules) {
  absl::StatusOr<std::unique_ptr<Engine>> e = Engine::Create(rules);
  EXPECT_TRUE(e.ok()) << e.status();
  return std::move(e).value();
}

v1::PartitionState Partition(int partition, int count) {
  v1::PartitionState ps;
  ps.set_partition(partition);
  ps.set_partition_count(count);
  return ps;
}

TEST(BudgetShare, SharesSumToTheBudgetAndDifferByAtMostOne) {
  for (int64_t budget = 1; budget <= 40; ++budget) {
    for (int n = 1; n <= 9; ++n) {
      int64_t sum = 0;
      for (int p = 0; p < n; ++p) {
        const int64_t share = internal::BudgetShare(budget, Partition(p, n));
        EXPECT_GE(share, budget / n) << budget << " " << p << "/" << n;
        EXPECT_LE(share, budget / n + 1) << budget << " " << p << "/" << n;
        sum += share;
      }
      EXPECT_EQ(sum, budget) << "budget " << budget << ", " << n << " parts";
    }
  }
}

TEST(BudgetShare, ExamplesAndEdges) {
  EXPECT_EQ(internal::BudgetShare(5, Partition(0, 2)), 3);
  EXPECT_EQ(internal::BudgetShare(5, Partition(1, 2)), 2);
  EXPECT_EQ(internal::BudgetShare(1, Partition(0, 4)), 1);
  EXPECT_EQ(internal::BudgetShare(1, Partition(3, 4)), 0);
  // partition_count 0 means one partition: the whole budget.
  EXPECT_EQ(internal::BudgetShare(5, v1::PartitionState()), 5);
  EXPECT_EQ(internal::BudgetShare(5, Partition(7, 0)), 5);
  // 0 is unlimited, not a share of nothing.
  EXPECT_EQ(internal::BudgetShare(0, Partition(1, 2)), 0);
  // A partition outside 0..N-1 never gets the extra unit.
  EXPECT_EQ(internal::BudgetShare(5, Partition(-1, 2)), 2);
  EXPECT_EQ(internal::BudgetShare(5, Partition(2, 2)), 2);
}

// Each of `customers` customers of each partition returns an order on the
// same day; returns the service-recovery coupons sent per partition.
std::vector<int> CouponsSentPerPartition(const v1::RulesConfig& rules,
                                         int partitions, int customers) {
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  std::vector<int> sent(partitions, 0);
  for (int p = 0; p < partitions; ++p) {
    v1::PartitionState state = Partition(p, partitions);
    for (int i = 0; i < customers; ++i) {
      Shopper s(engine.get(), absl::StrCat("cust-", p, "-", i), &state);
      s.Return(T0() + i * kMin, "o1");
      for (const v1::Decision& d : s.decisions()) {
        if (d.action() == v1::DECISION_ACTION_SEND) ++sent[p];
      }
    }
  }
  return sent;
}

TEST(BudgetShare, CountBudgetOfFiveOverTwoPartitionsIssuesThreeAndTwo) {
  v1::RulesConfig rules = TestRules();
  rules.mutable_service_recovery_coupon()
      ->mutable_coupon()
      ->set_daily_budget_count(5);
  EXPECT_THAT(CouponsSentPerPartition(rules, 2, 10), ElementsAre(3, 2));
}

TEST(BudgetShare, BudgetOfOneOverFourPartitionsOnlyPartitionZeroIssues) {
  v1::RulesConfig rules = TestRules();
  rules.mutable_service_recovery_coupon()
      ->mutable_coupon()
      ->set_daily_budget_count(1);
  EXPECT_THAT(CouponsSentPerPartition(rules, 4, 5), ElementsAre(1, 0, 0, 0));
}

TEST(BudgetShare, SumOverPartitionsNeverExceedsTheBudget) {
  for (int64_t budget : {1, 2, 3, 5, 7, 12}) {
    for (int partitions : {1, 2, 3, 4, 8}) {
      v1::RulesConfig rules = TestRules();
      rules.mutable_service_recovery_coupon()
          ->mutable_coupon()
          ->set_daily_budget_count(budget);
      int total = 0;
      for (int n : CouponsSentPerPartition(rules, partitions, 6)) total += n;
      // Six customers per partition ask for more than any share.
      EXPECT_EQ(total, std::min<int64_t>(budget, 6 * partitions))
          << "budget " << budget << ", " << partitions << " partitions";
    }
  }
}

TEST(BudgetShare, ValueBudgetIsSplitTheSameWay) {
  v1::RulesConfig rules = TestRules();
  v1::CouponSpec* c = rules.mutable_service_recovery_coupon()->mutable_coupon();
  c->set_daily_budget_count(0);
  // Coupons of 25.00: shares 50.01 and 50.00 hold two each; unsplit, each
  // partition would issue four (100.00 <= 100.01).
  c->set_daily_budget_value_minor(10001);
  EXPECT_THAT(CouponsSentPerPartition(rules, 2, 6), ElementsAre(2, 2));
}

TEST(BudgetShare, SuppressionSaysBudgetExhaustedInAPartitionWithNoShare) {
  v1::RulesConfig rules = TestRules();
  rules.mutable_service_recovery_coupon()
      ->mutable_coupon()
      ->set_daily_budget_count(1);
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  v1::PartitionState state = Partition(2, 4);
  Shopper s(engine.get(), "cust-1", &state);
  s.Return(T0(), "o1");
  EXPECT_THAT(s.summaries(),
              ElementsAre("service_recovery SUPPRESSED/budget_exhausted"));
  EXPECT_EQ(state.budgets_size(), 0);
}

TEST(BudgetShare, ReminderCouponIsWithheldInAPartitionWithNoShare) {
  v1::RulesConfig rules = TestRules();
  rules.mutable_abandoned_cart()->mutable_coupon()->set_daily_budget_count(1);
  std::unique_ptr<Engine> engine = MakeEngine(rules);
  std::vector<std::string> got;
  for (int p = 0; p < 2; ++p) {
    v1::PartitionState state = Partition(p, 2);
    Shopper s(engine.get(), "cust-" + std::to_string(p), &state);
    s.AddToCart(T0(), "p1", 22000);
    s.AdvanceTo(T0() + 1441 * kMin);
    for (const std::string& x : s.summaries()) got.push_back(x);
  }
  EXPECT_THAT(got, ElementsAre("abandoned_cart#2 SEND +coupon",
                               "abandoned_cart#2 SEND"));
}

}  // namespace
}  // namespace tailor::decide::testing
