// File: interval.h
// Confidence intervals for proportions and for the difference of two
// independent proportions. Pure arithmetic.
#ifndef TAILOR_LIBS_MEASURE_INTERVAL_H_
#define TAILOR_LIBS_MEASURE_INTERVAL_H_

#include <cstdint>

namespace tailor::measure {

// z of a two-sided 95% interval.
inline constexpr double kZ95 = 1.959963984540054;

struct Interval {
  double low = 0;
  double high = 0;
  bool Contains(double x) const { return low <= x && x <= high; }
};

// Wilson score interval of `successes` out of `n` (n > 0) at `z`.
Interval WilsonInterval(int64_t successes, int64_t n, double z = kZ95);

// Newcombe's hybrid score interval (his method 10, Wilson intervals without
// continuity correction) of p1 - p2 for independent samples (n1, n2 > 0):
// it keeps its coverage near 95% for small samples and proportions near 0,
// where the Wald interval (difference +- z * standard error) is too narrow.
Interval NewcombeDifference(int64_t successes1, int64_t n1, int64_t successes2,
                            int64_t n2, double z = kZ95);

}  // namespace tailor::measure

#endif  // TAILOR_LIBS_MEASURE_INTERVAL_H_
