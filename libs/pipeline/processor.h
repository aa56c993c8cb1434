// File: processor.h
// The processing core of one personalizer: decode, validate, fold, decide and
// prepare the commit for batches of input records. It knows RocksDB (through
// ProfileStore) but not Kafka: the shell (Pipeline) feeds it records and
// produces its outputs, so the engine benchmark can drive it without a broker.
//
// Commit protocol, per batch:
//   ProcessBatch() -> PrepareCommit() -> produce outputs() and wait for their
//   delivery -> WriteState() -> commit committable_offsets() to Kafka.
// The store write carries the input offsets, so local state and its position
// in the input always move together; decisions are durable in Kafka before
// the state that remembers them, so a crash can repeat a decision (with the
// same id) but never lose one.
//
// Owned by the pipeline; every method is called from the pipeline thread.
#ifndef TAILOR_LIBS_PIPELINE_PROCESSOR_H_
#define TAILOR_LIBS_PIPELINE_PROCESSOR_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "google/protobuf/arena.h"
#include "libs/config/service_config.h"
#include "libs/decide/engine.h"
#include "libs/pipeline/partition_task.h"
#include "libs/pipeline/records.h"
#include "libs/profile/validate.h"
#include "libs/store/profile_store.h"
#include "tailor/v1/audit.pb.h"
#include "tailor/v1/config.pb.h"
#include "tailor/v1/decision.pb.h"
#include "tailor/v1/outcome.pb.h"

namespace tailor::pipeline {

struct ProcessorOptions {
  tailor::v1::TopicsConfig topics;  // names, defaults applied
  tailor::profile::ValidationLimits limits;
  // The profile cache's bounds across all partitions, split evenly over
  // the open ones: entries, and bytes as ProfileCache charges them.
  size_t profile_cache_entries = config::kDefaultProfileCacheEntries;
  size_t profile_cache_bytes = config::kDefaultProfileCacheBytes;
  // The in-memory windows of the next pending timers, across all
  // partitions (the rest stay in the store).
  size_t timer_index_bytes = config::kDefaultTimerIndexBytes;
  // Partitions of each input topic: the shop-wide coupon budgets are split
  // across them (see PartitionState).
  int32_t partition_count = 1;
  // An input record whose key murmur2-hashes to another partition than the
  // one it came from is counted (ProcessorStats::misrouted_by_topic) and,
  // with DEAD_LETTER, sent to the dead-letter topic instead of folded.
  tailor::v1::MisroutedEvents misrouted_events =
      tailor::v1::MISROUTED_EVENTS_COUNT;
  bool emit_changelog = true;
  // Privacy (processor_privacy.cc). The key of the customer hashes on the
  // audit topic, and the name of this instance in audit records.
  std::string audit_salt;
  std::string instance;
  // A profile untouched (no event) for this long is deleted by the sweep
  // that runs when a task's stream time passes a UTC midnight; 0 = never.
  int64_t profile_retention_ms = 0;
  // Called for every decision emitted (e.g. to print it); may be empty.
  std::function<void(const tailor::v1::Decision&)> on_decision;
  // Called for every outcome attributed (e.g. to count it); may be empty.
  std::function<void(const tailor::v1::Outcome&)> on_outcome;
  // Appends the headers of an input record (from its `origin`) to *out, so
  // its dead letter carries them; may be empty (no headers copied).
  std::function<void(const InputRecord&,
                     std::vector<std::pair<std::string, std::string>>*)>
      original_headers;
};

// The options a service config (validated, defaults applied) asks for:
// topic names, validation limits, cache size, misrouted events.
// `partition_count`: partitions of each input topic.
ProcessorOptions ProcessorOptionsFor(const tailor::v1::ServiceConfig& config,
                                     int32_t partition_count);

// What the timer indexes hold in memory, across partitions.
struct TimerWindowStats {
  size_t entries = 0;
  size_t bytes = 0;
  size_t budget_bytes = 0;
};

// Counters since start; read by the shell for metrics and the summary.
struct ProcessorStats {
  int64_t events = 0;        // valid events folded
  int64_t dead_letters = 0;  // invalid records sent to the DLQ
  int64_t timers_fired = 0;
  int64_t cache_hits = 0;
  int64_t cache_misses = 0;
  int64_t profiles_created = 0;
  // Clean profiles dropped from the cache to keep it within its bounds.
  int64_t profiles_evicted = 0;
  int64_t profiles_erased = 0;
  int64_t commits = 0;
  // Profiles cut down to profile::kMaxProfileBytes before being written.
  int64_t profiles_trimmed = 0;
  // Dead letters whose original was too large to copy whole.
  int64_t dead_letters_truncated = 0;
  // Events of an erased customer dated at or before the erasure: dropped,
  // so a late event cannot bring the customer back.
  int64_t erased_events_dropped = 0;
  // Profiles deleted by the retention sweep, and audit records emitted.
  int64_t profiles_expired = 0;
  int64_t audit_records = 0;
  // Input records whose key hashes to another partition, indexed by
  // tailor::v1::EventTopic.
  std::array<int64_t, 4> misrouted_by_topic{};
  // Indexed by tailor::v1::DecisionKind and DecisionAction.
  std::array<int64_t, 5> decisions_by_kind{};
  std::array<int64_t, 4> decisions_by_action{};
  // Outcomes attributed, indexed by tailor::v1::OutcomeKind.
  std::array<int64_t, 4> outcomes_by_kind{};
};

class Processor {
 public:
  Processor(store::ProfileStore* store,
            std::shared_ptr<const decide::Engine> engine,
            ProcessorOptions options);

  // Swaps the rules engine; takes effect for the next record.
  void SetEngine(std::shared_ptr<const decide::Engine> engine);

  // Loads a partition's timers and shared state. Idempotent.
  [[nodiscard]] absl::Status OpenPartition(int32_t partition);
  bool HasPartition(int32_t partition) const {
    return tasks_.contains(partition);
  }
  // Forgets a partition's in-memory state. Commit first.
  void ClosePartition(int32_t partition);
  // Where the local state of this input topic partition stops, if known.
  absl::StatusOr<std::optional<int64_t>> StoredOffset(absl::string_view topic,
                                                      int32_t partition);

  // The fingerprint (RecordFingerprint) of the record just before
  // `next_offset`, when the state stored it with that position.
  absl::StatusOr<std::optional<uint64_t>> StoredFingerprint(
      absl::string_view topic, int32_t partition, int64_t next_offset);

  // Processes records in the order given, which must be each task's
  // event-time order (TaskInputs releases them so). Before an event at time
  // t, the timers of its task due before min(t, max_stream_time_ms) fire;
  // `max_stream_time_ms` keeps a future-stamped event from firing other
  // customers' timers early. `wall_now_ms` bounds how far in the future an
  // event may lie. A store read error leaves the in-memory state unusable:
  // the caller must close the affected partitions and start over from the
  // store.
  [[nodiscard]] absl::Status ProcessBatch(absl::Span<const InputRecord> records,
                                          int64_t wall_now_ms,
                                          int64_t max_stream_time_ms);
  // Moves the stream time of `partition` to at least `watermark_ms` and fires
  // the timers due before it.
  [[nodiscard]] absl::Status AdvanceStreamTime(int32_t partition,
                                               int64_t watermark_ms);

  // Serializes dirty state into the pending store batch and adds changelog
  // records to outputs(). Call once after the batches to commit.
  void PrepareCommit();
  // What to produce before WriteState().
  const std::vector<OutputRecord>& outputs() const { return outputs_; }
  // The input offsets the prepared commit covers.
  const std::vector<TopicOffset>& prepared_offsets() const {
    return prepared_offsets_;
  }
  // Records, in the prepared commit, the changelog offset up to which the
  // local state of `partition` is reflected on the changelog.
  void RecordChangelogPosition(int32_t partition, int64_t next_offset);
  // Writes the prepared state atomically; on success clears outputs() and
  // makes committable_offsets() the offsets just written. Retry on error.
  [[nodiscard]] absl::Status WriteState();

  // The pipelined alternative to WriteState(): the shell produces outputs()
  // and clears them (ClearOutputs()) as it goes, takes each prepared commit
  // (TakePrepared()), writes it once its outputs are delivered and then
  // reports it durable (MarkDurable()). Profiles of a commit stay cached
  // until it is durable.
  struct PreparedCommit {
    uint64_t seq = 0;
    store::ProfileStore::Batch batch;
    std::vector<TopicOffset> offsets;
  };
  void ClearOutputs() { outputs_.clear(); }
  // Appends outputs() to *out (moved) and clears them.
  void MoveOutputsTo(std::vector<OutputRecord>* out);
  PreparedCommit TakePrepared();
  void MarkDurable(const PreparedCommit& commit);
  // Drops everything in memory and everything prepared (after an aborted
  // transaction); the caller reopens partitions and rewinds the input.
  void Reset();
  const std::vector<TopicOffset>& committable_offsets() const {
    return committed_offsets_;
  }
  // The input positions the written state of every open partition reflects.
  std::vector<TopicOffset> WrittenPositions() const;
  // True when nothing is waiting to be prepared or written.
  bool idle() const;

  const ProcessorStats& stats() const { return stats_; }
  size_t cached_profiles() const;
  // The bytes the profile caches of all partitions are charged
  // (ProfileCache::bytes()).
  size_t cached_profile_bytes() const;
  // Timers pending in the store (RocksDB's estimate).
  size_t pending_timers() const;
  TimerWindowStats timer_window() const;
  const ProcessorOptions& options() const { return options_; }
  // Replaces the memory bounds of the options (a worker's share of the
  // instance's, see Workers); the profile caches shrink to them at the
  // next MarkDurable(), the timer windows at once.
  void SetMemoryShare(size_t profile_cache_entries, size_t profile_cache_bytes,
                      size_t timer_index_bytes);

 private:
  PartitionTask* TaskFor(int32_t partition);  // opened on first use
  absl::StatusOr<CachedProfile*> LoadProfile(PartitionTask& task,
                                             absl::string_view customer_id);
  absl::Status Prefetch(absl::Span<const InputRecord> records);
  // A cached profile of the task is touched (a hit, false); otherwise an
  // empty placeholder is inserted for ReadMisses to fill (true).
  bool TouchOrPlaceholder(PartitionTask& task, const std::string& customer_id);
  // Reads the profiles of `ids` (placeholders already inserted in the
  // task's cache) with one MultiGet.
  absl::Status ReadMisses(PartitionTask& task,
                          absl::Span<const absl::string_view> ids);
  // Fires the timers of `task` due before its stream time.
  absl::Status FireDue(PartitionTask& task);
  void ProcessEvent(PartitionTask& task, CachedProfile* entry,
                    const tailor::v1::Event& event, const InputRecord& rec);
  // How long an erasure fence is kept, in stream time.
  static constexpr int64_t kFenceMs = 30LL * 24 * 3600 * 1000;
  static uint64_t FenceHash(const PartitionTask& task,
                            absl::string_view customer_id);
  // Remembers that `customer_id` was erased at `erased_at_ms` (and drops
  // fences past kFenceMs).
  static void AddFence(PartitionTask& task, absl::string_view customer_id,
                       int64_t erased_at_ms);
  // Privacy (processor_privacy.cc).
  // Deletes the profile of `entry` in the next commit (a null tombstone on
  // the changelog); its timers are the caller's.
  static void ForgetProfile(PartitionTask& task, CachedProfile* entry,
                            absl::string_view customer_id);
  // After a privacy event was folded into `entry`: its audit records, and
  // the timers and stored copies an opt-out leaves behind.
  void AfterPrivacyEvent(PartitionTask& task, CachedProfile* entry,
                         const tailor::v1::Event& event, const InputRecord& rec,
                         bool was_opted_out);
  void EmitAudit(const PartitionTask& task, absl::string_view customer_id,
                 tailor::v1::AuditRecord* record);
  // Once per UTC day of stream time, deletes the profiles untouched for
  // profile_retention_ms (not those opted out of profiling), after firing
  // the timers due before that day's midnight.
  absl::Status SweepIfDue(PartitionTask& task);
  absl::Status ExpireIdle(PartitionTask& task, int64_t swept_at_ms);
  // Produces the decisions of outcome_ (every one on the decisions log, SEND
  // ones on their delivery topic too), remembers them in the profile for
  // attribution and stores its timers.
  void EmitOutcome(PartitionTask& task, CachedProfile* entry,
                   const InputRecord* source);
  // Attributes a folded event to the profile's recent decisions and
  // produces the outcomes on the outcomes topic.
  void EmitAttributions(const tailor::v1::Event& event, CachedProfile* entry);
  void EmitDeadLetter(const InputRecord& rec, absl::string_view error);
  // Counts `rec` when its key hashes to another partition (Kafka's murmur2);
  // with MISROUTED_EVENTS_DEAD_LETTER turns an ok `verdict` into an error.
  void CheckPlacement(const InputRecord& rec, absl::Status* verdict);
  // The delivery topic of a SEND decision of this kind.
  const std::string& TopicForKind(tailor::v1::DecisionKind kind) const;
  const std::string& InputTopicName(int kind) const;
  std::string CheckpointOf(const PartitionTask& task) const;
  // Gives each open partition's timer window its share of
  // options_.timer_index_bytes.
  void SplitTimerBudget();
  static constexpr size_t kMinTimerWindowBytes = 16 << 10;
  // The decoded events' arena grows in blocks of this size (a batch of
  // 5,000 typical events takes about 2 of them).
  static constexpr size_t kArenaBlockBytes = 1 << 20;
  // The profile cache bounds of one partition: the options' split over the
  // open partitions (at least 64 entries each).
  struct CacheBounds {
    size_t entries = 0;
    size_t bytes = 0;
  };
  CacheBounds CapacityPerPartition() const;

  store::ProfileStore* store_;
  std::shared_ptr<const decide::Engine> engine_;
  ProcessorOptions options_;
  tailor::v1::ProfileSpec profile_spec_;  // defaults applied

  absl::flat_hash_map<int32_t, std::unique_ptr<PartitionTask>> tasks_;
  uint64_t prepared_seq_ = 0;  // PrepareCommit() calls
  uint64_t durable_seq_ = 0;   // the last prepared commit written

  // The batch's decoded events live on arena_, reset at the start of each
  // batch: no malloc or free per event or field (its first block is
  // arena_block_, kept across batches).
  std::unique_ptr<char[]> arena_block_;
  std::unique_ptr<google::protobuf::Arena> arena_;
  std::vector<tailor::v1::Event*> events_;
  // Reused across batches to avoid per-event allocation.
  std::vector<absl::Status> verdicts_;
  std::vector<size_t> order_;
  std::vector<TimerIndex::Key> due_;
  tailor::v1::Timer fired_;  // the timer being fired
  google::protobuf::RepeatedPtrField<tailor::v1::Timer> timers_before_fold_;
  decide::Outcome outcome_;
  std::vector<tailor::v1::Outcome> attributed_;
  std::string scratch_;
  std::vector<absl::string_view> miss_ids_;
  std::vector<std::string> miss_values_;
  std::vector<bool> miss_found_;

  store::ProfileStore::Batch batch_;
  std::vector<OutputRecord> outputs_;
  std::vector<TopicOffset> prepared_offsets_;
  std::vector<TopicOffset> committed_offsets_;
  ProcessorStats stats_;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_PROCESSOR_H_
