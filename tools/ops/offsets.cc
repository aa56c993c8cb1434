// tailor-ops offsets: the personalizer group's positions per input topic
// partition (show), and moving them (move: a plan by default, applied with
// --execute while the group has no active members).
//
// Where the personalizer resumes: the input positions its state reflects
// (local RocksDB, else the last PartitionCheckpoint record on the
// changelog), and the group's committed offsets only for a partition that
// has neither. So a move that changed only the group offsets would do
// nothing for a service that has run. `move --execute` therefore writes
// both: the group offsets, and per changelog partition a new
// PartitionCheckpoint (the last one with the moved positions). On its next
// start the personalizer finds its local state behind the changelog,
// restores that record and resumes at the moved positions. The profiles
// keep what they hold: a move back folds those events again, a move
// forward never folds the skipped ones.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "libs/base/status_macros.h"
#include "libs/kafka/handles.h"
#include "libs/kafka/producer.h"
#include "libs/pipeline/changelog.h"
#include "libs/pipeline/json_view.h"
#include "tailor/v1/profile.pb.h"
#include "tools/ops/common.h"
#include "tools/ops/customer.h"
#include "tools/ops/shared_flags.h"
#include "tools/ops/state_reader.h"
#include "tools/ops/subcommand.h"
#include "tools/ops/topic_range.h"

ABSL_FLAG(std::vector<std::string>, input_topic, {},
          "The input topics to show or move (default: all three of the "
          "config).");
ABSL_FLAG(int64_t, shift_by, 0,
          "move: shift each partition's current position by N (negative: "
          "back).");
ABSL_FLAG(std::string, from_file, "",
          "move: the new offsets from a CSV file of topic,partition,offset "
          "lines (as --export writes).");
ABSL_FLAG(std::string, export, "",
          "move: also write the plan to this CSV file (topic,partition,"
          "offset).");

namespace tailor::ops {

using pipeline::JsonArray;
using pipeline::JsonObject;

namespace {

constexpr absl::Duration kTimeout = absl::Seconds(10);

struct Row {
  std::string topic;
  int32_t partition = 0;
  int64_t low = 0;
  int64_t high = 0;
  int64_t committed = -1;   // the group's; -1: none
  int64_t checkpoint = -1;  // the changelog's last checkpoint; -1: none
  int64_t state = -1;       // --state_dir's stored position; -1: none
  int64_t target = -1;      // move: the new offset

  // Where the personalizer would resume (see the file comment).
  int64_t Current() const {
    if (state >= 0) return state;
    if (checkpoint >= 0) return checkpoint;
    return committed;
  }
};

struct Positions {
  std::string group;
  std::vector<Row> rows;
  // The last checkpoint of each changelog partition that has one.
  std::map<int32_t, tailor::v1::PartitionCheckpoint> checkpoints;
};

std::vector<std::string> InputTopics(const OpsConfig& config) {
  std::vector<std::string> topics = absl::GetFlag(FLAGS_input_topic);
  if (topics.empty()) {
    const tailor::v1::TopicsConfig& t = config.service.topics();
    topics = {t.clickstream(), t.orders(), t.privacy()};
  }
  return topics;
}

// A client of the personalizer's group that never joins it: it reads and
// (simple-)commits the group's offsets.
absl::StatusOr<std::unique_ptr<kafka::Consumer>> GroupClient(
    const OpsConfig& config) {
  kafka::Properties props = config.kafka;
  props.emplace_back("group.id", config.service.group_id());
  return kafka::Consumer::Create(props, nullptr);
}

absl::StatusOr<Positions> ReadPositions(const OpsConfig& config,
                                        kafka::Consumer& reader,
                                        kafka::Consumer& group) {
  Positions out;
  out.group = config.service.group_id();
  TAILOR_ASSIGN_OR_RETURN(std::vector<int32_t> only,
                          ParsePartitions(absl::GetFlag(FLAGS_partitions)));
  std::vector<kafka::TopicPartition> asked;
  for (const std::string& topic : InputTopics(config)) {
    TAILOR_ASSIGN_OR_RETURN(const int32_t count, PartitionCount(reader, topic));
    for (int32_t p = 0; p < count; ++p) {
      if (!only.empty() && !std::binary_search(only.begin(), only.end(), p)) {
        continue;
      }
      Row row{topic, p};
      TAILOR_ASSIGN_OR_RETURN(auto marks,
                              reader.QueryWatermarks(topic, p, kTimeout));
      row.low = marks.first;
      row.high = marks.second;
      out.rows.push_back(row);
      asked.push_back({topic, p});
    }
    for (int32_t p : only) {
      if (p >= count) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--partitions: ", topic, " has ", count, " partitions, no ", p));
      }
    }
  }
  TAILOR_ASSIGN_OR_RETURN(std::vector<kafka::TopicPartition> committed,
                          group.Committed(asked, kTimeout));
  for (size_t i = 0; i < committed.size() && i < out.rows.size(); ++i) {
    out.rows[i].committed = committed[i].offset >= 0 ? committed[i].offset : -1;
  }
  // The changelog's last checkpoint per partition.
  const std::string& changelog = config.service.topics().changelog();
  absl::StatusOr<int32_t> changelog_partitions =
      PartitionCount(reader, changelog);
  if (changelog_partitions.ok()) {
    Progress progress("reading checkpoints", 0);
    for (const Row& row : out.rows) {
      if (row.partition >= *changelog_partitions ||
          out.checkpoints.contains(row.partition)) {
        continue;
      }
      TAILOR_ASSIGN_OR_RETURN(
          std::vector<KeyedRecord> last,
          RecordsWithKey(reader, changelog, row.partition,
                         pipeline::kCheckpointKey, 1, &progress));
      if (last.empty()) continue;
      tailor::v1::PartitionCheckpoint checkpoint;
      if (!checkpoint.ParseFromString(last.back().value)) {
        return absl::DataLossError(absl::StrCat(
            "the checkpoint record at ", changelog, "[", row.partition, "]@",
            last.back().offset, " does not decode as a PartitionCheckpoint"));
      }
      out.checkpoints[row.partition] = std::move(checkpoint);
    }
  } else if (!absl::IsNotFound(changelog_partitions.status())) {
    return changelog_partitions.status();
  }
  for (Row& row : out.rows) {
    auto it = out.checkpoints.find(row.partition);
    if (it == out.checkpoints.end()) continue;
    for (const auto& position : it->second.positions()) {
      if (position.topic() == row.topic)
        row.checkpoint = position.next_offset();
    }
  }
  if (const std::string dir = absl::GetFlag(FLAGS_state_dir); !dir.empty()) {
    TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<StateReader> state,
                            StateReader::Open(dir));
    for (Row& row : out.rows) {
      TAILOR_ASSIGN_OR_RETURN(
          std::optional<int64_t> stored,
          state->store().GetOffset(row.topic, row.partition));
      row.state = stored.value_or(-1);
    }
  }
  return out;
}

std::string Cell(int64_t v) { return v < 0 ? "-" : absl::StrCat(v); }

void PrintTable(const Positions& positions, bool plan) {
  std::printf("%-16s %9s %12s %12s %10s %12s %12s", "TOPIC", "PARTITION",
              "COMMITTED", "END", "LAG", "CHECKPOINT", "STATE");
  std::printf(plan ? " %12s %12s\n" : "\n", "RESUMES AT", "NEW");
  for (const Row& r : positions.rows) {
    const int64_t lag = r.Current() >= 0 ? r.high - r.Current() : -1;
    std::printf("%-16s %9d %12s %12lld %10s %12s %12s", r.topic.c_str(),
                r.partition, Cell(r.committed).c_str(),
                static_cast<long long>(r.high), Cell(lag).c_str(),
                Cell(r.checkpoint).c_str(), Cell(r.state).c_str());
    if (plan) {
      std::printf(" %12s %12lld\n", Cell(r.Current()).c_str(),
                  static_cast<long long>(r.target));
    } else {
      std::printf("\n");
    }
  }
}

std::string PositionsJson(const Positions& positions, bool plan) {
  std::vector<std::string> rows;
  for (const Row& r : positions.rows) {
    JsonObject o;
    o.String("topic", r.topic)
        .Int("partition", r.partition)
        .Int("start", r.low)
        .Int("end", r.high)
        .Int("committed", r.committed)
        .Int("checkpoint", r.checkpoint)
        .Int("state", r.state)
        .Int("resumes_at", r.Current())
        .Int("lag", r.Current() >= 0 ? r.high - r.Current() : -1);
    if (plan) o.Int("new", r.target);
    rows.push_back(o.Done());
  }
  return JsonObject()
      .String("group", positions.group)
      .Raw("partitions", JsonArray(rows))
      .Done();
}

// The group's members, from DescribeGroups. Unimplemented when the broker
// does not answer it (the embedded one); JoinAndCommit() checks then.
absl::StatusOr<int> ActiveMembers(rd_kafka_t* rk, const std::string& group,
                                  std::string* state) {
  const rd_kafka_group_list* list = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_list_groups(
      rk, group.c_str(), &list,
      static_cast<int>(absl::ToInt64Milliseconds(kTimeout)));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnimplementedError(absl::StrCat(
        "cannot describe group ", group, ": ", rd_kafka_err2str(err)));
  }
  int members = 0;
  for (int i = 0; i < list->group_cnt; ++i) {
    const rd_kafka_group_info& g = list->groups[i];
    if (group != g.group) continue;
    members += g.member_cnt;
    *state = g.state != nullptr ? g.state : "";
  }
  rd_kafka_group_list_destroy(list);
  return members;
}

absl::Status ReadPlanFile(const std::string& path, Positions* positions) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--from_file: cannot read ", path));
  }
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || absl::StartsWith(text, "#") ||
        absl::StartsWith(text, "topic,")) {
      continue;
    }
    const std::vector<std::string> f = absl::StrSplit(text, ',');
    int32_t partition = 0;
    int64_t offset = 0;
    if (f.size() != 3 || !absl::SimpleAtoi(f[1], &partition) ||
        !absl::SimpleAtoi(f[2], &offset) || offset < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", number, ": expected topic,partition,offset, got \"", text,
          "\""));
    }
    bool found = false;
    for (Row& r : positions->rows) {
      if (r.topic == f[0] && r.partition == partition) {
        r.target = offset;
        found = true;
      }
    }
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", number, ": ", f[0], "[", partition,
          "] is not an input topic partition shown (see --input_topic, "
          "--partitions)"));
    }
  }
  return absl::OkStatus();
}

// Fills in each row's target from --to, --shift_by or --from_file.
absl::Status Plan(kafka::Consumer& reader, Positions* positions) {
  const std::string to = absl::GetFlag(FLAGS_to);
  const int64_t shift = absl::GetFlag(FLAGS_shift_by);
  const std::string file = absl::GetFlag(FLAGS_from_file);
  if ((!to.empty()) + (shift != 0) + (!file.empty()) != 1) {
    return absl::InvalidArgumentError(
        "give exactly one of --to=POSITION, --shift_by=N and "
        "--from_file=CSV");
  }
  if (!file.empty()) {
    TAILOR_RETURN_IF_ERROR(ReadPlanFile(file, positions));
  }
  std::optional<Position> position;
  if (!to.empty()) {
    absl::StatusOr<Position> p = ParsePosition(to, absl::Now());
    if (!p.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--to: ", p.status().message()));
    }
    position = *p;
  }
  for (Row& r : positions->rows) {
    if (position.has_value()) {
      TAILOR_ASSIGN_OR_RETURN(r.target,
                              Resolve(reader, r.topic, r.partition, *position));
    } else if (shift != 0) {
      if (r.Current() < 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "--shift_by: ", r.topic, "[", r.partition,
            "] has no position yet (no committed offset, checkpoint or "
            "state); use --to"));
      }
      r.target = r.Current() + shift;
    } else if (r.target < 0) {
      r.target = r.Current() >= 0 ? r.Current() : r.low;  // not in the file
    }
    r.target = std::clamp(r.target, r.low, r.high);
  }
  return absl::OkStatus();
}

absl::Status ExportPlan(const std::string& path, const Positions& positions) {
  std::ofstream out(path, std::ios::trunc);
  out << "topic,partition,offset\n";
  for (const Row& r : positions.rows) {
    out << r.topic << "," << r.partition << "," << r.target << "\n";
  }
  out.close();
  if (!out) {
    return absl::InvalidArgumentError(
        absl::StrCat("--export: cannot write ", path));
  }
  return absl::OkStatus();
}

// Records the assignment of the probe member.
class AssignmentListener : public kafka::RebalanceListener {
 public:
  void OnPartitionsAssigned(
      std::vector<kafka::TopicPartition>& partitions) override {
    assigned_ = partitions.size();
  }
  void OnPartitionsRevoked(const std::vector<kafka::TopicPartition>&,
                           bool) override {
    assigned_ = 0;
  }
  size_t assigned() const { return assigned_; }

 private:
  size_t assigned_ = 0;
};

// Joins the group as the personalizer does (range assignor, the three input
// topics) and commits `offsets` as its member. Another member would get part
// of the partitions (with at least as many partitions per topic as
// members): then nothing is committed. A member's commit also works where
// the broker refuses commits from outside the group (the embedded one
// always does once the group exists).
absl::Status JoinAndCommit(const OpsConfig& config,
                           const std::vector<kafka::TopicPartition>& offsets) {
  kafka::Properties props = config.kafka;
  props.emplace_back("group.id", config.service.group_id());
  props.emplace_back("partition.assignment.strategy", "range");
  // The embedded broker lets a member go only at its session timeout: keep
  // the personalizer's next start from waiting long for this one.
  props.emplace_back("session.timeout.ms", "6000");
  props.emplace_back("heartbeat.interval.ms", "500");
  AssignmentListener listener;
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Consumer> member,
                          kafka::Consumer::Create(props, &listener));
  const tailor::v1::TopicsConfig& t = config.service.topics();
  const std::vector<std::string> inputs = {t.clickstream(), t.orders(),
                                           t.privacy()};
  size_t partitions = 0;
  for (const std::string& topic : inputs) {
    TAILOR_ASSIGN_OR_RETURN(const int32_t count,
                            PartitionCount(*member, topic));
    partitions += static_cast<size_t>(count);
  }
  TAILOR_RETURN_IF_ERROR(member->Subscribe(inputs));
  std::vector<kafka::Record> records;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (listener.assigned() == 0 && absl::Now() < deadline) {
    TAILOR_RETURN_IF_ERROR(
        member->PollBatch(1, absl::Milliseconds(200), &records));
    records.clear();  // never processed, never committed
  }
  if (listener.assigned() != partitions) {
    const size_t got = listener.assigned();
    member->Close().IgnoreError();
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to move: group ", config.service.group_id(),
        " has other active members (joining it gave this tool ", got, " of ",
        partitions,
        " input partitions); stop every personalizer of the group first. "
        "Nothing was changed"));
  }
  absl::Status committed = member->Commit(offsets, /*async=*/false);
  member->Close().IgnoreError();
  if (!committed.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the broker refused the offset commit for group ",
                     config.service.group_id(), " (", committed.message(),
                     "); nothing was changed"));
  }
  return absl::OkStatus();
}

// Commits the group offsets and writes the moved checkpoints.
absl::Status Apply(const OpsConfig& config, const Positions& positions) {
  std::vector<kafka::TopicPartition> offsets;
  for (const Row& r : positions.rows) {
    offsets.push_back({r.topic, r.partition, r.target});
  }
  TAILOR_RETURN_IF_ERROR(JoinAndCommit(config, offsets));
  if (positions.checkpoints.empty()) return absl::OkStatus();
  kafka::Properties props = config.kafka;
  props.emplace_back("enable.idempotence", "true");
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Producer> producer,
                          kafka::Producer::Create(props));
  const std::string& changelog = config.service.topics().changelog();
  for (const auto& [partition, last] : positions.checkpoints) {
    tailor::v1::PartitionCheckpoint moved = last;
    for (const Row& r : positions.rows) {
      if (r.partition != partition) continue;
      tailor::v1::InputPosition* slot = nullptr;
      for (auto& p : *moved.mutable_positions()) {
        if (p.topic() == r.topic) slot = &p;
      }
      if (slot == nullptr) {
        slot = moved.add_positions();
        slot->set_topic(r.topic);
      }
      slot->set_next_offset(r.target);
    }
    TAILOR_RETURN_IF_ERROR(producer->Produce(changelog, partition,
                                             pipeline::kCheckpointKey,
                                             moved.SerializeAsString()));
  }
  absl::Status flushed = producer->Flush(kTimeout);
  if (!flushed.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "the group offsets were committed but writing the checkpoints to ",
        changelog, " failed (", flushed.message(),
        "); run the same move again before starting the personalizer"));
  }
  return absl::OkStatus();
}

constexpr char kMeaning[] =
    "What a move means: the personalizer resumes where its state says "
    "(local state, else the last checkpoint on the changelog), not at the "
    "group offsets. --execute commits the group offsets AND appends a "
    "checkpoint with the new positions to each changelog partition; on its "
    "next start the service restores it and resumes there. Profiles keep "
    "what they hold: moving back folds those events again, moving forward "
    "skips them.\n";

int RunOffsets(const std::vector<std::string>& args) {
  if (args.size() != 1 || (args[0] != "show" && args[0] != "move")) {
    return Fail(kExitUsage,
                "expected an action: show or move (see tailor-ops offsets "
                "--help)");
  }
  const bool move = args[0] == "move";
  absl::StatusOr<OpsConfig> config = LoadOpsConfig();
  if (!config.ok()) return Fail(kExitUsage, config.status());
  if (!move &&
      (absl::GetFlag(FLAGS_execute) || !absl::GetFlag(FLAGS_to).empty() ||
       absl::GetFlag(FLAGS_shift_by) != 0 ||
       !absl::GetFlag(FLAGS_from_file).empty() ||
       !absl::GetFlag(FLAGS_export).empty())) {
    return Fail(kExitUsage,
                "--to, --shift_by, --from_file, --export and --execute are "
                "for `offsets move`");
  }
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> reader =
      MakeReader(config->kafka);
  if (!reader.ok()) return Fail(kExitRuntime, reader.status());
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> group = GroupClient(*config);
  if (!group.ok()) return Fail(kExitRuntime, group.status());
  absl::StatusOr<Positions> positions =
      ReadPositions(*config, **reader, **group);
  if (!positions.ok()) {
    return Fail(positions.status().code() == absl::StatusCode::kInvalidArgument
                    ? kExitUsage
                    : kExitRuntime,
                positions.status());
  }
  std::string state;
  absl::StatusOr<int> members =
      ActiveMembers((*group)->raw(), positions->group, &state);
  const std::string group_line =
      members.ok()
          ? absl::StrCat("group ", positions->group, ": ", *members,
                         " active members", state.empty() ? "" : ", state ",
                         state)
          : absl::StrCat("group ", positions->group, ": membership unknown (",
                         members.status().message(), ")");
  if (move) {
    absl::Status planned = Plan(**reader, &*positions);
    if (!planned.ok()) {
      return Fail(absl::IsInvalidArgument(planned) ? kExitUsage : kExitRuntime,
                  planned);
    }
    if (const std::string path = absl::GetFlag(FLAGS_export); !path.empty()) {
      absl::Status exported = ExportPlan(path, *positions);
      if (!exported.ok()) return Fail(kExitUsage, exported);
    }
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("%s\n", PositionsJson(*positions, move).c_str());
  } else {
    std::printf("%s\n", group_line.c_str());
    PrintTable(*positions, move);
  }
  if (!move) return kExitOk;
  std::fputs(kMeaning, stderr);
  if (!absl::GetFlag(FLAGS_execute)) {
    std::fputs(
        "This is a plan; nothing was changed. Stop every personalizer "
        "of the group and add --execute to apply it.\n",
        stderr);
    return kExitOk;
  }
  if (members.ok() && *members > 0) {
    return Fail(kExitRuntime,
                absl::StrCat("refusing to move: group ", positions->group,
                             " has ", *members,
                             " active members; stop every personalizer of "
                             "the group first"));
  }
  // Let go of the group client's connection before joining.
  group->reset();
  absl::Status applied = Apply(*config, *positions);
  if (!applied.ok()) return Fail(kExitRuntime, applied);
  std::printf(
      "moved %zu partitions of group %s (group offsets and %zu "
      "changelog checkpoints)\n",
      positions->rows.size(), positions->group.c_str(),
      positions->checkpoints.size());
  return kExitOk;
}

}  // namespace

TAILOR_OPS_SUBCOMMAND(
    kOffsets,
    {.name = "offsets",
     .summary = "show and move the personalizer group's input positions",
     .usage =
         "offsets show | move (--to=POSITION | --shift_by=N | "
         "--from_file=CSV) [--execute] [flags]\n\n"
         "  show  per input topic partition: the group's committed offset, "
         "the end, the lag, the last checkpoint on the changelog and, with "
         "--state_dir, the state's stored position (read-only)\n"
         "  move  plans new positions and prints them; --export writes the "
         "plan as CSV. --execute applies it, refused while the group has "
         "active members: it commits the group offsets and appends a "
         "checkpoint with the new positions to the changelog, which the "
         "personalizer restores on its next start (its state's positions "
         "win over group offsets)",
     .flags_file = __FILE__,
     .shared_flags = {"json", "execute", "to", "partitions", "state_dir"},
     .run = &RunOffsets});

}  // namespace tailor::ops
