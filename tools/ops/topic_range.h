// File: topic_range.h
// Ranges of topic partitions, as operators write them, and a bounded reader
// over them.
//
// A position (flags such as --from, --to) is one of:
//   earliest | latest            the partition's start or end
//   <offset>                     e.g. 1200
//   <RFC 3339 time>              e.g. 2026-11-20T00:00:00Z: the first record
//                                stamped at or after it
//   @<epoch ms>, s@<ms>, e@<ms>  a time in epoch milliseconds (kcat's syntax)
//   <duration> ago               e.g. 7d, 36h, 90m: now minus that
#ifndef TAILOR_TOOLS_OPS_TOPIC_RANGE_H_
#define TAILOR_TOOLS_OPS_TOPIC_RANGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "libs/kafka/config.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/record.h"
#include "tools/ops/progress.h"

namespace tailor::ops {

struct Position {
  enum class Kind { kEarliest, kLatest, kOffset, kTime };
  Kind kind = Kind::kEarliest;
  int64_t value = 0;  // the offset, or the time in epoch ms
};

// Parses a position; `now` resolves durations. Errors say what was expected.
absl::StatusOr<Position> ParsePosition(absl::string_view text, absl::Time now);

// Parses "0,2,5" (empty: every partition).
absl::StatusOr<std::vector<int32_t>> ParsePartitions(absl::string_view text);

// A consumer outside any group, for reading topics at given offsets; it
// never commits.
absl::StatusOr<std::unique_ptr<kafka::Consumer>> MakeReader(
    const kafka::Properties& props);

// The partition count of `topic` (NotFound naming the topic).
absl::StatusOr<int32_t> PartitionCount(kafka::Consumer& reader,
                                       const std::string& topic);

// The offset of topic[partition] that `position` names, clamped to the
// partition's [start, end].
absl::StatusOr<int64_t> Resolve(kafka::Consumer& reader,
                                const std::string& topic, int32_t partition,
                                const Position& position);

struct TopicRange {
  std::vector<std::string> topics;
  std::vector<int32_t> partitions;  // empty: all of each topic
  Position from{Position::Kind::kEarliest, 0};
  Position to{Position::Kind::kLatest, 0};  // exclusive
};

// One partition of a range, resolved to offsets [from, to).
struct PartitionSpan {
  std::string topic;
  int32_t partition = 0;
  int64_t from = 0;
  int64_t to = 0;
};

// Resolves a range against the broker now (so a read is bounded even while
// producers go on).
absl::StatusOr<std::vector<PartitionSpan>> ResolveRange(
    kafka::Consumer& reader, const TopicRange& range);

// Reads every record of `spans` (in offset order within a partition;
// partitions interleaved as they are fetched) and calls `fn` on each;
// stops at the first error `fn` returns. `progress` (may be null) counts
// records; its total is set to the records in the spans.
absl::Status ReadSpans(kafka::Consumer& reader,
                       const std::vector<PartitionSpan>& spans,
                       absl::FunctionRef<absl::Status(const kafka::Record&)> fn,
                       Progress* progress);
// The same, but `fn` may keep the record (move it away), and `done` is
// called once for each span when all of it has been read (also for an
// empty span, before any record).
absl::Status ReadSpans(kafka::Consumer& reader,
                       const std::vector<PartitionSpan>& spans,
                       absl::FunctionRef<absl::Status(kafka::Record&)> fn,
                       absl::FunctionRef<void(const PartitionSpan&)> done,
                       Progress* progress);

}  // namespace tailor::ops

#endif  // TAILOR_TOOLS_OPS_TOPIC_RANGE_H_
