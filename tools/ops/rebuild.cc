// tailor-ops rebuild: the profile state rebuilt from the input topics (after
// a change of the fold) and published to the changelog as a planned
// migration, which the personalizer restores on its next start.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "libs/base/status_macros.h"
#include "libs/kafka/producer.h"
#include "libs/pipeline/changelog.h"
#include "libs/pipeline/rules_file.h"
#include "tailor/v1/profile.pb.h"
#include "tools/ops/common.h"
#include "tools/ops/decision_file.h"
#include "tools/ops/group.h"
#include "tools/ops/progress.h"
#include "tools/ops/replay.h"
#include "tools/ops/scratch_state.h"
#include "tools/ops/shared_flags.h"
#include "tools/ops/subcommand.h"
#include "tools/ops/topic_range.h"

ABSL_FLAG(bool, assume_stopped, false,
          "With a broker that cannot describe consumer groups (the embedded "
          "devbroker): every personalizer of the group has been stopped.");

namespace tailor::ops {
namespace {

using tailor::v1::CustomerProfile;

constexpr absl::string_view kUsage =
    "rebuild [--dry_run | --execute] [flags]\n\n"
    "Rebuilds every profile from the input topics, from their start up to\n"
    "the personalizer group's committed offsets, with the personalizer's\n"
    "own processing (the fold and rules of this build), and compares each\n"
    "with the changelog's latest value for its customer. A dry run (the\n"
    "default) prints what would change. --execute produces the changed\n"
    "profiles, tombstones for profiles that no longer exist, and each\n"
    "partition's checkpoint (input positions, shared state) to the\n"
    "changelog; the personalizer restores them at its next start. Refused\n"
    "while the group has active members: stop the personalizers first.";

// What changes in one partition.
struct PartitionPlan {
  int32_t partition = 0;
  int64_t unchanged = 0;
  std::vector<std::pair<std::string, std::string>> puts;    // id, new bytes
  std::vector<std::string> added;                           // ids among puts
  std::vector<std::string> tombstones;                      // ids
  std::vector<std::pair<std::string, std::string>> sample;  // id, what differs
  std::string checkpoint;  // serialized PartitionCheckpoint
};

// The latest value of every key of changelog partition `partition` (a
// tombstone erases the key).
absl::StatusOr<absl::flat_hash_map<std::string, std::string>> ReadChangelog(
    kafka::Consumer& reader, const std::string& topic, int32_t partition) {
  absl::flat_hash_map<std::string, std::string> latest;
  const TopicRange range{{topic}, {partition}};
  TAILOR_ASSIGN_OR_RETURN(std::vector<PartitionSpan> spans,
                          ResolveRange(reader, range));
  TAILOR_RETURN_IF_ERROR(ReadSpans(
      reader, spans,
      [&](const kafka::Record& r) {
        if (r.key() == pipeline::kCheckpointKey) return absl::OkStatus();
        if (r.raw()->payload == nullptr) {
          latest.erase(r.key());
        } else {
          latest[std::string(r.key())] = std::string(r.value());
        }
        return absl::OkStatus();
      },
      nullptr));
  return latest;
}

absl::StatusOr<PartitionPlan> Plan(
    store::ProfileStore& store, kafka::Consumer& reader,
    const OpsConfig& config, int32_t partition,
    const std::vector<kafka::TopicPartition>& positions, size_t sample) {
  PartitionPlan plan;
  plan.partition = partition;
  TAILOR_ASSIGN_OR_RETURN(
      auto latest,
      ReadChangelog(reader, config.service.topics().changelog(), partition));
  CustomerProfile rebuilt;
  CustomerProfile published;
  absl::Status status;
  TAILOR_RETURN_IF_ERROR(store.ForEachProfile(
      partition, [&](absl::string_view id, absl::string_view value) {
        auto it = latest.find(id);
        if (it != latest.end() && it->second == value) {
          ++plan.unchanged;
          latest.erase(it);
          return true;
        }
        std::string diff = "new profile";
        if (it != latest.end()) {
          if (!rebuilt.ParseFromArray(value.data(),
                                      static_cast<int>(value.size())) ||
              !published.ParseFromString(it->second)) {
            status = absl::DataLossError(absl::StrCat(
                "profile of ", id, " in ", config.service.topics().changelog(),
                "[", partition, "] does not parse"));
            return false;
          }
          diff.clear();
          google::protobuf::util::MessageDifferencer differ;
          differ.ReportDifferencesToString(&diff);
          if (differ.Compare(published, rebuilt)) {
            ++plan.unchanged;  // the same profile, encoded differently
            latest.erase(it);
            return true;
          }
          latest.erase(it);
        } else {
          plan.added.emplace_back(id);
        }
        if (plan.sample.size() < sample) plan.sample.emplace_back(id, diff);
        plan.puts.emplace_back(std::string(id), std::string(value));
        return true;
      }));
  TAILOR_RETURN_IF_ERROR(status);
  for (const auto& [id, value] : latest) {
    plan.tombstones.push_back(id);
    if (plan.sample.size() < sample) {
      plan.sample.emplace_back(id, "no profile any more (tombstone)");
    }
  }
  std::sort(plan.tombstones.begin(), plan.tombstones.end());
  tailor::v1::PartitionCheckpoint checkpoint;
  for (const kafka::TopicPartition& tp : positions) {
    if (tp.partition != partition) continue;
    auto* position = checkpoint.add_positions();
    position->set_topic(tp.topic);
    position->set_next_offset(tp.offset);
  }
  TAILOR_ASSIGN_OR_RETURN(
      std::optional<std::string> state,
      store.GetMeta(pipeline::PartitionStateKey(partition)));
  if (state.has_value() &&
      !checkpoint.mutable_state()->ParseFromString(*state)) {
    return absl::DataLossError(absl::StrCat("the rebuilt state of partition ",
                                            partition, " does not parse"));
  }
  plan.checkpoint = checkpoint.SerializeAsString();
  return plan;
}

absl::Status Publish(const OpsConfig& config,
                     const std::vector<PartitionPlan>& plans) {
  kafka::Properties props = config.kafka;
  props.emplace_back("enable.idempotence", "true");
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Producer> producer,
                          kafka::Producer::Create(props));
  const std::string& topic = config.service.topics().changelog();
  Progress progress("rebuild: publishing", 0);
  for (const PartitionPlan& plan : plans) {
    for (const auto& [id, value] : plan.puts) {
      TAILOR_RETURN_IF_ERROR(
          producer->Produce(topic, plan.partition, id, value));
      progress.Add(1);
    }
    for (const std::string& id : plan.tombstones) {
      // A view without data is produced as a null value: a tombstone.
      TAILOR_RETURN_IF_ERROR(
          producer->Produce(topic, plan.partition, id, absl::string_view()));
      progress.Add(1);
    }
    TAILOR_RETURN_IF_ERROR(producer->Produce(
        topic, plan.partition, pipeline::kCheckpointKey, plan.checkpoint));
  }
  return producer->Flush(absl::Minutes(2));
}

// Refuses while the group has members. When the broker cannot say, a dry
// run goes on with a warning and --execute needs --assume_stopped.
absl::Status CheckStopped(kafka::Consumer& client, const std::string& group,
                          bool execute) {
  absl::Status status = CheckGroupEmpty(client, group);
  if (!absl::IsUnimplemented(status)) return status;
  if (!execute) {
    std::fprintf(stderr, "%s: warning: %s\n", ProgramName().c_str(),
                 std::string(status.message()).c_str());
    return absl::OkStatus();
  }
  if (absl::GetFlag(FLAGS_assume_stopped)) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(status.message(), "; stop every personalizer of the group ",
                   "and say so with --assume_stopped"));
}

void PrintReport(const std::vector<PartitionPlan>& plans, bool json,
                 bool executed) {
  int64_t unchanged = 0, changed = 0, added = 0, tombstones = 0;
  for (const PartitionPlan& p : plans) {
    unchanged += p.unchanged;
    added += static_cast<int64_t>(p.added.size());
    changed += static_cast<int64_t>(p.puts.size() - p.added.size());
    tombstones += static_cast<int64_t>(p.tombstones.size());
  }
  if (json) {
    google::protobuf::Struct out;
    auto& f = *out.mutable_fields();
    f["executed"].set_bool_value(executed);
    f["unchanged"].set_number_value(static_cast<double>(unchanged));
    f["changed"].set_number_value(static_cast<double>(changed));
    f["new"].set_number_value(static_cast<double>(added));
    f["tombstones"].set_number_value(static_cast<double>(tombstones));
    auto* sample = f["sample"].mutable_list_value();
    for (const PartitionPlan& p : plans) {
      for (const auto& [id, diff] : p.sample) {
        auto& row =
            *sample->add_values()->mutable_struct_value()->mutable_fields();
        row["partition"].set_number_value(p.partition);
        row["customer_id"].set_string_value(id);
        row["difference"].set_string_value(diff);
      }
    }
    std::printf("%s\n", ToJsonLine(out).c_str());
    return;
  }
  std::printf("%-10s %10s %10s %10s %10s\n", "partition", "unchanged",
              "changed", "new", "tombstones");
  for (const PartitionPlan& p : plans) {
    std::printf("%-10d %10lld %10lld %10zu %10zu\n", p.partition,
                static_cast<long long>(p.unchanged),
                static_cast<long long>(p.puts.size() - p.added.size()),
                p.added.size(), p.tombstones.size());
  }
  std::printf("%-10s %10lld %10lld %10lld %10lld\n", "total",
              static_cast<long long>(unchanged),
              static_cast<long long>(changed), static_cast<long long>(added),
              static_cast<long long>(tombstones));
  for (const PartitionPlan& p : plans) {
    for (const auto& [id, diff] : p.sample) {
      std::printf("\n%s (partition %d):\n%s", id.c_str(), p.partition,
                  diff.c_str());
      if (diff.empty() || diff.back() != '\n') std::printf("\n");
    }
  }
  std::printf(
      executed ? "\npublished to the changelog: the personalizer restores "
                 "it at its next start\n"
               : "\ndry run: nothing was written (--execute publishes it)\n");
}

int RunRebuild(const std::vector<std::string>& args) {
  if (!args.empty()) {
    return Fail(kExitUsage, absl::StrCat("unexpected argument \"", args[0],
                                         "\" (see --help)"));
  }
  const bool execute = absl::GetFlag(FLAGS_execute);
  if (execute && absl::GetFlag(FLAGS_dry_run)) {
    return Fail(kExitUsage, "--execute and --dry_run: choose one");
  }
  if (absl::GetFlag(FLAGS_sample) < 0) {
    return Fail(kExitUsage, "--sample: must be >= 0");
  }
  absl::StatusOr<OpsConfig> config = LoadOpsConfig(/*needs_kafka=*/true);
  if (!config.ok()) return Fail(kExitUsage, config.status());
  const tailor::v1::TopicsConfig& topics = config->service.topics();
  absl::StatusOr<pipeline::LoadedRules> rules = RulesFromFlags(config->service);
  if (!rules.ok()) return Fail(rules.status());
  absl::StatusOr<std::unique_ptr<ScratchState>> scratch =
      ScratchState::Create(absl::GetFlag(FLAGS_state_dir), "state_dir");
  if (!scratch.ok()) return Fail(scratch.status());
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> reader =
      MakeReader(config->kafka);
  if (!reader.ok()) return Fail(kExitRuntime, reader.status());
  const std::string& group = config->service.group_id();
  if (absl::Status s = CheckStopped(**reader, group, execute); !s.ok()) {
    return Fail(kExitRuntime, s);
  }

  // The range: each input partition from its start to the group's offset.
  TopicRange range{{topics.clickstream(), topics.orders(), topics.privacy()},
                   {}};
  absl::StatusOr<std::vector<PartitionSpan>> spans =
      ResolveRange(**reader, range);
  if (!spans.ok()) return Fail(kExitRuntime, spans.status());
  std::vector<kafka::TopicPartition> partitions;
  int32_t partition_count = 0;
  for (const PartitionSpan& s : *spans) {
    partitions.push_back({s.topic, s.partition});
    partition_count = std::max(partition_count, s.partition + 1);
  }
  absl::StatusOr<std::vector<kafka::TopicPartition>> committed =
      GroupCommitted(config->kafka, group, partitions);
  if (!committed.ok()) return Fail(kExitRuntime, committed.status());
  for (size_t i = 0; i < spans->size(); ++i) {
    PartitionSpan& s = (*spans)[i];
    const int64_t offset = (*committed)[i].offset;
    if (offset < 0 && s.to > s.from) {
      return Fail(kExitRuntime,
                  absl::StrCat("group ", group, " has no committed offset for ",
                               s.topic, "[", s.partition, "], which holds ",
                               "records: nothing says how far to rebuild"));
    }
    s.to = std::clamp<int64_t>(offset < 0 ? s.from : offset, s.from, s.to);
    (*committed)[i].offset = s.to;
  }

  absl::StatusOr<store::ProfileStore*> store =
      (*scratch)->Open(config->service);
  if (!store.ok()) return Fail(kExitRuntime, store.status());
  ReplayOptions options{.config = config->service,
                        .partition_count = partition_count,
                        .wall_now_ms = absl::ToUnixMillis(absl::Now())};
  Replay replay(*store, rules->engine, options,
                [](const pipeline::OutputRecord&) { return absl::OkStatus(); });
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> changelog_reader =
      MakeReader(config->kafka);
  if (!changelog_reader.ok()) {
    return Fail(kExitRuntime, changelog_reader.status());
  }
  std::vector<PartitionPlan> plans;
  const size_t sample = static_cast<size_t>(absl::GetFlag(FLAGS_sample));
  size_t sampled = 0;  // so far, over all partitions
  absl::Status status;
  {
    int64_t total = 0;
    for (const PartitionSpan& s : *spans) total += s.to - s.from;
    Progress progress("rebuild", total);
    status = ReplaySpans(**reader, *spans, topics, replay, &progress,
                         [&](int32_t partition) {
                           TAILOR_ASSIGN_OR_RETURN(
                               PartitionPlan plan,
                               Plan(**store, **changelog_reader, *config,
                                    partition, *committed, sample - sampled));
                           sampled += plan.sample.size();
                           plans.push_back(std::move(plan));
                           return absl::OkStatus();
                         });
  }
  if (!status.ok()) return Fail(kExitRuntime, status);
  if (execute) {
    // A personalizer started meanwhile would not see the migration.
    if (absl::Status s = CheckStopped(**reader, group, execute); !s.ok()) {
      return Fail(kExitRuntime, s);
    }
    if (absl::Status s = Publish(*config, plans); !s.ok()) {
      return Fail(kExitRuntime, s);
    }
  }
  PrintReport(plans, absl::GetFlag(FLAGS_json), execute);
  return kExitOk;
}

}  // namespace

TAILOR_OPS_SUBCOMMAND(kRebuild,
                      {.name = "rebuild",
                       .summary = "rebuild profiles from the input topics and "
                                  "publish them to the changelog",
                       .usage = kUsage,
                       .flags_file = __FILE__,
                       .shared_flags = {"dry_run", "execute", "rules",
                                        "state_dir", "sample", "json"},
                       .run = &RunRebuild});

}  // namespace tailor::ops
