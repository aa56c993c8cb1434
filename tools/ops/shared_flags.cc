#include "tools/ops/shared_flags.h"

#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

ABSL_FLAG(std::string, from, "earliest",
          "Start of the range on every partition: earliest, latest, an "
          "offset, an RFC 3339 time, @<epoch ms> or a duration ago (7d).");
ABSL_FLAG(std::string, to, "latest",
          "End of the range (exclusive), same forms as --from.");
ABSL_FLAG(std::string, partitions, "",
          "Partitions of the range, e.g. 0,2 (default: all).");
ABSL_FLAG(std::vector<std::string>, topics, {},
          "Topics to read, comma-separated.");
ABSL_FLAG(std::string, out, "", "File to write.");
ABSL_FLAG(bool, dry_run, false, "Say what would be done, change nothing.");
ABSL_FLAG(std::string, rules, "",
          "Rules file to decide with (default: the config's rules_file, else "
          "the built-in rules).");
ABSL_FLAG(std::string, state_dir, "",
          "Scratch state directory, new or empty, kept afterwards (default: "
          "a temporary directory, removed). Never the live one.");
ABSL_FLAG(int32_t, sample, 10, "How many changed items to show.");
ABSL_FLAG(bool, json, false, "Print the report as JSON instead of a table.");

namespace tailor::ops {

absl::StatusOr<TopicRange> RangeFromFlags(std::vector<std::string> topics) {
  const absl::Time now = absl::Now();
  TopicRange range;
  range.topics = std::move(topics);
  absl::StatusOr<Position> from = ParsePosition(absl::GetFlag(FLAGS_from), now);
  if (!from.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--from: ", from.status().message()));
  }
  absl::StatusOr<Position> to = ParsePosition(absl::GetFlag(FLAGS_to), now);
  if (!to.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--to: ", to.status().message()));
  }
  absl::StatusOr<std::vector<int32_t>> partitions =
      ParsePartitions(absl::GetFlag(FLAGS_partitions));
  if (!partitions.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", partitions.status().message()));
  }
  range.from = *from;
  range.to = *to;
  range.partitions = *std::move(partitions);
  return range;
}

absl::StatusOr<pipeline::LoadedRules> RulesFromFlags(
    const tailor::v1::ServiceConfig& config) {
  const std::string flag = absl::GetFlag(FLAGS_rules);
  absl::StatusOr<pipeline::LoadedRules> rules =
      pipeline::LoadRules(flag.empty() ? config.rules_file() : flag);
  if (!rules.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rules: ", rules.status().message()));
  }
  return rules;
}

}  // namespace tailor::ops
