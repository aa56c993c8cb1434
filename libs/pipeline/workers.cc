// File: workers.cc
#include "libs/pipeline/workers.h"

#include <algorithm>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "libs/base/status_macros.h"

namespace tailor::pipeline {
namespace {

void AddStats(const ProcessorStats& from, ProcessorStats* to) {
  to->events += from.events;
  to->dead_letters += from.dead_letters;
  to->timers_fired += from.timers_fired;
  to->cache_hits += from.cache_hits;
  to->cache_misses += from.cache_misses;
  to->profiles_created += from.profiles_created;
  to->profiles_evicted += from.profiles_evicted;
  to->profiles_erased += from.profiles_erased;
  to->profiles_trimmed += from.profiles_trimmed;
  to->dead_letters_truncated += from.dead_letters_truncated;
  to->erased_events_dropped += from.erased_events_dropped;
  to->profiles_expired += from.profiles_expired;
  to->audit_records += from.audit_records;
  auto add = [](const auto& a, auto& b) {
    for (size_t i = 0; i < a.size(); ++i) b[i] += a[i];
  };
  add(from.misrouted_by_topic, to->misrouted_by_topic);
  add(from.decisions_by_kind, to->decisions_by_kind);
  add(from.decisions_by_action, to->decisions_by_action);
  add(from.outcomes_by_kind, to->outcomes_by_kind);
}

// With several workers, the callbacks are called by one at a time.
void SerializeCallbacks(ProcessorOptions* options) {
  auto mu = std::make_shared<absl::Mutex>();
  if (options->on_decision) {
    options->on_decision = [mu, f = std::move(options->on_decision)](
                               const tailor::v1::Decision& d) {
      absl::MutexLock lock(mu.get());
      f(d);
    };
  }
  if (options->on_outcome) {
    options->on_outcome =
        [mu, f = std::move(options->on_outcome)](const tailor::v1::Outcome& o) {
          absl::MutexLock lock(mu.get());
          f(o);
        };
  }
}

}  // namespace

int WorkerCount(int configured) {
  if (configured > 0) return configured;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

Workers::Workers(store::ProfileStore* store,
                 std::shared_ptr<const decide::Engine> engine,
                 ProcessorOptions options, int workers)
    : store_(store),
      options_(options),
      team_(std::max(1, workers)),
      owned_(team_.workers(), 0),
      shares_(team_.workers()),
      watermark_shares_(team_.workers()),
      errors_(team_.workers()) {
  if (team_.workers() > 1) SerializeCallbacks(&options);
  for (int w = 0; w < team_.workers(); ++w) {
    processors_.push_back(std::make_unique<Processor>(store, engine, options));
  }
  ShareMemory();
}

void Workers::SetEngine(std::shared_ptr<const decide::Engine> engine) {
  for (auto& p : processors_) p->SetEngine(engine);
}

absl::Status Workers::OpenPartition(int32_t partition) {
  if (owner_.contains(partition)) return absl::OkStatus();
  const int w = static_cast<int>(
      std::min_element(owned_.begin(), owned_.end()) - owned_.begin());
  TAILOR_RETURN_IF_ERROR(processors_[w]->OpenPartition(partition));
  owner_[partition] = w;
  ++owned_[w];
  ShareMemory();
  return absl::OkStatus();
}

void Workers::ClosePartition(int32_t partition) {
  auto it = owner_.find(partition);
  if (it == owner_.end()) return;
  processors_[it->second]->ClosePartition(partition);
  --owned_[it->second];
  owner_.erase(it);
  ShareMemory();
}

void Workers::ShareMemory() {
  const size_t open = owner_.size();
  const size_t n = processors_.size();
  for (size_t w = 0; w < n; ++w) {
    // Equal shares while nothing is open.
    const double share =
        open == 0 ? 1.0 / n : static_cast<double>(owned_[w]) / open;
    processors_[w]->SetMemoryShare(
        static_cast<size_t>(share * options_.profile_cache_entries),
        static_cast<size_t>(share * options_.profile_cache_bytes),
        static_cast<size_t>(share * options_.timer_index_bytes));
  }
}

Processor& Workers::OwnerOf(int32_t partition) {
  auto it = owner_.find(partition);
  return *processors_[it == owner_.end() ? 0 : it->second];
}

absl::StatusOr<std::optional<int64_t>> Workers::StoredOffset(
    absl::string_view topic, int32_t partition) {
  return processors_[0]->StoredOffset(topic, partition);
}

absl::StatusOr<std::optional<uint64_t>> Workers::StoredFingerprint(
    absl::string_view topic, int32_t partition, int64_t next_offset) {
  return processors_[0]->StoredFingerprint(topic, partition, next_offset);
}

absl::Status Workers::FirstError() {
  for (absl::Status& s : errors_) {
    if (!s.ok()) return std::exchange(s, absl::OkStatus());
  }
  return absl::OkStatus();
}

absl::Status Workers::ProcessBatch(absl::Span<const InputRecord> records,
                                   int64_t wall_now_ms,
                                   int64_t max_stream_time_ms) {
  // Each record to its partition's worker (opened here first); a task's
  // records come together, so the owner is looked up once per run of them.
  const bool one = processors_.size() == 1;
  for (auto& share : shares_) share.clear();
  int32_t partition = -1;
  int worker = 0;
  for (const InputRecord& rec : records) {
    if (rec.partition != partition) {
      TAILOR_RETURN_IF_ERROR(OpenPartition(rec.partition));
      partition = rec.partition;
      worker = owner_[partition];
    }
    if (!one) shares_[worker].push_back(rec);
  }
  if (one) {
    errors_[0] =
        processors_[0]->ProcessBatch(records, wall_now_ms, max_stream_time_ms);
  } else {
    team_.Run([&](int w) {
      if (shares_[w].empty()) return;
      errors_[w] = processors_[w]->ProcessBatch(shares_[w], wall_now_ms,
                                                max_stream_time_ms);
    });
  }
  GatherOutputs();
  return FirstError();
}

absl::Status Workers::AdvanceStreamTimes(
    absl::Span<const std::pair<int32_t, int64_t>> watermarks) {
  for (auto& share : watermark_shares_) share.clear();
  for (const auto& [partition, watermark] : watermarks) {
    auto it = owner_.find(partition);
    if (it == owner_.end()) continue;
    watermark_shares_[it->second].emplace_back(partition, watermark);
  }
  team_.Run([&](int w) {
    for (const auto& [partition, watermark] : watermark_shares_[w]) {
      errors_[w] = processors_[w]->AdvanceStreamTime(partition, watermark);
      if (!errors_[w].ok()) return;
    }
  });
  GatherOutputs();
  return FirstError();
}

void Workers::GatherOutputs() {
  for (auto& p : processors_) p->MoveOutputsTo(&outputs_);
}

void Workers::PrepareCommit() {
  team_.Run([&](int w) { processors_[w]->PrepareCommit(); });
  GatherOutputs();
  prepared_offsets_.clear();
  for (auto& p : processors_) {
    const std::vector<TopicOffset>& offsets = p->prepared_offsets();
    prepared_offsets_.insert(prepared_offsets_.end(), offsets.begin(),
                             offsets.end());
  }
}

void Workers::RecordChangelogPosition(int32_t partition, int64_t next_offset) {
  OwnerOf(partition).RecordChangelogPosition(partition, next_offset);
}

Workers::PreparedCommit Workers::TakeFromWorkers() {
  PreparedCommit out = processors_[0]->TakePrepared();
  for (size_t w = 1; w < processors_.size(); ++w) {
    PreparedCommit part = processors_[w]->TakePrepared();
    out.batch.Append(&part.batch);
    out.offsets.insert(out.offsets.end(), part.offsets.begin(),
                       part.offsets.end());
  }
  prepared_offsets_.clear();
  return out;
}

Workers::PreparedCommit Workers::TakePrepared() {
  outputs_.clear();
  return TakeFromWorkers();
}

absl::Status Workers::WriteState() {
  if (!unwritten_.has_value()) unwritten_ = TakeFromWorkers();
  TAILOR_RETURN_IF_ERROR(store_->Commit(&unwritten_->batch));
  outputs_.clear();
  MarkDurable(*unwritten_);
  committed_offsets_ = std::move(unwritten_->offsets);
  unwritten_.reset();
  return absl::OkStatus();
}

void Workers::MarkDurable(const PreparedCommit& commit) {
  // Each worker unpins and evicts its own profiles (freeing them is a
  // good part of a commit's cost).
  team_.Run([&](int w) { processors_[w]->MarkDurable(commit); });
}

void Workers::Reset() {
  for (auto& p : processors_) p->Reset();
  owner_.clear();
  std::fill(owned_.begin(), owned_.end(), 0);
  ShareMemory();
  outputs_.clear();
  prepared_offsets_.clear();
  unwritten_.reset();
}

std::vector<TopicOffset> Workers::WrittenPositions() const {
  std::vector<TopicOffset> out;
  for (const auto& p : processors_) {
    std::vector<TopicOffset> part = p->WrittenPositions();
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

bool Workers::idle() const {
  if (!outputs_.empty() || unwritten_.has_value()) return false;
  for (const auto& p : processors_) {
    if (!p->idle()) return false;
  }
  return true;
}

ProcessorStats Workers::stats() const {
  ProcessorStats out;
  for (const auto& p : processors_) AddStats(p->stats(), &out);
  // Each worker counts the commits it took part in: they are the same.
  out.commits = processors_[0]->stats().commits;
  return out;
}

size_t Workers::cached_profiles() const {
  size_t n = 0;
  for (const auto& p : processors_) n += p->cached_profiles();
  return n;
}

size_t Workers::cached_profile_bytes() const {
  size_t n = 0;
  for (const auto& p : processors_) n += p->cached_profile_bytes();
  return n;
}

size_t Workers::pending_timers() const { return store_->EstimatedTimerCount(); }

TimerWindowStats Workers::timer_window() const {
  TimerWindowStats out;
  for (const auto& p : processors_) {
    const TimerWindowStats w = p->timer_window();
    out.entries += w.entries;
    out.bytes += w.bytes;
    out.budget_bytes += w.budget_bytes;
  }
  return out;
}

}  // namespace tailor::pipeline
