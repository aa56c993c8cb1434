#include "services/personalizer/decision_line.h"

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace tailor {
namespace {

// "DECISION_KIND_CART_REMINDER" -> "cart_reminder".
std::string ShortEnumName(const std::string& full, absl::string_view prefix) {
  absl::string_view name = full;
  if (absl::StartsWith(name, prefix)) name.remove_prefix(prefix.size());
  return absl::AsciiStrToLower(name);
}

}  // namespace

std::string FormatDecisionLine(const tailor::v1::Decision& d) {
  std::string line = absl::StrCat(
      "decision ",
      ShortEnumName(tailor::v1::DecisionKind_Name(d.kind()), "DECISION_KIND_"),
      " customer=", d.customer_id(), " action=",
      ShortEnumName(tailor::v1::DecisionAction_Name(d.action()),
                    "DECISION_ACTION_"),
      " campaign=", d.campaign());
  if (!d.variant().empty()) absl::StrAppend(&line, " variant=", d.variant());
  absl::StrAppend(&line, " reasons=", absl::StrJoin(d.reason_codes(), ","));
  if (!d.suppression().empty()) {
    absl::StrAppend(&line, " suppressed_by=", d.suppression());
  }
  absl::StrAppend(&line, " id=", d.decision_id().substr(0, 12), "\n");
  return line;
}

void DecisionPrinter::Print(const tailor::v1::Decision& decision) {
  if (limit_ > 0) {
    const int64_t second = absl::ToUnixSeconds(absl::Now());
    if (second != second_) {
      second_ = second;
      printed_.fill(0);
    }
    if (printed_[decision.kind() % 5]++ >= limit_) {
      ++hidden_;
      return;
    }
  }
  const std::string line = FormatDecisionLine(decision);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

}  // namespace tailor
