// File: workers.h
// The processing of an instance spread over worker threads: one Processor
// per worker, each with the partitions given to it (its own profile caches,
// timer windows and scratch), run at once by a ForkJoin team. A partition
// belongs to one worker from OpenPartition() to ClosePartition() (the
// worker with the fewest partitions takes a new one), so the records of a
// task (every input topic's partition N: co-partitioning) are processed in
// order by one thread. The memory bounds (profile cache entries and bytes,
// timer window bytes) are split over the workers by their share of the
// open partitions.
//
// The interface is the Processor's: the shell (Pipeline) and the engine
// benchmark drive it the same way. ProcessBatch(), AdvanceStreamTimes(),
// PrepareCommit() and MarkDurable() run on every worker at once; the outputs
// are gathered in worker order (each partition's in the order made); a prepared
// commit is the workers' RocksDB batches appended into one, written atomically.
// Decision and outcome callbacks are serialized by a mutex when there is
// more than one worker.
//
// Owned by the pipeline; every method is called from the pipeline thread.
#ifndef TAILOR_LIBS_PIPELINE_WORKERS_H_
#define TAILOR_LIBS_PIPELINE_WORKERS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "libs/decide/engine.h"
#include "libs/pipeline/fork_join.h"
#include "libs/pipeline/processor.h"
#include "libs/pipeline/records.h"
#include "libs/store/profile_store.h"

namespace tailor::pipeline {

// The worker count `configured` asks for: itself when > 0, else the cores
// of this machine (at least 1).
int WorkerCount(int configured);

class Workers {
 public:
  using PreparedCommit = Processor::PreparedCommit;

  // `workers` >= 1.
  Workers(store::ProfileStore* store,
          std::shared_ptr<const decide::Engine> engine,
          ProcessorOptions options, int workers);

  int workers() const { return static_cast<int>(processors_.size()); }
  void SetEngine(std::shared_ptr<const decide::Engine> engine);

  [[nodiscard]] absl::Status OpenPartition(int32_t partition);
  bool HasPartition(int32_t partition) const {
    return owner_.contains(partition);
  }
  // The worker a partition belongs to, -1 when it is not open.
  int WorkerOf(int32_t partition) const {
    auto it = owner_.find(partition);
    return it == owner_.end() ? -1 : it->second;
  }
  void ClosePartition(int32_t partition);
  absl::StatusOr<std::optional<int64_t>> StoredOffset(absl::string_view topic,
                                                      int32_t partition);
  absl::StatusOr<std::optional<uint64_t>> StoredFingerprint(
      absl::string_view topic, int32_t partition, int64_t next_offset);

  // Processor::ProcessBatch, each worker its partitions' records (in the
  // order given) at once. Opens the partitions not open yet first.
  [[nodiscard]] absl::Status ProcessBatch(absl::Span<const InputRecord> records,
                                          int64_t wall_now_ms,
                                          int64_t max_stream_time_ms);
  // Processor::AdvanceStreamTime for each (partition, watermark) pair, each
  // worker its partitions at once. Partitions not open are skipped.
  [[nodiscard]] absl::Status AdvanceStreamTimes(
      absl::Span<const std::pair<int32_t, int64_t>> watermarks);

  void PrepareCommit();
  const std::vector<OutputRecord>& outputs() const { return outputs_; }
  const std::vector<TopicOffset>& prepared_offsets() const {
    return prepared_offsets_;
  }
  void RecordChangelogPosition(int32_t partition, int64_t next_offset);
  [[nodiscard]] absl::Status WriteState();
  void ClearOutputs() { outputs_.clear(); }
  PreparedCommit TakePrepared();
  void MarkDurable(const PreparedCommit& commit);
  void Reset();
  const std::vector<TopicOffset>& committable_offsets() const {
    return committed_offsets_;
  }
  std::vector<TopicOffset> WrittenPositions() const;
  bool idle() const;

  // Summed over the workers.
  ProcessorStats stats() const;
  size_t cached_profiles() const;
  size_t cached_profile_bytes() const;
  size_t pending_timers() const;
  TimerWindowStats timer_window() const;
  const ProcessorOptions& options() const { return options_; }

 private:
  Processor& OwnerOf(int32_t partition);
  // Gives each worker its share of the memory bounds.
  void ShareMemory();
  // Moves what the workers produced into outputs_, in worker order.
  void GatherOutputs();
  // The workers' prepared commits appended into one.
  PreparedCommit TakeFromWorkers();
  // The first error of the workers' last run, if any.
  absl::Status FirstError();

  store::ProfileStore* store_;
  ProcessorOptions options_;  // the whole instance's bounds
  std::vector<std::unique_ptr<Processor>> processors_;
  ForkJoin team_;
  absl::flat_hash_map<int32_t, int> owner_;  // partition -> worker
  std::vector<int> owned_;                   // partitions per worker

  // Per worker, reused: its share of a batch and its run's status.
  std::vector<std::vector<InputRecord>> shares_;
  std::vector<std::vector<std::pair<int32_t, int64_t>>> watermark_shares_;
  std::vector<absl::Status> errors_;

  std::vector<OutputRecord> outputs_;
  std::vector<TopicOffset> prepared_offsets_;
  std::vector<TopicOffset> committed_offsets_;
  // A commit WriteState() took from the workers and has not written yet.
  std::optional<PreparedCommit> unwritten_;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_WORKERS_H_
