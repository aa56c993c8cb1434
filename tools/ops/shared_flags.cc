#include "tools/ops/shared_flags.h"

#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

ABSL_FLAG(bool, json, false, "Print JSON instead of a table.");
ABSL_FLAG(bool, dry_run, false, "Print what would be done and change nothing.");
ABSL_FLAG(bool, execute, false,
          "Apply the change (without it the subcommand only plans).");
ABSL_FLAG(int64_t, limit, 0, "At most this many records (0: no limit).");
ABSL_FLAG(std::string, from, "earliest",
          "Start position: earliest, latest, an offset, an RFC 3339 time, "
          "@<epoch ms> or a duration ago (7d, 36h, 90m).");
ABSL_FLAG(std::string, to, "",
          "End (exclusive) or target position, same forms as --from; empty: "
          "see the usage above (for a range: latest).");
ABSL_FLAG(std::string, partitions, "",
          "Partitions to cover, e.g. 0,2,5 (empty: all).");
ABSL_FLAG(std::string, state_dir, "",
          "A state directory (RocksDB). profile, offsets: a personalizer's, "
          "opened read-only as a secondary instance beside the running "
          "service. reprocess, rebuild: a new or empty scratch directory, "
          "kept afterwards (default: a temporary one, removed); never the "
          "live one.");
ABSL_FLAG(std::vector<std::string>, topics, {},
          "Topics to read, comma-separated.");
ABSL_FLAG(std::string, out, "", "File to write.");
ABSL_FLAG(std::string, rules, "",
          "Rules file to decide with (default: the config's rules_file, else "
          "the built-in rules).");
ABSL_FLAG(int32_t, sample, 10, "How many changed items to show.");
ABSL_FLAG(int32_t, partition_count, 0,
          "Partitions of the input topics when no broker says: profile with "
          "--state_dir and no Kafka (the customer's partition is murmur2 of "
          "the id modulo it); reprocess with --events_file (default: the "
          "highest partition in the file plus one).");

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
  std::string to_text = absl::GetFlag(FLAGS_to);
  if (to_text.empty()) to_text = "latest";
  absl::StatusOr<Position> to = ParsePosition(to_text, now);
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
