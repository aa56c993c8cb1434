// File: state_writer.h
// Writes prepared commits (RocksDB WriteBatches of profiles, timers and
// offsets) to the store on a thread of its own, strictly in the order
// submitted, so the pipeline thread never waits for the disk. A failed
// write is retried with backoff until it succeeds or the writer stops; the
// pipeline reports not ready meanwhile.
//
// Owned by the Pipeline (and engine_bench). Submit(), written(), failing()
// and WaitFor() are called from the pipeline thread; the batches belong to
// the caller and must live until written() covers them.
#ifndef TAILOR_LIBS_PIPELINE_STATE_WRITER_H_
#define TAILOR_LIBS_PIPELINE_STATE_WRITER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <thread>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "libs/pipeline/cycle_split.h"
#include "libs/store/profile_store.h"

namespace tailor::pipeline {

class StateWriter {
 public:
  // `split`, if set, is charged the time of the writes (kRocksDb).
  explicit StateWriter(store::ProfileStore* store, CycleSplit* split = nullptr);
  StateWriter(const StateWriter&) = delete;
  StateWriter& operator=(const StateWriter&) = delete;
  // Writes what is queued (unless Stop() was called), then joins.
  ~StateWriter();

  // Queues `batch` of commit `seq` (increasing); written after every
  // earlier one.
  void Submit(uint64_t seq, store::ProfileStore::Batch* batch);
  // The last commit written, 0 if none.
  uint64_t written() const { return written_.load(); }
  // Whether the last attempt failed (a retry is pending).
  bool failing() const { return failing_.load(); }
  // Failed attempts since start.
  int64_t failures() const { return failures_.load(); }
  // Waits until commit `seq` is written (or a failing write was given up).
  void WaitFor(uint64_t seq);
  // Gives up retrying a failing write (shutdown on a broken disk); writes
  // that succeed still go on.
  void Stop();

 private:
  void Run();

  store::ProfileStore* store_;
  CycleSplit* const split_;
  absl::Mutex mu_;
  std::deque<std::pair<uint64_t, store::ProfileStore::Batch*>> queue_
      ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> written_{0};
  std::atomic<bool> failing_{false};
  std::atomic<int64_t> failures_{0};
  std::thread thread_;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_STATE_WRITER_H_
