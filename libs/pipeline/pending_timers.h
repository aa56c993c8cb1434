// File: pending_timers.h
// The pending timers of a serialized tailor.v1.CustomerProfile, read
// straight from its bytes: the restore indexes the timers of every profile
// it writes without parsing the rest of the profile. Pure; no I/O.
#ifndef TAILOR_LIBS_PIPELINE_PENDING_TIMERS_H_
#define TAILOR_LIBS_PIPELINE_PENDING_TIMERS_H_

#include <cstdint>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"

namespace tailor::pipeline {

// Calls `fn` for each element of the profile's pending_timers field, in
// order, with the timer's fire_at_ms and timer_id (as a parse would give
// them: the last occurrence of a field wins) and the timer's own serialized
// bytes (what Timer::SerializeAsString gives for them). Every other field is
// skipped unparsed. Returns false, having called `fn` for the timers before
// it, when the profile or one of its timers is not a well-formed message.
// Views are valid as long as `profile`.
bool ForEachPendingTimer(
    absl::string_view profile,
    absl::FunctionRef<void(int64_t fire_at_ms, absl::string_view timer_id,
                           absl::string_view timer)>
        fn);

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_PENDING_TIMERS_H_
