// File: metrics.h
// Prometheus metrics of the personalizer. Update() copies the processor's
// counters into the registry after a cycle, so the hot path never touches a
// Prometheus atomic per event; the Observe*() calls take what the pipeline
// reports per batch, commit, decision and dead letter.
//
// Owned by main(). Update() and Observe*() run on the pipeline thread, the
// registry is read by the HTTP thread (prometheus-cpp is thread-safe).
#ifndef TAILOR_SERVICES_PERSONALIZER_METRICS_H_
#define TAILOR_SERVICES_PERSONALIZER_METRICS_H_

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "libs/pipeline/cycle_split.h"
#include "libs/pipeline/processor.h"
#include "libs/pipeline/records.h"
#include "libs/pipeline/restore.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "tailor/v1/config.pb.h"
#include "tailor/v1/decision.pb.h"
#include "tailor/v1/outcome.pb.h"

namespace tailor {

class PersonalizerMetrics {
 public:
  PersonalizerMetrics();
  std::shared_ptr<prometheus::Registry> registry() { return registry_; }
  // Names the input topics, whose tailor_misrouted_events_total{topic}
  // counters then exist (at 0) and follow Update(). Call once, before
  // Update().
  void SetInputTopics(const tailor::v1::TopicsConfig& topics);

  // The profile cache as Processor reports it: entries, the bytes charged
  // for them, and the configured limit.
  struct CacheUsage {
    size_t profiles = 0;
    size_t bytes = 0;
    size_t limit_bytes = 0;
  };
  void Update(const pipeline::ProcessorStats& stats, const CacheUsage& cache,
              size_t pending_timers, int assigned_partitions,
              int64_t commit_failures);
  // Advances tailor_pipeline_seconds_total{phase} to the pipeline's totals.
  void UpdateCycleSplit(const pipeline::CycleSplit::Totals& split);
  // What the timer indexes hold in memory and their bound.
  void UpdateTimerWindow(const pipeline::TimerWindowStats& window);
  // Sets the readiness gauge; called at every scrape, so the gauge is live
  // even while the pipeline thread is busy (a restore, a retried commit).
  void SetReady(bool ready);
  // Sets the stall gauge and the count of outputs that could never be
  // produced; called at every scrape.
  struct Health {
    absl::Duration stalled;
    int64_t undeliverable_outputs = 0;
    bool state_rebuilt = false;
    absl::Duration broker_silent;
    int64_t stale_offsets = 0;
    int64_t outputs_not_resent = 0;
  };
  void SetHealth(const Health& health);
  // Sets the restore gauges; called at every scrape (a restore runs on the
  // pipeline thread, so the scrape is what shows it moving).
  void SetRestore(const pipeline::RestoreProgress& progress);
  // Follows the store's purges of deleted data (ProfileStore::purges());
  // called at every scrape.
  void SetPurges(int64_t purges);

  void ObserveBatch(absl::Duration took);
  void ObserveCommit(absl::Duration took);
  // Counts the decision by campaign, kind and action (and by guard when it
  // is suppressed). `latency` is the time from the event (or the timer's
  // due time) to the decision, or nullopt when it means nothing (event-time
  // replays).
  void ObserveDecision(const tailor::v1::Decision& decision,
                       std::optional<absl::Duration> latency);
  void ObserveDeadLetter(const pipeline::OutputRecord& dead_letter);
  // The campaigns and variants of `rules` become the label values of
  // tailor_outcomes_total; an outcome of a decision of another campaign or
  // variant (made under earlier rules) counts as "other", so the labels stay
  // bounded by the rules file. Call at start and at every reload (any
  // thread).
  void SetMeasuredCampaigns(const tailor::v1::RulesConfig& rules);
  // Counts an attributed outcome by campaign, variant, the decision's action
  // and the outcome kind.
  void ObserveOutcome(const tailor::v1::Outcome& outcome);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Counter* events_;
  prometheus::Counter* timers_fired_;
  prometheus::Counter* cache_hits_;
  prometheus::Counter* cache_misses_;
  prometheus::Counter* cache_evictions_;
  prometheus::Counter* profiles_erased_;
  prometheus::Counter* commits_;
  prometheus::Counter* commit_failures_;
  int64_t last_commit_failures_ = 0;
  std::array<prometheus::Counter*, 4> decisions_by_action_{};
  prometheus::Gauge* cached_profiles_;
  prometheus::Gauge* cache_bytes_;
  prometheus::Gauge* cache_limit_bytes_;
  prometheus::Gauge* pending_timers_;
  std::array<prometheus::Counter*,
             std::tuple_size_v<pipeline::CycleSplit::Totals>>
      phase_seconds_{};
  pipeline::CycleSplit::Totals last_split_{};
  prometheus::Gauge* timer_window_entries_;
  prometheus::Gauge* timer_window_bytes_;
  prometheus::Gauge* timer_window_limit_bytes_;
  prometheus::Gauge* assigned_partitions_;
  prometheus::Gauge* ready_;
  prometheus::Gauge* stalled_seconds_;
  prometheus::Gauge* undeliverable_outputs_;
  prometheus::Gauge* broker_silent_seconds_;
  prometheus::Gauge* stale_offsets_;
  prometheus::Gauge* outputs_not_resent_;
  prometheus::Gauge* state_rebuilt_;
  prometheus::Gauge* restore_applied_;
  prometheus::Gauge* restore_remaining_;
  prometheus::Gauge* restoring_partitions_;
  prometheus::Gauge* restores_;
  prometheus::Counter* profiles_trimmed_;
  prometheus::Counter* erased_events_dropped_;
  prometheus::Counter* profiles_expired_;
  prometheus::Counter* state_purges_;
  std::atomic<int64_t> last_purges_{0};  // scrapes may overlap
  prometheus::Counter* audit_records_;
  prometheus::Counter* dead_letters_truncated_;
  prometheus::Histogram* batch_seconds_;
  prometheus::Histogram* commit_seconds_;
  prometheus::Histogram* decision_latency_seconds_;
  prometheus::Family<prometheus::Counter>* decisions_;
  prometheus::Family<prometheus::Counter>* suppressions_;
  prometheus::Family<prometheus::Counter>* dead_letters_;
  prometheus::Family<prometheus::Counter>* misrouted_;
  prometheus::Family<prometheus::Counter>* outcomes_;
  absl::Mutex measured_mu_;
  // "campaign" and "campaign\tvariant" of the current rules.
  absl::flat_hash_set<std::string> measured_ ABSL_GUARDED_BY(measured_mu_);
  // Indexed by tailor::v1::EventTopic; null until SetInputTopics().
  std::array<prometheus::Counter*, 4> misrouted_by_topic_{};
  // Label sets seen so far -> their counters (pipeline thread only).
  absl::flat_hash_map<std::string, prometheus::Counter*> decision_counters_;
  absl::flat_hash_map<std::string, prometheus::Counter*> suppression_counters_;
  absl::flat_hash_map<std::string, prometheus::Counter*> dead_letter_counters_;
  absl::flat_hash_map<std::string, prometheus::Counter*> outcome_counters_;
  pipeline::ProcessorStats last_{};
};

}  // namespace tailor

#endif  // TAILOR_SERVICES_PERSONALIZER_METRICS_H_
