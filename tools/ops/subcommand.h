// File: subcommand.h
// The subcommands of tailor-ops. Each lives in its own file, defines its own
// flags there and registers itself at namespace scope:
//
//   TAILOR_OPS_SUBCOMMAND(kDiff, {.name = "diff",
//                                 .summary = "compare two decision files",
//                                 .usage = "diff A B [flags]",
//                                 .flags_file = __FILE__,
//                                 .run = &RunDiff});
//
// main.cc parses the command line: flags of the subcommand's file and of
// common.cc are accepted, any other flag is refused (exit 2).
#ifndef TAILOR_TOOLS_OPS_SUBCOMMAND_H_
#define TAILOR_TOOLS_OPS_SUBCOMMAND_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace tailor::ops {

// Exit statuses of every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitDifferences = 1;  // diff found differences
inline constexpr int kExitUsage = 2;        // bad arguments or configuration
inline constexpr int kExitRuntime = 3;      // the job failed

struct Subcommand {
  absl::string_view name;
  absl::string_view summary;  // one line, for `tailor-ops --help`
  // After "Usage: tailor-ops ", e.g. "diff A.ndjson B.ndjson [flags]"; may
  // go on with lines of explanation.
  absl::string_view usage;
  absl::string_view flags_file;  // __FILE__ of the file defining its flags
  // Runs with the positional arguments after the subcommand's name (flags
  // already parsed, logging set up) and returns the exit status.
  int (*run)(const std::vector<std::string>& args);
  // Flags of shared_flags.cc it takes too (flags several subcommands have,
  // such as --from and --to: a flag name is defined once per program).
  std::vector<absl::string_view> shared_flags = {};
};

bool RegisterSubcommand(const Subcommand& subcommand);
// Every registered subcommand, by name.
std::vector<Subcommand> Subcommands();

#define TAILOR_OPS_SUBCOMMAND(variable, ...)    \
  [[maybe_unused]] static const bool variable = \
      ::tailor::ops::RegisterSubcommand(__VA_ARGS__)

}  // namespace tailor::ops

#endif  // TAILOR_TOOLS_OPS_SUBCOMMAND_H_
