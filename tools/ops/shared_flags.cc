#include "tools/ops/shared_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(bool, json, false, "Print JSON instead of a table.");
ABSL_FLAG(bool, dry_run, false, "Print what would be done and change nothing.");
ABSL_FLAG(bool, execute, false,
          "Apply the change (without it the subcommand only plans).");
ABSL_FLAG(int64_t, limit, 0, "At most this many records (0: no limit).");
ABSL_FLAG(std::string, from, "earliest",
          "Start position: earliest, latest, an offset, an RFC 3339 time, "
          "@<epoch ms> or a duration ago (7d, 36h, 90m).");
ABSL_FLAG(std::string, to, "",
          "End or target position (same syntax as --from); see the usage "
          "above for what it means here.");
ABSL_FLAG(std::string, partitions, "",
          "Partitions to cover, e.g. 0,2,5 (empty: all).");
ABSL_FLAG(std::string, state_dir, "",
          "A personalizer state directory (RocksDB), opened read-only as a "
          "secondary instance: works beside a running service.");
