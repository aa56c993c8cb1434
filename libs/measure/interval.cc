#include "libs/measure/interval.h"

#include <cmath>

namespace tailor::measure {

Interval WilsonInterval(int64_t successes, int64_t n, double z) {
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(successes) / nn;
  const double z2 = z * z;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half =
      z * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / (1 + z2 / nn);
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

Interval NewcombeDifference(int64_t successes1, int64_t n1, int64_t successes2,
                            int64_t n2, double z) {
  const double p1 = static_cast<double>(successes1) / static_cast<double>(n1);
  const double p2 = static_cast<double>(successes2) / static_cast<double>(n2);
  const Interval a = WilsonInterval(successes1, n1, z);
  const Interval b = WilsonInterval(successes2, n2, z);
  const double d = p1 - p2;
  return {d - std::sqrt((p1 - a.low) * (p1 - a.low) +
                        (b.high - p2) * (b.high - p2)),
          d + std::sqrt((a.high - p1) * (a.high - p1) +
                        (p2 - b.low) * (p2 - b.low))};
}

}  // namespace tailor::measure
