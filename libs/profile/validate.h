// File: validate.h
// Validation of decoded input events before they are folded: required ids,
// string bounds, event-time window, payload-to-topic mapping and the value
// constraints stated in proto/tailor/v1/events.proto. Pure: no I/O, no clock
// (the caller passes the wall clock in).
#ifndef TAILOR_LIBS_PROFILE_VALIDATE_H_
#define TAILOR_LIBS_PROFILE_VALIDATE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tailor/v1/events.pb.h"

namespace tailor::profile {

// Longest accepted opaque id (customer, event, product, category, order,
// session, decision, coupon, request), in bytes.
inline constexpr int kMaxIdLength = 128;
// Longest accepted short code (page type, reason, campaign, locale, region,
// time zone), in bytes.
inline constexpr int kMaxCodeLength = 64;

// Limits for validation; the pipeline fills them from ServiceConfig
// (min_event_time_ms, max_event_skew_hours). A plain value type.
// The ranges keep every sum tailor makes of them (a cart of
// ProfileLimits::max_cart_lines lines, an order) far inside int64.
struct ValidationLimits {
  int64_t min_event_time_ms = 946684800000;  // 2000-01-01T00:00:00Z.
  int64_t max_future_skew_ms = 24LL * 3600 * 1000;
  // Largest amount in minor units (10^12: ten billion in a currency with
  // two decimals).
  int64_t max_amount_minor = 1'000'000'000'000;
  int32_t max_quantity = 10'000;   // Units of one line item.
  int32_t max_line_items = 1'000;  // Lines of one order, return or cancel.
};

// Replaces enum values this build does not know (written by a newer
// producer) by UNSPECIFIED, so they are folded as "not said".
void NormalizeEnums(tailor::v1::Event* event);

// Which topic an event's payload belongs on (from the payload case: fields
// 10-29 clickstream, 30-49 orders, 50-69 privacy; UNSPECIFIED if no payload).
tailor::v1::EventTopic TopicOfPayload(const tailor::v1::Event& event);

// Name of the payload field, e.g. "order_placed"; "none" if unset. Stable,
// suitable for metric labels and dead-letter headers.
absl::string_view PayloadName(tailor::v1::Event::PayloadCase payload_case);

// Lower-case name of a topic kind: "clickstream", "orders", "privacy" or
// "unspecified".
absl::string_view TopicKindName(tailor::v1::EventTopic topic);

// Checks that a decoded event is valid for the topic it arrived on; `now_ms` is
// the wall clock. Returns InvalidArgument with a short, machine-greppable
// message (it goes into the dead-letter header), e.g. "missing customer_id",
// "customer_id too long (300 > 128)", "missing payload",
// "payload order_placed does not belong on topic clickstream",
// "event_time_ms 4102444800000 is more than 24h in the future",
// "cart_add.item.quantity must be > 0",
// "negative amount in order_placed.total". Allocates only on error.
// Thread-safe (pure function).
[[nodiscard]] absl::Status ValidateEvent(const tailor::v1::Event& event,
                                         tailor::v1::EventTopic arrived_on,
                                         const ValidationLimits& limits,
                                         int64_t now_ms);

}  // namespace tailor::profile

#endif  // TAILOR_LIBS_PROFILE_VALIDATE_H_
