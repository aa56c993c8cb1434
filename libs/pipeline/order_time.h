// File: order_time.h
// The time an input record is ordered by in its task (TaskInputs): its event
// time, read straight from the protobuf bytes without decoding the event.
// A record that cannot be read or whose event time is outside the valid
// range (ValidationLimits, against the wall clock) gets kUntimed: it will be
// dead-lettered, so it must neither wait nor move any clock.
#ifndef TAILOR_LIBS_PIPELINE_ORDER_TIME_H_
#define TAILOR_LIBS_PIPELINE_ORDER_TIME_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "libs/profile/validate.h"

namespace tailor::pipeline {

// Pure; allocates nothing.
int64_t OrderTimeOf(absl::string_view event_bytes,
                    const profile::ValidationLimits& limits,
                    int64_t wall_now_ms);

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_ORDER_TIME_H_
