// File: pipeline.h
// The Kafka shell around the Processor: joins the consumer group on the input
// topics, polls batches, buffers each task's inputs (TaskInputs) and hands
// the processor what they release in event-time order, produces its outputs
// and commits, in the order that keeps every commit durable (at least once,
// see libs/pipeline/README.md):
//
//   poll -> buffer per task -> release in event-time order -> process ->
//   produce decisions and dead letters at once (tagged with the open
//   commit) -> every commit interval: seal the commit (changelog records,
//   the RocksDB WriteBatch of profiles, timers and offsets) -> once all of
//   its messages and every earlier commit's are delivered: write the batch
//   -> commit the input offsets to the group.
//
// A failed delivery stops the line and rewinds the input to the written
// state; a failed store write is retried with backoff (not ready
// meanwhile). No offset is committed past what is durable. On assignment,
// consumption starts at the offset the local state reflects. Exactly once
// runs one transaction per commit interval instead.
//
// Owned by main(); RunOnce() and everything else run on one thread, except
// ready(), RequestReload() and RequestStop(), which any thread may call.
#ifndef TAILOR_LIBS_PIPELINE_PIPELINE_H_
#define TAILOR_LIBS_PIPELINE_PIPELINE_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/decide/engine.h"
#include "libs/kafka/broker_watch.h"
#include "libs/kafka/consumer.h"
#include "libs/kafka/producer.h"
#include "libs/pipeline/commit_log.h"
#include "libs/pipeline/cycle_split.h"
#include "libs/pipeline/end_probe.h"
#include "libs/pipeline/processor.h"
#include "libs/pipeline/restore.h"
#include "libs/pipeline/state_writer.h"
#include "libs/pipeline/task_inputs.h"
#include "libs/pipeline/workers.h"
#include "libs/store/profile_store.h"
#include "tailor/v1/config.pb.h"

namespace tailor::pipeline {

struct PipelineOptions {
  // Validated, defaults applied. config.time_source says whether the wall
  // clock may move a task's stream time.
  tailor::v1::ServiceConfig config;
  // Extra librdkafka properties for the consumer and the producer.
  kafka::Properties consumer_properties;
  kafka::Properties producer_properties;
  // Called for every decision emitted (e.g. to print it); may be empty.
  std::function<void(const tailor::v1::Decision&)> on_decision;
  // Called for every outcome attributed (e.g. to count it); may be empty.
  std::function<void(const tailor::v1::Outcome&)> on_outcome;
  // Called on the pipeline thread, for metrics; each may be empty.
  struct Observer {
    // A batch of `records` went through the processor in `took`.
    std::function<void(size_t records, absl::Duration took)> batch_processed;
    // A commit became durable `took` after it was sealed (at least once) or
    // its transaction began to commit (exactly once).
    std::function<void(absl::Duration took)> commit_durable;
    // A dead letter is produced (headers: source topic, error).
    std::function<void(const OutputRecord&)> dead_letter;
  } observer;
};

// bootstrap.servers, then the config's kafka_properties and
// kafka_property_files (read now): what every Kafka client of tailor gets.
// Checked by librdkafka; errors name the field (never a value).
absl::StatusOr<kafka::Properties> KafkaClientProperties(
    const tailor::v1::ServiceConfig& config);

// The key of the customer hashes on the audit topic: the content of
// config.audit_salt_file (a trailing newline dropped), empty when unset.
// Errors name the field, never the content.
absl::StatusOr<std::string> AuditSalt(const tailor::v1::ServiceConfig& config);

class Pipeline : public kafka::RebalanceListener {
 public:
  // Opens the store, checks the topics (the input topics must have the same
  // partition count) and joins the group.
  static absl::StatusOr<std::unique_ptr<Pipeline>> Create(
      PipelineOptions options, std::shared_ptr<const decide::Engine> engine);
  ~Pipeline() override;

  // One poll-process-commit cycle.
  [[nodiscard]] absl::Status RunOnce();
  // Commits what is in flight and leaves the group.
  [[nodiscard]] absl::Status Shutdown();
  // Makes a commit that is retrying give up (call before Shutdown()).
  void RequestStop() {
    stop_.store(true);
    state_writer_->Stop();
  }
  // Swaps the rules at the next batch boundary.
  void RequestReload(std::shared_ptr<const decide::Engine> engine);

  // Assigned, and the last commit succeeded.
  bool ready() const { return ready_.load(); }
  ProcessorStats stats() const { return workers_->stats(); }
  const Workers& workers() const { return *workers_; }
  store::ProfileStore& store() { return *store_; }
  int assigned_partitions() const { return assigned_count_.load(); }
  // Transactions aborted and redone (exactly-once mode).
  int64_t aborted_transactions() const { return aborted_transactions_; }
  // Commit attempts that failed (produce, transaction or state write) and
  // were retried.
  // Cumulative time per phase of the cycle (and of the state writer).
  const CycleSplit& cycle_split() const { return split_; }
  int64_t commit_failures() const {
    return commit_failures_.load() + state_writer_->failures();
  }

  // Output records that could never be produced (refused as too large or
  // invalid) and were skipped so their partition goes on (at least once).
  int64_t undeliverable_outputs() const {
    return undeliverable_outputs_.load();
  }
  // For the admin HTTP API (customer_api), from any thread: the customer's
  // partition (murmur2 of the id) and, when this instance owns it (assigned
  // and restored), its profile bytes as of the last state write (up to
  // commit_interval_ms behind what the pipeline holds in memory); nullopt
  // when it has none. NotFound when the partition is not owned here.
  struct OwnedProfile {
    int32_t partition = 0;
    std::optional<std::string> bytes;
  };
  absl::StatusOr<OwnedProfile> ReadOwnedProfile(
      absl::string_view customer_id) const;

  // How far restores from the changelog have come (thread-safe).
  const RestoreProgress& restore_progress() const {
    return restorer_->progress();
  }
  // Whether the state directory was found corrupt at start and is being
  // rebuilt from the changelog.
  bool state_rebuilt() const { return state_rebuilt_; }
  // Outputs made again after a failed commit rewound the input, already
  // delivered the first time and therefore not produced again (at least
  // once). Thread-safe.
  int64_t outputs_not_resent() const { return outputs_not_resent_.load(); }
  // Stored input positions found beyond their partition's end at
  // assignment (handled by on_stale_offsets). Thread-safe.
  int64_t stale_offsets() const { return stale_offsets_.load(); }
  // How long since a broker last answered a metadata request (asked every
  // second). Thread-safe.
  absl::Duration broker_silent_for() const {
    return broker_watch_->silent_for();
  }
  // How long work has been in flight without any commit becoming durable
  // (about 0 while commits go through or nothing is in flight).
  // Thread-safe.
  absl::Duration stalled_for() const;

  // kafka::RebalanceListener (called on the pipeline thread inside a poll).
  void OnPartitionsAssigned(
      std::vector<kafka::TopicPartition>& partitions) override;
  void OnPartitionsRevoked(const std::vector<kafka::TopicPartition>& partitions,
                           bool lost) override;

 private:
  explicit Pipeline(PipelineOptions options);
  // Opens the state; a directory RocksDB reports corrupt is moved aside and
  // started afresh (sets *rebuilt) unless the policy says FAIL.
  static absl::StatusOr<std::unique_ptr<store::ProfileStore>> OpenStateHealing(
      const store::StoreOptions& options, tailor::v1::OnCorruptState policy,
      bool* rebuilt);
  // The partition count of the (co-partitioned) input topics.
  [[nodiscard]] absl::StatusOr<int> CheckTopics();
  // Buffers the polled records and partition ends in their tasks' inputs.
  void BufferPolled(int64_t wall_now_ms);
  // Moves what the tasks release into inputs_, in order, and processes it.
  [[nodiscard]] absl::Status ProcessReleased(int64_t wall_now_ms);
  // Hands a finished end probe's answer to the tasks.
  void ApplyProbedEnds();
  // Asks the broker where the inputs that hold tasks back end, unless a
  // probe is in flight.
  void StartProbeIfWanted();
  // Pauses inputs with too much buffered, resumes drained ones.
  void ApplyBackpressure();
  // The highest stream time the wall clock allows now.
  int64_t StreamTimeCap(int64_t wall_now_ms) const;
  TaskInputs& InputsOf(int32_t partition, int64_t wall_now_ms);
  // Exactly once: decisions are produced at once inside the open
  // transaction; every commit interval (or when `commit_now`) the changelog
  // and the input offsets join it and it commits, then the state is written.
  [[nodiscard]] absl::Status AdvanceTransaction(bool commit_now);
  [[nodiscard]] absl::Status CommitExactlyOnce();
  // Aborts the open transaction and rewinds the input to the written state
  // (or returns `cause` when the producer is fatally broken).
  [[nodiscard]] absl::Status AbortAndRewind(const absl::Status& cause);
  // At least once, pipelined: produce what the cycle made at once, seal the
  // open commit every commit interval (or when `seal_now`), write the
  // commits whose outputs are all delivered, never waiting on the broker
  // unless too many commits are in flight.
  [[nodiscard]] absl::Status AdvanceCommits(bool seal_now);
  // Produces the processor's outputs tagged with the open commit; a failed
  // produce marks the commit failed (it stops the line).
  void ProduceIntoOpenCommit();
  void SealOpenCommit();
  // Hands the delivered commits at the head of the line to the state
  // writer; rewinds after a failed delivery.
  [[nodiscard]] absl::Status WriteDurableCommits();
  // Marks the commits the state writer has written durable.
  void ReapWrittenCommits();
  // Seals, waits for every delivery and writes what became durable (before
  // partitions go and at shutdown).
  [[nodiscard]] absl::Status DrainCommits();
  void OnDelivery(uint64_t seq, const rd_kafka_message_t& msg);
  // Commits the written positions to the group when they moved and the
  // commit interval passed (also when idle, e.g. after a restart).
  void CommitGroupOffsetsIfDue();
  // Writes the prepared state to RocksDB, retrying with backoff.
  [[nodiscard]] absl::Status WriteStateRetrying();
  // Produces workers_->outputs(), tagged with commit `seq` (0: none).
  [[nodiscard]] absl::Status ProduceOutputs(uint64_t seq);
  void RecordChangelogPositions();
  // Checks a stored input position against the partition's offsets and
  // applies on_stale_offsets when it lies beyond the end. Returns where to
  // start: `stored`, or another position. RESTORE rebuilds a partition's
  // state once and adds it to *rebuilt.
  [[nodiscard]] absl::StatusOr<int64_t> CheckStoredOffset(
      const kafka::TopicPartition& tp, int64_t stored,
      absl::flat_hash_set<int32_t>* rebuilt);
  // The RecordFingerprint of topic[partition] at `offset` read from the
  // broker, or nullopt when there is no record there.
  [[nodiscard]] absl::StatusOr<std::optional<uint64_t>> FingerprintAt(
      const std::string& topic, int32_t partition, int64_t offset);
  // After an aborted transaction: forget the in-memory state and move the
  // input back to where the local state ends.
  [[nodiscard]] absl::Status Rewind();
  bool exactly_once() const;
  tailor::v1::EventTopic KindOf(absl::string_view topic) const;

  PipelineOptions options_;
  kafka::Properties client_properties_;  // KafkaClientProperties()
  // Declared before state_writer_, which adds to it until it is destroyed.
  CycleSplit split_;
  std::unique_ptr<store::ProfileStore> store_;
  std::unique_ptr<Workers> workers_;
  // Declared after store_: destroyed (queued writes finished) before it.
  std::unique_ptr<StateWriter> state_writer_;
  uint64_t last_submitted_ = 0;  // last commit handed to state_writer_
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::unique_ptr<kafka::Consumer> restore_reader_;
  std::unique_ptr<ChangelogRestorer> restorer_;
  // Declared after restore_reader_, whose handle it uses.
  std::unique_ptr<kafka::BrokerWatch> broker_watch_;
  // Declared after consumer_: stopped before it goes.
  std::unique_ptr<EndProbe> end_probe_;
  uint64_t arrival_ = 0;  // polls buffered so far (BufferedRecord::arrival)

  // A commit between produced and durable (at least once).
  struct PendingCommit {
    CommitLog::Seq seq = 0;
    std::optional<Workers::PreparedCommit> prepared;  // set when sealed
    absl::Time sealed_at;
    // Next changelog offset per partition, from its delivery reports.
    absl::flat_hash_map<int32_t, int64_t> changelog_next;
  };
  bool transaction_open_ = false;  // exactly once
  CommitLog commit_log_;
  std::deque<PendingCommit> pending_;
  absl::Time open_since_;

  TaskTimeOptions time_options_;
  std::vector<kafka::Record> records_;
  std::vector<kafka::TopicPartition> ends_;
  // Buffered inputs per task (partition number).
  absl::flat_hash_map<int32_t, std::unique_ptr<TaskInputs>> task_inputs_;
  // Input topic partitions paused because too much of them is buffered.
  absl::flat_hash_set<std::pair<std::string, int32_t>> paused_;
  std::vector<BufferedRecord> released_;
  std::vector<InputRecord> inputs_;
  // What the group was last told, and when.
  std::vector<TopicOffset> group_offsets_;
  absl::Time last_group_commit_ = absl::InfinitePast();
  // (topic, partition) pairs assigned, to know when a partition number is
  // fully gone.
  absl::flat_hash_set<std::pair<std::string, int32_t>> assigned_;
  absl::Status rebalance_error_;
  int64_t aborted_transactions_ = 0;
  std::atomic<int64_t> commit_failures_{0};
  std::atomic<int64_t> undeliverable_outputs_{0};
  // At least once: fingerprints (OutputFingerprint) of the decisions and
  // dead letters delivered, by commit, until the commit is durable. When a
  // failed commit rewinds the input, they become `resend_skips_`: the same
  // outputs made again are not produced a second time.
  absl::btree_map<uint64_t, std::vector<uint64_t>> delivered_;
  absl::flat_hash_map<uint64_t, int> resend_skips_;
  absl::Time resend_skips_since_;
  std::atomic<int64_t> outputs_not_resent_{0};
  std::atomic<int64_t> stale_offsets_{0};
  bool state_rebuilt_ = false;
  // When a commit last became durable or nothing was in flight (Unix ns).
  std::atomic<int64_t> progress_ns_{absl::GetCurrentTimeNanos()};

  std::atomic<bool> stop_{false};
  std::atomic<bool> ready_{false};
  std::atomic<int> assigned_count_{0};
  // Input partition count (every input topic has it).
  int32_t partition_count_ = 0;
  // Partition numbers assigned and restored, for ReadOwnedProfile; held
  // across its read so that a partition is not dropped under it.
  mutable absl::Mutex owned_mu_;
  absl::flat_hash_set<int32_t> owned_ ABSL_GUARDED_BY(owned_mu_);
  absl::Mutex reload_mu_;
  std::shared_ptr<const decide::Engine> pending_engine_
      ABSL_GUARDED_BY(reload_mu_);
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_PIPELINE_H_
