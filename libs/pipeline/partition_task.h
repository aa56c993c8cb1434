// File: partition_task.h
// Everything the processor keeps in memory for one input partition number
// (the same number across the co-partitioned input topics): hot profiles,
// pending timers, shared state (coupon budgets), stream time and the next
// input offsets.
//
// Owned by the Processor; used from the pipeline thread only.
#ifndef TAILOR_LIBS_PIPELINE_PARTITION_TASK_H_
#define TAILOR_LIBS_PIPELINE_PARTITION_TASK_H_

#include <array>
#include <cstdint>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "libs/pipeline/profile_cache.h"
#include "libs/pipeline/records.h"
#include "libs/pipeline/timer_index.h"
#include "tailor/v1/profile.pb.h"

namespace tailor::pipeline {

struct PartitionTask {
  // `timer_window_bytes`: the bound of the in-memory timer window.
  PartitionTask(int32_t p, size_t timer_window_bytes)
      : partition(p), timers(p, timer_window_bytes) {}

  int32_t partition;
  ProfileCache profiles;
  TimerIndex timers;
  tailor::v1::PartitionState state;
  bool state_dirty = false;
  // state.erasure_fences by id hash, for a lookup per event.
  absl::flat_hash_map<uint64_t, int64_t> fences;
  // The task's stream time: timers due before it have fired.
  int64_t stream_time_ms = std::numeric_limits<int64_t>::min();
  // Start of the UTC day of stream time whose retention sweep is done
  // (Processor::SweepIfDue); min() until the first sweep check.
  int64_t swept_day_ms = std::numeric_limits<int64_t>::min();
  // Next offset per input topic (indexed by tailor::v1::EventTopic), -1 when
  // nothing was consumed since the last commit.
  std::array<int64_t, 4> next_offsets{-1, -1, -1, -1};
  // The RecordFingerprint of the record before next_offsets (same index),
  // valid when fingerprinted equals next_offsets.
  std::array<uint64_t, 4> fingerprints{};
  std::array<int64_t, 4> fingerprinted{-1, -1, -1, -1};
  // While a batch is decoded: its last record of each input (same index).
  std::array<const InputRecord*, 4> last_record{};
  // Position per input topic (same index) of the last prepared commit, -1
  // when unknown.
  std::array<int64_t, 4> positions{-1, -1, -1, -1};
  // Position per input topic (same index) of the state written to RocksDB.
  std::array<int64_t, 4> durable_positions{-1, -1, -1, -1};
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_PARTITION_TASK_H_
