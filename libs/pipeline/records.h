// File: records.h
// The records that cross the boundary between the Kafka shell and the
// processor: an input record (views into a consumed message) and an output
// record (owned bytes to produce).
#ifndef TAILOR_LIBS_PIPELINE_RECORDS_H_
#define TAILOR_LIBS_PIPELINE_RECORDS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "tailor/v1/events.pb.h"

namespace tailor::pipeline {

// Header names tailor reads and writes.
inline constexpr absl::string_view kHeaderSentNs = "tailor-sent-ns";
inline constexpr absl::string_view kHeaderSourceTopic = "tailor-source-topic";
inline constexpr absl::string_view kHeaderSourcePartition =
    "tailor-source-partition";
inline constexpr absl::string_view kHeaderSourceOffset = "tailor-source-offset";
inline constexpr absl::string_view kHeaderError = "tailor-error";
inline constexpr absl::string_view kHeaderDecisionId = "tailor-decision-id";
// On an outcome: Outcome.outcome_id (its tailor-decision-id names the
// decision it is attributed to).
inline constexpr absl::string_view kHeaderOutcomeId = "tailor-outcome-id";
// On a dead letter whose original was too large to copy whole: "true", and
// the original's key and value sizes in bytes.
inline constexpr absl::string_view kHeaderTruncated = "tailor-truncated";
inline constexpr absl::string_view kHeaderOriginalKeyBytes =
    "tailor-original-key-bytes";
inline constexpr absl::string_view kHeaderOriginalValueBytes =
    "tailor-original-value-bytes";

// A dead letter copies the original key, value and headers whole up to this
// many bytes together (under the 1,000,000 bytes a producer sends by
// default); its own headers follow the original's.
// A larger original keeps its first kDeadLetterTruncatedBytes of value and
// kMaxIdBytes of key, none of its headers, and says so in the headers above.
inline constexpr size_t kMaxDeadLetterCopyBytes = 900'000;
inline constexpr size_t kDeadLetterTruncatedBytes = 64 * 1024;
inline constexpr size_t kMaxIdBytes = 1024;

// One consumed input message. The views stay valid until the batch is done.
struct InputRecord {
  tailor::v1::EventTopic kind = tailor::v1::EVENT_TOPIC_UNSPECIFIED;
  absl::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  absl::string_view key;
  absl::string_view value;
  // Wall-clock time the producer sent it (header tailor-sent-ns), 0 if absent.
  int64_t sent_ns = 0;
  // Opaque to the processor: the consumed message the views point into,
  // handed to ProcessorOptions::original_headers for a dead letter (null
  // when the bytes live elsewhere, as in tests and benchmarks).
  const void* origin = nullptr;
};

// kAudit: a tailor.v1.AuditRecord, produced at once like a decision.
enum class OutputKind { kDecision, kDeadLetter, kChangelog, kOutcome, kAudit };

// One message to produce.
struct OutputRecord {
  OutputKind kind;
  std::string topic;
  int32_t partition = -1;  // -1: chosen by the partitioner from the key
  std::string key;
  // Empty with kChangelog: a tombstone, produced with a null value (a
  // serialized profile is never empty), so compaction removes the key.
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// The next offset to consume of one input topic partition.
struct TopicOffset {
  std::string topic;
  int32_t partition;
  int64_t next_offset;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_RECORDS_H_
