// File: end_probe.h
// Asks the broker for the end offsets of input partitions on a thread of its
// own, one probe at a time, so the pipeline thread never waits for the
// answer. A probe started after the records of arrival <= A were received
// tells, for each partition, whether anything produced before those records
// is still to be fetched (see TaskInputs).
//
// Owned by the Pipeline; Start() and Take() are called from the pipeline
// thread.
#ifndef TAILOR_LIBS_PIPELINE_END_PROBE_H_
#define TAILOR_LIBS_PIPELINE_END_PROBE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "libs/kafka/record.h"

namespace tailor::pipeline {

class EndProbe {
 public:
  // Returns the end offsets of the given partitions (from the broker).
  using ListEnds =
      std::function<absl::StatusOr<std::vector<kafka::TopicPartition>>(
          const std::vector<kafka::TopicPartition>&)>;

  struct Result {
    uint64_t arrival = 0;                     // as given to Start()
    std::vector<kafka::TopicPartition> ends;  // empty when the probe failed
  };

  explicit EndProbe(ListEnds list_ends);
  EndProbe(const EndProbe&) = delete;
  EndProbe& operator=(const EndProbe&) = delete;
  ~EndProbe();  // Joins (waits for a probe in flight).

  // Starts a probe of `partitions`, asked after every record with arrival
  // <= `arrival` was received. Returns false (and does nothing) while a
  // probe is in flight or its result has not been taken.
  bool Start(std::vector<kafka::TopicPartition> partitions, uint64_t arrival);
  // The finished probe's result, once.
  std::optional<Result> Take();
  // Probes that failed since start (the pipeline asks again).
  int64_t failures() const;

 private:
  void Run();

  ListEnds list_ends_;
  mutable absl::Mutex mu_;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<kafka::TopicPartition> request_ ABSL_GUARDED_BY(mu_);
  uint64_t arrival_ ABSL_GUARDED_BY(mu_) = 0;
  bool requested_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<Result> result_ ABSL_GUARDED_BY(mu_);
  int64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_END_PROBE_H_
