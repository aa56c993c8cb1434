#include "services/personalizer/metrics.h"

#include <string>

#include "tailor/v1/decision.pb.h"

namespace tailor {
namespace {

prometheus::Counter* MakeCounter(prometheus::Registry& registry,
                                 const std::string& name,
                                 const std::string& help) {
  return &prometheus::BuildCounter()
              .Name(name)
              .Help(help)
              .Register(registry)
              .Add({});
}

prometheus::Gauge* MakeGauge(prometheus::Registry& registry,
                             const std::string& name, const std::string& help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add(
      {});
}

void Advance(prometheus::Counter* counter, int64_t now, int64_t before) {
  if (now > before) counter->Increment(static_cast<double>(now - before));
}

}  // namespace

PersonalizerMetrics::PersonalizerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  events_ = MakeCounter(r, "tailor_events_total", "Valid input events folded.");
  dead_letters_ = MakeCounter(r, "tailor_dead_letters_total",
                              "Invalid input records sent to the DLQ.");
  timers_fired_ = MakeCounter(r, "tailor_timers_fired_total", "Timers fired.");
  cache_hits_ = MakeCounter(r, "tailor_profile_cache_hits_total",
                            "Profile lookups served from memory.");
  cache_misses_ = MakeCounter(r, "tailor_profile_cache_misses_total",
                              "Profile lookups that read RocksDB.");
  profiles_erased_ = MakeCounter(r, "tailor_profiles_erased_total",
                                 "Profiles erased on request.");
  commits_ = MakeCounter(r, "tailor_commits_total", "Batches committed.");
  commit_failures_ = MakeCounter(
      r, "tailor_commit_failures_total",
      "Commit attempts (produce, transaction, state write) that failed and "
      "were retried.");
  auto& by_kind = prometheus::BuildCounter()
                      .Name("tailor_decisions_total")
                      .Help("Decisions emitted, by kind.")
                      .Register(r);
  for (int k = 0; k < 5; ++k) {
    std::string name = tailor::v1::DecisionKind_Name(k);
    decisions_by_kind_[k] = &by_kind.Add({{"kind", name}});
  }
  auto& by_action = prometheus::BuildCounter()
                        .Name("tailor_decision_actions_total")
                        .Help(
                            "Decisions emitted, by action (send, held out, "
                            "suppressed).")
                        .Register(r);
  for (int a = 0; a < 4; ++a) {
    decisions_by_action_[a] =
        &by_action.Add({{"action", tailor::v1::DecisionAction_Name(a)}});
  }
  cached_profiles_ = MakeGauge(r, "tailor_cached_profiles",
                               "Profiles held in the in-memory cache.");
  pending_timers_ = MakeGauge(r, "tailor_pending_timers", "Timers pending.");
  assigned_partitions_ = MakeGauge(r, "tailor_assigned_partitions",
                                   "Input topic partitions assigned.");
  ready_ = MakeGauge(r, "tailor_ready", "1 when the service is ready.");
}

void PersonalizerMetrics::Update(const pipeline::ProcessorStats& s,
                                 size_t cached_profiles, size_t pending_timers,
                                 int assigned_partitions,
                                 int64_t commit_failures) {
  Advance(commit_failures_, commit_failures, last_commit_failures_);
  last_commit_failures_ = commit_failures;
  Advance(events_, s.events, last_.events);
  Advance(dead_letters_, s.dead_letters, last_.dead_letters);
  Advance(timers_fired_, s.timers_fired, last_.timers_fired);
  Advance(cache_hits_, s.cache_hits, last_.cache_hits);
  Advance(cache_misses_, s.cache_misses, last_.cache_misses);
  Advance(profiles_erased_, s.profiles_erased, last_.profiles_erased);
  Advance(commits_, s.commits, last_.commits);
  for (int k = 0; k < 5; ++k) {
    Advance(decisions_by_kind_[k], s.decisions_by_kind[k],
            last_.decisions_by_kind[k]);
  }
  for (int a = 0; a < 4; ++a) {
    Advance(decisions_by_action_[a], s.decisions_by_action[a],
            last_.decisions_by_action[a]);
  }
  last_ = s;
  cached_profiles_->Set(static_cast<double>(cached_profiles));
  pending_timers_->Set(static_cast<double>(pending_timers));
  assigned_partitions_->Set(assigned_partitions);
}

void PersonalizerMetrics::SetReady(bool ready) { ready_->Set(ready ? 1 : 0); }

}  // namespace tailor
