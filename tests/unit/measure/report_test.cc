// The report over synthetic decision logs and outcomes with a fixed seed:
// a known uplift is found (its interval contains it and excludes 0), no
// uplift is not, repeats are dropped and the rates add up.
#include "libs/measure/report.h"

#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/measure/format.h"

namespace tailor::measure {
namespace {

namespace v1 = ::tailor::v1;
using ::testing::HasSubstr;

constexpr int64_t kT0 = 1'767'225'600'000;

v1::Decision MakeDecision(const std::string& id, const std::string& customer,
                          const std::string& campaign, v1::DecisionAction a,
                          v1::DecisionKind kind, int64_t at) {
  v1::Decision d;
  d.set_decision_id(id);
  d.set_customer_id(customer);
  d.set_campaign(campaign);
  d.set_variant("A");
  d.set_action(a);
  d.set_kind(kind);
  d.set_created_at_ms(at);
  return d;
}

v1::Outcome MakeOutcome(const v1::Decision& d, v1::OutcomeKind kind,
                        int64_t value) {
  v1::Outcome o;
  o.set_outcome_id(d.decision_id() + "/" + std::to_string(kind));
  o.set_decision_id(d.decision_id());
  o.set_customer_id(d.customer_id());
  o.set_campaign(d.campaign());
  o.set_variant(d.variant());
  o.set_action(d.action());
  o.set_decision_kind(d.kind());
  o.set_outcome(kind);
  o.mutable_value()->set_minor_units(value);
  o.mutable_value()->set_currency("PLN");
  o.set_decided_at_ms(d.created_at_ms());
  return o;
}

// A cart-reminder campaign over `customers` customers, `holdout` of them
// held out, converting at `base` when held out and `treated` when sent.
Report Simulate(uint64_t seed, int customers, double holdout, double base,
                double treated) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  Report report(kT0, kT0 + 86'400'000);
  for (int i = 0; i < customers; ++i) {
    const bool held = u(rng) < holdout;
    const v1::Decision d = MakeDecision(
        "d" + std::to_string(i), "c" + std::to_string(i), "abandoned_cart",
        held ? v1::DECISION_ACTION_HOLD_OUT : v1::DECISION_ACTION_SEND,
        v1::DECISION_KIND_CART_REMINDER, kT0 + i);
    report.AddDecision(d);
    if (u(rng) < (held ? base : treated)) {
      report.AddOutcome(MakeOutcome(d, v1::OUTCOME_KIND_CONVERSION, 10000));
    }
  }
  return report;
}

const RowReport& Row(const std::vector<RowReport>& rows,
                     const std::string& campaign) {
  for (const RowReport& r : rows) {
    if (r.campaign == campaign) return r;
  }
  ADD_FAILURE() << "no row " << campaign;
  return rows.front();
}

TEST(ReportTest, AKnownUpliftIsFoundAndSignificant) {
  // 10,000 customers, 10% held out, 5% base, 8% treated: +3 points.
  const std::vector<RowReport> rows =
      Simulate(42, 10000, 0.10, 0.05, 0.08).Rows();
  const RowReport& r = Row(rows, "abandoned_cart");
  EXPECT_NEAR(r.treated.customers, 9000, 150);
  EXPECT_NEAR(r.held_out.customers, 1000, 150);
  ASSERT_TRUE(r.uplift_ci.has_value());
  EXPECT_TRUE(r.uplift_ci->Contains(0.03))
      << r.uplift_ci->low << " .. " << r.uplift_ci->high;
  EXPECT_FALSE(r.uplift_ci->Contains(0.0));
  EXPECT_TRUE(r.significant);
  EXPECT_THAT(FormatTable(rows), HasSubstr("abandoned_cart"));
}

TEST(ReportTest, NoEffectIsNotSignificant) {
  const RowReport r =
      Row(Simulate(42, 10000, 0.10, 0.05, 0.05).Rows(), "abandoned_cart");
  ASSERT_TRUE(r.uplift_ci.has_value());
  EXPECT_TRUE(r.uplift_ci->Contains(0.0))
      << r.uplift_ci->low << " .. " << r.uplift_ci->high;
  EXPECT_FALSE(r.significant);
  EXPECT_THAT(FormatTable({r}), HasSubstr("n.s."));
}

TEST(ReportTest, RepeatsAreDroppedAndRatesAddUp) {
  Report report(kT0, kT0 + 1000);
  const v1::Decision sent =
      MakeDecision("d1", "c1", "browse", v1::DECISION_ACTION_SEND,
                   v1::DECISION_KIND_PUSH, kT0);
  const v1::Decision sent2 =
      MakeDecision("d2", "c2", "browse", v1::DECISION_ACTION_SEND,
                   v1::DECISION_KIND_PUSH, kT0 + 1);
  const v1::Decision held =
      MakeDecision("d3", "c3", "browse", v1::DECISION_ACTION_HOLD_OUT,
                   v1::DECISION_KIND_PUSH, kT0 + 2);
  v1::Decision suppressed =
      MakeDecision("d4", "c4", "browse", v1::DECISION_ACTION_SUPPRESSED,
                   v1::DECISION_KIND_PUSH, kT0 + 3);
  const v1::Decision late =
      MakeDecision("d5", "c5", "browse", v1::DECISION_ACTION_SEND,
                   v1::DECISION_KIND_PUSH, kT0 + 1000);
  for (const v1::Decision& d : {sent, sent, sent2, held, suppressed, late}) {
    report.AddDecision(d);
  }
  const v1::Outcome open = MakeOutcome(sent, v1::OUTCOME_KIND_OPEN, 0);
  report.AddOutcome(open);
  report.AddOutcome(open);  // at least once: the same outcome_id again
  report.AddOutcome(MakeOutcome(sent, v1::OUTCOME_KIND_CONVERSION, 5000));
  report.AddOutcome(MakeOutcome(late, v1::OUTCOME_KIND_CONVERSION, 5000));
  const std::vector<RowReport> rows = report.Rows();
  const RowReport& r = Row(rows, "browse");
  EXPECT_EQ(r.decisions_by_action[v1::DECISION_ACTION_SEND], 2);
  EXPECT_EQ(r.decisions_by_action[v1::DECISION_ACTION_HOLD_OUT], 1);
  EXPECT_EQ(r.decisions_by_action[v1::DECISION_ACTION_SUPPRESSED], 1);
  EXPECT_EQ(r.opens, 1);
  ASSERT_TRUE(r.ctr.has_value());
  EXPECT_DOUBLE_EQ(*r.ctr, 0.5);
  EXPECT_EQ(r.treated.customers, 2);
  EXPECT_EQ(r.treated.converted, 1);
  EXPECT_EQ(r.treated.revenue_minor, 5000);  // d5 is outside the range
  EXPECT_DOUBLE_EQ(r.treated.RevenuePerCustomer(), 2500);
  EXPECT_EQ(r.held_out.customers, 1);
  EXPECT_EQ(r.held_out.converted, 0);
  EXPECT_EQ(r.currency, "PLN");
  ASSERT_TRUE(r.uplift.has_value());
  EXPECT_DOUBLE_EQ(*r.uplift, 0.5);
  EXPECT_THAT(FormatJson(rows), HasSubstr("\"campaign\":\"browse\""));
}

TEST(ReportTest, TheProgrammeRowComparesWithTheGlobalControlGroup) {
  Report report(kT0, kT0 + 1000);
  v1::Decision control =
      MakeDecision("d1", "c1", "browse", v1::DECISION_ACTION_HOLD_OUT,
                   v1::DECISION_KIND_PUSH, kT0);
  control.set_holdout("global_control");
  const v1::Decision campaign_holdout =
      MakeDecision("d2", "c2", "browse", v1::DECISION_ACTION_HOLD_OUT,
                   v1::DECISION_KIND_PUSH, kT0);
  const v1::Decision sent =
      MakeDecision("d3", "c3", "coupon", v1::DECISION_ACTION_SEND,
                   v1::DECISION_KIND_COUPON, kT0);
  for (const v1::Decision& d : {control, campaign_holdout, sent}) {
    report.AddDecision(d);
  }
  report.AddOutcome(MakeOutcome(control, v1::OUTCOME_KIND_CONVERSION, 100));
  report.AddOutcome(MakeOutcome(sent, v1::OUTCOME_KIND_CONVERSION, 100));
  const std::vector<RowReport> rows = report.Rows();
  const RowReport& whole = Row(rows, "*");
  EXPECT_EQ(whole.treated.customers, 1);
  EXPECT_EQ(whole.held_out.customers, 1);  // not the campaign's holdout
  EXPECT_EQ(whole.held_out.converted, 1);
  EXPECT_FALSE(Row(rows, "coupon").ctr.has_value());  // coupons are not opened
  EXPECT_EQ(rows.back().campaign, "*");
}

}  // namespace
}  // namespace tailor::measure
