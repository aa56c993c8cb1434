// tailor-ops events export|import: input records to and from NDJSON (one
// tailor.v1.EventRecord per line), so incidents and test cases can be
// captured, kept and replayed byte for byte.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/base/status_macros.h"
#include "libs/kafka/producer.h"
#include "tools/ops/common.h"
#include "tools/ops/decision_file.h"
#include "tools/ops/event_file.h"
#include "tools/ops/progress.h"
#include "tools/ops/shared_flags.h"
#include "tools/ops/subcommand.h"
#include "tools/ops/topic_range.h"

ABSL_FLAG(std::string, topic_prefix, "",
          "import: produce to PREFIX + each record's topic (e.g. replay. -> "
          "replay.clickstream) instead of the topic it came from.");

namespace tailor::ops {
namespace {

constexpr absl::string_view kUsage =
    "events export [--topics=...] [--from=... --to=... --partitions=...] "
    "[--out=FILE]\n"
    "       tailor-ops events import FILE [--topic_prefix=PREFIX] "
    "[--dry_run]\n\n"
    "export writes the records of topics over a range (default: the input\n"
    "topics, everything) as NDJSON, one tailor.v1.EventRecord per line:\n"
    "topic, partition, offset, timestamp, key, headers and the event in\n"
    "protobuf's JSON mapping (proto field names), or its bytes in base64\n"
    "when it does not decode to exactly the same bytes; to stdout without\n"
    "--out. import produces the records of such a file back, to the same\n"
    "partition with the same key, bytes, headers and timestamp.";

int Export(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    return Fail(kExitUsage, absl::StrCat("export takes no file argument (use "
                                         "--out), got \"",
                                         args[1], "\""));
  }
  absl::StatusOr<OpsConfig> config = LoadOpsConfig(/*needs_kafka=*/true);
  if (!config.ok()) return Fail(kExitUsage, config.status());
  std::vector<std::string> topics = absl::GetFlag(FLAGS_topics);
  if (topics.empty()) {
    const auto& t = config->service.topics();
    topics = {t.clickstream(), t.orders(), t.privacy()};
  }
  absl::StatusOr<TopicRange> range = RangeFromFlags(topics);
  if (!range.ok()) return Fail(kExitUsage, range.status());
  const std::string path = absl::GetFlag(FLAGS_out);
  std::ofstream file;
  if (!path.empty()) {
    file.open(path, std::ios::binary | std::ios::trunc);
    if (!file.is_open()) {
      return Fail(kExitUsage, absl::StrCat("--out: cannot create ", path));
    }
  }
  std::ostream& out = path.empty() ? std::cout : file;
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> reader =
      MakeReader(config->kafka);
  if (!reader.ok()) return Fail(kExitRuntime, reader.status());
  absl::StatusOr<std::vector<PartitionSpan>> spans =
      ResolveRange(**reader, *range);
  if (!spans.ok()) {
    return Fail(spans.status());
  }
  int64_t exported = 0;
  absl::Status status;
  {
    Progress progress("events export", 0);
    status = ReadSpans(
        **reader, *spans,
        [&](const kafka::Record& r) {
          out << ToJsonLine(ToEventRecord(r)) << '\n';
          ++exported;
          if (!out.good()) {
            return absl::UnavailableError(
                absl::StrCat("cannot write ", path.empty() ? "stdout" : path));
          }
          return absl::OkStatus();
        },
        &progress);
  }
  out.flush();
  if (status.ok() && !out.good()) {
    status = absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  if (!status.ok()) return Fail(kExitRuntime, status);
  std::fprintf(stderr, "events export: %lld records of %s\n",
               static_cast<long long>(exported),
               absl::StrJoin(topics, ",").c_str());
  return kExitOk;
}

int Import(const std::vector<std::string>& args) {
  if (args.size() != 2) {
    return Fail(kExitUsage, "import takes one file: events import FILE");
  }
  const std::string& path = args[1];
  const std::string prefix = absl::GetFlag(FLAGS_topic_prefix);
  const bool dry_run = absl::GetFlag(FLAGS_dry_run);
  absl::StatusOr<OpsConfig> config = LoadOpsConfig(/*needs_kafka=*/true);
  if (!config.ok()) return Fail(kExitUsage, config.status());
  // Read and check the whole file before producing anything.
  std::vector<tailor::v1::EventRecord> records;
  absl::Status read =
      ReadEventFile(path, [&](tailor::v1::EventRecord& r, int64_t) {
        records.push_back(std::move(r));
        return absl::OkStatus();
      });
  if (!read.ok()) return Fail(kExitUsage, read);
  std::map<std::string, int64_t> per_topic;
  std::map<std::string, int32_t> max_partition;
  for (const tailor::v1::EventRecord& r : records) {
    const std::string topic = absl::StrCat(prefix, r.topic());
    ++per_topic[topic];
    max_partition[topic] = std::max(max_partition[topic], r.partition());
  }
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> reader =
      MakeReader(config->kafka);
  if (!reader.ok()) return Fail(kExitRuntime, reader.status());
  for (const auto& [topic, partition] : max_partition) {
    absl::StatusOr<int32_t> count = PartitionCount(**reader, topic);
    if (!count.ok()) {
      return Fail(kExitRuntime, absl::StrCat(count.status().message(),
                                             " (create it, or choose another "
                                             "--topic_prefix)"));
    }
    if (partition >= *count) {
      return Fail(kExitRuntime, absl::StrCat("topic ", topic, " has ", *count,
                                             " partitions; ", path,
                                             " has records of "
                                             "partition ",
                                             partition));
    }
  }
  std::string plan;
  for (const auto& [topic, n] : per_topic) {
    absl::StrAppend(&plan, plan.empty() ? "" : ", ", topic, "=", n);
  }
  if (dry_run) {
    std::printf("events import (dry run): would produce %zu records: %s\n",
                records.size(), plan.c_str());
    return kExitOk;
  }
  kafka::Properties props = config->kafka;
  props.emplace_back("enable.idempotence", "true");
  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer =
      kafka::Producer::Create(props);
  if (!producer.ok()) return Fail(kExitRuntime, producer.status());
  absl::Status status;
  {
    Progress progress("events import", static_cast<int64_t>(records.size()));
    std::vector<kafka::Producer::Header> headers;
    for (const tailor::v1::EventRecord& r : records) {
      // A null key or value goes out null (a view without data).
      const std::optional<std::string> key = KeyOf(r);
      const std::optional<std::string> value = ValueOf(r);
      headers.clear();
      for (const tailor::v1::RecordHeader& h : r.headers()) {
        headers.push_back({h.key(), h.value()});
      }
      status = (*producer)->Produce(
          absl::StrCat(prefix, r.topic()), r.partition(),
          key ? absl::string_view(*key) : absl::string_view(),
          value ? absl::string_view(*value) : absl::string_view(), headers,
          r.timestamp_ms());
      if (!status.ok()) break;
      progress.Add(1);
    }
  }
  if (status.ok()) status = (*producer)->Flush(absl::Seconds(60));
  if (!status.ok()) return Fail(kExitRuntime, status);
  std::printf("events import: produced %zu records: %s\n", records.size(),
              plan.c_str());
  return kExitOk;
}

int RunEvents(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "export") return Export(args);
  if (!args.empty() && args[0] == "import") return Import(args);
  return Fail(kExitUsage,
              "expected export or import: events export [flags] | events "
              "import FILE [flags]");
}

}  // namespace

TAILOR_OPS_SUBCOMMAND(kEvents,
                      {.name = "events",
                       .summary = "export input records to NDJSON, or import "
                                  "them back, byte for byte",
                       .usage = kUsage,
                       .flags_file = __FILE__,
                       .shared_flags = {"topics", "from", "to", "partitions",
                                        "out", "dry_run"},
                       .run = &RunEvents});

}  // namespace tailor::ops
