// tailor-ops dlq: the dead-letter topic, grouped (list), one record decoded
// (show), and the originals re-driven to their source topics (redrive).
//
// A re-drive is one Kafka transaction per batch: the originals and, on the
// compacted topic --redriven_topic (default tailor.dlq.redriven), one marker
// per dead letter keyed "<dlq topic>/<partition>/<offset>". Both commit
// together or not at all, and a later re-drive skips every dead letter that
// has a marker, so running it twice re-drives nothing twice. The
// transactional id is fixed per dead-letter topic: a second re-drive started
// at the same time fences the first.
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/base/log.h"
#include "libs/base/murmur2.h"
#include "libs/base/status_macros.h"
#include "libs/kafka/admin.h"
#include "libs/kafka/producer.h"
#include "libs/pipeline/json_view.h"
#include "tools/ops/common.h"
#include "tools/ops/dead_letters.h"
#include "tools/ops/shared_flags.h"
#include "tools/ops/subcommand.h"
#include "tools/ops/topic_range.h"

ABSL_FLAG(std::vector<std::string>, error_class, {},
          "Only dead letters of these error classes (undecodable, "
          "key_mismatch, event_time, misrouted, missing_field, "
          "invalid_value); empty: all.");
ABSL_FLAG(std::vector<std::string>, source_topic, {},
          "Only dead letters whose original came from these topics; empty: "
          "all.");
ABSL_FLAG(absl::Duration, bucket, absl::Hours(1),
          "list: the width of a time bucket (by the dead letter's "
          "timestamp), e.g. 1h, 10m, 24h.");
ABSL_FLAG(std::string, redriven_topic, "tailor.dlq.redriven",
          "redrive: the compacted topic that records what was re-driven "
          "(key <dlq topic>/<partition>/<offset>).");
ABSL_FLAG(bool, to_source_partition, false,
          "redrive: put each original back on the partition it was read "
          "from, instead of the partition its key hashes to (murmur2, as "
          "tailor expects; a misrouted original then lands where it "
          "belongs).");

namespace tailor::ops {

using pipeline::JsonArray;
using pipeline::JsonObject;

namespace {

constexpr absl::Duration kTimeout = absl::Seconds(30);
constexpr absl::Duration kCreateTimeout = absl::Seconds(5);
constexpr int kTransactionRecords = 500;

struct Filter {
  absl::flat_hash_set<std::string> classes;
  absl::flat_hash_set<std::string> sources;
  bool Matches(const DeadLetter& d) const {
    return (classes.empty() || classes.contains(d.error_class)) &&
           (sources.empty() || sources.contains(d.source_topic));
  }
};

absl::StatusOr<Filter> ReadFilter() {
  static const auto* const kClasses = new absl::flat_hash_set<std::string>{
      "undecodable", "key_mismatch",  "event_time",
      "misrouted",   "missing_field", "invalid_value"};
  Filter f;
  for (const std::string& c : absl::GetFlag(FLAGS_error_class)) {
    if (!kClasses->contains(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--error_class: unknown class \"", c,
                       "\"; expected one of ", absl::StrJoin(*kClasses, ", ")));
    }
    f.classes.insert(c);
  }
  for (const std::string& t : absl::GetFlag(FLAGS_source_topic)) {
    f.sources.insert(t);
  }
  return f;
}

absl::StatusOr<TopicRange> ReadRange(const OpsConfig& config) {
  const absl::Time now = absl::Now();
  TopicRange range;
  range.topics = {config.service.topics().dead_letter()};
  TAILOR_ASSIGN_OR_RETURN(range.partitions,
                          ParsePartitions(absl::GetFlag(FLAGS_partitions)));
  absl::StatusOr<Position> from = ParsePosition(absl::GetFlag(FLAGS_from), now);
  if (!from.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--from: ", from.status().message()));
  }
  range.from = *from;
  if (const std::string to = absl::GetFlag(FLAGS_to); !to.empty()) {
    absl::StatusOr<Position> p = ParsePosition(to, now);
    if (!p.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--to: ", p.status().message()));
    }
    range.to = *p;
  }
  return range;
}

std::string FormatMs(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(ms),
                          absl::UTCTimeZone());
}

// Reads the dead letters of the range that match the filter; `fn` sees each.
absl::Status ScanDeadLetters(
    const OpsConfig& config, const TopicRange& range, const Filter& filter,
    absl::string_view what,
    absl::FunctionRef<absl::Status(const DeadLetter&)> fn) {
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Consumer> reader,
                          MakeReader(config.kafka));
  TAILOR_ASSIGN_OR_RETURN(std::vector<PartitionSpan> spans,
                          ResolveRange(*reader, range));
  Progress progress(std::string(what), 0);
  return ReadSpans(
      *reader, spans,
      [&](const kafka::Record& r) -> absl::Status {
        const DeadLetter d = ReadDeadLetter(r);
        if (!filter.Matches(d)) return absl::OkStatus();
        return fn(d);
      },
      &progress);
}

int List(const OpsConfig& config, const TopicRange& range,
         const Filter& filter) {
  const int64_t bucket_ms =
      absl::ToInt64Milliseconds(absl::GetFlag(FLAGS_bucket));
  if (bucket_ms <= 0) return Fail(kExitUsage, "--bucket must be positive");
  struct Group {
    int64_t count = 0;
    int64_t truncated = 0;
    int64_t first_offset = -1;  // of the first one seen, for `dlq show`
    int32_t first_partition = 0;
  };
  // By class, source topic and bucket start.
  std::map<std::tuple<std::string, std::string, int64_t>, Group> groups;
  absl::Status s = ScanDeadLetters(
      config, range, filter, "dlq list", [&](const DeadLetter& d) {
        const int64_t ts = std::max<int64_t>(d.timestamp_ms, 0);
        Group& g =
            groups[{d.error_class, d.source_topic, ts / bucket_ms * bucket_ms}];
        if (g.count++ == 0) {
          g.first_partition = d.partition;
          g.first_offset = d.offset;
        }
        g.truncated += d.truncated ? 1 : 0;
        return absl::OkStatus();
      });
  if (!s.ok()) return Fail(kExitRuntime, s);
  if (absl::GetFlag(FLAGS_json)) {
    std::vector<std::string> rows;
    for (const auto& [k, g] : groups) {
      rows.push_back(JsonObject()
                         .String("error_class", std::get<0>(k))
                         .String("source_topic", std::get<1>(k))
                         .String("bucket_start", FormatMs(std::get<2>(k)))
                         .Int("count", g.count)
                         .Int("truncated", g.truncated)
                         .String("first", absl::StrCat(g.first_partition, ":",
                                                       g.first_offset))
                         .Done());
    }
    std::printf("%s\n", JsonArray(rows).c_str());
    return kExitOk;
  }
  std::printf("%-14s %-16s %-21s %9s %9s  %s\n", "ERROR CLASS", "SOURCE TOPIC",
              "FROM (UTC)", "COUNT", "TRUNCATED", "FIRST (dlq show P:O)");
  int64_t total = 0;
  for (const auto& [k, g] : groups) {
    total += g.count;
    std::printf(
        "%-14s %-16s %-21s %9lld %9lld  %d:%lld\n", std::get<0>(k).c_str(),
        std::get<1>(k).empty() ? "-" : std::get<1>(k).c_str(),
        FormatMs(std::get<2>(k)).c_str(), static_cast<long long>(g.count),
        static_cast<long long>(g.truncated), g.first_partition,
        static_cast<long long>(g.first_offset));
  }
  std::printf("%lld dead letters on %s\n", static_cast<long long>(total),
              config.service.topics().dead_letter().c_str());
  return kExitOk;
}

int Show(const OpsConfig& config, const std::string& where) {
  const std::vector<std::string> parts = absl::StrSplit(where, ':');
  int32_t partition = 0;
  int64_t offset = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &partition) ||
      !absl::SimpleAtoi(parts[1], &offset) || partition < 0 || offset < 0) {
    return Fail(kExitUsage,
                absl::StrCat("dlq show: expected PARTITION:OFFSET of the "
                             "dead-letter topic (as `dlq list` prints), got \"",
                             where, "\""));
  }
  const std::string& topic = config.service.topics().dead_letter();
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> reader =
      MakeReader(config.kafka);
  if (!reader.ok()) return Fail(kExitRuntime, reader.status());
  absl::StatusOr<std::pair<int64_t, int64_t>> marks =
      (*reader)->QueryWatermarks(topic, partition, kTimeout);
  if (!marks.ok()) return Fail(kExitRuntime, marks.status());
  if (offset < marks->first || offset >= marks->second) {
    return Fail(
        kExitRuntime,
        absl::StrCat(topic, "[", partition, "] has offsets ", marks->first,
                     "..", marks->second - 1, ", not ", offset));
  }
  std::string json;
  absl::Status s = ReadSpans(
      **reader, {PartitionSpan{topic, partition, offset, offset + 1}},
      [&](const kafka::Record& r) {
        if (r.offset() == offset)
          json = DeadLetterJson(ReadDeadLetter(r), true);
        return absl::OkStatus();
      },
      nullptr);
  if (!s.ok()) return Fail(kExitRuntime, s);
  if (json.empty()) {
    return Fail(kExitRuntime, absl::StrCat(topic, "[", partition, "]@", offset,
                                           " is not a record (a transaction "
                                           "marker, or compacted away)"));
  }
  std::printf("%s\n", json.c_str());
  return kExitOk;
}

std::string MarkerKey(const DeadLetter& d) {
  return absl::StrCat(d.topic, "/", d.partition, "/", d.offset);
}

// The markers on the redriven topic (empty if it does not exist yet).
absl::StatusOr<absl::flat_hash_set<std::string>> ReadMarkers(
    const OpsConfig& config, const std::string& topic) {
  absl::flat_hash_set<std::string> out;
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Consumer> reader,
                          MakeReader(config.kafka));
  absl::StatusOr<int32_t> count = PartitionCount(*reader, topic);
  if (absl::IsNotFound(count.status())) return out;
  TAILOR_RETURN_IF_ERROR(count.status());
  TopicRange range;
  range.topics = {topic};
  TAILOR_ASSIGN_OR_RETURN(std::vector<PartitionSpan> spans,
                          ResolveRange(*reader, range));
  TAILOR_RETURN_IF_ERROR(ReadSpans(
      *reader, spans,
      [&](const kafka::Record& r) {
        // A null value would withdraw a marker (compaction tombstone).
        if (r.value().empty()) {
          out.erase(r.key());
        } else {
          out.insert(std::string(r.key()));
        }
        return absl::OkStatus();
      },
      nullptr));
  return out;
}

// Produces originals and their markers in transactions of
// kTransactionRecords.
class Redriver {
 public:
  static absl::StatusOr<std::unique_ptr<Redriver>> Create(
      const OpsConfig& config, std::string marker_topic) {
    std::unique_ptr<Redriver> r(new Redriver());
    r->marker_topic_ = std::move(marker_topic);
    kafka::Properties props = config.kafka;
    props.emplace_back("transactional.id",
                       absl::StrCat("tailor-ops.dlq-redrive.",
                                    config.service.topics().dead_letter()));
    props.emplace_back("enable.idempotence", "true");
    TAILOR_ASSIGN_OR_RETURN(r->producer_, kafka::Producer::Create(props));
    TAILOR_RETURN_IF_ERROR(r->producer_->InitTransactions(kTimeout));
    TAILOR_ASSIGN_OR_RETURN(r->reader_, MakeReader(config.kafka));
    // Compacted, so the markers stay as long as anyone needs them. A broker
    // that cannot create topics (the embedded one) creates it on the first
    // produce instead.
    absl::StatusOr<std::unique_ptr<kafka::Admin>> admin =
        kafka::Admin::Create(config.kafka);
    if (admin.ok() &&
        absl::IsNotFound(
            PartitionCount(*r->reader_, r->marker_topic_).status())) {
      absl::Status created = (*admin)->CreateTopics(
          {{r->marker_topic_, 1, -1, {{"cleanup.policy", "compact"}}}},
          kCreateTimeout);
      if (!created.ok()) {
        spdlog::warn(
            "could not create {} (compacted): {}; it is created on "
            "first use",
            r->marker_topic_, created.message());
      }
    }
    return r;
  }

  absl::Status Add(const DeadLetter& d, int32_t partition) {
    if (in_transaction_ == 0) {
      TAILOR_RETURN_IF_ERROR(producer_->BeginTransaction());
    }
    std::vector<kafka::Producer::Header> headers;
    const auto original = d.OriginalHeaders();
    for (const auto& [name, value] : original) {
      headers.push_back({name, value});
    }
    TAILOR_RETURN_IF_ERROR(
        producer_->Produce(d.source_topic, partition, d.key, d.value, headers));
    const std::string marker =
        JsonObject()
            .String("source_topic", d.source_topic)
            .Int("source_partition", d.source_partition)
            .Int("source_offset", d.source_offset)
            .Int("redriven_to_partition", partition)
            .Int("redriven_at_ms", absl::ToUnixMillis(absl::Now()))
            .Done();
    TAILOR_RETURN_IF_ERROR(producer_->Produce(
        marker_topic_, RD_KAFKA_PARTITION_UA, MarkerKey(d), marker));
    if (++in_transaction_ >= kTransactionRecords) return Commit();
    return absl::OkStatus();
  }

  absl::Status Commit() {
    if (in_transaction_ == 0) return absl::OkStatus();
    absl::Status s = producer_->CommitTransaction(kTimeout);
    if (!s.ok()) {
      producer_->AbortTransaction(kTimeout).IgnoreError();
      return absl::UnavailableError(absl::StrCat(
          "the transaction of the last ", in_transaction_,
          " re-drives failed and was aborted (nothing of it was re-driven; "
          "run again): ",
          s.message()));
    }
    committed_ += in_transaction_;
    in_transaction_ = 0;
    return absl::OkStatus();
  }

  // Where an original goes: its key's partition (murmur2) of the source
  // topic, or the one it was read from.
  absl::StatusOr<int32_t> TargetPartition(const DeadLetter& d,
                                          bool source_partition) {
    auto it = partitions_.find(d.source_topic);
    if (it == partitions_.end()) {
      TAILOR_ASSIGN_OR_RETURN(const int32_t count,
                              PartitionCount(*reader_, d.source_topic));
      it = partitions_.emplace(d.source_topic, count).first;
    }
    if (source_partition || d.key.empty()) {
      if (d.source_partition < 0 || d.source_partition >= it->second) {
        return absl::FailedPreconditionError(absl::StrCat(
            "dead letter ", MarkerKey(d), ": source partition ",
            d.source_partition, " does not exist in ", d.source_topic));
      }
      return d.source_partition;
    }
    return KafkaPartitionForKey(d.key, it->second);
  }

  int64_t committed() const { return committed_; }

 private:
  Redriver() = default;
  std::string marker_topic_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<kafka::Consumer> reader_;
  std::map<std::string, int32_t> partitions_;
  int in_transaction_ = 0;
  int64_t committed_ = 0;
};

int Redrive(const OpsConfig& config, const TopicRange& range,
            const Filter& filter) {
  const bool dry_run = absl::GetFlag(FLAGS_dry_run);
  const int64_t limit = absl::GetFlag(FLAGS_limit);
  if (limit < 0) return Fail(kExitUsage, "--limit must be >= 0");
  const std::string marker_topic = absl::GetFlag(FLAGS_redriven_topic);
  if (marker_topic.empty()) {
    return Fail(kExitUsage, "--redriven_topic must not be empty");
  }
  absl::StatusOr<absl::flat_hash_set<std::string>> markers =
      ReadMarkers(config, marker_topic);
  if (!markers.ok()) return Fail(kExitRuntime, markers.status());
  std::unique_ptr<Redriver> redriver;
  if (!dry_run) {
    absl::StatusOr<std::unique_ptr<Redriver>> r =
        Redriver::Create(config, marker_topic);
    if (!r.ok()) return Fail(kExitRuntime, r.status());
    redriver = std::move(*r);
  }
  int64_t selected = 0, already = 0, truncated = 0, no_source = 0;
  std::map<std::string, int64_t> by_topic;
  const bool to_source = absl::GetFlag(FLAGS_to_source_partition);
  absl::Status s = ScanDeadLetters(
      config, range, filter, dry_run ? "dlq redrive (dry run)" : "dlq redrive",
      [&](const DeadLetter& d) -> absl::Status {
        if (markers->contains(MarkerKey(d))) {
          ++already;
          return absl::OkStatus();
        }
        if (d.truncated) {
          ++truncated;
          return absl::OkStatus();
        }
        if (d.source_topic.empty()) {
          ++no_source;
          return absl::OkStatus();
        }
        if (limit > 0 && selected >= limit) return absl::OkStatus();
        ++selected;
        ++by_topic[d.source_topic];
        if (dry_run) {
          std::printf("would re-drive %s[%d]@%lld -> %s (%s: %s)\n",
                      d.topic.c_str(), d.partition,
                      static_cast<long long>(d.offset), d.source_topic.c_str(),
                      d.error_class.c_str(), d.error.c_str());
          return absl::OkStatus();
        }
        TAILOR_ASSIGN_OR_RETURN(const int32_t partition,
                                redriver->TargetPartition(d, to_source));
        return redriver->Add(d, partition);
      });
  if (s.ok() && redriver != nullptr) s = redriver->Commit();
  std::vector<std::string> per_topic;
  for (const auto& [topic, n] : by_topic) {
    per_topic.push_back(absl::StrCat(topic, ": ", n));
  }
  const int64_t done = redriver != nullptr ? redriver->committed() : 0;
  std::printf(
      "%s %lld dead letters%s%s; skipped %lld already re-driven (%s), %lld "
      "without a tailor-source-topic header\n",
      dry_run ? "would re-drive" : "re-drove",
      static_cast<long long>(dry_run ? selected : done),
      per_topic.empty() ? "" : " (",
      per_topic.empty()
          ? ""
          : absl::StrCat(absl::StrJoin(per_topic, ", "), ")").c_str(),
      static_cast<long long>(already), marker_topic.c_str(),
      static_cast<long long>(no_source));
  if (truncated > 0) {
    std::printf(
        "refused %lld truncated dead letters: only their first bytes were "
        "kept (tailor-truncated: true), so they cannot be re-driven whole; "
        "see them with `tailor-ops dlq show P:O`\n",
        static_cast<long long>(truncated));
  }
  if (!s.ok()) return Fail(kExitRuntime, s);
  return kExitOk;
}

int RunDlq(const std::vector<std::string>& args) {
  if (args.empty() ||
      (args[0] != "list" && args[0] != "show" && args[0] != "redrive")) {
    return Fail(kExitUsage,
                "expected an action: list, show PARTITION:OFFSET or redrive "
                "(see tailor-ops dlq --help)");
  }
  const std::string& action = args[0];
  if (args.size() != (action == "show" ? 2u : 1u)) {
    return Fail(kExitUsage, absl::StrCat("dlq ", action,
                                         ": unexpected arguments (see "
                                         "tailor-ops dlq --help)"));
  }
  absl::StatusOr<OpsConfig> config = LoadOpsConfig();
  if (!config.ok()) return Fail(kExitUsage, config.status());
  if (action == "show") return Show(*config, args[1]);
  absl::StatusOr<Filter> filter = ReadFilter();
  if (!filter.ok()) return Fail(kExitUsage, filter.status());
  absl::StatusOr<TopicRange> range = ReadRange(*config);
  if (!range.ok()) return Fail(kExitUsage, range.status());
  if (action == "list") return List(*config, *range, *filter);
  return Redrive(*config, *range, *filter);
}

}  // namespace

TAILOR_OPS_SUBCOMMAND(
    kDlq,
    {.name = "dlq",
     .summary = "list, show and re-drive the dead-letter topic",
     .usage =
         "dlq list | show PARTITION:OFFSET | redrive [flags]\n\n"
         "  list     dead letters grouped by error class, source topic and "
         "time bucket\n"
         "  show     one dead letter decoded: headers, error, the original as "
         "a tailor.v1.Event (protobuf JSON) when it decodes, and its bytes in "
         "base64\n"
         "  redrive  re-produce the originals (key, bytes, original headers; "
         "tailor's error headers stripped) to their source topics, in "
         "transactions that also record each one on --redriven_topic, so a "
         "second run re-drives nothing twice. Truncated dead letters are "
         "refused and counted.\n\n"
         "--from/--to/--partitions select a range of the dead-letter topic "
         "(--to: exclusive end, default latest); --error_class and "
         "--source_topic filter it",
     .flags_file = __FILE__,
     .shared_flags = {"json", "dry_run", "limit", "from", "to", "partitions"},
     .run = &RunDlq});

}  // namespace tailor::ops
