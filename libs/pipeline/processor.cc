#include "libs/pipeline/processor.h"

#include <algorithm>
#include <iterator>
#include <random>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "libs/base/murmur2.h"
#include "libs/base/stable_hash.h"
#include "libs/base/status_macros.h"
#include "libs/decide/rules.h"
#include "libs/pipeline/changelog.h"
#include "libs/profile/attribution.h"
#include "libs/profile/fold.h"
#include "libs/profile/limits.h"
#include "libs/profile/validate.h"
#include "spdlog/spdlog.h"

namespace tailor::pipeline {
namespace {

using tailor::v1::Decision;
using tailor::v1::Event;
using tailor::v1::EventTopic;

}  // namespace

ProcessorOptions ProcessorOptionsFor(const tailor::v1::ServiceConfig& config,
                                     int32_t partition_count) {
  ProcessorOptions options;
  options.topics = config.topics();
  options.partition_count = partition_count;
  options.misrouted_events = config.misrouted_events();
  options.limits.min_event_time_ms = config.min_event_time_ms();
  options.limits.max_future_skew_ms =
      config.max_event_skew_hours() * 3600 * 1000;
  options.profile_cache_entries = config.profile_cache_entries();
  options.timer_index_bytes = static_cast<size_t>(config.timer_index_bytes());
  options.profile_cache_bytes = config.profile_cache_bytes();
  return options;
}

Processor::Processor(store::ProfileStore* store,
                     std::shared_ptr<const decide::Engine> engine,
                     ProcessorOptions options)
    : store_(store),
      engine_(std::move(engine)),
      options_(std::move(options)),
      profile_spec_(profile::WithDefaults(engine_->rules().profile())),
      arena_block_(new char[kArenaBlockBytes]),
      arena_(std::make_unique<google::protobuf::Arena>([this] {
        google::protobuf::ArenaOptions arena_options;
        arena_options.initial_block = arena_block_.get();
        arena_options.initial_block_size = kArenaBlockBytes;
        arena_options.start_block_size = kArenaBlockBytes;
        arena_options.max_block_size = kArenaBlockBytes;
        return arena_options;
      }())),
      batch_(store_->NewBatch()) {}

void Processor::SetEngine(std::shared_ptr<const decide::Engine> engine) {
  engine_ = std::move(engine);
  profile_spec_ = profile::WithDefaults(engine_->rules().profile());
}

absl::Status Processor::OpenPartition(int32_t partition) {
  if (tasks_.contains(partition)) return absl::OkStatus();
  // The timers stay in the store; the index reads them as they come due.
  auto task = std::make_unique<PartitionTask>(partition, 0);
  TAILOR_ASSIGN_OR_RETURN(auto state,
                          store_->GetMeta(PartitionStateKey(partition)));
  if (state.has_value() && !task->state.ParseFromString(*state)) {
    return absl::DataLossError(
        absl::StrCat("corrupt partition state of partition ", partition));
  }
  for (int kind = 1; kind < 4; ++kind) {
    TAILOR_ASSIGN_OR_RETURN(auto offset,
                            store_->GetOffset(InputTopicName(kind), partition));
    if (offset.has_value()) {
      task->positions[kind] = *offset;
      task->durable_positions[kind] = *offset;
    }
  }
  if (task->state.stream_time_ms() != 0) {
    task->stream_time_ms = task->state.stream_time_ms();
  }
  task->state.set_partition(partition);
  task->state.set_partition_count(options_.partition_count);
  for (const tailor::v1::ErasureFence& f : task->state.erasure_fences()) {
    task->fences[f.id_hash()] = f.erased_at_ms();
  }
  tasks_.emplace(partition, std::move(task));
  SplitTimerBudget();
  return absl::OkStatus();
}

void Processor::ClosePartition(int32_t partition) {
  tasks_.erase(partition);
  SplitTimerBudget();
}

void Processor::SplitTimerBudget() {
  const size_t share = std::max<size_t>(
      kMinTimerWindowBytes,
      options_.timer_index_bytes / std::max<size_t>(1, tasks_.size()));
  for (auto& [p, task] : tasks_) task->timers.set_window_budget(share);
}

absl::StatusOr<std::optional<int64_t>> Processor::StoredOffset(
    absl::string_view topic, int32_t partition) {
  return store_->GetOffset(topic, partition);
}

absl::StatusOr<std::optional<uint64_t>> Processor::StoredFingerprint(
    absl::string_view topic, int32_t partition, int64_t next_offset) {
  TAILOR_ASSIGN_OR_RETURN(
      std::optional<std::string> raw,
      store_->GetMeta(OffsetFingerprintKey(topic, partition)));
  if (!raw.has_value()) return std::optional<uint64_t>();
  const std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(*raw, absl::MaxSplits(':', 1));
  int64_t offset = 0;
  uint64_t fingerprint = 0;
  if (!absl::SimpleAtoi(parts.first, &offset) || offset != next_offset ||
      !absl::SimpleAtoi(parts.second, &fingerprint)) {
    return std::optional<uint64_t>();  // another position's, or unreadable
  }
  return fingerprint;
}

PartitionTask* Processor::TaskFor(int32_t partition) {
  auto it = tasks_.find(partition);
  return it == tasks_.end() ? nullptr : it->second.get();
}

Processor::CacheBounds Processor::CapacityPerPartition() const {
  const size_t tasks = std::max<size_t>(1, tasks_.size());
  return {
      .entries = std::max<size_t>(64, options_.profile_cache_entries / tasks),
      .bytes = options_.profile_cache_bytes / tasks};
}

absl::StatusOr<CachedProfile*> Processor::LoadProfile(
    PartitionTask& task, absl::string_view customer_id) {
  if (CachedProfile* hit = task.profiles.Find(customer_id)) {
    task.profiles.Touch(hit);
    ++stats_.cache_hits;
    return hit;
  }
  ++stats_.cache_misses;
  TAILOR_ASSIGN_OR_RETURN(
      bool found, store_->GetProfile(task.partition, customer_id, &scratch_));
  CachedProfile* entry = task.profiles.Insert(customer_id);
  if (found) {
    if (!entry->profile.ParseFromString(scratch_)) {
      return absl::DataLossError(
          absl::StrCat("corrupt profile of customer ", customer_id));
    }
    entry->exists = true;
    task.profiles.Measure(entry, scratch_.size());
  } else {
    entry->profile.set_customer_id(std::string(customer_id));
  }
  return entry;
}

// Reads the profiles of a batch's customers that are not cached with one
// MultiGet per partition, so the per-event path only touches memory.
absl::Status Processor::Prefetch(absl::Span<const InputRecord> records) {
  absl::flat_hash_map<int32_t, std::vector<absl::string_view>> misses;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!verdicts_[i].ok()) continue;
    const InputRecord& rec = records[i];
    PartitionTask* task = TaskFor(rec.partition);
    const std::string& id = events_[i]->customer_id();
    if (TouchOrPlaceholder(*task, id)) misses[rec.partition].push_back(id);
  }
  for (auto& [partition, ids] : misses) {
    TAILOR_RETURN_IF_ERROR(ReadMisses(*TaskFor(partition), ids));
  }
  return absl::OkStatus();
}

bool Processor::TouchOrPlaceholder(PartitionTask& task,
                                   const std::string& customer_id) {
  if (CachedProfile* hit = task.profiles.Find(customer_id)) {
    task.profiles.Touch(hit);
    ++stats_.cache_hits;
    return false;
  }
  // A placeholder now, so a customer seen twice is read once.
  CachedProfile* entry = task.profiles.Insert(customer_id);
  entry->profile.set_customer_id(customer_id);
  return true;
}

absl::Status Processor::ReadMisses(PartitionTask& task,
                                   absl::Span<const absl::string_view> ids) {
  if (ids.empty()) return absl::OkStatus();
  stats_.cache_misses += ids.size();
  TAILOR_RETURN_IF_ERROR(store_->MultiGetProfiles(task.partition, ids,
                                                  &miss_values_, &miss_found_));
  for (size_t k = 0; k < ids.size(); ++k) {
    if (!miss_found_[k]) continue;
    CachedProfile* entry = task.profiles.Find(ids[k]);
    if (!entry->profile.ParseFromString(miss_values_[k])) {
      return absl::DataLossError(
          absl::StrCat("corrupt profile of customer ", ids[k]));
    }
    entry->exists = true;
    task.profiles.Measure(entry, miss_values_[k].size());
  }
  return absl::OkStatus();
}

absl::Status Processor::ProcessBatch(absl::Span<const InputRecord> records,
                                     int64_t wall_now_ms,
                                     int64_t max_stream_time_ms) {
  events_.clear();
  arena_->Reset();
  verdicts_.assign(records.size(), absl::OkStatus());

  // Pass 1: decode and validate.
  for (size_t i = 0; i < records.size(); ++i) {
    const InputRecord& rec = records[i];
    TAILOR_RETURN_IF_ERROR(OpenPartition(rec.partition));
    PartitionTask* task = TaskFor(rec.partition);
    task->next_offsets[rec.kind] = rec.offset + 1;
    task->last_record[rec.kind] = &rec;
    Event& event = *events_.emplace_back(
        google::protobuf::Arena::CreateMessage<Event>(arena_.get()));
    if (!event.ParseFromArray(rec.value.data(),
                              static_cast<int>(rec.value.size()))) {
      verdicts_[i] = absl::InvalidArgumentError("undecodable protobuf");
      continue;
    }
    verdicts_[i] =
        profile::ValidateEvent(event, rec.kind, options_.limits, wall_now_ms);
    if (verdicts_[i].ok()) profile::NormalizeEnums(&event);
    if (verdicts_[i].ok() && rec.key != event.customer_id()) {
      verdicts_[i] =
          absl::InvalidArgumentError("message key does not match customer_id");
    }
    CheckPlacement(rec, &verdicts_[i]);
  }
  // The fingerprint of the last record of each input, stored with its
  // position so that a later start can tell the topic is still the same.
  for (auto& [partition, task] : tasks_) {
    for (int kind = 0; kind < 4; ++kind) {
      const InputRecord* last = task->last_record[kind];
      if (last == nullptr) continue;
      task->fingerprinted[kind] = last->offset + 1;
      task->fingerprints[kind] = RecordFingerprint(last->key, last->value);
      task->last_record[kind] = nullptr;
    }
  }

  TAILOR_RETURN_IF_ERROR(Prefetch(records));

  // Pass 2: fold and decide in the order given (event time per task).
  for (size_t i = 0; i < records.size(); ++i) {
    const InputRecord& rec = records[i];
    if (!verdicts_[i].ok()) {
      EmitDeadLetter(rec, verdicts_[i].message());
      continue;
    }
    const Event& event = *events_[i];
    PartitionTask& task = *TaskFor(rec.partition);
    const int64_t t = std::min(event.event_time_ms(), max_stream_time_ms);
    if (t > task.stream_time_ms) {
      task.stream_time_ms = t;
      TAILOR_RETURN_IF_ERROR(FireDue(task));
    }
    // Prefetch() cached every valid record's customer; timers fired above
    // never evict.
    ProcessEvent(task, task.profiles.Find(event.customer_id()), event, rec);
    // A late event may set a timer that stream time has already passed.
    TAILOR_RETURN_IF_ERROR(FireDue(task));
  }
  return absl::OkStatus();
}

void Processor::CheckPlacement(const InputRecord& rec, absl::Status* verdict) {
  if (options_.partition_count <= 1 || rec.key.empty()) return;
  const int32_t expected =
      KafkaPartitionForKey(rec.key, options_.partition_count);
  if (expected == rec.partition) return;
  ++stats_.misrouted_by_topic[rec.kind];
  if (verdict->ok() &&
      options_.misrouted_events == tailor::v1::MISROUTED_EVENTS_DEAD_LETTER) {
    *verdict = absl::FailedPreconditionError(
        absl::StrCat("misrouted: key hashes to partition ", expected));
  }
}

absl::Status Processor::AdvanceStreamTime(int32_t partition,
                                          int64_t watermark_ms) {
  PartitionTask* task = TaskFor(partition);
  if (task == nullptr || watermark_ms <= task->stream_time_ms) {
    return absl::OkStatus();
  }
  task->stream_time_ms = watermark_ms;
  return FireDue(*task);
}

uint64_t Processor::FenceHash(const PartitionTask& task,
                              absl::string_view customer_id) {
  return StableHash64({task.state.fence_salt(), customer_id});
}

void Processor::AddFence(PartitionTask& task, absl::string_view customer_id,
                         int64_t erased_at_ms) {
  tailor::v1::PartitionState& state = task.state;
  if (state.fence_salt().empty()) {
    std::random_device random;
    std::string salt(16, '\0');
    for (char& c : salt) c = static_cast<char>(random());
    state.set_fence_salt(std::move(salt));
  }
  // Fences older than kFenceMs of stream time go.
  const int64_t horizon =
      std::max(task.stream_time_ms, erased_at_ms) - kFenceMs;
  auto* fences = state.mutable_erasure_fences();
  int keep = 0;
  for (int i = 0; i < fences->size(); ++i) {
    if (fences->Get(i).erased_at_ms() >= horizon) {
      if (keep != i) fences->SwapElements(keep, i);
      ++keep;
    } else {
      task.fences.erase(fences->Get(i).id_hash());
    }
  }
  fences->DeleteSubrange(keep, fences->size() - keep);
  tailor::v1::ErasureFence* fence = fences->Add();
  fence->set_id_hash(FenceHash(task, customer_id));
  fence->set_erased_at_ms(erased_at_ms);
  task.fences[fence->id_hash()] = erased_at_ms;
  task.state_dirty = true;
}

void Processor::ProcessEvent(PartitionTask& task, CachedProfile* entry,
                             const Event& event, const InputRecord& rec) {
  ++stats_.events;
  if (!task.fences.empty() && rec.kind != tailor::v1::EVENT_TOPIC_PRIVACY) {
    const auto fence = task.fences.find(FenceHash(task, event.customer_id()));
    if (fence != task.fences.end() && event.event_time_ms() <= fence->second) {
      ++stats_.erased_events_dropped;  // dated before the erasure
      return;
    }
  }
  if (!entry->exists) {
    entry->exists = true;
    ++stats_.profiles_created;
  }
  task.profiles.MarkDirty(entry);
  const bool was_opted_out = entry->profile.profiling_opt_out();
  // A privacy event may clear the profile's timers: the index needs their
  // keys to delete them.
  if (rec.kind == tailor::v1::EVENT_TOPIC_PRIVACY) {
    timers_before_fold_ = entry->profile.pending_timers();
  }
  const bool erased =
      profile::FoldEvent(event, profile_spec_, &entry->profile) ==
      profile::FoldResult::kErased;
  if (erased) {
    ForgetProfile(task, entry, event.customer_id());
    ++stats_.profiles_erased;
    task.timers.RemoveAll(event.customer_id(), timers_before_fold_);
    AddFence(task, event.customer_id(), event.event_time_ms());
  }
  if (rec.kind == tailor::v1::EVENT_TOPIC_PRIVACY) {
    AfterPrivacyEvent(task, entry, event, rec, was_opted_out);
  }
  if (erased) return;
  // Attributed before the engine runs, so an order is never the conversion
  // of a decision it made itself (a loyalty coupon).
  EmitAttributions(event, entry);
  outcome_.Clear();
  engine_->OnEvent(event, &entry->profile, &task.state, &outcome_);
  EmitOutcome(task, entry, &rec);
}

void Processor::EmitAttributions(const Event& event, CachedProfile* entry) {
  attributed_.clear();
  profile::Attribute(event, &entry->profile, &attributed_);
  for (const tailor::v1::Outcome& o : attributed_) {
    ++stats_.outcomes_by_kind[o.outcome() % 4];
    if (options_.on_outcome) options_.on_outcome(o);
    OutputRecord& out =
        outputs_.emplace_back(OutputRecord{OutputKind::kOutcome,
                                           options_.topics.outcomes(),
                                           -1,
                                           o.customer_id(),
                                           o.SerializeAsString(),
                                           {}});
    out.headers.emplace_back(kHeaderOutcomeId, o.outcome_id());
    out.headers.emplace_back(kHeaderDecisionId, o.decision_id());
  }
}

absl::Status Processor::FireDue(PartitionTask& task) {
  TAILOR_RETURN_IF_ERROR(SweepIfDue(task));
  // A timer due at T fires once stream time is past T: an event at exactly T
  // (on any input) is folded first.
  if (task.timers.next_fire_ms() >= task.stream_time_ms) {
    return absl::OkStatus();
  }
  due_.clear();
  TAILOR_RETURN_IF_ERROR(
      task.timers.PopDue(task.stream_time_ms - 1, *store_, &due_));
  // The customers not cached are read with one MultiGet.
  miss_ids_.clear();
  for (const TimerIndex::Key& due : due_) {
    if (TouchOrPlaceholder(task, due.customer_id)) {
      miss_ids_.push_back(due.customer_id);
    }
  }
  TAILOR_RETURN_IF_ERROR(ReadMisses(task, miss_ids_));
  for (const TimerIndex::Key& due : due_) {
    ++stats_.timers_fired;
    CachedProfile* entry = task.profiles.Find(due.customer_id);
    if (!entry->exists) continue;  // erased, or never known
    // The profile's own list is the truth (the index holds only keys); an
    // index entry it does not hold (moved, fired, or superseded during a
    // restore) is stale.
    auto* pending = entry->profile.mutable_pending_timers();
    int slot = -1;
    for (int i = 0; i < pending->size(); ++i) {
      if (pending->Get(i).timer_id() == due.timer_id &&
          pending->Get(i).fire_at_ms() == due.fire_at_ms) {
        slot = i;
        break;
      }
    }
    if (slot < 0) continue;
    fired_ = std::move(*pending->Mutable(slot));
    pending->DeleteSubrange(slot, 1);
    task.profiles.MarkDirty(entry);
    outcome_.Clear();
    // Decided as of the timer's own time, whenever stream time passed it, so
    // the decision does not depend on how late the watermark moved.
    engine_->OnTimer(fired_, fired_.fire_at_ms(), &entry->profile, &task.state,
                     &outcome_);
    EmitOutcome(task, entry, nullptr);
  }
  return absl::OkStatus();
}

const std::string& Processor::TopicForKind(
    tailor::v1::DecisionKind kind) const {
  switch (kind) {
    case tailor::v1::DECISION_KIND_COUPON:
      return options_.topics.coupons();
    case tailor::v1::DECISION_KIND_CART_REMINDER:
      return options_.topics.cart_reminders();
    case tailor::v1::DECISION_KIND_AGENT_ESCALATION:
      return options_.topics.agent_escalations();
    default:
      return options_.topics.push();
  }
}

void Processor::EmitOutcome(PartitionTask& task, CachedProfile* entry,
                            const InputRecord* source) {
  for (const tailor::v1::Timer& timer : outcome_.timers) {
    // The profile carries its timers, so they move with it on the changelog.
    auto* pending = entry->profile.mutable_pending_timers();
    tailor::v1::Timer* slot = nullptr;
    for (tailor::v1::Timer& t : *pending) {
      if (t.timer_id() == timer.timer_id()) slot = &t;
    }
    task.timers.Set(timer, slot != nullptr
                               ? std::optional<int64_t>(slot->fire_at_ms())
                               : std::nullopt);
    *(slot != nullptr ? slot : pending->Add()) = timer;
  }
  for (const Decision& decision : outcome_.decisions) {
    task.state_dirty = true;
    ++stats_.decisions_by_kind[decision.kind() % 5];
    ++stats_.decisions_by_action[decision.action() % 4];
    if (options_.on_decision) options_.on_decision(decision);
    profile::RememberDecision(
        decision,
        decide::ConversionWindowMs(engine_->rules(), decision.campaign()),
        &entry->profile);
    // Every decision goes to the log; only a SEND to its delivery topic
    // too, with the same bytes and headers.
    OutputRecord& logged =
        outputs_.emplace_back(OutputRecord{OutputKind::kDecision,
                                           options_.topics.decisions_log(),
                                           -1,
                                           decision.customer_id(),
                                           decision.SerializeAsString(),
                                           {}});
    logged.headers.emplace_back(kHeaderDecisionId, decision.decision_id());
    if (source != nullptr && source->sent_ns != 0) {
      logged.headers.emplace_back(kHeaderSentNs, absl::StrCat(source->sent_ns));
    }
    if (decision.action() == tailor::v1::DECISION_ACTION_SEND) {
      OutputRecord delivery = logged;
      delivery.topic = TopicForKind(decision.kind());
      outputs_.push_back(std::move(delivery));
    }
  }
}

void Processor::EmitDeadLetter(const InputRecord& rec,
                               absl::string_view error) {
  ++stats_.dead_letters;
  // The original's headers first (tailor-ops dlq redrive gives them back).
  std::vector<std::pair<std::string, std::string>> headers;
  if (rec.origin != nullptr && options_.original_headers) {
    options_.original_headers(rec, &headers);
  }
  size_t header_bytes = 0;
  for (const auto& [name, value] : headers) {
    header_bytes += name.size() + value.size();
  }
  // A copy too large for a Kafka record keeps its first bytes only.
  const bool truncate = rec.key.size() + rec.value.size() + header_bytes >
                        kMaxDeadLetterCopyBytes;
  if (truncate) headers.clear();
  const size_t key_bytes =
      truncate ? std::min(rec.key.size(), kMaxIdBytes) : rec.key.size();
  const size_t value_bytes =
      truncate ? std::min(rec.value.size(), kDeadLetterTruncatedBytes)
               : rec.value.size();
  OutputRecord& out = outputs_.emplace_back(OutputRecord{
      OutputKind::kDeadLetter, options_.topics.dead_letter(), -1,
      std::string(rec.key.substr(0, key_bytes)),
      std::string(rec.value.substr(0, value_bytes)), std::move(headers)});
  out.headers.emplace_back(kHeaderSourceTopic, rec.topic);
  out.headers.emplace_back(kHeaderSourcePartition, absl::StrCat(rec.partition));
  out.headers.emplace_back(kHeaderSourceOffset, absl::StrCat(rec.offset));
  out.headers.emplace_back(kHeaderError, error);
  if (truncate) {
    ++stats_.dead_letters_truncated;
    out.headers.emplace_back(kHeaderTruncated, "true");
    out.headers.emplace_back(kHeaderOriginalKeyBytes,
                             absl::StrCat(rec.key.size()));
    out.headers.emplace_back(kHeaderOriginalValueBytes,
                             absl::StrCat(rec.value.size()));
  }
}

void Processor::PrepareCommit() {
  ++prepared_seq_;
  prepared_offsets_.clear();
  for (auto& [partition, task_ptr] : tasks_) {
    PartitionTask& task = *task_ptr;
    const int32_t p = partition;
    task.profiles.DrainDirty([&](const std::string& id, CachedProfile& entry) {
      entry.pinned_until = prepared_seq_;
      if (entry.erased && !entry.exists) {
        task.profiles.Measure(&entry, 0);
        batch_.DeleteProfile(p, id);
        if (options_.emit_changelog) {
          outputs_.push_back(OutputRecord{OutputKind::kChangelog,
                                          options_.topics.changelog(),
                                          p,
                                          id,
                                          std::string(),
                                          {}});
        }
        return;
      }
      if (!entry.exists) return;
      entry.profile.SerializeToString(&scratch_);
      if (scratch_.size() > profile::kMaxProfileBytes &&
          profile::TrimToBytes(profile::kMaxProfileBytes, &entry.profile)) {
        ++stats_.profiles_trimmed;
        spdlog::warn("a profile of {} bytes in partition {} was trimmed to {}",
                     scratch_.size(), p, entry.profile.ByteSizeLong());
        entry.profile.SerializeToString(&scratch_);
      }
      task.profiles.Measure(&entry, scratch_.size());
      batch_.PutProfile(p, id, scratch_);
      if (options_.emit_changelog) {
        outputs_.push_back(OutputRecord{OutputKind::kChangelog,
                                        options_.topics.changelog(),
                                        p,
                                        id,
                                        scratch_,
                                        {}});
      }
    });
    for (const auto& [key, timer] : task.timers.pending_changes()) {
      if (timer.has_value()) {
        batch_.PutTimer(p, key.fire_at_ms, key.customer_id, key.timer_id,
                        *timer);
      } else {
        batch_.DeleteTimer(p, key.fire_at_ms, key.customer_id, key.timer_id);
      }
    }
    task.timers.MarkPrepared(prepared_seq_);
    if (task.stream_time_ms > task.state.stream_time_ms()) {
      task.state.set_stream_time_ms(task.stream_time_ms);
      task.state_dirty = true;
    }
    const bool state_changed = task.state_dirty;
    if (task.state_dirty) {
      batch_.PutMeta(PartitionStateKey(p), task.state.SerializeAsString());
      task.state_dirty = false;
    }
    bool advanced = false;
    for (int kind = 1; kind < 4; ++kind) {
      if (task.next_offsets[kind] < 0) continue;
      advanced = true;
      const std::string& topic = InputTopicName(kind);
      batch_.PutOffset(topic, p, task.next_offsets[kind]);
      if (task.fingerprinted[kind] == task.next_offsets[kind]) {
        batch_.PutMeta(OffsetFingerprintKey(topic, p),
                       absl::StrCat(task.next_offsets[kind], ":",
                                    task.fingerprints[kind]));
      }
      prepared_offsets_.push_back(
          TopicOffset{topic, p, task.next_offsets[kind]});
      task.positions[kind] = task.next_offsets[kind];
      task.next_offsets[kind] = -1;
    }
    if (options_.emit_changelog && (advanced || state_changed)) {
      outputs_.push_back(OutputRecord{OutputKind::kChangelog,
                                      options_.topics.changelog(),
                                      p,
                                      std::string(kCheckpointKey),
                                      CheckpointOf(task),
                                      {}});
    }
  }
}

std::string Processor::CheckpointOf(const PartitionTask& task) const {
  tailor::v1::PartitionCheckpoint checkpoint;
  for (int kind = 1; kind < 4; ++kind) {
    if (task.positions[kind] < 0) continue;
    auto* position = checkpoint.add_positions();
    position->set_topic(InputTopicName(kind));
    position->set_next_offset(task.positions[kind]);
  }
  *checkpoint.mutable_state() = task.state;
  return checkpoint.SerializeAsString();
}

const std::string& Processor::InputTopicName(int kind) const {
  switch (kind) {
    case tailor::v1::EVENT_TOPIC_CLICKSTREAM:
      return options_.topics.clickstream();
    case tailor::v1::EVENT_TOPIC_ORDERS:
      return options_.topics.orders();
    default:
      return options_.topics.privacy();
  }
}

void Processor::RecordChangelogPosition(int32_t partition,
                                        int64_t next_offset) {
  batch_.PutMeta(ChangelogPositionKey(partition), absl::StrCat(next_offset));
}

void Processor::Reset() {
  tasks_.clear();
  outputs_.clear();
  prepared_offsets_.clear();
  batch_.Clear();
}

absl::Status Processor::WriteState() {
  if (batch_.Count() > 0) {
    TAILOR_RETURN_IF_ERROR(store_->Commit(&batch_));
  }
  outputs_.clear();
  PreparedCommit written{.seq = prepared_seq_,
                         .batch = store_->NewBatch(),
                         .offsets = std::move(prepared_offsets_)};
  prepared_offsets_.clear();
  MarkDurable(written);
  committed_offsets_ = std::move(written.offsets);
  return absl::OkStatus();
}

void Processor::MoveOutputsTo(std::vector<OutputRecord>* out) {
  if (out->empty()) {
    out->swap(outputs_);
  } else {
    std::move(outputs_.begin(), outputs_.end(), std::back_inserter(*out));
  }
  outputs_.clear();
}

void Processor::SetMemoryShare(size_t profile_cache_entries,
                               size_t profile_cache_bytes,
                               size_t timer_index_bytes) {
  options_.profile_cache_entries = profile_cache_entries;
  options_.profile_cache_bytes = profile_cache_bytes;
  options_.timer_index_bytes = timer_index_bytes;
  SplitTimerBudget();
}

Processor::PreparedCommit Processor::TakePrepared() {
  PreparedCommit out{.seq = prepared_seq_,
                     .batch = std::exchange(batch_, store_->NewBatch()),
                     .offsets = std::move(prepared_offsets_)};
  prepared_offsets_.clear();
  outputs_.clear();
  return out;
}

void Processor::MarkDurable(const PreparedCommit& commit) {
  ++stats_.commits;
  durable_seq_ = std::max(durable_seq_, commit.seq);
  for (const TopicOffset& o : commit.offsets) {
    PartitionTask* task = TaskFor(o.partition);
    if (task == nullptr) continue;
    for (int kind = 1; kind < 4; ++kind) {
      if (InputTopicName(kind) == o.topic) {
        task->durable_positions[kind] = o.next_offset;
      }
    }
  }
  const CacheBounds bounds = CapacityPerPartition();
  for (auto& [partition, task] : tasks_) {
    stats_.profiles_evicted +=
        task->profiles.EvictTo(bounds.entries, bounds.bytes, durable_seq_);
    task->timers.MarkDurable(durable_seq_);
  }
}

std::vector<TopicOffset> Processor::WrittenPositions() const {
  std::vector<TopicOffset> out;
  for (const auto& [partition, task] : tasks_) {
    for (int kind = 1; kind < 4; ++kind) {
      if (task->durable_positions[kind] < 0) continue;
      out.push_back(TopicOffset{InputTopicName(kind), partition,
                                task->durable_positions[kind]});
    }
  }
  return out;
}

bool Processor::idle() const {
  if (!outputs_.empty() || batch_.Count() > 0) return false;
  for (const auto& [p, task] : tasks_) {
    if (task->profiles.dirty_count() > 0 || task->state_dirty ||
        !task->timers.pending_changes().empty()) {
      return false;
    }
  }
  return true;
}

size_t Processor::cached_profiles() const {
  size_t n = 0;
  for (const auto& [p, task] : tasks_) n += task->profiles.size();
  return n;
}

size_t Processor::cached_profile_bytes() const {
  size_t n = 0;
  for (const auto& [p, task] : tasks_) n += task->profiles.bytes();
  return n;
}

size_t Processor::pending_timers() const {
  return store_->EstimatedTimerCount();
}

TimerWindowStats Processor::timer_window() const {
  TimerWindowStats out;
  for (const auto& [p, task] : tasks_) {
    out.entries += task->timers.window_size();
    out.bytes += task->timers.window_bytes();
    out.budget_bytes += task->timers.window_budget();
  }
  return out;
}

}  // namespace tailor::pipeline
