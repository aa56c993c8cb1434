// OrderTimeOf: the event time read from the bytes, or kUntimed.
#include "libs/pipeline/order_time.h"

#include <gtest/gtest.h>

#include "libs/pipeline/task_inputs.h"
#include "tailor/v1/events.pb.h"

namespace tailor::pipeline {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;
constexpr int64_t kHour = 3'600'000;

std::string EventAt(int64_t time_ms) {
  tailor::v1::Event e;
  e.set_event_id("e1");
  e.set_customer_id("c1");
  e.set_event_time_ms(time_ms);
  e.mutable_context()->set_locale("pl-PL");
  e.mutable_cart_add()->mutable_item()->set_product_id("p1");
  return e.SerializeAsString();
}

TEST(OrderTime, ReadsTheEventTime) {
  profile::ValidationLimits limits;
  EXPECT_EQ(OrderTimeOf(EventAt(kNow - kHour), limits, kNow), kNow - kHour);
  EXPECT_EQ(OrderTimeOf(EventAt(kNow + 23 * kHour), limits, kNow),
            kNow + 23 * kHour);
}

TEST(OrderTime, UntimedWhenUnreadableOrOutOfRange) {
  profile::ValidationLimits limits;
  EXPECT_EQ(OrderTimeOf("\xff\xff\xff garbage", limits, kNow), kUntimed);
  EXPECT_EQ(OrderTimeOf(EventAt(kNow).substr(0, 5), limits, kNow), kUntimed);
  EXPECT_EQ(OrderTimeOf(EventAt(0), limits, kNow), kUntimed);
  EXPECT_EQ(OrderTimeOf(EventAt(kNow + 25 * kHour), limits, kNow), kUntimed);
  EXPECT_EQ(OrderTimeOf(EventAt(limits.min_event_time_ms - 1), limits, kNow),
            kUntimed);
  EXPECT_EQ(OrderTimeOf("", limits, kNow), kUntimed);
}

}  // namespace
}  // namespace tailor::pipeline
