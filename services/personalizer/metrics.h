// File: metrics.h
// Prometheus metrics of the personalizer. Update() copies the processor's
// counters into the registry after a cycle, so the hot path never touches a
// Prometheus atomic.
//
// Owned by main(); Update() runs on the pipeline thread, the registry is read
// by the HTTP thread (prometheus-cpp is thread-safe).
#ifndef TAILOR_SERVICES_PERSONALIZER_METRICS_H_
#define TAILOR_SERVICES_PERSONALIZER_METRICS_H_

#include <array>
#include <memory>

#include "libs/pipeline/processor.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace tailor {

class PersonalizerMetrics {
 public:
  PersonalizerMetrics();
  std::shared_ptr<prometheus::Registry> registry() { return registry_; }

  void Update(const pipeline::ProcessorStats& stats, size_t cached_profiles,
              size_t pending_timers, int assigned_partitions,
              int64_t commit_failures);
  // Sets the readiness gauge; called at every scrape, so the gauge is live
  // even while the pipeline thread is busy (a restore, a retried commit).
  void SetReady(bool ready);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* events_;
  prometheus::Counter* dead_letters_;
  prometheus::Counter* timers_fired_;
  prometheus::Counter* cache_hits_;
  prometheus::Counter* cache_misses_;
  prometheus::Counter* profiles_erased_;
  prometheus::Counter* commits_;
  prometheus::Counter* commit_failures_;
  int64_t last_commit_failures_ = 0;
  std::array<prometheus::Counter*, 5> decisions_by_kind_{};
  std::array<prometheus::Counter*, 4> decisions_by_action_{};
  prometheus::Gauge* cached_profiles_;
  prometheus::Gauge* pending_timers_;
  prometheus::Gauge* assigned_partitions_;
  prometheus::Gauge* ready_;
  pipeline::ProcessorStats last_{};
};

}  // namespace tailor

#endif  // TAILOR_SERVICES_PERSONALIZER_METRICS_H_
