#include "tools/ops/replay.h"

#include <limits>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "libs/pipeline/order_time.h"

namespace tailor::ops {
namespace {

// Records buffered between two attempts to release (a release scans the
// heads only, so this is about amortizing the calls).
constexpr size_t kDrainEvery = 4096;
// Records processed between two writes of the scratch state: bounds the
// profiles pinned in the cache until written.
constexpr int64_t kCommitEvery = 100000;

pipeline::ProcessorOptions OptionsFor(const ReplayOptions& options) {
  pipeline::ProcessorOptions out =
      pipeline::ProcessorOptionsFor(options.config, options.partition_count);
  out.emit_changelog = options.emit_changelog;
  return out;
}

}  // namespace

Replay::Replay(store::ProfileStore* store,
               std::shared_ptr<const decide::Engine> engine,
               const ReplayOptions& options, Sink sink)
    : store_(store),
      options_(options),
      sink_(std::move(sink)),
      processor_(store, std::move(engine), OptionsFor(options)) {}

absl::Status Replay::BeginPartition(int32_t partition) {
  if (inputs_.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("partition ", partition_, " is not finished"));
  }
  partition_ = partition;
  // Event time only, and an empty input waits until it is known ended.
  inputs_.emplace(
      pipeline::TaskTimeOptions{.wall_clock = false, .max_task_idle_ms = -1},
      options_.wall_now_ms);
  return processor_.OpenPartition(partition);
}

absl::Status Replay::Push(pipeline::BufferedRecord record) {
  if (record.input.partition != partition_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record of ", record.input.topic, "[", record.input.partition,
        "] while replaying partition ", partition_));
  }
  record.order_time_ms = pipeline::OrderTimeOf(
      record.input.value, processor_.options().limits, options_.wall_now_ms);
  inputs_->Push(std::move(record));
  if (++pushed_since_drain_ >= kDrainEvery) return Drain();
  return absl::OkStatus();
}

void Replay::EndInput(tailor::v1::EventTopic kind, int64_t end_offset) {
  inputs_->MarkEnd(kind, end_offset);
  // Known at its end for every record pushed so far and to come.
  inputs_->MarkBrokerEnd(kind, end_offset,
                         std::numeric_limits<uint64_t>::max());
}

absl::Status Replay::Drain() {
  pushed_since_drain_ = 0;
  const size_t max = static_cast<size_t>(options_.config.max_batch_events());
  for (;;) {
    released_.clear();
    const int64_t watermark =
        inputs_->Release(options_.wall_now_ms, max, &released_);
    batch_.clear();
    for (const pipeline::BufferedRecord& b : released_) {
      batch_.push_back(b.input);
    }
    if (!batch_.empty()) {
      TAILOR_RETURN_IF_ERROR(processor_.ProcessBatch(
          batch_, options_.wall_now_ms, std::numeric_limits<int64_t>::max()));
      processed_since_commit_ += static_cast<int64_t>(batch_.size());
    }
    if (watermark != pipeline::kUntimed) {
      TAILOR_RETURN_IF_ERROR(
          processor_.AdvanceStreamTime(partition_, watermark));
    }
    TAILOR_RETURN_IF_ERROR(Flush());
    if (processed_since_commit_ >= kCommitEvery) {
      TAILOR_RETURN_IF_ERROR(Commit());
    }
    if (released_.size() < max) return absl::OkStatus();
  }
}

absl::Status Replay::Flush() {
  for (const pipeline::OutputRecord& out : processor_.outputs()) {
    TAILOR_RETURN_IF_ERROR(sink_(out));
  }
  processor_.ClearOutputs();
  return absl::OkStatus();
}

absl::Status Replay::Commit() {
  processed_since_commit_ = 0;
  processor_.PrepareCommit();
  TAILOR_RETURN_IF_ERROR(Flush());  // changelog records, if emitted
  return processor_.WriteState();
}

absl::Status Replay::FinishPartition() {
  TAILOR_RETURN_IF_ERROR(Drain());
  if (inputs_->buffered() > 0) {
    return absl::InternalError(
        absl::StrCat(inputs_->buffered(), " records of partition ", partition_,
                     " were never released (an input was not ended)"));
  }
  TAILOR_RETURN_IF_ERROR(Commit());
  TAILOR_RETURN_IF_ERROR(store_->Flush());
  processor_.ClosePartition(partition_);
  inputs_.reset();
  partition_ = -1;
  return absl::OkStatus();
}

tailor::v1::EventTopic InputKindOf(const tailor::v1::TopicsConfig& topics,
                                   absl::string_view topic) {
  if (topic == topics.clickstream()) return tailor::v1::EVENT_TOPIC_CLICKSTREAM;
  if (topic == topics.orders()) return tailor::v1::EVENT_TOPIC_ORDERS;
  if (topic == topics.privacy()) return tailor::v1::EVENT_TOPIC_PRIVACY;
  return tailor::v1::EVENT_TOPIC_UNSPECIFIED;
}

absl::Status ReplaySpans(
    kafka::Consumer& reader, const std::vector<PartitionSpan>& spans,
    const tailor::v1::TopicsConfig& topics, Replay& replay, Progress* progress,
    absl::FunctionRef<absl::Status(int32_t partition)> finished) {
  std::map<int32_t, std::vector<PartitionSpan>> by_partition;
  for (const PartitionSpan& span : spans) {
    by_partition[span.partition].push_back(span);
  }
  static const std::string kSentNs(pipeline::kHeaderSentNs);
  for (const auto& [partition, task_spans] : by_partition) {
    TAILOR_RETURN_IF_ERROR(replay.BeginPartition(partition));
    TAILOR_RETURN_IF_ERROR(ReadSpans(
        reader, task_spans,
        [&](kafka::Record& r) {
          pipeline::BufferedRecord b;
          pipeline::InputRecord& in = b.input;
          in.kind = InputKindOf(topics, r.topic());
          in.topic = r.topic();
          in.partition = r.partition();
          in.offset = r.offset();
          in.key = r.key();
          in.value = r.value();
          if (auto sent = r.header(kSentNs); sent.has_value()) {
            if (!absl::SimpleAtoi(*sent, &in.sent_ns)) in.sent_ns = 0;
          }
          b.owner = std::move(r);
          if (progress != nullptr) progress->Add(1);
          return replay.Push(std::move(b));
        },
        [&](const PartitionSpan& span) {
          replay.EndInput(InputKindOf(topics, span.topic), span.to);
        },
        nullptr));
    TAILOR_RETURN_IF_ERROR(replay.FinishPartition());
    TAILOR_RETURN_IF_ERROR(finished(partition));
  }
  return absl::OkStatus();
}

}  // namespace tailor::ops
