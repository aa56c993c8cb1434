// tailor-ops reprocess: the input topics over a range (or an events file)
// through the personalizer's own processing into a scratch state, with a
// given rules file; the decisions go to a file, or to prefixed topics.
#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/base/status_macros.h"
#include "libs/kafka/producer.h"
#include "libs/pipeline/rules_file.h"
#include "tools/ops/common.h"
#include "tools/ops/decision_file.h"
#include "tools/ops/event_file.h"
#include "tools/ops/progress.h"
#include "tools/ops/replay.h"
#include "tools/ops/scratch_state.h"
#include "tools/ops/shared_flags.h"
#include "tools/ops/subcommand.h"
#include "tools/ops/topic_range.h"

ABSL_FLAG(std::string, events_file, "",
          "Read the input from this NDJSON file (tailor-ops events export) "
          "instead of the topics.");
ABSL_FLAG(std::string, from_state, "",
          "Start from a copy of this state directory (opened read-only, "
          "works beside a running personalizer), so caps, cooldowns and "
          "budgets start from real history; with --from=state the topics "
          "are read from where that state stands.");
ABSL_FLAG(std::string, format, "ndjson",
          "Format of --out: ndjson (protobuf JSON, proto field names) or "
          "delimited (length-delimited protobuf, the bytes as produced).");
ABSL_FLAG(std::string, to_topics, "",
          "Also produce the decisions and dead letters to topics named "
          "PREFIX + the configured topic (e.g. whatif. -> "
          "whatif.decisions.push). Never the live topics.");

namespace tailor::ops {
namespace {

constexpr absl::string_view kUsage =
    "reprocess (--out=FILE | --to_topics=PREFIX) [flags]\n\n"
    "Runs the input topics over a range (--from, --to, --partitions), or an\n"
    "events file, through the personalizer's own processing (event-time\n"
    "order, fold, rules, guards, timers) into a scratch state with the given\n"
    "rules. Stream time is event time: no timer fires past the last event of\n"
    "the range. Same range, state and rules give the same bytes. Never\n"
    "touches the live consumer group, state or topics. --from_state starts\n"
    "from a copy of a state directory; --from=state then reads each input\n"
    "partition from where that state stands.";

// --from value: where the --from_state copy stands.
constexpr absl::string_view kFromState = "state";

struct Input {
  // From the topics: the resolved spans; from a file: its records.
  std::vector<PartitionSpan> spans;
  std::vector<tailor::v1::EventRecord> file;
  int32_t partition_count = 0;
  int64_t records = 0;
};

struct Outputs {
  // Every decision is on the decisions log once (a SEND is also copied to
  // its delivery topic): the file takes the log's.
  std::string decisions_log;
  std::unique_ptr<DecisionWriter> file;
  std::unique_ptr<kafka::Producer> producer;
  std::string prefix;
  std::array<int64_t, 4> by_action{};
};

absl::StatusOr<Input> ReadFileInput(const OpsConfig& config,
                                    const std::string& path) {
  Input input;
  int32_t max_partition = 0;
  TAILOR_RETURN_IF_ERROR(
      ReadEventFile(path, [&](tailor::v1::EventRecord& r, int64_t line) {
        if (InputKindOf(config.service.topics(), r.topic()) ==
            tailor::v1::EVENT_TOPIC_UNSPECIFIED) {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": line ", line, ": topic \"", r.topic(),
              "\" is not an input topic of the config (clickstream, orders, "
              "privacy)"));
        }
        if (r.partition() < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": line ", line, ": partition < 0"));
        }
        max_partition = std::max(max_partition, r.partition());
        input.file.push_back(std::move(r));
        return absl::OkStatus();
      }));
  input.partition_count = absl::GetFlag(FLAGS_partition_count);
  if (input.partition_count == 0) input.partition_count = max_partition + 1;
  if (max_partition >= input.partition_count) {
    return absl::InvalidArgumentError(absl::StrCat("--partition_count: ", path,
                                                   " has events of partition ",
                                                   max_partition));
  }
  // Offset order within each input partition, the file's order otherwise.
  std::stable_sort(input.file.begin(), input.file.end(),
                   [](const auto& a, const auto& b) {
                     if (a.partition() != b.partition()) {
                       return a.partition() < b.partition();
                     }
                     if (a.topic() != b.topic()) return a.topic() < b.topic();
                     return a.offset() < b.offset();
                   });
  input.records = static_cast<int64_t>(input.file.size());
  return input;
}

// Replays the records of a file, partition by partition.
absl::Status ReplayFile(const OpsConfig& config, const Input& input,
                        Replay& replay, Progress& progress) {
  static const std::string kSentNs(pipeline::kHeaderSentNs);
  // The bytes the records' views point into, per partition.
  std::vector<std::pair<std::string, std::string>> bytes;
  size_t i = 0;
  while (i < input.file.size()) {
    const int32_t partition = input.file[i].partition();
    TAILOR_RETURN_IF_ERROR(replay.BeginPartition(partition));
    std::map<tailor::v1::EventTopic, int64_t> ends;
    size_t j = i;
    while (j < input.file.size() && input.file[j].partition() == partition) ++j;
    bytes.clear();
    bytes.reserve(j - i);
    for (size_t k = i; k < j; ++k) {
      const tailor::v1::EventRecord& r = input.file[k];
      bytes.emplace_back(KeyOf(r).value_or(""), ValueOf(r).value_or(""));
      pipeline::BufferedRecord b;
      pipeline::InputRecord& in = b.input;
      in.kind = InputKindOf(config.service.topics(), r.topic());
      in.topic = r.topic();
      in.partition = partition;
      in.offset = r.offset();
      in.key = bytes.back().first;
      in.value = bytes.back().second;
      for (const tailor::v1::RecordHeader& h : r.headers()) {
        if (h.key() == kSentNs && !absl::SimpleAtoi(h.value(), &in.sent_ns)) {
          in.sent_ns = 0;
        }
      }
      ends[in.kind] = std::max(ends[in.kind], r.offset() + 1);
      TAILOR_RETURN_IF_ERROR(replay.Push(std::move(b)));
      progress.Add(1);
    }
    for (tailor::v1::EventTopic kind :
         {tailor::v1::EVENT_TOPIC_CLICKSTREAM, tailor::v1::EVENT_TOPIC_ORDERS,
          tailor::v1::EVENT_TOPIC_PRIVACY}) {
      replay.EndInput(kind, ends[kind]);
    }
    TAILOR_RETURN_IF_ERROR(replay.FinishPartition());
    i = j;
  }
  return absl::OkStatus();
}

// Moves the start of every span to the input position the state holds
// (the span's start when it holds none).
absl::Status StartWhereStored(store::ProfileStore& store, Input& input) {
  input.records = 0;
  for (PartitionSpan& span : input.spans) {
    TAILOR_ASSIGN_OR_RETURN(std::optional<int64_t> stored,
                            store.GetOffset(span.topic, span.partition));
    if (stored.has_value() && *stored < span.from) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--from=state: the state stands at ", span.topic, "[", span.partition,
          "]@", *stored, ", but the topic starts at ", span.from,
          " now: records between are gone"));
    }
    if (stored.has_value()) span.from = std::min(*stored, span.to);
    input.records += span.to - span.from;
  }
  return absl::OkStatus();
}

absl::Status Emit(Outputs& outputs, const pipeline::OutputRecord& out) {
  if (out.kind == pipeline::OutputKind::kChangelog) return absl::OkStatus();
  if (out.kind == pipeline::OutputKind::kDecision &&
      out.topic == outputs.decisions_log) {
    tailor::v1::Decision decision;
    if (decision.ParseFromString(out.value)) {
      ++outputs.by_action[decision.action() % 4];
    }
    if (outputs.file != nullptr) {
      TAILOR_RETURN_IF_ERROR(outputs.file->Write(out.value));
    }
  }
  if (outputs.producer != nullptr) {
    std::vector<kafka::Producer::Header> headers;
    for (const auto& [name, value] : out.headers) {
      headers.push_back({name, value});
    }
    TAILOR_RETURN_IF_ERROR(outputs.producer->Produce(
        absl::StrCat(outputs.prefix, out.topic), RD_KAFKA_PARTITION_UA, out.key,
        out.value, headers));
  }
  return absl::OkStatus();
}

int RunReprocess(const std::vector<std::string>& args) {
  if (!args.empty()) {
    return Fail(kExitUsage, absl::StrCat("unexpected argument \"", args[0],
                                         "\" (see --help)"));
  }
  const std::string events_file = absl::GetFlag(FLAGS_events_file);
  const std::string out_path = absl::GetFlag(FLAGS_out);
  const std::string prefix = absl::GetFlag(FLAGS_to_topics);
  if (out_path.empty() && prefix.empty()) {
    return Fail(kExitUsage,
                "say where the decisions go: --out=FILE, or --to_topics=PREFIX "
                "(topics named PREFIX + the configured names)");
  }
  absl::StatusOr<DecisionFormat> format =
      ParseDecisionFormat(absl::GetFlag(FLAGS_format), "format");
  if (!format.ok()) return Fail(kExitUsage, format.status());
  const bool from_topics = events_file.empty();
  if (!from_topics && (absl::GetFlag(FLAGS_from) != "earliest" ||
                       (!absl::GetFlag(FLAGS_to).empty() &&
                        absl::GetFlag(FLAGS_to) != "latest") ||
                       !absl::GetFlag(FLAGS_partitions).empty())) {
    return Fail(kExitUsage,
                "--from, --to and --partitions select from the topics; with "
                "--events_file the whole file is replayed");
  }
  const std::string from_state = absl::GetFlag(FLAGS_from_state);
  // --from=state: where the copied state stands, per partition.
  const bool from_stored = absl::GetFlag(FLAGS_from) == kFromState;
  if (from_stored && (from_state.empty() || !from_topics)) {
    return Fail(kExitUsage,
                "--from=state: reads the topics from where the --from_state "
                "copy stands; give --from_state (and no --events_file)");
  }
  if (from_stored) absl::SetFlag(&FLAGS_from, "earliest");  // moved below
  // Checked before the config, which may want a broker.
  absl::StatusOr<TopicRange> range = RangeFromFlags({});
  if (!range.ok()) return Fail(kExitUsage, range.status());
  absl::StatusOr<OpsConfig> config =
      LoadOpsConfig(/*needs_kafka=*/from_topics || !prefix.empty());
  if (!config.ok()) return Fail(kExitUsage, config.status());
  const tailor::v1::TopicsConfig& topics = config->service.topics();

  absl::StatusOr<pipeline::LoadedRules> rules = RulesFromFlags(config->service);
  if (!rules.ok()) return Fail(rules.status());
  const absl::Time now = absl::Now();
  range->topics = {topics.clickstream(), topics.orders(), topics.privacy()};
  if (!from_state.empty() &&
      !std::filesystem::exists(std::filesystem::path(from_state) / "CURRENT")) {
    return Fail(kExitUsage, absl::StrCat("--from_state: ", from_state,
                                         " holds no state (no RocksDB "
                                         "database there)"));
  }
  absl::StatusOr<std::unique_ptr<ScratchState>> scratch =
      ScratchState::Create(absl::GetFlag(FLAGS_state_dir), "state_dir");
  if (!scratch.ok()) return Fail(scratch.status());

  // The rate counts reading the input too (topics or file).
  const absl::Time start = absl::Now();
  Input input;
  std::unique_ptr<kafka::Consumer> reader;
  if (from_topics) {
    absl::StatusOr<std::unique_ptr<kafka::Consumer>> made =
        MakeReader(config->kafka);
    if (!made.ok()) return Fail(kExitRuntime, made.status());
    reader = *std::move(made);
    for (const std::string& topic : range->topics) {
      absl::StatusOr<int32_t> count = PartitionCount(*reader, topic);
      if (!count.ok()) return Fail(kExitRuntime, count.status());
      if (input.partition_count != 0 && *count != input.partition_count) {
        return Fail(kExitRuntime,
                    absl::StrCat("input topic ", topic, " has ", *count,
                                 " partitions, ", range->topics[0], " has ",
                                 input.partition_count,
                                 ": the inputs must be co-partitioned"));
      }
      input.partition_count = *count;
    }
    absl::StatusOr<std::vector<PartitionSpan>> spans =
        ResolveRange(*reader, *range);
    if (!spans.ok()) {
      return Fail(spans.status());
    }
    input.spans = *std::move(spans);
    for (const PartitionSpan& s : input.spans) input.records += s.to - s.from;
  } else {
    absl::StatusOr<Input> read = ReadFileInput(*config, events_file);
    if (!read.ok()) {
      return Fail(absl::Status(
          read.status().code(),
          absl::StrCat("--events_file: ", read.status().message())));
    }
    input = *std::move(read);
  }

  if (!from_state.empty()) {
    if (absl::Status s = (*scratch)->CopyFrom(from_state); !s.ok()) {
      return Fail(kExitRuntime, absl::StrCat("--from_state: ", s.message()));
    }
  }
  absl::StatusOr<store::ProfileStore*> store =
      (*scratch)->Open(config->service);
  if (!store.ok()) return Fail(kExitRuntime, store.status());
  if (from_stored) {
    if (absl::Status s = StartWhereStored(**store, input); !s.ok()) {
      return Fail(kExitRuntime, s);
    }
  }

  Outputs outputs;
  if (!out_path.empty()) {
    absl::StatusOr<std::unique_ptr<DecisionWriter>> writer =
        DecisionWriter::Open(out_path, *format);
    if (!writer.ok()) return Fail(kExitUsage, writer.status());
    outputs.file = *std::move(writer);
  }
  outputs.decisions_log = config->service.topics().decisions_log();
  if (!prefix.empty()) {
    kafka::Properties props = config->kafka;
    props.emplace_back("enable.idempotence", "true");
    props.emplace_back("partitioner", "murmur2_random");
    absl::StatusOr<std::unique_ptr<kafka::Producer>> producer =
        kafka::Producer::Create(props);
    if (!producer.ok()) return Fail(kExitRuntime, producer.status());
    outputs.producer = *std::move(producer);
    outputs.prefix = prefix;
  }

  ReplayOptions options{.config = config->service,
                        .partition_count = input.partition_count,
                        .wall_now_ms = absl::ToUnixMillis(now)};
  Replay replay(
      *store, rules->engine, options,
      [&](const pipeline::OutputRecord& out) { return Emit(outputs, out); });
  absl::Status status;
  {
    Progress progress("reprocess", input.records);
    status = from_topics
                 ? ReplaySpans(*reader, input.spans, topics, replay, &progress,
                               [](int32_t) { return absl::OkStatus(); })
                 : ReplayFile(*config, input, replay, progress);
  }
  const double seconds =
      std::max(absl::ToDoubleSeconds(absl::Now() - start), 1e-3);
  if (status.ok() && outputs.file != nullptr) status = outputs.file->Close();
  if (status.ok() && outputs.producer != nullptr) {
    status = outputs.producer->Flush(absl::Seconds(60));
  }
  if (!status.ok()) return Fail(kExitRuntime, status);

  const pipeline::ProcessorStats& s = replay.stats();
  const int64_t records = s.events + s.dead_letters + s.erased_events_dropped;
  const int64_t decisions = std::accumulate(
      outputs.by_action.begin(), outputs.by_action.end(), int64_t{0});
  std::printf(
      "reprocess: events=%lld dead_letters=%lld decisions=%lld (sent=%lld "
      "held_out=%lld suppressed=%lld) timers_fired=%lld partitions=%d "
      "rules=%s elapsed_s=%.2f events_per_s=%.0f\n",
      static_cast<long long>(s.events), static_cast<long long>(s.dead_letters),
      static_cast<long long>(decisions),
      static_cast<long long>(
          outputs.by_action[tailor::v1::DECISION_ACTION_SEND]),
      static_cast<long long>(
          outputs.by_action[tailor::v1::DECISION_ACTION_HOLD_OUT]),
      static_cast<long long>(
          outputs.by_action[tailor::v1::DECISION_ACTION_SUPPRESSED]),
      static_cast<long long>(s.timers_fired), input.partition_count,
      rules->fingerprint.c_str(), seconds, records / seconds);
  return kExitOk;
}

}  // namespace

TAILOR_OPS_SUBCOMMAND(kReprocess,
                      {.name = "reprocess",
                       .summary = "run history through new rules into a "
                                  "scratch state; decisions to a file",
                       .usage = kUsage,
                       .flags_file = __FILE__,
                       .shared_flags = {"partition_count", "from", "to",
                                        "partitions", "rules", "state_dir",
                                        "out"},
                       .run = &RunReprocess});

}  // namespace tailor::ops
