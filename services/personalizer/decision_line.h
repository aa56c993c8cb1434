// File: decision_line.h
// One human-readable line per decision, for operators watching a run:
//   decision cart_reminder customer=c-42 action=send campaign=abandoned_cart
//   reasons=cart_abandoned,step_1 id=3f2a...
#ifndef TAILOR_SERVICES_PERSONALIZER_DECISION_LINE_H_
#define TAILOR_SERVICES_PERSONALIZER_DECISION_LINE_H_

#include <array>
#include <cstdint>
#include <string>

#include "tailor/v1/decision.pb.h"

namespace tailor {

// The line, ending in '\n'.
std::string FormatDecisionLine(const tailor::v1::Decision& decision);

// Writes decision lines to stdout, at most `per_kind_per_s` lines per kind
// and second of wall time (0: no limit). Pipeline thread only.
class DecisionPrinter {
 public:
  explicit DecisionPrinter(int per_kind_per_s) : limit_(per_kind_per_s) {}
  void Print(const tailor::v1::Decision& decision);
  int64_t hidden() const { return hidden_; }

 private:
  int limit_;
  int64_t second_ = 0;
  std::array<int, 5> printed_{};
  int64_t hidden_ = 0;
};

}  // namespace tailor

#endif  // TAILOR_SERVICES_PERSONALIZER_DECISION_LINE_H_
