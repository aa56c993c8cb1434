// File: dead_letter.h
// Reading dead letters back: the error class of a tailor-error header, for
// the tailor_dead_letters_total{error_class} label and for tailor-ops dlq.
// The headers themselves are named in records.h.
#ifndef TAILOR_LIBS_PIPELINE_DEAD_LETTER_H_
#define TAILOR_LIBS_PIPELINE_DEAD_LETTER_H_

#include "absl/strings/string_view.h"

namespace tailor::pipeline {

// The error class of a dead letter, from its tailor-error header:
// "undecodable" (not a protobuf of the topic's event type), "key_mismatch"
// (message key is not the customer_id), "event_time" (missing, too old or too
// far in the future), "misrouted" (the key hashes to another partition;
// misrouted_events: dead_letter), "missing_field", or "invalid_value"
// (anything else).
absl::string_view DeadLetterErrorClass(absl::string_view error);

// Whether `header` is one the processor adds to a dead letter (source
// topic/partition/offset, error, truncation), as opposed to one the original
// record carried.
bool IsDeadLetterHeader(absl::string_view header);

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_DEAD_LETTER_H_
