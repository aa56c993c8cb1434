// tailor-ops profile: one customer's profile, pending timers and last
// decisions as JSON (field names from the .proto files), from a state
// directory (read-only, beside a running service) or from the changelog.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "libs/base/murmur2.h"
#include "libs/pipeline/json_view.h"
#include "tools/ops/common.h"
#include "tools/ops/customer.h"
#include "tools/ops/shared_flags.h"
#include "tools/ops/subcommand.h"
#include "tools/ops/topic_range.h"

ABSL_FLAG(bool, from_changelog, false,
          "Read the profile from the changelog topic (only the partition of "
          "the customer's key, from the end backwards; the last value wins) "
          "instead of --state_dir.");
ABSL_FLAG(int64_t, last_decisions, 10,
          "The last this many decisions of the customer, read from the end "
          "of the decision topics (the key's partition of each); 0: none.");

namespace tailor::ops {

using pipeline::JsonObject;

namespace {

int RunProfile(const std::vector<std::string>& args) {
  if (args.size() != 1 || args[0].empty()) {
    return Fail(kExitUsage,
                "expected one argument, the customer id (see tailor-ops "
                "profile --help)");
  }
  const std::string& customer = args[0];
  const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  const bool from_changelog = absl::GetFlag(FLAGS_from_changelog);
  if (state_dir.empty() == !from_changelog) {
    return Fail(kExitUsage,
                "give exactly one of --state_dir=DIR and --from_changelog");
  }
  const int64_t last_decisions = absl::GetFlag(FLAGS_last_decisions);
  if (last_decisions < 0) {
    return Fail(kExitUsage, "--last_decisions must be >= 0");
  }
  const int32_t partition_count = absl::GetFlag(FLAGS_partition_count);
  if (partition_count < 0) {
    return Fail(kExitUsage, "--partition_count must be >= 0");
  }
  const bool needs_kafka =
      from_changelog || last_decisions > 0 || partition_count == 0;
  absl::StatusOr<OpsConfig> config = LoadOpsConfig(needs_kafka);
  if (!config.ok()) {
    return Fail(kExitUsage,
                absl::StrCat(config.status().message(),
                             needs_kafka && !from_changelog
                                 ? " (without Kafka: --partition_count=N "
                                   "--last_decisions=0)"
                                 : ""));
  }
  const tailor::v1::TopicsConfig& topics = config->service.topics();
  std::unique_ptr<kafka::Consumer> reader;
  if (needs_kafka) {
    absl::StatusOr<std::unique_ptr<kafka::Consumer>> r =
        MakeReader(config->kafka);
    if (!r.ok()) return Fail(kExitRuntime, r.status());
    reader = std::move(*r);
  }
  int32_t partition = 0;
  if (partition_count > 0) {
    partition = KafkaPartitionForKey(customer, partition_count);
  } else {
    absl::StatusOr<int32_t> p =
        KeyPartition(*reader, topics.clickstream(), customer);
    if (!p.ok()) return Fail(kExitRuntime, p.status());
    partition = *p;
  }
  Progress progress("profile", 0);
  absl::StatusOr<ProfileLookup> lookup =
      from_changelog ? ProfileFromChangelog(*reader, topics.changelog(),
                                            customer, partition, &progress)
                     : ProfileFromState(state_dir, customer, partition);
  if (!lookup.ok()) {
    return Fail(absl::IsNotFound(lookup.status()) ? kExitUsage : kExitRuntime,
                lookup.status());
  }
  JsonObject out;
  AddProfileLookup(customer, *lookup, &out);
  if (last_decisions > 0) {
    absl::StatusOr<std::vector<KeyedRecord>> decisions = DecisionsOf(
        *reader, {topics.decisions_log()}, customer, last_decisions, &progress);
    if (!decisions.ok()) return Fail(kExitRuntime, decisions.status());
    out.Raw("last_decisions", DecisionsJson(*decisions));
  }
  progress.Finish();
  std::printf("%s\n", out.Done().c_str());
  return lookup->profile.has_value() ? kExitOk : kExitRuntime;
}

}  // namespace

TAILOR_OPS_SUBCOMMAND(
    kProfile,
    {.name = "profile",
     .summary = "one customer's profile, pending timers and last decisions "
                "as JSON",
     .usage =
         "profile CUSTOMER_ID (--state_dir=DIR | --from_changelog) [flags]\n\n"
         "Prints {customer_id, partition, source, erased, profile, "
         "pending_timers, last_decisions} with the .proto field names. "
         "--state_dir opens a state directory read-only as a RocksDB "
         "secondary instance (safe beside a running personalizer; it shows "
         "the state as of the last write, up to commit_interval_ms behind "
         "the service's memory). --from_changelog reads only the changelog "
         "partition of the customer's key. Exit status 3 when the customer "
         "has no profile (never seen, or erased)",
     .flags_file = __FILE__,
     .shared_flags = {"partition_count", "state_dir"},
     .run = &RunProfile});

}  // namespace tailor::ops
