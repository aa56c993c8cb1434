// tailor-ops report: what the campaigns are worth. Reads tailor.decisions.log
// and tailor.outcomes and prints, per campaign and variant, decisions by
// action, CTR, redemptions, conversion of treated and held-out customers,
// revenue per customer and the uplift with its 95% interval (libs/measure).
#include "libs/measure/report.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "libs/measure/format.h"
#include "tailor/v1/decision.pb.h"
#include "tailor/v1/outcome.pb.h"
#include "tools/ops/common.h"
#include "tools/ops/progress.h"
#include "tools/ops/shared_flags.h"
#include "tools/ops/subcommand.h"
#include "tools/ops/topic_range.h"

namespace tailor::ops {
namespace {

// The decision-time bound a position names: a time, or no bound.
absl::StatusOr<int64_t> TimeBound(const std::string& flag,
                                  const std::string& text, absl::Time now,
                                  int64_t unbounded) {
  absl::StatusOr<Position> p = ParsePosition(text, now);
  if (!p.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", p.status().message()));
  }
  switch (p->kind) {
    case Position::Kind::kTime:
      return p->value;
    case Position::Kind::kEarliest:
    case Position::Kind::kLatest:
      return unbounded;
    case Position::Kind::kOffset:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag,
                   ": a time, not an offset: the report spans "
                   "two topics, so it is bounded by decision time"));
}

// Reads all of `topic` and calls `fn` on each value; counts what does not
// parse in *undecodable.
template <typename Message, typename Fn>
absl::Status ReadAll(kafka::Consumer& reader, const std::string& topic,
                     int64_t* undecodable, Fn fn) {
  TopicRange range;
  range.topics = {topic};
  absl::StatusOr<std::vector<PartitionSpan>> spans =
      ResolveRange(reader, range);
  if (!spans.ok()) return spans.status();
  Progress progress(absl::StrCat("report: ", topic), 0);
  Message message;
  return ReadSpans(
      reader, *spans,
      [&](const kafka::Record& r) {
        if (message.ParseFromArray(r.value().data(),
                                   static_cast<int>(r.value().size()))) {
          fn(message);
        } else {
          ++*undecodable;
        }
        return absl::OkStatus();
      },
      &progress);
}

int RunReport(const std::vector<std::string>& args) {
  if (!args.empty()) return Fail(kExitUsage, "no arguments expected");
  absl::StatusOr<OpsConfig> config = LoadOpsConfig();
  if (!config.ok()) return Fail(kExitUsage, config.status());
  const absl::Time now = absl::Now();
  absl::StatusOr<int64_t> from =
      TimeBound("from", absl::GetFlag(FLAGS_from), now, INT64_MIN);
  if (!from.ok()) return Fail(kExitUsage, from.status());
  std::string to_text = absl::GetFlag(FLAGS_to);
  if (to_text.empty()) to_text = "latest";
  absl::StatusOr<int64_t> to = TimeBound("to", to_text, now, INT64_MAX);
  if (!to.ok()) return Fail(kExitUsage, to.status());

  absl::StatusOr<std::unique_ptr<kafka::Consumer>> reader =
      MakeReader(config->kafka);
  if (!reader.ok()) return Fail(kExitRuntime, reader.status());
  const tailor::v1::TopicsConfig& topics = config->service.topics();
  measure::Report report(*from, *to);
  int64_t undecodable = 0;
  absl::Status read = ReadAll<tailor::v1::Decision>(
      **reader, topics.decisions_log(), &undecodable,
      [&](const tailor::v1::Decision& d) { report.AddDecision(d); });
  if (read.ok()) {
    read = ReadAll<tailor::v1::Outcome>(
        **reader, topics.outcomes(), &undecodable,
        [&](const tailor::v1::Outcome& o) { report.AddOutcome(o); });
  }
  if (!read.ok()) return Fail(kExitRuntime, read);
  if (undecodable > 0) {
    std::fprintf(stderr, "%s: %lld records could not be decoded (skipped)\n",
                 ProgramName().c_str(), static_cast<long long>(undecodable));
  }
  const std::vector<measure::RowReport> rows = report.Rows();
  if (absl::GetFlag(FLAGS_json)) {
    std::fputs(measure::FormatJson(rows).c_str(), stdout);
    return kExitOk;
  }
  std::printf(
      "report: %lld decisions made from %s to %s (%s), %lld outcomes (%s)\n",
      static_cast<long long>(report.decisions()),
      absl::GetFlag(FLAGS_from).c_str(), to_text.c_str(),
      topics.decisions_log().c_str(), static_cast<long long>(report.outcomes()),
      topics.outcomes().c_str());
  std::fputs(measure::FormatTable(rows).c_str(), stdout);
  return kExitOk;
}

TAILOR_OPS_SUBCOMMAND(
    kReport,
    {.name = "report",
     .summary = "CTR, conversion and uplift per campaign and variant",
     .usage = "report [--from=TIME] [--to=TIME] [--json] [flags]\n\n"
              "Reads the decisions log and the outcomes topic (names from "
              "the config) and prints, per campaign and variant, decisions "
              "by action, opens and CTR, redemptions, the conversion of "
              "treated and held-out customers, revenue per customer and the "
              "uplift with its 95% interval (n.s.: not significant). Row * "
              "is every campaign against the global control group.",
     .flags_file = __FILE__,
     .shared_flags = {"from", "to", "json"},
     .run = &RunReport});

}  // namespace
}  // namespace tailor::ops
