#include "libs/pipeline/pipeline.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <thread>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "libs/base/log.h"
#include "libs/base/murmur2.h"
#include "libs/base/stable_hash.h"
#include "libs/base/status_macros.h"
#include "libs/kafka/admin.h"
#include "libs/kafka/config.h"
#include "libs/kafka/error.h"
#include "libs/pipeline/changelog.h"
#include "libs/pipeline/order_time.h"

namespace tailor::pipeline {
namespace {

constexpr absl::Duration kFlushTimeout = absl::Seconds(30);
// How long an end probe waits for the broker.
constexpr absl::Duration kProbeTimeout = absl::Seconds(5);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
constexpr absl::Duration kQueryTimeout = absl::Seconds(10);
// How long outputs delivered before a rewind are kept from being produced
// again: the input is read again within that time.
constexpr absl::Duration kResendSkipsFor = absl::Minutes(10);

uint64_t OutputFingerprint(absl::string_view topic, absl::string_view key,
                           absl::string_view value) {
  return StableHash64({topic, key, value});
}
// How often the broker is asked whether it answers (readiness).
constexpr absl::Duration kBrokerWatchEvery = absl::Seconds(1);
constexpr absl::Duration kBrokerWatchTimeout = absl::Seconds(2);
// Sealed commits waiting for their deliveries before the cycle waits too.
constexpr size_t kMaxCommitsInFlight = 4;

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

// librdkafka's compression.type for the config's compression.
std::string CompressionType(tailor::v1::Compression compression) {
  switch (compression) {
    case tailor::v1::COMPRESSION_NONE:
      return "none";
    case tailor::v1::COMPRESSION_GZIP:
      return "gzip";
    case tailor::v1::COMPRESSION_SNAPPY:
      return "snappy";
    case tailor::v1::COMPRESSION_ZSTD:
      return "zstd";
    default:
      return "lz4";
  }
}

// The content of a secret file (a trailing newline dropped); an error names
// `field` and the path, never the content.
absl::StatusOr<std::string> ReadSecretFile(absl::string_view field,
                                           const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string value((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": cannot read ", path));
  }
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) {
    value.pop_back();
  }
  return value;
}

// The privacy settings of the processor: the audit hash key, the instance
// named in audit records and the retention period.
absl::Status SetPrivacyOptions(const tailor::v1::ServiceConfig& cfg,
                               ProcessorOptions* options) {
  TAILOR_ASSIGN_OR_RETURN(options->audit_salt, AuditSalt(cfg));
  if (options->audit_salt.empty()) {
    spdlog::warn(
        "audit_salt_file is not set: the customer hashes on {} are unkeyed",
        cfg.topics().audit());
  }
  options->instance = cfg.group_instance_id();
  if (options->instance.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    options->instance = host;
  }
  options->profile_retention_ms = cfg.profile_retention_days() * 24 * 3600000;
  return absl::OkStatus();
}

}  // namespace

Pipeline::Pipeline(PipelineOptions options) : options_(std::move(options)) {}

Pipeline::~Pipeline() {
  if (consumer_ != nullptr) IgnoreError(consumer_->Close());
  // Finish the queued writes while their batches (in pending_) still live.
  state_writer_.reset();
}

namespace {

// The properties every client gets, then those of one client (which win).
kafka::Properties WithClientProperties(const kafka::Properties& common,
                                       kafka::Properties specific) {
  kafka::Properties out = common;
  out.insert(out.end(), std::make_move_iterator(specific.begin()),
             std::make_move_iterator(specific.end()));
  return out;
}

// The name of the directory a corrupt state is moved into.
constexpr absl::string_view kCorruptPrefix = "corrupt-";

// Moves every file of `dir` into `dir`/corrupt-<now>/ (inside the directory,
// so it works on a volume's mount point too), after removing an older such
// copy: the latest corrupt state stays for inspection, no more.
absl::Status MoveStateAside(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string aside = absl::StrCat(
      kCorruptPrefix,
      absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone()));
  std::vector<fs::path> entries;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    entries.push_back(e.path());
  }
  if (ec) {
    return absl::InternalError(
        absl::StrCat("listing ", dir, ": ", ec.message()));
  }
  for (const fs::path& path : entries) {
    if (absl::StartsWith(path.filename().string(), kCorruptPrefix)) {
      fs::remove_all(path, ec);
    }
  }
  const fs::path target = fs::path(dir) / aside;
  fs::create_directories(target, ec);
  for (const fs::path& path : entries) {
    if (absl::StartsWith(path.filename().string(), kCorruptPrefix)) continue;
    if (!ec) fs::rename(path, target / path.filename(), ec);
  }
  if (ec) {
    return absl::InternalError(
        absl::StrCat("moving the state of ", dir, " aside: ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<store::ProfileStore>> Pipeline::OpenStateHealing(
    const store::StoreOptions& options, tailor::v1::OnCorruptState policy,
    bool* rebuilt) {
  absl::StatusOr<std::unique_ptr<store::ProfileStore>> store =
      store::ProfileStore::Open(options);
  if (store.ok() || store.status().code() != absl::StatusCode::kDataLoss ||
      policy == tailor::v1::ON_CORRUPT_STATE_FAIL) {
    return store;
  }
  spdlog::error(
      "the state in {} is corrupt ({}): moving it aside into {}<time>/ and "
      "rebuilding it from the changelog (on_corrupt_state)",
      options.path, store.status().message(), kCorruptPrefix);
  TAILOR_RETURN_IF_ERROR(MoveStateAside(options.path));
  *rebuilt = true;
  return store::ProfileStore::Open(options);
}

absl::StatusOr<std::string> AuditSalt(const tailor::v1::ServiceConfig& config) {
  if (config.audit_salt_file().empty()) return std::string();
  return ReadSecretFile("audit_salt_file", config.audit_salt_file());
}

absl::StatusOr<kafka::Properties> KafkaClientProperties(
    const tailor::v1::ServiceConfig& config) {
  kafka::Properties out = {{"bootstrap.servers", config.bootstrap_servers()}};
  // Sorted, so every start sets them in the same order.
  std::map<std::string, std::string> plain(config.kafka_properties().begin(),
                                           config.kafka_properties().end());
  for (const auto& [key, value] : plain) out.emplace_back(key, value);
  std::map<std::string, std::string> files(
      config.kafka_property_files().begin(),
      config.kafka_property_files().end());
  for (const auto& [key, path] : files) {
    TAILOR_ASSIGN_OR_RETURN(
        std::string value,
        ReadSecretFile(absl::StrCat("kafka_property_files[\"", key, "\"]"),
                       path));
    out.emplace_back(key, std::move(value));
  }
  if (absl::StatusOr<kafka::ConfPtr> conf = kafka::MakeConf(out); !conf.ok()) {
    // The message names the property, never its value.
    return absl::InvalidArgumentError(
        absl::StrCat("kafka_properties: ", conf.status().message()));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Pipeline>> Pipeline::Create(
    PipelineOptions options, std::shared_ptr<const decide::Engine> engine) {
  std::unique_ptr<Pipeline> p(new Pipeline(std::move(options)));
  const tailor::v1::ServiceConfig& cfg = p->options_.config;
  TAILOR_ASSIGN_OR_RETURN(p->client_properties_, KafkaClientProperties(cfg));

  store::StoreOptions store_options;
  store_options.path = cfg.state_dir();
  store_options.block_cache_mb = cfg.block_cache_mb();
  store_options.write_buffer_mb = cfg.write_buffer_mb();
  store_options.purge_interval_s = cfg.purge_interval_seconds();
  TAILOR_ASSIGN_OR_RETURN(
      p->store_, OpenStateHealing(store_options, cfg.on_corrupt_state(),
                                  &p->state_rebuilt_));

  TAILOR_ASSIGN_OR_RETURN(const int partition_count, p->CheckTopics());
  p->partition_count_ = partition_count;
  const bool wall = cfg.time_source() != tailor::v1::TIME_SOURCE_EVENT;
  p->time_options_ =
      TaskTimeOptions{.wall_clock = wall,
                      .max_task_idle_ms = cfg.max_task_idle_ms(),
                      .wall_clock_grace_ms = cfg.wall_clock_grace_ms(),
                      .max_stream_time_lead_ms = cfg.max_stream_time_lead_ms()};

  ProcessorOptions processor_options =
      ProcessorOptionsFor(cfg, partition_count);
  processor_options.on_decision = p->options_.on_decision;
  processor_options.on_outcome = p->options_.on_outcome;
  TAILOR_RETURN_IF_ERROR(SetPrivacyOptions(cfg, &processor_options));
  processor_options.original_headers =
      [](const InputRecord& rec,
         std::vector<std::pair<std::string, std::string>>* out) {
        kafka::AppendHeaders(static_cast<const rd_kafka_message_t*>(rec.origin),
                             out);
      };
  p->workers_ = std::make_unique<Workers>(p->store_.get(), std::move(engine),
                                          std::move(processor_options),
                                          WorkerCount(cfg.worker_threads()));
  p->state_writer_ = std::make_unique<StateWriter>(p->store_.get(), &p->split_);

  kafka::Properties producer_props = WithClientProperties(
      p->client_properties_,
      {
          {"enable.idempotence", "true"},
          {"linger.ms", "1"},
          {"compression.type", CompressionType(cfg.compression())},
          // Decisions go to the partition Java's producer would pick for their
          // key (murmur2), like every tailor producer (see the README).
          {"partitioner", "murmur2_random"},
      });
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
  kafka::ProducerOptions producer_options;
  Pipeline* self = p.get();
  producer_options.on_delivery = [self](uint64_t seq,
                                        const rd_kafka_message_t& msg) {
    self->OnDelivery(seq, msg);
  };
  TAILOR_ASSIGN_OR_RETURN(
      p->producer_, kafka::Producer::Create(producer_props, producer_options));
  if (p->exactly_once()) {
    TAILOR_RETURN_IF_ERROR(p->producer_->InitTransactions(kFlushTimeout));
  }
  TAILOR_ASSIGN_OR_RETURN(
      p->restore_reader_,
      kafka::Consumer::Create(
          WithClientProperties(p->client_properties_,
                               {{"group.id", cfg.group_id() + ".restore"},
                                {"isolation.level", "read_committed"},
                                {"fetch.max.bytes", "52428800"},
                                // Without it every partition's restore
                                // waits out a 500 ms fetch long-poll.
                                {"fetch.wait.max.ms", "5"}}),
          nullptr));
  p->restorer_ = std::make_unique<ChangelogRestorer>(
      p->store_.get(), p->restore_reader_.get(), cfg.topics().changelog());
  p->broker_watch_ = std::make_unique<kafka::BrokerWatch>(
      p->restore_reader_->raw(), kBrokerWatchEvery, kBrokerWatchTimeout);

  kafka::Properties consumer_props = WithClientProperties(
      p->client_properties_,
      {
          {"group.id", cfg.group_id()},
          // The range assignor gives partition N of every input topic to the
          // same member, which co-partitioning needs; librdkafka's
          // cooperative-sticky assignor places topic partitions one by one.
          {"partition.assignment.strategy", "range"},
          {"auto.offset.reset", "earliest"},
          {"fetch.wait.max.ms", "5"},
          {"isolation.level", "read_committed"},
          // Tells a task when an empty input is caught up (TaskInputs).
          {"enable.partition.eof", "true"},
      });
  if (!cfg.group_instance_id().empty()) {
    consumer_props.emplace_back("group.instance.id", cfg.group_instance_id());
  }
  for (const auto& kv : p->options_.consumer_properties) {
    consumer_props.push_back(kv);
  }
  TAILOR_ASSIGN_OR_RETURN(p->consumer_,
                          kafka::Consumer::Create(consumer_props, p.get()));
  p->end_probe_ = std::make_unique<EndProbe>(
      [consumer = p->consumer_.get()](
          const std::vector<kafka::TopicPartition>& partitions) {
        return consumer->ListEnds(partitions, kProbeTimeout);
      });
  const auto& t = cfg.topics();
  TAILOR_RETURN_IF_ERROR(
      p->consumer_->Subscribe({t.clickstream(), t.orders(), t.privacy()}));
  return p;
}

absl::StatusOr<int> Pipeline::CheckTopics() {
  const tailor::v1::ServiceConfig& cfg = options_.config;
  TAILOR_ASSIGN_OR_RETURN(auto admin, kafka::Admin::Create(client_properties_));
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
  // Every output topic must exist: a missing one would stop the line at the
  // first record produced to it.
  const std::pair<const char*, const std::string*> outputs[] = {
      {"topics.coupons", &t.coupons()},
      {"topics.push", &t.push()},
      {"topics.cart_reminders", &t.cart_reminders()},
      {"topics.agent_escalations", &t.agent_escalations()},
      {"topics.decisions_log", &t.decisions_log()},
      {"topics.outcomes", &t.outcomes()},
      {"topics.dead_letter", &t.dead_letter()},
      {"topics.audit", &t.audit()}};
  for (const auto& [field, topic] : outputs) {
    const absl::StatusOr<int> count =
        admin->PartitionCount(*topic, absl::Seconds(10));
    if (absl::IsNotFound(count.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("output topic ", *topic, " (", field,
                       ") does not exist; create it before starting"));
    }
    TAILOR_RETURN_IF_ERROR(count.status());
  }
  return first;
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
  std::vector<int32_t> opening;
  for (const kafka::TopicPartition& tp : partitions) {
    assigned_.insert({tp.topic, tp.partition});
    if (!workers_->HasPartition(tp.partition) &&
        std::find(opening.begin(), opening.end(), tp.partition) ==
            opening.end()) {
      opening.push_back(tp.partition);
    }
  }
  // The local state is a cache of the changelog: bring it up to date, for
  // every new partition together, before the partitions are processed.
  absl::Status status = restorer_->Restore(opening).status();
  for (const int32_t partition : opening) {
    if (status.ok()) status = workers_->OpenPartition(partition);
  }
  if (!status.ok()) rebalance_error_ = status;
  // Where each input starts: the position its local state stores, checked
  // against the partition (on_stale_offsets may rebuild a partition's
  // state, which moves the positions of its other inputs too: then the
  // positions are read again).
  absl::flat_hash_set<int32_t> rebuilt;
  for (bool again = true; again && rebalance_error_.ok();) {
    again = false;
    for (kafka::TopicPartition& tp : partitions) {
      auto stored = workers_->StoredOffset(tp.topic, tp.partition);
      if (!stored.ok()) {
        rebalance_error_ = stored.status();
        break;
      }
      tp.offset = RD_KAFKA_OFFSET_INVALID;  // the committed offset
      if (!stored->has_value()) continue;
      const size_t before = rebuilt.size();
      absl::StatusOr<int64_t> start = CheckStoredOffset(tp, **stored, &rebuilt);
      if (!start.ok()) {
        rebalance_error_ = start.status();
        break;
      }
      tp.offset = *start;
      if (rebuilt.size() != before) {
        again = true;
        break;
      }
    }
  }
  for (const kafka::TopicPartition& tp : partitions) {
    if (rebalance_error_.ok()) {
      absl::MutexLock lock(&owned_mu_);
      owned_.insert(tp.partition);
    }
    spdlog::info("assigned {}[{}] from offset {}", tp.topic, tp.partition,
                 tp.offset != RD_KAFKA_OFFSET_INVALID
                     ? absl::StrCat(tp.offset)
                     : std::string("committed"));
  }
  assigned_count_.store(static_cast<int>(assigned_.size()));
  ready_.store(rebalance_error_.ok());
}

absl::StatusOr<int64_t> Pipeline::CheckStoredOffset(
    const kafka::TopicPartition& tp, int64_t stored,
    absl::flat_hash_set<int32_t>* rebuilt) {
  TAILOR_ASSIGN_OR_RETURN(
      auto marks,
      restore_reader_->QueryWatermarks(tp.topic, tp.partition, kQueryTimeout));
  const auto [low, high] = marks;
  std::string found;
  if (stored > high) {
    found = absl::StrCat("beyond the partition's end ", high);
  } else if (stored > low) {
    // The record before the position is still there: is it the one the
    // state was built from?
    TAILOR_ASSIGN_OR_RETURN(
        std::optional<uint64_t> expected,
        workers_->StoredFingerprint(tp.topic, tp.partition, stored));
    if (expected.has_value()) {
      TAILOR_ASSIGN_OR_RETURN(
          std::optional<uint64_t> actual,
          FingerprintAt(tp.topic, tp.partition, stored - 1));
      if (actual.has_value() && *actual != *expected) {
        found = absl::StrCat("and the record at offset ", stored - 1,
                             " is not the one the state was built from");
      }
    }
  }
  if (found.empty()) return stored;
  stale_offsets_.fetch_add(1);
  const tailor::v1::OnStaleOffsets policy = options_.config.on_stale_offsets();
  spdlog::warn(
      "the local state of {}[{}] stops at offset {}, {} (partition offsets "
      "{}..{}): the topic was deleted and created again, or truncated, "
      "since the state was written; on_stale_offsets={}",
      tp.topic, tp.partition, stored, found, low, high,
      absl::AsciiStrToLower(absl::StripPrefix(
          tailor::v1::OnStaleOffsets_Name(policy), "ON_STALE_OFFSETS_")));
  switch (policy) {
    case tailor::v1::ON_STALE_OFFSETS_FAIL:
      return absl::FailedPreconditionError(absl::StrCat(
          "on_stale_offsets: fail: the local state of ", tp.topic, "[",
          tp.partition, "] stops at offset ", stored, ", ", found,
          "; move the state directory aside or choose another "
          "on_stale_offsets policy"));
    case tailor::v1::ON_STALE_OFFSETS_LATEST:
      return high;
    case tailor::v1::ON_STALE_OFFSETS_RESTORE: {
      // Once per partition: a position still stale after the rebuild
      // starts at the earliest offset.
      if (!rebuilt->insert(tp.partition).second) return low;
      workers_->ClosePartition(tp.partition);
      TAILOR_RETURN_IF_ERROR(store_->DropPartition(tp.partition));
      store::ProfileStore::Batch forget = store_->NewBatch();
      forget.DeleteMeta(ChangelogPositionKey(tp.partition));
      TAILOR_RETURN_IF_ERROR(store_->Commit(&forget));
      TAILOR_RETURN_IF_ERROR(restorer_->Restore({tp.partition}).status());
      TAILOR_RETURN_IF_ERROR(workers_->OpenPartition(tp.partition));
      TAILOR_ASSIGN_OR_RETURN(std::optional<int64_t> restored,
                              workers_->StoredOffset(tp.topic, tp.partition));
      spdlog::info("partition {} rebuilt from the changelog", tp.partition);
      return restored.has_value() && *restored <= high ? *restored : low;
    }
    case tailor::v1::ON_STALE_OFFSETS_UNSPECIFIED:
    case tailor::v1::ON_STALE_OFFSETS_EARLIEST:
    default:
      return low;
  }
}

absl::StatusOr<std::optional<uint64_t>> Pipeline::FingerprintAt(
    const std::string& topic, int32_t partition, int64_t offset) {
  TAILOR_RETURN_IF_ERROR(restore_reader_->Assign(
      {kafka::TopicPartition{topic, partition, offset}}));
  std::optional<uint64_t> fingerprint;
  std::vector<kafka::Record> records;
  const absl::Time deadline = absl::Now() + kQueryTimeout;
  while (!fingerprint.has_value() && absl::Now() < deadline) {
    TAILOR_RETURN_IF_ERROR(
        restore_reader_->PollBatch(1, absl::Milliseconds(100), &records));
    if (records.empty()) continue;
    // A later offset: the record there is gone or was a transaction marker.
    if (records.front().offset() == offset) {
      fingerprint =
          RecordFingerprint(records.front().key(), records.front().value());
    }
    break;
  }
  records.clear();
  TAILOR_RETURN_IF_ERROR(restore_reader_->Assign({}));
  return fingerprint;
}

void Pipeline::OnPartitionsRevoked(
    const std::vector<kafka::TopicPartition>& partitions, bool lost) {
  // Commit what is in flight before letting go: the next owner starts where
  // the written state (and its changelog) ends.
  absl::Status drained =
      exactly_once()
          ? (transaction_open_ ? CommitExactlyOnce() : absl::OkStatus())
          : DrainCommits();
  if (!drained.ok()) {
    spdlog::error("work in flight at revocation not committed: {}",
                  drained.ToString());
  }
  // Forget the memory of a partition number once all its topics are gone.
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
    if (!still) {
      {
        absl::MutexLock lock(&owned_mu_);
        owned_.erase(tp.partition);
      }
      workers_->ClosePartition(tp.partition);
      task_inputs_.erase(tp.partition);
    }
    paused_.erase({tp.topic, tp.partition});
  }
  assigned_count_.store(static_cast<int>(assigned_.size()));
}

absl::StatusOr<Pipeline::OwnedProfile> Pipeline::ReadOwnedProfile(
    absl::string_view customer_id) const {
  OwnedProfile out;
  out.partition = KafkaPartitionForKey(customer_id, partition_count_);
  absl::ReaderMutexLock lock(&owned_mu_);
  if (!owned_.contains(out.partition)) {
    return absl::NotFoundError(
        absl::StrCat("partition ", out.partition,
                     " of the customer is not owned by this instance"));
  }
  std::string bytes;
  TAILOR_ASSIGN_OR_RETURN(
      const bool found, store_->GetProfile(out.partition, customer_id, &bytes));
  if (found) out.bytes = std::move(bytes);
  return out;
}

void Pipeline::RequestReload(std::shared_ptr<const decide::Engine> engine) {
  absl::MutexLock lock(&reload_mu_);
  pending_engine_ = std::move(engine);
}

absl::Status Pipeline::RunOnce() {
  {
    absl::MutexLock lock(&reload_mu_);
    if (pending_engine_ != nullptr) {
      workers_->SetEngine(std::move(pending_engine_));
      pending_engine_ = nullptr;
      spdlog::info("rules reloaded");
    }
  }
  const auto& cfg = options_.config;
  // Wait for input only when no task has anything it could release.
  size_t buffered = 0;
  for (const auto& [partition, inputs] : task_inputs_) {
    buffered += inputs->buffered();
  }
  int64_t now_ms;
  {
    ScopedPhase phase(&split_, CyclePhase::kPoll);
    TAILOR_RETURN_IF_ERROR(consumer_->PollBatch(
        cfg.max_batch_events(),
        buffered > 0 ? absl::ZeroDuration()
                     : absl::Milliseconds(cfg.max_batch_ms()),
        &records_, &ends_));
    if (!rebalance_error_.ok()) return std::exchange(rebalance_error_, {});
    now_ms = NowMs();
    // Take everything already fetched before deciding what is caught up: a
    // record of one input must not pass a record of another that sits in
    // the local queue behind it.
    size_t polled = records_.size();
    bool got = !records_.empty() || !ends_.empty();
    BufferPolled(now_ms);
    while (got && polled < static_cast<size_t>(cfg.max_buffered_records())) {
      TAILOR_RETURN_IF_ERROR(consumer_->PollBatch(
          cfg.max_batch_events(), absl::ZeroDuration(), &records_, &ends_));
      if (!rebalance_error_.ok()) return std::exchange(rebalance_error_, {});
      polled += records_.size();
      got = !records_.empty() || !ends_.empty();
      BufferPolled(now_ms);
    }
  }
  ApplyProbedEnds();
  TAILOR_RETURN_IF_ERROR(ProcessReleased(now_ms));
  StartProbeIfWanted();
  ApplyBackpressure();
  TAILOR_RETURN_IF_ERROR(exactly_once()
                             ? AdvanceTransaction(/*commit_now=*/false)
                             : AdvanceCommits(/*seal_now=*/false));
  released_.clear();  // the records' views are no longer needed
  if (buffered > 0 && inputs_.empty() && records_.empty()) {
    // Waiting for an input that is behind: do not spin.
    absl::SleepFor(absl::Milliseconds(1));
  }
  return absl::OkStatus();
}

TaskInputs& Pipeline::InputsOf(int32_t partition, int64_t wall_now_ms) {
  std::unique_ptr<TaskInputs>& inputs = task_inputs_[partition];
  if (inputs == nullptr) {
    inputs = std::make_unique<TaskInputs>(time_options_, wall_now_ms);
  }
  return *inputs;
}

void Pipeline::BufferPolled(int64_t wall_now_ms) {
  static const std::string kSentNsHeader(kHeaderSentNs);
  const profile::ValidationLimits& limits = workers_->options().limits;
  ++arrival_;
  for (kafka::Record& r : records_) {
    BufferedRecord b;
    b.arrival = arrival_;
    InputRecord& in = b.input;
    in.kind = KindOf(r.topic());
    in.topic = r.topic();
    in.partition = r.partition();
    in.offset = r.offset();
    in.key = r.key();
    in.value = r.value();
    in.origin = r.raw();
    if (auto sent = r.header(kSentNsHeader); sent.has_value()) {
      if (!absl::SimpleAtoi(*sent, &in.sent_ns)) in.sent_ns = 0;
    }
    b.order_time_ms = OrderTimeOf(in.value, limits, wall_now_ms);
    b.owner = std::move(r);
    InputsOf(in.partition, wall_now_ms).Push(std::move(b));
  }
  records_.clear();
  for (const kafka::TopicPartition& end : ends_) {
    const tailor::v1::EventTopic kind = KindOf(end.topic);
    if (kind == tailor::v1::EVENT_TOPIC_UNSPECIFIED) continue;
    InputsOf(end.partition, wall_now_ms).MarkEnd(kind, end.offset);
  }
}

void Pipeline::ApplyProbedEnds() {
  std::optional<EndProbe::Result> probed = end_probe_->Take();
  if (!probed.has_value()) return;
  for (const kafka::TopicPartition& end : probed->ends) {
    auto it = task_inputs_.find(end.partition);
    if (it == task_inputs_.end() || end.offset < 0) continue;
    it->second->MarkBrokerEnd(KindOf(end.topic), end.offset, probed->arrival);
  }
}

void Pipeline::StartProbeIfWanted() {
  const auto& t = options_.config.topics();
  std::vector<kafka::TopicPartition> wanted;
  for (const auto& [partition, inputs] : task_inputs_) {
    const uint32_t kinds = inputs->probe_wanted();
    if (kinds == 0) continue;
    for (const std::string* topic :
         {&t.clickstream(), &t.orders(), &t.privacy()}) {
      if (kinds & (1u << KindOf(*topic))) wanted.push_back({*topic, partition});
    }
  }
  if (!wanted.empty()) end_probe_->Start(std::move(wanted), arrival_);
}

int64_t Pipeline::StreamTimeCap(int64_t wall_now_ms) const {
  if (!time_options_.wall_clock) return std::numeric_limits<int64_t>::max();
  return wall_now_ms + time_options_.max_stream_time_lead_ms;
}

absl::Status Pipeline::ProcessReleased(int64_t wall_now_ms) {
  ScopedPhase phase(&split_, CyclePhase::kProcess);
  const size_t max = static_cast<size_t>(options_.config.max_batch_events());
  released_.clear();
  // Tasks in partition order, so a batch is the same whatever the map does.
  std::vector<int32_t> partitions;
  for (const auto& [partition, inputs] : task_inputs_) {
    partitions.push_back(partition);
  }
  std::sort(partitions.begin(), partitions.end());
  const int64_t cap = StreamTimeCap(wall_now_ms);
  // Each task's watermark (capped), moved to once the batch is processed.
  std::vector<std::pair<int32_t, int64_t>> watermarks;
  for (int32_t partition : partitions) {
    if (released_.size() >= max) break;
    const int64_t watermark = task_inputs_[partition]->Release(
        wall_now_ms, max - released_.size(), &released_);
    if (watermark != kUntimed) {
      watermarks.emplace_back(partition, std::min(watermark, cap));
    }
  }
  inputs_.clear();
  for (const BufferedRecord& b : released_) inputs_.push_back(b.input);
  if (!inputs_.empty()) {
    const absl::Time start = absl::Now();
    TAILOR_RETURN_IF_ERROR(workers_->ProcessBatch(inputs_, wall_now_ms, cap));
    if (options_.observer.batch_processed) {
      options_.observer.batch_processed(inputs_.size(), absl::Now() - start);
    }
  }
  return workers_->AdvanceStreamTimes(watermarks);
}

void Pipeline::ApplyBackpressure() {
  const size_t limit =
      static_cast<size_t>(options_.config.max_buffered_records());
  const auto& t = options_.config.topics();
  std::vector<kafka::TopicPartition> pause;
  std::vector<kafka::TopicPartition> resume;
  for (const auto& [partition, inputs] : task_inputs_) {
    for (const std::string* topic :
         {&t.clickstream(), &t.orders(), &t.privacy()}) {
      const size_t n = inputs->buffered(KindOf(*topic));
      const auto key = std::make_pair(*topic, partition);
      if (n > limit && !paused_.contains(key)) {
        paused_.insert(key);
        pause.push_back({*topic, partition});
      } else if (n <= limit / 2 && paused_.contains(key)) {
        paused_.erase(key);
        resume.push_back({*topic, partition});
      }
    }
  }
  if (absl::Status s = consumer_->Pause(pause); !s.ok()) {
    spdlog::warn("{}", s.ToString());
  }
  if (absl::Status s = consumer_->Resume(resume); !s.ok()) {
    spdlog::warn("{}", s.ToString());
  }
}

bool Pipeline::exactly_once() const {
  return options_.config.processing_guarantee() ==
         tailor::v1::PROCESSING_GUARANTEE_EXACTLY_ONCE;
}

absl::Status Pipeline::ProduceOutputs(uint64_t seq) {
  ScopedPhase phase(&split_, CyclePhase::kProduce);
  std::vector<kafka::Producer::Header> headers;
  if (!resend_skips_.empty() &&
      absl::Now() - resend_skips_since_ > kResendSkipsFor) {
    resend_skips_.clear();
  }
  for (const OutputRecord& out : workers_->outputs()) {
    if (!resend_skips_.empty() && out.kind != OutputKind::kChangelog) {
      auto it =
          resend_skips_.find(OutputFingerprint(out.topic, out.key, out.value));
      if (it != resend_skips_.end()) {
        // Delivered before the rewind: subscribers have it already.
        if (--it->second == 0) resend_skips_.erase(it);
        ++outputs_not_resent_;
        continue;
      }
    }
    headers.clear();
    for (const auto& [name, value] : out.headers) {
      headers.push_back({name, value});
    }
    const bool tombstone =
        out.kind == OutputKind::kChangelog && out.value.empty();
    absl::Status produced = producer_->Produce(
        out.topic, out.partition < 0 ? RD_KAFKA_PARTITION_UA : out.partition,
        out.key, tombstone ? absl::string_view() : absl::string_view(out.value),
        headers, /*timestamp_ms=*/0,
        /*track_offset=*/out.kind == OutputKind::kChangelog, seq);
    if (!produced.ok()) {
      const std::optional<kafka::KafkaErrorInfo> info =
          kafka::KafkaErrorOf(produced);
      if (exactly_once() || !info.has_value() ||
          !kafka::IsRecordRejected(info->code)) {
        return produced;
      }
      // Retrying cannot help and must not stop the partition.
      ++undeliverable_outputs_;
      spdlog::error(
          "a record of {} bytes for {} can never be produced, "
          "skipped: {}",
          out.key.size() + out.value.size(), out.topic, produced.ToString());
      continue;
    }
    if (seq != 0) commit_log_.Produced(seq);
    if (out.kind == OutputKind::kDeadLetter && options_.observer.dead_letter) {
      options_.observer.dead_letter(out);
    }
  }
  return absl::OkStatus();
}

void Pipeline::OnDelivery(uint64_t seq, const rd_kafka_message_t& msg) {
  bool ok = msg.err == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (!ok && !exactly_once() && kafka::IsRecordRejected(msg.err)) {
    // The broker refuses this record for good: redoing the commit would
    // only fail again, forever.
    ++undeliverable_outputs_;
    spdlog::error(
        "the broker refused a record of {} bytes for {}[{}] for "
        "good, skipped: {}",
        msg.len, msg.rkt != nullptr ? rd_kafka_topic_name(msg.rkt) : "?",
        msg.partition, rd_kafka_err2str(msg.err));
    ok = true;
  } else if (!ok) {
    spdlog::error("delivery of commit {} to {}[{}] failed: {}", seq,
                  msg.rkt != nullptr ? rd_kafka_topic_name(msg.rkt) : "?",
                  msg.partition, rd_kafka_err2str(msg.err));
  } else if (msg.rkt != nullptr && options_.config.topics().changelog() !=
                                       rd_kafka_topic_name(msg.rkt)) {
    if (!exactly_once() && seq != 0) {
      delivered_[seq].push_back(OutputFingerprint(
          rd_kafka_topic_name(msg.rkt),
          absl::string_view(static_cast<const char*>(msg.key), msg.key_len),
          absl::string_view(static_cast<const char*>(msg.payload), msg.len)));
    }
  } else if (msg.rkt != nullptr && !pending_.empty() &&
             seq >= pending_.front().seq &&
             seq - pending_.front().seq < pending_.size() &&
             options_.config.topics().changelog() ==
                 rd_kafka_topic_name(msg.rkt)) {
    int64_t& next =
        pending_[seq - pending_.front().seq].changelog_next[msg.partition];
    next = std::max(next, msg.offset + 1);
  }
  commit_log_.Delivered(seq, ok);
}

absl::Status Pipeline::AdvanceCommits(bool seal_now) {
  producer_->Poll();
  const bool work =
      !inputs_.empty() || !workers_->outputs().empty() || !workers_->idle();
  if (work && !commit_log_.has_open()) {
    pending_.emplace_back().seq = commit_log_.Open();
    open_since_ = absl::Now();
  }
  if (commit_log_.has_open()) {
    ProduceIntoOpenCommit();
    if (seal_now ||
        absl::Now() - open_since_ >=
            absl::Milliseconds(options_.config.commit_interval_ms())) {
      SealOpenCommit();
    }
  }
  TAILOR_RETURN_IF_ERROR(WriteDurableCommits());
  // Back-pressure: a bounded number of commits in flight.
  ScopedPhase waiting(pending_.size() > kMaxCommitsInFlight ? &split_ : nullptr,
                      CyclePhase::kWait);
  while (pending_.size() > kMaxCommitsInFlight && !stop_.load()) {
    producer_->Poll(absl::Milliseconds(10));
    TAILOR_RETURN_IF_ERROR(WriteDurableCommits());
    if (pending_.size() > kMaxCommitsInFlight && commit_log_.in_flight() == 0) {
      state_writer_->WaitFor(pending_.front().seq);
      ReapWrittenCommits();
    }
  }
  ScopedPhase committing(&split_, CyclePhase::kCommit);
  CommitGroupOffsetsIfDue();
  return absl::OkStatus();
}

void Pipeline::ProduceIntoOpenCommit() {
  const CommitLog::Seq seq = commit_log_.open_seq();
  if (absl::Status s = ProduceOutputs(seq); !s.ok()) {
    spdlog::error("produce failed: {}", s.ToString());
    commit_log_.Produced(seq);
    commit_log_.Delivered(seq, false);  // stops the line
  }
  workers_->ClearOutputs();
}

void Pipeline::SealOpenCommit() {
  const CommitLog::Seq seq = commit_log_.open_seq();
  {
    ScopedPhase phase(&split_, CyclePhase::kSeal);
    workers_->PrepareCommit();
  }
  ProduceIntoOpenCommit();
  pending_.back().prepared = workers_->TakePrepared();
  pending_.back().sealed_at = absl::Now();
  commit_log_.Seal(seq);
}

absl::Status Pipeline::WriteDurableCommits() {
  for (bool submitting = true; submitting;) {
    switch (commit_log_.head()) {
      case CommitLog::Head::kNone:
      case CommitLog::Head::kWaiting:
        submitting = false;
        break;
      case CommitLog::Head::kFailed: {
        ready_.store(false);
        ++commit_failures_;
        spdlog::warn(
            "commit {} was not delivered: dropping {} commits in flight and "
            "rewinding to the written state",
            commit_log_.head_seq(), commit_log_.in_flight());
        // What was handed to the writer is delivered: let it finish.
        state_writer_->WaitFor(last_submitted_);
        ReapWrittenCommits();
        // What the commits after it delivered will be made again: it is
        // not sent twice. Every delivery report of theirs is in first.
        if (!exactly_once()) {
          if (absl::Status flushed = producer_->Flush(kFlushTimeout);
              !flushed.ok()) {
            spdlog::warn("{}", flushed.ToString());
          }
        }
        for (const auto& [delivered_seq, fingerprints] : delivered_) {
          for (uint64_t f : fingerprints) ++resend_skips_[f];
        }
        delivered_.clear();
        resend_skips_since_ = absl::Now();
        commit_log_.Reset();
        pending_.clear();
        absl::SleepFor(absl::Milliseconds(100));
        return Rewind();
      }
      case CommitLog::Head::kDurable: {
        // pending_ holds the submitted commits first, then the log's.
        PendingCommit& c =
            pending_[commit_log_.head_seq() - pending_.front().seq];
        Workers::PreparedCommit& prepared = *c.prepared;
        for (const auto& [partition, next] : c.changelog_next) {
          prepared.batch.PutMeta(ChangelogPositionKey(partition),
                                 absl::StrCat(next));
        }
        state_writer_->Submit(c.seq, &prepared.batch);
        last_submitted_ = c.seq;
        commit_log_.PopHead();
        break;
      }
    }
  }
  ReapWrittenCommits();
  return absl::OkStatus();
}

absl::Duration Pipeline::stalled_for() const {
  return absl::Nanoseconds(absl::GetCurrentTimeNanos() - progress_ns_.load());
}

void Pipeline::ReapWrittenCommits() {
  const uint64_t written = state_writer_->written();
  if (pending_.empty() && !commit_log_.has_open()) {
    progress_ns_.store(absl::GetCurrentTimeNanos());  // nothing in flight
  }
  while (!pending_.empty() && pending_.front().seq <= written &&
         pending_.front().prepared.has_value()) {
    progress_ns_.store(absl::GetCurrentTimeNanos());
    workers_->MarkDurable(*pending_.front().prepared);
    delivered_.erase(delivered_.begin(),
                     delivered_.upper_bound(pending_.front().seq));
    if (options_.observer.commit_durable) {
      options_.observer.commit_durable(absl::Now() -
                                       pending_.front().sealed_at);
    }
    pending_.pop_front();
  }
  if (state_writer_->failing()) {
    ready_.store(false);
  } else if (commit_log_.head() != CommitLog::Head::kFailed) {
    ready_.store(assigned_count_.load() > 0);
  }
}

absl::Status Pipeline::DrainCommits() {
  if (commit_log_.has_open()) {
    ProduceIntoOpenCommit();
    SealOpenCommit();
  }
  if (pending_.empty()) return absl::OkStatus();
  // Delivery failures are counted by the commit log; Flush() only waits.
  if (commit_log_.in_flight() > 0) IgnoreError(producer_->Flush(kFlushTimeout));
  TAILOR_RETURN_IF_ERROR(WriteDurableCommits());
  state_writer_->WaitFor(last_submitted_);
  ReapWrittenCommits();
  return absl::OkStatus();
}

void Pipeline::RecordChangelogPositions() {
  absl::flat_hash_set<int32_t> partitions;
  for (const OutputRecord& out : workers_->outputs()) {
    if (out.kind == OutputKind::kChangelog) partitions.insert(out.partition);
  }
  for (int32_t p : partitions) {
    const int64_t last =
        producer_->LastDeliveredOffset(options_.config.topics().changelog(), p);
    if (last >= 0) workers_->RecordChangelogPosition(p, last + 1);
  }
}

void Pipeline::CommitGroupOffsetsIfDue() {
  const absl::Time now = absl::Now();
  if (now - last_group_commit_ <
      absl::Milliseconds(options_.config.commit_interval_ms())) {
    return;
  }
  std::vector<TopicOffset> positions = workers_->WrittenPositions();
  std::sort(positions.begin(), positions.end(),
            [](const TopicOffset& a, const TopicOffset& b) {
              return std::tie(a.topic, a.partition) <
                     std::tie(b.topic, b.partition);
            });
  const auto same = [](const TopicOffset& a, const TopicOffset& b) {
    return a.topic == b.topic && a.partition == b.partition &&
           a.next_offset == b.next_offset;
  };
  if (positions.empty() ||
      std::equal(positions.begin(), positions.end(), group_offsets_.begin(),
                 group_offsets_.end(), same)) {
    return;
  }
  std::vector<kafka::TopicPartition> offsets;
  for (const TopicOffset& o : positions) {
    offsets.push_back({o.topic, o.partition, o.next_offset});
  }
  // The local store holds the truth about positions; the group offsets
  // follow it for lag monitoring and for instances without local state.
  if (absl::Status s = consumer_->Commit(offsets, /*async=*/true); !s.ok()) {
    spdlog::warn("offset commit: {}", s.ToString());
    return;
  }
  group_offsets_ = std::move(positions);
  last_group_commit_ = now;
}

absl::Status Pipeline::WriteStateRetrying() {
  ScopedPhase phase(&split_, CyclePhase::kRocksDb);
  absl::Duration backoff = absl::Milliseconds(50);
  for (;;) {
    absl::Status status = workers_->WriteState();
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

// Decisions, dead letters, changelog records and input offsets commit in one
// transaction; the local state is written after it, so it is never ahead of
// Kafka (when it is behind after a crash, the restore catches it up).
namespace {

// librdkafka's contract for transactional calls: a retriable error means
// "call it again", an abortable one means "abort and redo the work", a
// fatal one means the producer is unusable.
absl::Status RetryTransactional(const std::function<absl::Status()>& call,
                                const std::atomic<bool>& stop) {
  absl::Status status;
  absl::Duration backoff = absl::Milliseconds(100);
  for (int attempt = 0; attempt < 5; ++attempt) {
    status = call();
    auto info = kafka::KafkaErrorOf(status);
    if (status.ok() || !info.has_value() || !info->retriable ||
        info->requires_abort || info->fatal || stop.load()) {
      break;
    }
    absl::SleepFor(backoff);
    backoff *= 2;
  }
  return status;
}

}  // namespace

absl::Status Pipeline::AdvanceTransaction(bool commit_now) {
  const bool work = !inputs_.empty() || !workers_->idle();
  if (work && !transaction_open_) {
    absl::Status status = producer_->BeginTransaction();
    if (!status.ok()) return AbortAndRewind(status);
    transaction_open_ = true;
    open_since_ = absl::Now();
  }
  if (!transaction_open_) {
    progress_ns_.store(absl::GetCurrentTimeNanos());  // nothing in flight
    return absl::OkStatus();
  }
  // Decisions go out at once, inside the open transaction.
  if (absl::Status s = ProduceOutputs(/*seq=*/0); !s.ok()) {
    return AbortAndRewind(s);
  }
  workers_->ClearOutputs();
  if (!commit_now &&
      absl::Now() - open_since_ <
          absl::Milliseconds(options_.config.commit_interval_ms())) {
    return absl::OkStatus();
  }
  return CommitExactlyOnce();
}

// Changelog records and input offsets join the open transaction, which
// commits; the local state is written after it, so it is never ahead of
// Kafka (when it is behind after a crash, the restore catches it up).
absl::Status Pipeline::CommitExactlyOnce() {
  const absl::Time start = absl::Now();
  {
    ScopedPhase phase(&split_, CyclePhase::kSeal);
    workers_->PrepareCommit();
  }
  std::vector<kafka::TopicPartition> offsets;
  for (const TopicOffset& o : workers_->prepared_offsets()) {
    offsets.push_back({o.topic, o.partition, o.next_offset});
  }
  absl::Status status = ProduceOutputs(/*seq=*/0);
  ScopedPhase committing(&split_, CyclePhase::kCommit);
  if (status.ok()) {
    status = RetryTransactional(
        [&] {
          return producer_->SendOffsetsToTransaction(offsets, consumer_->raw(),
                                                     kFlushTimeout);
        },
        stop_);
  }
  if (status.ok()) {
    status = RetryTransactional(
        [&] { return producer_->CommitTransaction(kFlushTimeout); }, stop_);
  }
  if (!status.ok()) return AbortAndRewind(status);
  transaction_open_ = false;
  RecordChangelogPositions();
  TAILOR_RETURN_IF_ERROR(WriteStateRetrying());
  progress_ns_.store(absl::GetCurrentTimeNanos());
  if (options_.observer.commit_durable) {
    options_.observer.commit_durable(absl::Now() - start);
  }
  ready_.store(assigned_count_.load() > 0);
  return absl::OkStatus();
}

absl::Status Pipeline::AbortAndRewind(const absl::Status& cause) {
  transaction_open_ = false;
  ready_.store(false);
  ++commit_failures_;
  auto info = kafka::KafkaErrorOf(cause);
  if (info.has_value() && info->fatal) return cause;
  spdlog::warn("transaction failed, aborting and rewinding: {}",
               cause.ToString());
  absl::Status aborted = RetryTransactional(
      [&] { return producer_->AbortTransaction(kFlushTimeout); }, stop_);
  if (!aborted.ok()) {
    // The transaction is in a state this producer cannot leave; stop, so
    // that a restarted instance fences it.
    return absl::InternalError(
        absl::StrCat("transaction cannot be aborted: ", aborted.ToString(),
                     " (after: ", cause.ToString(), ")"));
  }
  ++aborted_transactions_;
  return Rewind();
}

absl::Status Pipeline::Rewind() {
  workers_->Reset();
  released_.clear();
  paused_.clear();
  const int64_t now_ms = NowMs();
  for (auto& [partition, inputs] : task_inputs_) inputs->Clear(now_ms);
  std::vector<kafka::TopicPartition> seeks;
  std::vector<kafka::TopicPartition> unknown;
  for (const auto& [topic, partition] : assigned_) {
    TAILOR_RETURN_IF_ERROR(workers_->OpenPartition(partition));
    TAILOR_ASSIGN_OR_RETURN(auto stored,
                            workers_->StoredOffset(topic, partition));
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
  last_group_commit_ = absl::InfinitePast();  // tell the group where we are
  if (exactly_once()) {
    TAILOR_RETURN_IF_ERROR(AdvanceTransaction(/*commit_now=*/true));
  } else {
    TAILOR_RETURN_IF_ERROR(AdvanceCommits(/*seal_now=*/true));
    TAILOR_RETURN_IF_ERROR(DrainCommits());
    CommitGroupOffsetsIfDue();
  }
  ready_.store(false);
  return consumer_->Close();
}

}  // namespace tailor::pipeline
