// File: cycle_split.h
// Where the pipeline thread's time goes, per phase of its cycle (poll,
// process, produce, seal, wait, commit), plus the RocksDB writes of the
// state writer's thread: cumulative nanoseconds, added by the owning thread
// and read (and reset) from any other (the benchmark, the metrics).
#ifndef TAILOR_LIBS_PIPELINE_CYCLE_SPLIT_H_
#define TAILOR_LIBS_PIPELINE_CYCLE_SPLIT_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace tailor::pipeline {

enum class CyclePhase : size_t {
  kPoll,     // fetching input from the consumer and queueing it per task
  kProcess,  // decode, validate, fold, decide (Processor::ProcessBatch)
  kProduce,  // handing outputs to the producer
  kSeal,     // preparing a commit: serializing dirty state
  kWait,     // blocked on delivery or the writer (back-pressure, drains)
  kCommit,   // group offsets, transactions
  kRocksDb,  // writing state to RocksDB (the state writer's thread)
  kCount,
};

// The label of a phase: poll, process, produce, seal, wait, commit, rocksdb.
absl::string_view CyclePhaseName(CyclePhase phase);

class CycleSplit {
 public:
  using Totals = std::array<int64_t, static_cast<size_t>(CyclePhase::kCount)>;

  void Add(CyclePhase phase, int64_t ns) {
    ns_[static_cast<size_t>(phase)].fetch_add(ns, std::memory_order_relaxed);
  }
  // The totals since the start.
  Totals Read() const {
    Totals out{};
    for (size_t i = 0; i < out.size(); ++i) {
      out[i] = ns_[i].load(std::memory_order_relaxed);
    }
    return out;
  }

 private:
  std::array<std::atomic<int64_t>, static_cast<size_t>(CyclePhase::kCount)>
      ns_{};
};

// Adds the time from construction to destruction to one phase.
class ScopedPhase {
 public:
  ScopedPhase(CycleSplit* split, CyclePhase phase)
      : split_(split), phase_(phase), start_ns_(absl::GetCurrentTimeNanos()) {}
  ScopedPhase(const ScopedPhase&) = delete;
  ScopedPhase& operator=(const ScopedPhase&) = delete;
  ~ScopedPhase() {
    if (split_ != nullptr) {
      split_->Add(phase_, absl::GetCurrentTimeNanos() - start_ns_);
    }
  }

 private:
  CycleSplit* split_;
  CyclePhase phase_;
  int64_t start_ns_;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_CYCLE_SPLIT_H_
