// File: restore.h
// Brings the local state of assigned partitions up to date from the
// changelog topic before they are processed: the local RocksDB is a cache of
// the changelog. Every partition that is behind is read at once by one
// reader (one fetch over all of them), from the changelog position its local
// state reflects (the tail) or, when there is no usable local state, from
// the beginning. Profiles, and the timers each holds (read from its
// pending_timers field without parsing the rest), are gathered in chunks of
// bounded memory; each full chunk is written as sorted SST files and
// ingested into the store (store::BulkLoad, ProfileStore::Ingest: no
// memtable, no flush) by a thread of the restore's own while the reader
// fetches the next. The input positions and shared state come from the last
// PartitionCheckpoint record of each partition and are written after the
// data they describe.
//
// Owned by the Pipeline; called on the pipeline thread.
#ifndef TAILOR_LIBS_PIPELINE_RESTORE_H_
#define TAILOR_LIBS_PIPELINE_RESTORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "libs/kafka/consumer.h"
#include "libs/store/profile_store.h"

namespace tailor::pipeline {

struct RestoreResult {
  int partitions = 0;    // partitions that were behind (0: all up to date)
  int checkpoints = 0;   // of those, how many had a checkpoint record
  int64_t records = 0;   // changelog records applied
  int64_t profiles = 0;  // profile records (puts and tombstones)
  absl::Duration elapsed;
};

// How far restores have come, readable from any thread (metrics).
struct RestoreProgress {
  std::atomic<int64_t> applied{0};    // changelog records applied, ever
  std::atomic<int64_t> remaining{0};  // records left in the running restore
  std::atomic<int64_t> restoring{0};  // partitions in the running restore
  std::atomic<int64_t> restores{0};   // partitions restored (not up to date)
};

class ChangelogRestorer {
 public:
  // Memory of records gathered before they are ingested, per chunk (two
  // chunks at a time: one filled, one ingested).
  static constexpr size_t kDefaultChunkBytes = size_t{64} << 20;

  // `reader` is a consumer outside any group (it is assigned directly);
  // read_committed, so aborted transactions are never restored. A chunk is
  // ingested when its records (keys, values, timers) hold `chunk_bytes`.
  ChangelogRestorer(store::ProfileStore* store, kafka::Consumer* reader,
                    std::string changelog_topic,
                    size_t chunk_bytes = kDefaultChunkBytes);

  // Restores, all together, every partition of `partitions` whose changelog
  // holds records past its local changelog position; returns what was done
  // (partitions == 0: all up to date). Logs its progress (records, rate and
  // estimated time left, over all the partitions) every few seconds.
  absl::StatusOr<RestoreResult> Restore(absl::Span<const int32_t> partitions);

  const RestoreProgress& progress() const { return progress_; }

 private:
  // One partition that is behind: where its restore reads from and to.
  struct Range {
    int32_t partition = 0;
    int64_t from = 0;
    int64_t to = 0;  // the changelog's end when the restore began
  };
  absl::Status Apply(absl::Span<const Range> ranges, RestoreResult* result);

  store::ProfileStore* store_;
  kafka::Consumer* reader_;
  std::string changelog_topic_;
  size_t chunk_bytes_;
  RestoreProgress progress_;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_RESTORE_H_
