#include "libs/store/keys.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tailor::store::keys {
namespace {

using ::testing::Optional;

TEST(PartitionPrefixTest, IsBigEndian) {
  EXPECT_EQ(PartitionPrefix(0), std::string("\0\0\0\0", 4));
  EXPECT_EQ(PartitionPrefix(1), std::string("\0\0\0\x01", 4));
  EXPECT_EQ(PartitionPrefix(0x01020304), "\x01\x02\x03\x04");
  EXPECT_EQ(PartitionUpperBound(1), std::string("\0\0\0\x02", 4));
}

TEST(PartitionPrefixTest, PartitionsSortNumerically) {
  // Big-endian keeps numeric order: 255 < 256 bytewise too.
  EXPECT_LT(PartitionPrefix(255), PartitionPrefix(256));
  EXPECT_LT(ProfileKey(1, "zzz"), ProfileKey(2, ""));
  EXPECT_LT(ProfileKey(1, "\xff\xff\xff\xff\xff"), PartitionUpperBound(1));
  EXPECT_EQ(PartitionUpperBound(std::numeric_limits<int32_t>::max()),
            std::string("\x80\x00\x00\x00", 4));
}

TEST(ProfileKeyTest, RoundTrip) {
  const std::string key = ProfileKey(7, "customer-42");
  EXPECT_EQ(key, std::string("\0\0\0\x07", 4) + "customer-42");
  auto parts = DecodeProfileKey(key);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->partition, 7);
  EXPECT_EQ(parts->customer_id, "customer-42");
  EXPECT_FALSE(DecodeProfileKey("abc").has_value());
}

TEST(ProfileKeyTest, EncodeReusesBuffer) {
  std::string buf = "leftover from an earlier key";
  EncodeProfileKey(3, "c", &buf);
  EXPECT_EQ(buf, ProfileKey(3, "c"));
}

TEST(OrderPreservingTest, RoundTripsAndKeepsOrder) {
  const std::vector<int64_t> values = {std::numeric_limits<int64_t>::min(),
                                       -1'000'000'000'000,
                                       -1,
                                       0,
                                       1,
                                       1'700'000'000'000,
                                       std::numeric_limits<int64_t>::max()};
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(Int64FromOrderPreserving(OrderPreservingFromInt64(values[i])),
              values[i]);
    if (i > 0) {
      EXPECT_LT(OrderPreservingFromInt64(values[i - 1]),
                OrderPreservingFromInt64(values[i]));
    }
  }
}

TEST(TimerKeyTest, RoundTrip) {
  const std::string key = TimerKey(5, -42, "cust", "t-1");
  auto parts = DecodeTimerKey(key);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->partition, 5);
  EXPECT_EQ(parts->fire_at_ms, -42);
  EXPECT_EQ(parts->customer_id, "cust");
  EXPECT_EQ(parts->timer_id, "t-1");
}

TEST(TimerKeyTest, EmptyIdsRoundTrip) {
  const std::string key = TimerKey(0, 0, "", "");
  auto parts = DecodeTimerKey(key);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->customer_id, "");
  EXPECT_EQ(parts->timer_id, "");
}

TEST(TimerKeyTest, TimerIdMayContainNul) {
  const std::string timer_id("a\0b", 3);
  const std::string key = TimerKey(0, 9, "c", timer_id);
  auto parts = DecodeTimerKey(key);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->customer_id, "c");
  EXPECT_EQ(parts->timer_id, timer_id);
}

TEST(TimerKeyTest, BytewiseOrderIsFireTimeOrder) {
  const std::vector<int64_t> times = {std::numeric_limits<int64_t>::min(),
                                      -86'400'000,
                                      -1,
                                      0,
                                      1,
                                      255,
                                      256,
                                      1'700'000'000'000,
                                      std::numeric_limits<int64_t>::max()};
  std::vector<std::string> encoded;
  for (int64_t t : times) encoded.push_back(TimerKey(1, t, "c", "t"));
  std::vector<std::string> sorted = encoded;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, encoded);
}

TEST(TimerKeyTest, SameTimeOrdersByCustomerThenTimer) {
  EXPECT_LT(TimerKey(1, 10, "a", "z"), TimerKey(1, 10, "b", "a"));
  // The 0x00 separator puts a customer id before its extensions.
  EXPECT_LT(TimerKey(1, 10, "a", "z"), TimerKey(1, 10, "ab", ""));
  EXPECT_LT(TimerKey(1, 10, "a", "1"), TimerKey(1, 10, "a", "2"));
}

TEST(TimerKeyTest, RejectsMalformed) {
  EXPECT_FALSE(DecodeTimerKey("").has_value());
  EXPECT_FALSE(DecodeTimerKey(std::string(12, 'x')).has_value());
  // Fixed part present but no separator.
  EXPECT_FALSE(DecodeTimerKey(std::string(12, 'x') + "cust").has_value());
}

TEST(TimerKeyTest, CustomerIdValidity) {
  EXPECT_TRUE(ValidCustomerIdForTimer("c-1"));
  EXPECT_FALSE(ValidCustomerIdForTimer(std::string("c\0", 2)));
}

TEST(MetaKeyTest, OffsetKeys) {
  EXPECT_EQ(OffsetKey("clickstream", 12), "offset/clickstream/12");
  auto parts = DecodeOffsetKey("offset/decisions.push/3");
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->topic, "decisions.push");
  EXPECT_EQ(parts->partition, 3);
  EXPECT_FALSE(DecodeOffsetKey("offset/x/").has_value());
  EXPECT_FALSE(DecodeOffsetKey("offset//3").has_value());
  EXPECT_FALSE(DecodeOffsetKey("offset/x/-3").has_value());
  EXPECT_FALSE(DecodeOffsetKey("offset/x/3a").has_value());
  EXPECT_FALSE(DecodeOffsetKey("pstate/3").has_value());
  EXPECT_FALSE(DecodeOffsetKey("offset/x/99999999999").has_value());
  EXPECT_EQ(PartitionStateKey(4), "pstate/4");
}

TEST(MetaKeyTest, OffsetValues) {
  for (int64_t v : {int64_t{0}, int64_t{-1001}, int64_t{1} << 40,
                    std::numeric_limits<int64_t>::max()}) {
    EXPECT_THAT(DecodeOffsetValue(EncodeOffsetValue(v)), Optional(v));
  }
  EXPECT_EQ(EncodeOffsetValue(258), std::string("\0\0\0\0\0\0\x01\x02", 8));
  EXPECT_FALSE(DecodeOffsetValue("1234").has_value());
}

}  // namespace
}  // namespace tailor::store::keys
