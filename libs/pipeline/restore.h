// File: restore.h
// Brings the local state of one partition up to date from the changelog
// topic before the partition is processed: the local RocksDB is a cache of
// the changelog. Reads from the changelog position the local state reflects
// (the tail) or, when there is no usable local state, from the beginning;
// writes profiles in WAL-less bulk batches, re-indexes the timers the
// profiles carry, and takes the input positions and shared state from the
// last PartitionCheckpoint record read.
//
// Owned by the Pipeline; called on the pipeline thread.
#ifndef TAILOR_LIBS_PIPELINE_RESTORE_H_
#define TAILOR_LIBS_PIPELINE_RESTORE_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "libs/kafka/consumer.h"
#include "libs/store/profile_store.h"

namespace tailor::pipeline {

struct RestoreResult {
  int64_t from_offset = 0;
  int64_t to_offset = 0;  // the changelog's end when the restore began
  int64_t records = 0;    // changelog records applied
  int64_t profiles = 0;   // profile records (puts and tombstones)
  bool checkpoint_found = false;
  absl::Duration elapsed;
};

// How far restores have come, readable from any thread (metrics).
struct RestoreProgress {
  std::atomic<int64_t> applied{0};    // changelog records applied, ever
  std::atomic<int64_t> remaining{0};  // records left in the running restore
  std::atomic<int64_t> restores{0};   // partitions restored (not up to date)
};

class ChangelogRestorer {
 public:
  // `reader` is a consumer outside any group (it is assigned directly);
  // read_committed, so aborted transactions are never restored.
  ChangelogRestorer(store::ProfileStore* store, kafka::Consumer* reader,
                    std::string changelog_topic);

  // Restores `partition` when the changelog holds records past the local
  // changelog position; returns what was done (records == 0: up to date).
  absl::StatusOr<RestoreResult> RestoreIfBehind(int32_t partition);

  // Progress so far; a restore also logs its progress (records, rate and
  // estimated time left) every few seconds.
  const RestoreProgress& progress() const { return progress_; }

 private:
  absl::Status Apply(int32_t partition, int64_t from, int64_t to,
                     RestoreResult* result);
  absl::Status ReindexTimers(int32_t partition);

  store::ProfileStore* store_;
  kafka::Consumer* reader_;
  std::string changelog_topic_;
  RestoreProgress progress_;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_RESTORE_H_
