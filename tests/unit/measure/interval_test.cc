// The intervals against published values and their coverage.
#include "libs/measure/interval.h"

#include <random>

#include "gtest/gtest.h"

namespace tailor::measure {
namespace {

TEST(IntervalTest, WilsonMatchesNewcombesTable) {
  // Newcombe (1998), Statistics in Medicine 17:857-872, table II: 81/263.
  const Interval i = WilsonInterval(81, 263);
  EXPECT_NEAR(i.low, 0.2553, 5e-4);
  EXPECT_NEAR(i.high, 0.3662, 5e-4);
  const Interval zero = WilsonInterval(0, 10);
  EXPECT_EQ(zero.low, 0.0);
  EXPECT_NEAR(zero.high, 0.2775, 5e-4);
}

TEST(IntervalTest, NewcombeDifferenceMatchesHisExample) {
  // Newcombe (1998) table II, example (a): 56/70 - 48/80, method 10:
  // 0.0524 to 0.3339.
  const Interval d = NewcombeDifference(56, 70, 48, 80);
  EXPECT_NEAR(d.low, 0.0524, 5e-4);
  EXPECT_NEAR(d.high, 0.3339, 5e-4);
}

TEST(IntervalTest, CoversTheTrueDifferenceAboutNinetyFivePercentOfTheTime) {
  std::mt19937_64 rng(7);
  const double p1 = 0.08, p2 = 0.05;
  const int n1 = 900, n2 = 100, trials = 2000;
  std::binomial_distribution<int> b1(n1, p1), b2(n2, p2);
  int covered = 0;
  for (int t = 0; t < trials; ++t) {
    if (NewcombeDifference(b1(rng), n1, b2(rng), n2).Contains(p1 - p2)) {
      ++covered;
    }
  }
  const double coverage = static_cast<double>(covered) / trials;
  EXPECT_GT(coverage, 0.93);
  EXPECT_LT(coverage, 0.975);
}

}  // namespace
}  // namespace tailor::measure
