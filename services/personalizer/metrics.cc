#include "services/personalizer/metrics.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "libs/base/build_info.h"
#include "libs/decide/rules.h"
#include "libs/pipeline/dead_letter.h"

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

prometheus::Histogram* MakeHistogram(
    prometheus::Registry& registry, const std::string& name,
    const std::string& help, prometheus::Histogram::BucketBoundaries b) {
  return &prometheus::BuildHistogram()
              .Name(name)
              .Help(help)
              .Register(registry)
              .Add({}, std::move(b));
}

void Advance(prometheus::Counter* counter, int64_t now, int64_t before) {
  if (now > before) counter->Increment(static_cast<double>(now - before));
}

// The counter of `family` with `labels`, cached under `key`.
prometheus::Counter* CounterFor(
    absl::flat_hash_map<std::string, prometheus::Counter*>& cache,
    prometheus::Family<prometheus::Counter>& family, const std::string& key,
    const std::map<std::string, std::string>& labels) {
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, &family.Add(labels)).first;
  return it->second;
}

absl::string_view HeaderValue(const pipeline::OutputRecord& record,
                              absl::string_view name) {
  for (const auto& [key, value] : record.headers) {
    if (key == name) return value;
  }
  return "";
}

}  // namespace

PersonalizerMetrics::PersonalizerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  prometheus::BuildGauge()
      .Name("tailor_build_info")
      .Help("Always 1; the labels say what is running.")
      .Register(r)
      .Add({{"version", std::string(BuildVersion())},
            {"revision", std::string(BuildGitRevision())},
            {"build_type", std::string(BuildType())}})
      .Set(1);
  events_ = MakeCounter(r, "tailor_events_total", "Valid input events folded.");
  dead_letters_ = &prometheus::BuildCounter()
                       .Name("tailor_dead_letters_total")
                       .Help(
                           "Invalid input records sent to the DLQ, by error "
                           "class and source topic.")
                       .Register(r);
  misrouted_ = &prometheus::BuildCounter()
                    .Name("tailor_misrouted_events_total")
                    .Help(
                        "Input records whose key hashes (Kafka's murmur2) to "
                        "another partition than the one they were read from, "
                        "by topic: a producer with another partitioner.")
                    .Register(r);
  timers_fired_ = MakeCounter(r, "tailor_timers_fired_total", "Timers fired.");
  cache_hits_ = MakeCounter(r, "tailor_profile_cache_hits_total",
                            "Profile lookups served from memory.");
  cache_misses_ = MakeCounter(r, "tailor_profile_cache_misses_total",
                              "Profile lookups that read RocksDB.");
  cache_evictions_ = MakeCounter(
      r, "tailor_profile_cache_evictions_total",
      "Profiles already written to RocksDB dropped from the cache to keep it "
      "within profile_cache_entries and profile_cache_bytes.");
  profiles_erased_ = MakeCounter(r, "tailor_profiles_erased_total",
                                 "Profiles erased on request.");
  commits_ = MakeCounter(r, "tailor_commits_total", "Batches committed.");
  commit_failures_ = MakeCounter(
      r, "tailor_commit_failures_total",
      "Commit attempts (produce, transaction, state write) that failed and "
      "were retried.");
  decisions_ = &prometheus::BuildCounter()
                    .Name("tailor_decisions_total")
                    .Help("Decisions emitted, by campaign, kind and action.")
                    .Register(r);
  suppressions_ = &prometheus::BuildCounter()
                       .Name("tailor_suppressions_total")
                       .Help(
                           "Decisions suppressed, by the guard that "
                           "suppressed them and campaign.")
                       .Register(r);
  outcomes_ = &prometheus::BuildCounter()
                   .Name("tailor_outcomes_total")
                   .Help(
                       "Outcomes attributed to decisions (opens, redemptions, "
                       "conversions), by campaign, variant, the decision's "
                       "action and outcome; campaigns and variants not in "
                       "the rules count as \"other\".")
                   .Register(r);
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
  cache_bytes_ = MakeGauge(
      r, "tailor_profile_cache_bytes",
      "Memory charged to the cached profiles (serialized size times the "
      "in-memory factor, plus key and entry overhead), bytes.");
  cache_limit_bytes_ = MakeGauge(r, "tailor_profile_cache_limit_bytes",
                                 "profile_cache_bytes: the cache's limit.");
  pending_timers_ =
      MakeGauge(r, "tailor_pending_timers",
                "Timers pending in the state store (RocksDB's estimate).");
  auto& phases = prometheus::BuildCounter()
                     .Name("tailor_pipeline_seconds_total")
                     .Help(
                         "Time of the pipeline thread per phase of its cycle "
                         "(poll, process, produce, seal, wait, commit) and of "
                         "the RocksDB writes (rocksdb, the state writer's "
                         "thread), seconds.")
                     .Register(r);
  for (size_t i = 0; i < phase_seconds_.size(); ++i) {
    phase_seconds_[i] =
        &phases.Add({{"phase", std::string(pipeline::CyclePhaseName(
                                   static_cast<pipeline::CyclePhase>(i)))}});
  }
  timer_window_entries_ =
      MakeGauge(r, "tailor_timer_index_entries",
                "Pending timers held in memory (the next ones due).");
  timer_window_bytes_ = MakeGauge(r, "tailor_timer_index_bytes",
                                  "Memory of the pending timers held, bytes.");
  timer_window_limit_bytes_ =
      MakeGauge(r, "tailor_timer_index_limit_bytes",
                "Bound of the memory for pending timers (timer_index_bytes).");
  assigned_partitions_ = MakeGauge(r, "tailor_assigned_partitions",
                                   "Input topic partitions assigned.");
  ready_ = MakeGauge(r, "tailor_ready", "1 when the service is ready.");
  stalled_seconds_ = MakeGauge(
      r, "tailor_stalled_seconds",
      "How long work has been in flight without a commit becoming durable.");
  undeliverable_outputs_ = MakeGauge(
      r, "tailor_undeliverable_outputs",
      "Output records the broker refused for good (too large, invalid), "
      "skipped since start.");
  broker_silent_seconds_ = MakeGauge(
      r, "tailor_broker_silent_seconds",
      "How long since a broker last answered a metadata request (asked "
      "every second); /readyz fails past broker_unreachable_ms.");
  outputs_not_resent_ = MakeGauge(
      r, "tailor_outputs_not_resent",
      "Decisions and other outputs made again after a failed commit rewound "
      "the input, already delivered and so not produced twice, since "
      "start.");
  stale_offsets_ =
      MakeGauge(r, "tailor_stale_offsets",
                "Stored input positions found beyond their partition's end at "
                "assignment since start (topic recreated or truncated; see "
                "on_stale_offsets).");
  restore_applied_ =
      MakeGauge(r, "tailor_restored_records",
                "Changelog records applied by restores since start.");
  restore_remaining_ = MakeGauge(
      r, "tailor_restore_remaining_records",
      "Changelog records left in the running restore (0 when none runs).");
  restoring_partitions_ = MakeGauge(
      r, "tailor_restoring_partitions",
      "Partitions the running restore brings up to date together (0 when "
      "none runs).");
  restores_ = MakeGauge(
      r, "tailor_restores",
      "Partitions restored from the changelog since start (a partition "
      "whose local state was up to date does not count).");
  state_rebuilt_ = MakeGauge(
      r, "tailor_state_rebuilt",
      "1 when the state directory was found corrupt at start, moved aside "
      "and rebuilt from the changelog.");
  erased_events_dropped_ = MakeCounter(
      r, "tailor_erased_events_dropped_total",
      "Events of an erased customer dated at or before the erasure, dropped "
      "so a late event cannot bring the customer back.");
  profiles_expired_ = MakeCounter(
      r, "tailor_profiles_expired_total",
      "Profiles untouched for profile_retention_days, deleted by the "
      "retention sweep.");
  state_purges_ = MakeCounter(
      r, "tailor_state_purges_total",
      "Purges of deleted data from the state directory's files (a flush and "
      "compaction after an erasure, expiry or opt-out; "
      "purge_interval_seconds).");
  audit_records_ = MakeCounter(
      r, "tailor_audit_records_total",
      "Records written to the audit topic (erasures, consent changes, "
      "opt-outs, retention expiries).");
  profiles_trimmed_ =
      MakeCounter(r, "tailor_profiles_trimmed_total",
                  "Profiles cut down to the size limit before being written.");
  dead_letters_truncated_ =
      MakeCounter(r, "tailor_dead_letters_truncated_total",
                  "Dead letters whose original was too large to copy whole.");
  batch_seconds_ = MakeHistogram(
      r, "tailor_batch_processing_seconds",
      "Time to decode, fold and decide one batch of input records.",
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1});
  commit_seconds_ = MakeHistogram(
      r, "tailor_commit_seconds",
      "Time from sealing a commit to its being durable (outputs delivered, "
      "state written).",
      {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  decision_latency_seconds_ = MakeHistogram(
      r, "tailor_event_to_decision_seconds",
      "Wall-clock time from the event time of the triggering event (or the "
      "due time of the timer) to the decision (time_source=wall only).",
      {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300});
}

void PersonalizerMetrics::SetInputTopics(
    const tailor::v1::TopicsConfig& topics) {
  misrouted_by_topic_[tailor::v1::EVENT_TOPIC_CLICKSTREAM] =
      &misrouted_->Add({{"topic", topics.clickstream()}});
  misrouted_by_topic_[tailor::v1::EVENT_TOPIC_ORDERS] =
      &misrouted_->Add({{"topic", topics.orders()}});
  misrouted_by_topic_[tailor::v1::EVENT_TOPIC_PRIVACY] =
      &misrouted_->Add({{"topic", topics.privacy()}});
}

void PersonalizerMetrics::Update(const pipeline::ProcessorStats& s,
                                 const CacheUsage& cache, size_t pending_timers,
                                 int assigned_partitions,
                                 int64_t commit_failures) {
  Advance(commit_failures_, commit_failures, last_commit_failures_);
  last_commit_failures_ = commit_failures;
  Advance(events_, s.events, last_.events);
  Advance(timers_fired_, s.timers_fired, last_.timers_fired);
  Advance(cache_hits_, s.cache_hits, last_.cache_hits);
  Advance(cache_misses_, s.cache_misses, last_.cache_misses);
  Advance(cache_evictions_, s.profiles_evicted, last_.profiles_evicted);
  Advance(profiles_erased_, s.profiles_erased, last_.profiles_erased);
  Advance(commits_, s.commits, last_.commits);
  Advance(profiles_trimmed_, s.profiles_trimmed, last_.profiles_trimmed);
  Advance(erased_events_dropped_, s.erased_events_dropped,
          last_.erased_events_dropped);
  Advance(profiles_expired_, s.profiles_expired, last_.profiles_expired);
  Advance(audit_records_, s.audit_records, last_.audit_records);
  Advance(dead_letters_truncated_, s.dead_letters_truncated,
          last_.dead_letters_truncated);
  for (int a = 0; a < 4; ++a) {
    Advance(decisions_by_action_[a], s.decisions_by_action[a],
            last_.decisions_by_action[a]);
  }
  for (size_t t = 0; t < misrouted_by_topic_.size(); ++t) {
    if (misrouted_by_topic_[t] == nullptr) continue;
    Advance(misrouted_by_topic_[t], s.misrouted_by_topic[t],
            last_.misrouted_by_topic[t]);
  }
  last_ = s;
  cached_profiles_->Set(static_cast<double>(cache.profiles));
  cache_bytes_->Set(static_cast<double>(cache.bytes));
  cache_limit_bytes_->Set(static_cast<double>(cache.limit_bytes));
  pending_timers_->Set(static_cast<double>(pending_timers));
  assigned_partitions_->Set(assigned_partitions);
}

void PersonalizerMetrics::UpdateCycleSplit(
    const pipeline::CycleSplit::Totals& split) {
  for (size_t i = 0; i < split.size(); ++i) {
    if (split[i] > last_split_[i]) {
      phase_seconds_[i]->Increment(
          static_cast<double>(split[i] - last_split_[i]) / 1e9);
    }
  }
  last_split_ = split;
}

void PersonalizerMetrics::UpdateTimerWindow(
    const pipeline::TimerWindowStats& window) {
  timer_window_entries_->Set(static_cast<double>(window.entries));
  timer_window_bytes_->Set(static_cast<double>(window.bytes));
  timer_window_limit_bytes_->Set(static_cast<double>(window.budget_bytes));
}

void PersonalizerMetrics::SetReady(bool ready) { ready_->Set(ready ? 1 : 0); }

void PersonalizerMetrics::SetRestore(
    const pipeline::RestoreProgress& progress) {
  restore_applied_->Set(static_cast<double>(progress.applied.load()));
  restore_remaining_->Set(static_cast<double>(progress.remaining.load()));
  restoring_partitions_->Set(static_cast<double>(progress.restoring.load()));
  restores_->Set(static_cast<double>(progress.restores.load()));
}

void PersonalizerMetrics::SetPurges(int64_t purges) {
  Advance(state_purges_, purges, last_purges_.exchange(purges));
}

void PersonalizerMetrics::SetHealth(const Health& health) {
  state_rebuilt_->Set(health.state_rebuilt ? 1 : 0);
  stalled_seconds_->Set(absl::ToDoubleSeconds(health.stalled));
  undeliverable_outputs_->Set(
      static_cast<double>(health.undeliverable_outputs));
  broker_silent_seconds_->Set(absl::ToDoubleSeconds(health.broker_silent));
  stale_offsets_->Set(static_cast<double>(health.stale_offsets));
  outputs_not_resent_->Set(static_cast<double>(health.outputs_not_resent));
}

void PersonalizerMetrics::ObserveBatch(absl::Duration took) {
  batch_seconds_->Observe(absl::ToDoubleSeconds(took));
}

void PersonalizerMetrics::ObserveCommit(absl::Duration took) {
  commit_seconds_->Observe(absl::ToDoubleSeconds(took));
}

void PersonalizerMetrics::ObserveDecision(
    const tailor::v1::Decision& d, std::optional<absl::Duration> latency) {
  const std::string kind = tailor::v1::DecisionKind_Name(d.kind());
  const std::string action = tailor::v1::DecisionAction_Name(d.action());
  CounterFor(decision_counters_, *decisions_,
             absl::StrCat(d.campaign(), "\t", kind, "\t", action),
             {{"campaign", d.campaign()}, {"kind", kind}, {"action", action}})
      ->Increment();
  if (d.action() == tailor::v1::DECISION_ACTION_SUPPRESSED) {
    const std::string guard =
        d.suppression().empty() ? "unknown" : d.suppression();
    CounterFor(suppression_counters_, *suppressions_,
               absl::StrCat(guard, "\t", d.campaign()),
               {{"guard", guard}, {"campaign", d.campaign()}})
        ->Increment();
  }
  if (latency.has_value()) {
    decision_latency_seconds_->Observe(
        std::max(0.0, absl::ToDoubleSeconds(*latency)));
  }
}

void PersonalizerMetrics::SetMeasuredCampaigns(
    const tailor::v1::RulesConfig& rules) {
  absl::flat_hash_set<std::string> measured;
  for (const tailor::v1::CampaignCommon* c : decide::CampaignsOf(rules)) {
    if (c->name().empty()) continue;
    measured.insert(c->name());
    for (const tailor::v1::Variant& v : c->variants()) {
      measured.insert(absl::StrCat(c->name(), "\t", v.name()));
    }
  }
  absl::MutexLock lock(&measured_mu_);
  measured_ = std::move(measured);
}

void PersonalizerMetrics::ObserveOutcome(const tailor::v1::Outcome& o) {
  std::string campaign = "other";
  std::string variant = "other";
  {
    absl::MutexLock lock(&measured_mu_);
    if (measured_.contains(o.campaign())) {
      campaign = o.campaign();
      if (o.variant().empty() ||
          measured_.contains(absl::StrCat(o.campaign(), "\t", o.variant()))) {
        variant = o.variant();
      }
    }
  }
  const std::string action = tailor::v1::DecisionAction_Name(o.action());
  const std::string outcome = tailor::v1::OutcomeKind_Name(o.outcome());
  CounterFor(outcome_counters_, *outcomes_,
             absl::StrCat(campaign, "\t", variant, "\t", action, "\t", outcome),
             {{"campaign", campaign},
              {"variant", variant},
              {"action", action},
              {"outcome", outcome}})
      ->Increment();
}

void PersonalizerMetrics::ObserveDeadLetter(
    const pipeline::OutputRecord& dead_letter) {
  const std::string error_class(pipeline::DeadLetterErrorClass(
      HeaderValue(dead_letter, pipeline::kHeaderError)));
  const std::string topic(
      HeaderValue(dead_letter, pipeline::kHeaderSourceTopic));
  CounterFor(dead_letter_counters_, *dead_letters_,
             absl::StrCat(error_class, "\t", topic),
             {{"error_class", error_class}, {"source_topic", topic}})
      ->Increment();
}

}  // namespace tailor
