// File: replay.h
// Runs recorded input through the personalizer's own processing, one task
// (partition N of every input topic) at a time, into a scratch state: the
// records go into the task's TaskInputs and come out in the personalizer's
// event-time order, through the Processor (decode, validate, fold, decide,
// timers) and a store::ProfileStore. No second implementation of any of it.
//
//   BeginPartition(N) -> Push(record)... EndInput(kind, end) ... ->
//   FinishPartition()
//
// Stream time is event time only (the personalizer's --time_source=event):
// timers fire when an event of the task passes them, never past the last
// event time of the input. An input is known complete only by EndInput();
// until then the task waits for it, as the personalizer waits for an input
// that is not caught up. Outputs (decisions, dead letters and, with
// emit_changelog, changelog records) go to the sink in the order they are
// made, so the same input, state and rules give the same outputs.
//
// Not thread-safe; one partition at a time.
#ifndef TAILOR_TOOLS_OPS_REPLAY_H_
#define TAILOR_TOOLS_OPS_REPLAY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "libs/decide/engine.h"
#include "libs/kafka/consumer.h"
#include "libs/pipeline/processor.h"
#include "libs/pipeline/records.h"
#include "libs/pipeline/task_inputs.h"
#include "libs/store/profile_store.h"
#include "tailor/v1/config.pb.h"
#include "tools/ops/progress.h"
#include "tools/ops/topic_range.h"

namespace tailor::ops {

struct ReplayOptions {
  // The service config (defaults applied): topic names, validation limits,
  // cache size, batch size.
  tailor::v1::ServiceConfig config;
  int32_t partition_count = 1;  // of the input topics
  // The wall clock events are validated against (an event stamped more
  // than max_event_skew_hours after it is dead-lettered).
  int64_t wall_now_ms = 0;
  bool emit_changelog = false;
};

class Replay {
 public:
  using Sink = std::function<absl::Status(const pipeline::OutputRecord&)>;

  Replay(store::ProfileStore* store,
         std::shared_ptr<const decide::Engine> engine,
         const ReplayOptions& options, Sink sink);

  [[nodiscard]] absl::Status BeginPartition(int32_t partition);
  // Buffers a record of the open partition. `record.input` must name its
  // kind; its views must stay valid until the record is processed (give
  // `record.owner` the Kafka message, or keep the bytes until
  // FinishPartition()). The order time is set here.
  [[nodiscard]] absl::Status Push(pipeline::BufferedRecord record);
  // Input `kind` of the open partition has no records past `end_offset`.
  void EndInput(tailor::v1::EventTopic kind, int64_t end_offset);
  // Every input ended: processes what is left, writes the partition's state
  // to the store and closes its task.
  [[nodiscard]] absl::Status FinishPartition();

  const pipeline::ProcessorStats& stats() const { return processor_.stats(); }

 private:
  // Processes what the task's inputs release now.
  absl::Status Drain();
  // Hands the processor's outputs to the sink.
  absl::Status Flush();
  // Writes the state so far (profiles leave the cache only once written).
  absl::Status Commit();

  store::ProfileStore* store_;
  ReplayOptions options_;
  Sink sink_;
  pipeline::Processor processor_;
  int32_t partition_ = -1;
  std::optional<pipeline::TaskInputs> inputs_;
  size_t pushed_since_drain_ = 0;
  int64_t processed_since_commit_ = 0;
  std::vector<pipeline::BufferedRecord> released_;
  std::vector<pipeline::InputRecord> batch_;
};

// The input topic kind of `topic` (EVENT_TOPIC_UNSPECIFIED when it is none
// of the configured input topics).
tailor::v1::EventTopic InputKindOf(const tailor::v1::TopicsConfig& topics,
                                   absl::string_view topic);

// Replays the input topics over `spans` (from ResolveRange over the input
// topics), one partition number at a time in increasing order, and calls
// `finished(partition)` after each. `progress` (may be null) counts records.
absl::Status ReplaySpans(
    kafka::Consumer& reader, const std::vector<PartitionSpan>& spans,
    const tailor::v1::TopicsConfig& topics, Replay& replay, Progress* progress,
    absl::FunctionRef<absl::Status(int32_t partition)> finished);

}  // namespace tailor::ops

#endif  // TAILOR_TOOLS_OPS_REPLAY_H_
