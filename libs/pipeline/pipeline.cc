#include "libs/pipeline/pipeline.h"

#include <unistd.h>

#include <algorithm>
#include <functional>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "libs/base/log.h"
#include "libs/base/status_macros.h"
#include "libs/kafka/admin.h"
#include "libs/kafka/error.h"

namespace tailor::pipeline {
namespace {

constexpr absl::Duration kFlushTimeout = absl::Seconds(30);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

std::string TransactionalId(const tailor::v1::ServiceConfig& cfg) {
  if (!cfg.transactional_id().empty()) return cfg.transactional_id();
  if (!cfg.group_instance_id().empty()) {
    return absl::StrCat(cfg.group_id(), "-", cfg.group_instance_id());
  }
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return absl::StrCat(cfg.group_id(), "-", host, "-", getpid());
}

}  // namespace

Pipeline::Pipeline(PipelineOptions options) : options_(std::move(options)) {}

Pipeline::~Pipeline() {
  if (consumer_ != nullptr) IgnoreError(consumer_->Close());
}

absl::StatusOr<std::unique_ptr<Pipeline>> Pipeline::Create(
    PipelineOptions options, std::shared_ptr<const decide::Engine> engine) {
  std::unique_ptr<Pipeline> p(new Pipeline(std::move(options)));
  const tailor::v1::ServiceConfig& cfg = p->options_.config;

  store::StoreOptions store_options;
  store_options.path = cfg.state_dir();
  store_options.block_cache_mb = cfg.block_cache_mb();
  store_options.write_buffer_mb = cfg.write_buffer_mb();
  TAILOR_ASSIGN_OR_RETURN(p->store_, store::ProfileStore::Open(store_options));

  ProcessorOptions processor_options;
  processor_options.topics = cfg.topics();
  processor_options.limits.min_event_time_ms = cfg.min_event_time_ms();
  processor_options.limits.max_future_skew_ms =
      cfg.max_event_skew_hours() * 3600 * 1000;
  processor_options.profile_cache_entries = cfg.profile_cache_entries();
  processor_options.on_decision = p->options_.on_decision;
  p->processor_ = std::make_unique<Processor>(
      p->store_.get(), std::move(engine), std::move(processor_options));

  TAILOR_RETURN_IF_ERROR(p->CheckTopics());

  kafka::Properties producer_props = {
      {"bootstrap.servers", cfg.bootstrap_servers()},
      {"enable.idempotence", "true"},
      {"linger.ms", "1"},
      {"compression.type", "lz4"},
  };
  if (p->exactly_once()) {
    producer_props.emplace_back("transactional.id", TransactionalId(cfg));
    // A crashed instance's open transaction holds back read_committed
    // readers until it times out (or a successor with the same id fences
    // it): keep that short.
    producer_props.emplace_back("transaction.timeout.ms", "10000");
  }
  for (const auto& kv : p->options_.producer_properties) {
    producer_props.push_back(kv);
  }
  TAILOR_ASSIGN_OR_RETURN(p->producer_,
                          kafka::Producer::Create(producer_props));
  if (p->exactly_once()) {
    TAILOR_RETURN_IF_ERROR(p->producer_->InitTransactions(kFlushTimeout));
  }
  TAILOR_ASSIGN_OR_RETURN(
      p->restore_reader_,
      kafka::Consumer::Create({{"bootstrap.servers", cfg.bootstrap_servers()},
                               {"group.id", cfg.group_id() + ".restore"},
                               {"isolation.level", "read_committed"},
                               {"fetch.max.bytes", "52428800"},
                               // Without it every partition's restore
                               // waits out a 500 ms fetch long-poll.
                               {"fetch.wait.max.ms", "5"}},
                              nullptr));
  p->restorer_ = std::make_unique<ChangelogRestorer>(
      p->store_.get(), p->restore_reader_.get(), cfg.topics().changelog());

  kafka::Properties consumer_props = {
      {"bootstrap.servers", cfg.bootstrap_servers()},
      {"group.id", cfg.group_id()},
      // The range assignor gives partition N of every input topic to the
      // same member, which co-partitioning needs; librdkafka's
      // cooperative-sticky assignor places topic partitions one by one.
      {"partition.assignment.strategy", "range"},
      {"auto.offset.reset", "earliest"},
      {"fetch.wait.max.ms", "5"},
      {"isolation.level", "read_committed"},
  };
  if (!cfg.group_instance_id().empty()) {
    consumer_props.emplace_back("group.instance.id", cfg.group_instance_id());
  }
  for (const auto& kv : p->options_.consumer_properties) {
    consumer_props.push_back(kv);
  }
  TAILOR_ASSIGN_OR_RETURN(p->consumer_,
                          kafka::Consumer::Create(consumer_props, p.get()));
  const auto& t = cfg.topics();
  TAILOR_RETURN_IF_ERROR(
      p->consumer_->Subscribe({t.clickstream(), t.orders(), t.privacy()}));
  return p;
}

absl::Status Pipeline::CheckTopics() {
  const tailor::v1::ServiceConfig& cfg = options_.config;
  TAILOR_ASSIGN_OR_RETURN(
      auto admin,
      kafka::Admin::Create({{"bootstrap.servers", cfg.bootstrap_servers()}}));
  const auto& t = cfg.topics();
  std::vector<std::string> inputs = {t.clickstream(), t.orders(), t.privacy()};
  std::vector<std::string> counts;
  int first = -1;
  bool same = true;
  for (const std::string& topic : inputs) {
    TAILOR_ASSIGN_OR_RETURN(int n,
                            admin->PartitionCount(topic, absl::Seconds(10)));
    counts.push_back(absl::StrCat(topic, "=", n));
    if (first < 0) first = n;
    same = same && n == first;
  }
  if (!same) {
    return absl::FailedPreconditionError(absl::StrCat(
        "input topics are not co-partitioned (", absl::StrJoin(counts, ", "),
        "): every input topic must have the same partition count, because a "
        "customer's events must all reach the same partition"));
  }
  TAILOR_ASSIGN_OR_RETURN(
      int changelog, admin->PartitionCount(t.changelog(), absl::Seconds(10)));
  if (changelog != first) {
    return absl::FailedPreconditionError(absl::StrCat(
        "changelog topic ", t.changelog(), " has ", changelog,
        " partitions; it must have as many as the input topics (", first, ")"));
  }
  return absl::OkStatus();
}

tailor::v1::EventTopic Pipeline::KindOf(absl::string_view topic) const {
  const auto& t = options_.config.topics();
  if (topic == t.clickstream()) return tailor::v1::EVENT_TOPIC_CLICKSTREAM;
  if (topic == t.orders()) return tailor::v1::EVENT_TOPIC_ORDERS;
  if (topic == t.privacy()) return tailor::v1::EVENT_TOPIC_PRIVACY;
  return tailor::v1::EVENT_TOPIC_UNSPECIFIED;
}

void Pipeline::OnPartitionsAssigned(
    std::vector<kafka::TopicPartition>& partitions) {
  ready_.store(false);
  for (kafka::TopicPartition& tp : partitions) {
    assigned_.insert({tp.topic, tp.partition});
    absl::Status status;
    if (!processor_->HasPartition(tp.partition)) {
      // The local state is a cache of the changelog: bring it up to date
      // before the partition is processed.
      auto restored = restorer_->RestoreIfBehind(tp.partition);
      status = restored.status();
      if (status.ok()) status = processor_->OpenPartition(tp.partition);
    }
    auto stored = processor_->StoredOffset(tp.topic, tp.partition);
    if (!status.ok() || !stored.ok()) {
      rebalance_error_ = status.ok() ? stored.status() : status;
      continue;
    }
    if (stored->has_value()) tp.offset = **stored;
    spdlog::info("assigned {}[{}] from offset {}", tp.topic, tp.partition,
                 stored->has_value() ? absl::StrCat(**stored)
                                     : std::string("committed"));
  }
  assigned_count_.store(static_cast<int>(assigned_.size()));
  ready_.store(rebalance_error_.ok());
}

void Pipeline::OnPartitionsRevoked(
    const std::vector<kafka::TopicPartition>& partitions, bool lost) {
  // Every cycle commits before it polls again, so nothing of these partitions
  // is in flight here; forget their memory once all topics of a partition
  // number are gone.
  for (const kafka::TopicPartition& tp : partitions) {
    assigned_.erase({tp.topic, tp.partition});
    spdlog::info("{} {}[{}]", lost ? "lost" : "revoked", tp.topic,
                 tp.partition);
  }
  for (const kafka::TopicPartition& tp : partitions) {
    const auto& t = options_.config.topics();
    bool still = false;
    for (const std::string* topic :
         {&t.clickstream(), &t.orders(), &t.privacy()}) {
      still = still || assigned_.contains({*topic, tp.partition});
    }
    if (!still) processor_->ClosePartition(tp.partition);
  }
  assigned_count_.store(static_cast<int>(assigned_.size()));
}

void Pipeline::RequestReload(std::shared_ptr<const decide::Engine> engine) {
  absl::MutexLock lock(&reload_mu_);
  pending_engine_ = std::move(engine);
}

absl::Status Pipeline::RunOnce() {
  {
    absl::MutexLock lock(&reload_mu_);
    if (pending_engine_ != nullptr) {
      processor_->SetEngine(std::move(pending_engine_));
      pending_engine_ = nullptr;
      spdlog::info("rules reloaded");
    }
  }
  const auto& cfg = options_.config;
  TAILOR_RETURN_IF_ERROR(
      consumer_->PollBatch(cfg.max_batch_events(),
                           absl::Milliseconds(cfg.max_batch_ms()), &records_));
  if (!rebalance_error_.ok()) return std::exchange(rebalance_error_, {});

  static const std::string kSentNsHeader(kHeaderSentNs);
  inputs_.clear();
  for (const kafka::Record& r : records_) {
    InputRecord& in = inputs_.emplace_back();
    in.kind = KindOf(r.topic());
    in.topic = r.topic();
    in.partition = r.partition();
    in.offset = r.offset();
    in.key = r.key();
    in.value = r.value();
    if (auto sent = r.header(kSentNsHeader); sent.has_value()) {
      if (!absl::SimpleAtoi(*sent, &in.sent_ns)) in.sent_ns = 0;
    }
  }
  const int64_t now_ms = NowMs();
  TAILOR_RETURN_IF_ERROR(processor_->ProcessBatch(inputs_, now_ms));
  if (options_.live_time) {
    TAILOR_RETURN_IF_ERROR(processor_->AdvanceTime(now_ms));
  }
  return Commit();
}

bool Pipeline::exactly_once() const {
  return options_.config.processing_guarantee() ==
         tailor::v1::PROCESSING_GUARANTEE_EXACTLY_ONCE;
}

absl::Status Pipeline::ProduceOutputs(bool flush) {
  std::vector<kafka::Producer::Header> headers;
  for (const OutputRecord& out : processor_->outputs()) {
    headers.clear();
    for (const auto& [name, value] : out.headers) {
      headers.push_back({name, value});
    }
    TAILOR_RETURN_IF_ERROR(producer_->Produce(
        out.topic, out.partition < 0 ? RD_KAFKA_PARTITION_UA : out.partition,
        out.key, out.value, headers, /*timestamp_ms=*/0,
        /*track_offset=*/out.kind == OutputKind::kChangelog));
  }
  return flush ? producer_->Flush(kFlushTimeout) : absl::OkStatus();
}

void Pipeline::RecordChangelogPositions() {
  absl::flat_hash_set<int32_t> partitions;
  for (const OutputRecord& out : processor_->outputs()) {
    if (out.kind == OutputKind::kChangelog) partitions.insert(out.partition);
  }
  for (int32_t p : partitions) {
    const int64_t last =
        producer_->LastDeliveredOffset(options_.config.topics().changelog(), p);
    if (last >= 0) processor_->RecordChangelogPosition(p, last + 1);
  }
}

absl::Status Pipeline::Commit() {
  if (inputs_.empty() && processor_->idle()) return absl::OkStatus();
  processor_->PrepareCommit();
  TAILOR_RETURN_IF_ERROR(exactly_once() ? CommitExactlyOnce()
                                        : CommitAtLeastOnce());
  ready_.store(assigned_count_.load() > 0);
  return absl::OkStatus();
}

absl::Status Pipeline::WriteStateRetrying() {
  absl::Duration backoff = absl::Milliseconds(50);
  for (;;) {
    absl::Status status = processor_->WriteState();
    if (status.ok()) return status;
    ready_.store(false);
    ++commit_failures_;
    spdlog::error("state write failed, retrying in {}: {}",
                  absl::FormatDuration(backoff), status.ToString());
    if (stop_.load()) return status;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

// Produce and wait for delivery, then write the state, then commit the
// offsets: a crash in between repeats decisions (same ids), never loses them.
absl::Status Pipeline::CommitAtLeastOnce() {
  absl::Duration backoff = absl::Milliseconds(50);
  for (;;) {
    absl::Status status = ProduceOutputs(/*flush=*/true);
    if (status.ok()) break;
    ready_.store(false);
    ++commit_failures_;
    spdlog::error("produce failed, retrying in {}: {}",
                  absl::FormatDuration(backoff), status.ToString());
    if (stop_.load()) return status;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  RecordChangelogPositions();
  TAILOR_RETURN_IF_ERROR(WriteStateRetrying());
  std::vector<kafka::TopicPartition> offsets;
  for (const TopicOffset& o : processor_->committable_offsets()) {
    offsets.push_back({o.topic, o.partition, o.next_offset});
  }
  if (!offsets.empty()) {
    // The local store holds the truth about positions; the group offsets
    // follow it for lag monitoring and for instances without local state.
    absl::Status status = consumer_->Commit(offsets, /*async=*/true);
    if (!status.ok()) spdlog::warn("offset commit: {}", status.ToString());
  }
  return absl::OkStatus();
}

// Decisions, dead letters, changelog records and input offsets commit in one
// transaction; the local state is written after it, so it is never ahead of
// Kafka (when it is behind after a crash, the restore catches it up).
absl::Status Pipeline::CommitExactlyOnce() {
  std::vector<kafka::TopicPartition> offsets;
  for (const TopicOffset& o : processor_->prepared_offsets()) {
    offsets.push_back({o.topic, o.partition, o.next_offset});
  }
  // librdkafka's contract: a retriable error means "call it again", an
  // abortable one means "abort and redo the work", a fatal one means the
  // producer is unusable.
  const auto retrying = [&](const std::function<absl::Status()>& call) {
    absl::Status status;
    absl::Duration backoff = absl::Milliseconds(100);
    for (int attempt = 0; attempt < 5; ++attempt) {
      status = call();
      auto info = kafka::KafkaErrorOf(status);
      if (status.ok() || !info.has_value() || !info->retriable ||
          info->requires_abort || info->fatal || stop_.load()) {
        break;
      }
      absl::SleepFor(backoff);
      backoff *= 2;
    }
    return status;
  };
  absl::Status status = producer_->BeginTransaction();
  if (status.ok()) status = ProduceOutputs(/*flush=*/false);
  if (status.ok()) {
    status = retrying([&] {
      return producer_->SendOffsetsToTransaction(offsets, consumer_->raw(),
                                                 kFlushTimeout);
    });
  }
  if (status.ok()) {
    status =
        retrying([&] { return producer_->CommitTransaction(kFlushTimeout); });
  }
  if (status.ok()) {
    RecordChangelogPositions();
    return WriteStateRetrying();
  }
  ready_.store(false);
  ++commit_failures_;
  auto info = kafka::KafkaErrorOf(status);
  if (info.has_value() && info->fatal) return status;
  spdlog::warn("transaction failed, aborting and rewinding: {}",
               status.ToString());
  absl::Status aborted =
      retrying([&] { return producer_->AbortTransaction(kFlushTimeout); });
  if (!aborted.ok()) {
    // The transaction is in a state this producer cannot leave; stop, so
    // that a restarted instance fences it.
    return absl::InternalError(
        absl::StrCat("transaction cannot be aborted: ", aborted.ToString(),
                     " (after: ", status.ToString(), ")"));
  }
  ++aborted_transactions_;
  return Rewind();
}

absl::Status Pipeline::Rewind() {
  processor_->Reset();
  std::vector<kafka::TopicPartition> seeks;
  std::vector<kafka::TopicPartition> unknown;
  for (const auto& [topic, partition] : assigned_) {
    TAILOR_RETURN_IF_ERROR(processor_->OpenPartition(partition));
    TAILOR_ASSIGN_OR_RETURN(auto stored,
                            processor_->StoredOffset(topic, partition));
    if (stored.has_value()) {
      seeks.push_back({topic, partition, *stored});
    } else {
      unknown.push_back({topic, partition});
    }
  }
  if (!unknown.empty()) {
    TAILOR_ASSIGN_OR_RETURN(auto committed,
                            consumer_->Committed(unknown, absl::Seconds(10)));
    for (kafka::TopicPartition& tp : committed) {
      if (tp.offset < 0) tp.offset = RD_KAFKA_OFFSET_BEGINNING;
      seeks.push_back(tp);
    }
  }
  spdlog::info("rewound {} input partitions to the local state", seeks.size());
  return consumer_->Seek(seeks, absl::Seconds(10));
}

absl::Status Pipeline::Shutdown() {
  inputs_.clear();
  TAILOR_RETURN_IF_ERROR(Commit());
  ready_.store(false);
  return consumer_->Close();
}

}  // namespace tailor::pipeline
