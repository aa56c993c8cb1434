// File: report.h
// What campaigns are worth: aggregates the decisions log (tailor.v1.Decision,
// every action) and the attributed outcomes (tailor.v1.Outcome) into one row
// per campaign and variant, with the uplift of treated (SEND) over held-out
// (HOLD_OUT) customers. Pure: the caller reads the topics and passes the
// records in any order; repeats (at-least-once delivery) are dropped by
// decision_id and outcome_id.
//
// The unit of the comparison is the customer: within a (campaign, variant)
// a customer is treated when they got at least one SEND, held out when they
// got at least one HOLD_OUT (a campaign's holdout or the global control
// group; assignment is by a stable hash, so a customer is in one arm), and
// converted when a CONVERSION was attributed to one of their decisions of
// that arm. Row "*" compares the whole programme: customers who got any
// SEND against the global control group.
//
// Not thread-safe; one Report per caller.
#ifndef TAILOR_LIBS_MEASURE_REPORT_H_
#define TAILOR_LIBS_MEASURE_REPORT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "libs/measure/interval.h"
#include "tailor/v1/decision.pb.h"
#include "tailor/v1/outcome.pb.h"

namespace tailor::measure {

// One arm (treated or held out) of a row.
struct ArmStats {
  int64_t customers = 0;  // Distinct customers in the arm.
  int64_t converted = 0;  // Of them, with at least one attributed conversion.
  int64_t revenue_minor = 0;      // Sum of the attributed conversions' values.
  double ConversionRate() const;  // converted / customers; 0 without any.
  double RevenuePerCustomer() const;  // revenue_minor / customers.
};

// One row of the report.
struct RowReport {
  std::string campaign;  // "*" for the whole programme.
  std::string variant;   // Empty when the campaign has none.
  // Decisions by tailor::v1::DecisionAction.
  std::array<int64_t, 4> decisions_by_action{};
  int64_t sends = 0;          // SEND decisions.
  int64_t opens = 0;          // Of them, opened (push or cart reminder).
  std::optional<double> ctr;  // opens / sends, for pushes and reminders.
  int64_t redemptions = 0;    // Coupons of SEND decisions redeemed.
  ArmStats treated;
  ArmStats held_out;
  std::string currency;  // Of the revenue; "mixed" if several.
  // Uplift of the conversion rate, treated minus held out (a difference of
  // proportions), with its 95% interval (NewcombeDifference). Absent when
  // an arm is empty.
  std::optional<double> uplift;
  std::optional<Interval> uplift_ci;
  // True when the interval excludes 0.
  bool significant = false;
};

class Report {
 public:
  // Decisions created in [from_ms, to_ms) count, with the outcomes
  // attributed to them (whenever those happened).
  Report(int64_t from_ms, int64_t to_ms);

  // Adds a decision of the log; a repeat of a decision_id is dropped.
  void AddDecision(const tailor::v1::Decision& decision);
  // Adds an outcome; a repeat of an outcome_id is dropped.
  void AddOutcome(const tailor::v1::Outcome& outcome);

  // The rows, by campaign and variant name, row "*" last.
  std::vector<RowReport> Rows() const;

  int64_t decisions() const { return static_cast<int64_t>(seen_.size()); }
  int64_t outcomes() const { return static_cast<int64_t>(outcomes_.size()); }

 private:
  struct Key {
    std::string campaign;
    std::string variant;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.campaign, k.variant);
    }
    bool operator==(const Key& o) const {
      return campaign == o.campaign && variant == o.variant;
    }
  };
  struct Row {
    std::array<int64_t, 4> by_action{};
    bool opens_possible = false;  // A push or a cart reminder was sent.
    absl::flat_hash_set<std::string> treated;   // customer ids
    absl::flat_hash_set<std::string> held_out;  // customer ids
  };

  int64_t from_ms_;
  int64_t to_ms_;
  absl::flat_hash_set<std::string> seen_;  // decision ids
  absl::flat_hash_map<Key, Row> rows_;
  // Customers of the global control group, and customers with any SEND.
  absl::flat_hash_set<std::string> global_control_;
  absl::flat_hash_set<std::string> any_send_;
  absl::flat_hash_map<std::string, tailor::v1::Outcome> outcomes_;  // by id
};

}  // namespace tailor::measure

#endif  // TAILOR_LIBS_MEASURE_REPORT_H_
