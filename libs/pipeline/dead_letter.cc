#include "libs/pipeline/dead_letter.h"

#include "absl/strings/match.h"
#include "libs/pipeline/records.h"

namespace tailor::pipeline {

absl::string_view DeadLetterErrorClass(absl::string_view error) {
  if (absl::StartsWith(error, "undecodable")) return "undecodable";
  if (absl::StrContains(error, "key does not match")) return "key_mismatch";
  if (absl::StartsWith(error, "misrouted")) return "misrouted";
  if (absl::StrContains(error, "event_time")) return "event_time";
  if (absl::StartsWith(error, "missing ")) return "missing_field";
  return "invalid_value";
}

bool IsDeadLetterHeader(absl::string_view header) {
  return header == kHeaderSourceTopic || header == kHeaderSourcePartition ||
         header == kHeaderSourceOffset || header == kHeaderError ||
         header == kHeaderTruncated || header == kHeaderOriginalKeyBytes ||
         header == kHeaderOriginalValueBytes;
}

}  // namespace tailor::pipeline
