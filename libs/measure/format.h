// File: format.h
// The report's rows as a terminal table or as JSON. Pure.
#ifndef TAILOR_LIBS_MEASURE_FORMAT_H_
#define TAILOR_LIBS_MEASURE_FORMAT_H_

#include <string>
#include <vector>

#include "libs/measure/report.h"

namespace tailor::measure {

// A fixed-width table, one line per row, with a header line and a legend:
//   campaign variant  sent held supp  opens   ctr  redeemed  treated conv%
//   held_out conv%  rev/cust  uplift [95% CI]
// Rates in percent, uplift in percentage points; "n.s." marks an uplift
// whose interval includes 0, "-" what cannot be computed.
std::string FormatTable(const std::vector<RowReport>& rows);

// {"rows":[{"campaign":..., "variant":..., "decisions":{"send":..,
// "hold_out":.., "suppressed":..}, "opens":.., "ctr":..|null,
// "redemptions":.., "treated":{"customers":.., "converted":..,
// "conversion_rate":.., "revenue_minor":.., "revenue_per_customer":..},
// "held_out":{...}, "currency":"PLN", "uplift":..|null,
// "uplift_ci":[low, high]|null, "significant":bool}, ...],
// "interval":"newcombe-wilson-95"} on one line. Rates are fractions.
std::string FormatJson(const std::vector<RowReport>& rows);

}  // namespace tailor::measure

#endif  // TAILOR_LIBS_MEASURE_FORMAT_H_
