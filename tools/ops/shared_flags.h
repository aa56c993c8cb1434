// File: shared_flags.h
// Flags that several subcommands take, defined once here: absl flags are
// global, so two subcommand files cannot each define --json or --from. A
// subcommand accepts (and its --help lists) the ones it names in
// Subcommand::shared_flags; main.cc refuses the others.
#ifndef TAILOR_TOOLS_OPS_SHARED_FLAGS_H_
#define TAILOR_TOOLS_OPS_SHARED_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "libs/pipeline/rules_file.h"
#include "tailor/v1/config.pb.h"
#include "tools/ops/topic_range.h"

ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(bool, dry_run);
ABSL_DECLARE_FLAG(bool, execute);
ABSL_DECLARE_FLAG(int64_t, limit);
ABSL_DECLARE_FLAG(std::string, from);
ABSL_DECLARE_FLAG(std::string, to);
ABSL_DECLARE_FLAG(std::string, partitions);
ABSL_DECLARE_FLAG(std::string, state_dir);
ABSL_DECLARE_FLAG(std::vector<std::string>, topics);
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(std::string, rules);
ABSL_DECLARE_FLAG(int32_t, sample);
ABSL_DECLARE_FLAG(int32_t, partition_count);

namespace tailor::ops {

// The range --from, --to (empty: latest) and --partitions say, over
// `topics`. Errors name the flag (InvalidArgument: a usage error).
absl::StatusOr<TopicRange> RangeFromFlags(std::vector<std::string> topics);

// The rules --rules names, else the config's rules_file, else the built-in
// rules. Errors name --rules and the file (InvalidArgument).
absl::StatusOr<pipeline::LoadedRules> RulesFromFlags(
    const tailor::v1::ServiceConfig& config);

}  // namespace tailor::ops

#endif  // TAILOR_TOOLS_OPS_SHARED_FLAGS_H_
