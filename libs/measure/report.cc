#include "libs/measure/report.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace tailor::measure {
namespace {

namespace v1 = ::tailor::v1;

constexpr char kProgramme[] = "*";
constexpr char kGlobalControl[] = "global_control";

// Conversions of one arm: the customers and the revenue.
struct Conversions {
  absl::flat_hash_set<std::string> customers;
  int64_t revenue_minor = 0;
};

void Finish(const absl::flat_hash_set<std::string>& members,
            const Conversions& conversions, ArmStats* arm) {
  arm->customers = static_cast<int64_t>(members.size());
  for (const std::string& c : conversions.customers) {
    if (members.contains(c)) ++arm->converted;
  }
  arm->revenue_minor = conversions.revenue_minor;
}

void SetUplift(RowReport* row) {
  if (row->treated.customers == 0 || row->held_out.customers == 0) return;
  row->uplift = row->treated.ConversionRate() - row->held_out.ConversionRate();
  row->uplift_ci =
      NewcombeDifference(row->treated.converted, row->treated.customers,
                         row->held_out.converted, row->held_out.customers);
  row->significant = !row->uplift_ci->Contains(0.0);
}

}  // namespace

double ArmStats::ConversionRate() const {
  return customers == 0
             ? 0.0
             : static_cast<double>(converted) / static_cast<double>(customers);
}

double ArmStats::RevenuePerCustomer() const {
  return customers == 0 ? 0.0
                        : static_cast<double>(revenue_minor) /
                              static_cast<double>(customers);
}

Report::Report(int64_t from_ms, int64_t to_ms)
    : from_ms_(from_ms), to_ms_(to_ms) {}

void Report::AddDecision(const v1::Decision& d) {
  if (d.created_at_ms() < from_ms_ || d.created_at_ms() >= to_ms_) return;
  if (!seen_.insert(d.decision_id()).second) return;
  Row& row = rows_[Key{d.campaign(), d.variant()}];
  ++row.by_action[d.action() % 4];
  if (d.action() == v1::DECISION_ACTION_SEND) {
    row.treated.insert(d.customer_id());
    any_send_.insert(d.customer_id());
    if (d.kind() == v1::DECISION_KIND_PUSH ||
        d.kind() == v1::DECISION_KIND_CART_REMINDER) {
      row.opens_possible = true;
    }
  } else if (d.action() == v1::DECISION_ACTION_HOLD_OUT) {
    row.held_out.insert(d.customer_id());
    if (d.holdout() == kGlobalControl) global_control_.insert(d.customer_id());
  }
}

void Report::AddOutcome(const v1::Outcome& o) {
  outcomes_.try_emplace(o.outcome_id(), o);
}

std::vector<RowReport> Report::Rows() const {
  absl::flat_hash_map<Key, RowReport> out;
  absl::flat_hash_map<Key, std::pair<Conversions, Conversions>> conversions;
  absl::flat_hash_map<Key, absl::flat_hash_set<std::string>> currencies;
  std::pair<Conversions, Conversions> programme;
  absl::flat_hash_set<std::string> programme_currencies;
  for (const auto& [id, o] : outcomes_) {
    if (!seen_.contains(o.decision_id())) continue;  // outside the range
    const Key key{o.campaign(), o.variant()};
    RowReport& row = out[key];
    const bool sent = o.action() == v1::DECISION_ACTION_SEND;
    switch (o.outcome()) {
      case v1::OUTCOME_KIND_OPEN:
        if (sent) ++row.opens;
        break;
      case v1::OUTCOME_KIND_REDEMPTION:
        if (sent) ++row.redemptions;
        break;
      case v1::OUTCOME_KIND_CONVERSION: {
        Conversions& arm =
            sent ? conversions[key].first : conversions[key].second;
        arm.customers.insert(o.customer_id());
        arm.revenue_minor += o.value().minor_units();
        currencies[key].insert(o.value().currency());
        Conversions* whole = nullptr;
        if (global_control_.contains(o.customer_id())) {
          if (!sent) whole = &programme.second;
        } else if (sent) {
          whole = &programme.first;
        }
        if (whole != nullptr) {
          whole->customers.insert(o.customer_id());
          whole->revenue_minor += o.value().minor_units();
          programme_currencies.insert(o.value().currency());
        }
        break;
      }
      default:
        break;
    }
  }
  const auto currency_of = [](const absl::flat_hash_set<std::string>& set) {
    if (set.empty()) return std::string();
    return set.size() == 1 ? *set.begin() : std::string("mixed");
  };
  std::vector<RowReport> rows;
  for (const auto& [key, r] : rows_) {
    RowReport row = std::move(out[key]);
    row.campaign = key.campaign;
    row.variant = key.variant;
    row.decisions_by_action = r.by_action;
    row.sends = r.by_action[v1::DECISION_ACTION_SEND];
    if (r.opens_possible && row.sends > 0) {
      row.ctr = static_cast<double>(row.opens) / static_cast<double>(row.sends);
    }
    const auto& conv = conversions[key];
    Finish(r.treated, conv.first, &row.treated);
    Finish(r.held_out, conv.second, &row.held_out);
    row.currency = currency_of(currencies[key]);
    SetUplift(&row);
    rows.push_back(std::move(row));
  }
  std::sort(rows.begin(), rows.end(),
            [](const RowReport& a, const RowReport& b) {
              return std::tie(a.campaign, a.variant) <
                     std::tie(b.campaign, b.variant);
            });
  RowReport whole;
  whole.campaign = kProgramme;
  for (const RowReport& r : rows) {
    for (size_t a = 0; a < whole.decisions_by_action.size(); ++a) {
      whole.decisions_by_action[a] += r.decisions_by_action[a];
    }
    whole.sends += r.sends;
    whole.opens += r.opens;
    whole.redemptions += r.redemptions;
  }
  absl::flat_hash_set<std::string> treated;
  for (const std::string& c : any_send_) {
    if (!global_control_.contains(c)) treated.insert(c);
  }
  Finish(treated, programme.first, &whole.treated);
  Finish(global_control_, programme.second, &whole.held_out);
  whole.currency = currency_of(programme_currencies);
  SetUplift(&whole);
  rows.push_back(std::move(whole));
  return rows;
}

}  // namespace tailor::measure
