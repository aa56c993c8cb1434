// File: shared_flags.h
// Flags that several subcommands take, defined once here: absl flags are
// global, so two subcommand files cannot each define --json or --from. A
// subcommand accepts (and its --help lists) the ones it names in
// Subcommand::shared_flags; main.cc refuses the others.
#ifndef TAILOR_TOOLS_OPS_SHARED_FLAGS_H_
#define TAILOR_TOOLS_OPS_SHARED_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"

ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(bool, dry_run);
ABSL_DECLARE_FLAG(bool, execute);
ABSL_DECLARE_FLAG(int64_t, limit);
ABSL_DECLARE_FLAG(std::string, from);
ABSL_DECLARE_FLAG(std::string, to);
ABSL_DECLARE_FLAG(std::string, partitions);
ABSL_DECLARE_FLAG(std::string, state_dir);

#endif  // TAILOR_TOOLS_OPS_SHARED_FLAGS_H_
