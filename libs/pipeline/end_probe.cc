#include "libs/pipeline/end_probe.h"

#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "spdlog/spdlog.h"

namespace tailor::pipeline {
namespace {

// After a failed probe, the next one waits this long (a broker that does
// not answer is not asked in a tight loop).
constexpr absl::Duration kRetryPause = absl::Milliseconds(100);

}  // namespace

EndProbe::EndProbe(ListEnds list_ends)
    : list_ends_(std::move(list_ends)), thread_([this] { Run(); }) {}

EndProbe::~EndProbe() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

bool EndProbe::Start(std::vector<kafka::TopicPartition> partitions,
                     uint64_t arrival) {
  absl::MutexLock lock(&mu_);
  if (busy_) return false;
  busy_ = true;
  requested_ = true;
  request_ = std::move(partitions);
  arrival_ = arrival;
  return true;
}

std::optional<EndProbe::Result> EndProbe::Take() {
  absl::MutexLock lock(&mu_);
  if (!result_.has_value()) return std::nullopt;
  std::optional<Result> out = std::move(result_);
  result_.reset();
  busy_ = false;
  return out;
}

int64_t EndProbe::failures() const {
  absl::MutexLock lock(&mu_);
  return failures_;
}

void EndProbe::Run() {
  for (;;) {
    std::vector<kafka::TopicPartition> partitions;
    uint64_t arrival = 0;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || requested_;
      };
      mu_.Await(absl::Condition(&ready));
      if (stop_) return;
      requested_ = false;
      partitions = std::move(request_);
      arrival = arrival_;
    }
    Result result;
    result.arrival = arrival;
    absl::StatusOr<std::vector<kafka::TopicPartition>> ends =
        list_ends_(partitions);
    if (ends.ok()) {
      result.ends = *std::move(ends);
    } else {
      spdlog::warn("asking the broker where inputs end: {}",
                   ends.status().ToString());
      absl::SleepFor(kRetryPause);
    }
    absl::MutexLock lock(&mu_);
    if (!ends.ok()) ++failures_;
    result_ = std::move(result);
  }
}

}  // namespace tailor::pipeline
