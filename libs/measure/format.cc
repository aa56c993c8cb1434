#include "libs/measure/format.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tailor::measure {
namespace {

namespace v1 = ::tailor::v1;

std::string Percent(double fraction) {
  return absl::StrFormat("%.2f%%", 100 * fraction);
}

std::string Points(double fraction) {
  return absl::StrFormat("%+.2f", 100 * fraction);
}

std::string Uplift(const RowReport& r) {
  if (!r.uplift.has_value()) return "-";
  return absl::StrCat(Points(*r.uplift), " pp [", Points(r.uplift_ci->low),
                      ", ", Points(r.uplift_ci->high), "]",
                      r.significant ? "" : " n.s.");
}

// A JSON string literal (names are letters, digits and "._-", but be safe).
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Number(double x) { return absl::StrFormat("%.6g", x); }

std::string Arm(const ArmStats& a) {
  return absl::StrCat(
      "{\"customers\":", a.customers, ",\"converted\":", a.converted,
      ",\"conversion_rate\":", Number(a.ConversionRate()),
      ",\"revenue_minor\":", a.revenue_minor,
      ",\"revenue_per_customer\":", Number(a.RevenuePerCustomer()), "}");
}

}  // namespace

std::string FormatTable(const std::vector<RowReport>& rows) {
  constexpr char kLine[] =
      "%-22s %-7s %7s %6s %6s %6s %7s %8s %8s %7s %8s %7s %9s  %s\n";
  std::string out =
      absl::StrFormat(kLine, "campaign", "variant", "sent", "held", "supp",
                      "opens", "ctr", "redeemed", "treated", "conv", "held_out",
                      "conv", "rev/cust", "uplift (95% CI)");
  for (const RowReport& r : rows) {
    const auto& by = r.decisions_by_action;
    absl::StrAppend(
        &out,
        absl::StrFormat(
            kLine, r.campaign, r.variant.empty() ? "-" : r.variant,
            absl::StrCat(by[v1::DECISION_ACTION_SEND]),
            absl::StrCat(by[v1::DECISION_ACTION_HOLD_OUT]),
            absl::StrCat(by[v1::DECISION_ACTION_SUPPRESSED]),
            absl::StrCat(r.opens), r.ctr ? Percent(*r.ctr) : "-",
            absl::StrCat(r.redemptions), absl::StrCat(r.treated.customers),
            r.treated.customers > 0 ? Percent(r.treated.ConversionRate()) : "-",
            absl::StrCat(r.held_out.customers),
            r.held_out.customers > 0 ? Percent(r.held_out.ConversionRate())
                                     : "-",
            absl::StrFormat("%.2f", r.treated.RevenuePerCustomer() / 100.0),
            Uplift(r)));
  }
  absl::StrAppend(
      &out,
      "treated/held_out: customers with a SEND / a HOLD_OUT; conv: of them, "
      "with an attributed order; rev/cust: attributed revenue per treated "
      "customer (major units); uplift: treated minus held-out conversion, "
      "percentage points, 95% Newcombe-Wilson interval; n.s.: not "
      "significant (the interval includes 0); *: every campaign against the "
      "global control group\n");
  return out;
}

std::string FormatJson(const std::vector<RowReport>& rows) {
  std::vector<std::string> items;
  for (const RowReport& r : rows) {
    const auto& by = r.decisions_by_action;
    items.push_back(absl::StrCat(
        "{\"campaign\":", Quote(r.campaign), ",\"variant\":", Quote(r.variant),
        ",\"decisions\":{\"send\":", by[v1::DECISION_ACTION_SEND],
        ",\"hold_out\":", by[v1::DECISION_ACTION_HOLD_OUT],
        ",\"suppressed\":", by[v1::DECISION_ACTION_SUPPRESSED],
        "},\"opens\":", r.opens, ",\"ctr\":", r.ctr ? Number(*r.ctr) : "null",
        ",\"redemptions\":", r.redemptions, ",\"treated\":", Arm(r.treated),
        ",\"held_out\":", Arm(r.held_out), ",\"currency\":", Quote(r.currency),
        ",\"uplift\":", r.uplift ? Number(*r.uplift) : "null",
        ",\"uplift_ci\":",
        r.uplift_ci ? absl::StrCat("[", Number(r.uplift_ci->low), ",",
                                   Number(r.uplift_ci->high), "]")
                    : "null",
        ",\"significant\":", r.significant ? "true" : "false", "}"));
  }
  return absl::StrCat("{\"rows\":[", absl::StrJoin(items, ","),
                      "],\"interval\":\"newcombe-wilson-95\"}\n");
}

}  // namespace tailor::measure
