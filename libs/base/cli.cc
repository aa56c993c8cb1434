#include "libs/base/cli.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/base/build_info.h"
#include "libs/base/log.h"

ABSL_FLAG(std::string, log_level, "",
          "debug, info, warn, error or off (any case). Default: "
          "$TAILOR_LOG_LEVEL, else info (warn for the bench programs).");
ABSL_FLAG(std::string, log_format, "",
          "text or json (one JSON object per line: time, level, logger, "
          "msg). Default: $TAILOR_LOG_FORMAT, else text.");

namespace tailor {
namespace {

// This file's path relative to the source root, used to find the root in the
// absolute paths that __FILE__ gives.
constexpr absl::string_view kThisFile = "libs/base/cli.cc";

absl::string_view SourceRelative(absl::string_view path) {
  absl::string_view self = __FILE__;
  if (absl::EndsWith(self, kThisFile)) {
    const absl::string_view root =
        self.substr(0, self.size() - kThisFile.size());
    if (!root.empty() && absl::StartsWith(path, root)) {
      return path.substr(root.size());
    }
  }
  return path;
}

[[noreturn]] void Refuse(absl::string_view program, absl::string_view what) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(program.size()),
               program.data(), static_cast<int>(what.size()), what.data());
  std::exit(2);
}

}  // namespace

std::string VersionLine(absl::string_view name) {
  return absl::StrCat(name, " ", BuildVersion(), " (git ", BuildGitRevision(),
                      ", ", BuildType(), ")\n");
}

std::vector<char*> InitProgram(const ProgramOptions& options, int argc,
                               char** argv) {
  static std::string* const program = new std::string(options.name);
  static std::vector<std::string>* const flags_files =
      new std::vector<std::string>();
  flags_files->assign(1, std::string(SourceRelative(options.flags_file)));
  for (absl::string_view file : options.more_flags_files) {
    flags_files->emplace_back(SourceRelative(file));
  }

  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) {
    const absl::string_view relative = SourceRelative(file);
    return relative == kThisFile ||
           std::find(flags_files->begin(), flags_files->end(), relative) !=
               flags_files->end();
  };
  // --helpshort, --helppackage: the same set.
  config.contains_helpshort_flags = config.contains_help_flags;
  config.version_string = [] { return VersionLine(*program); };
  config.normalize_filename = [](absl::string_view file) {
    return std::string(SourceRelative(file));
  };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(absl::StrCat("Usage: ", options.usage));

  std::string level = std::string(options.default_log_level);
  if (const char* env = std::getenv("TAILOR_LOG_LEVEL"); env && *env) {
    level = env;
  }
  std::string format = "text";
  if (const char* env = std::getenv("TAILOR_LOG_FORMAT"); env && *env) {
    format = env;
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (const std::string flag = absl::GetFlag(FLAGS_log_level); !flag.empty()) {
    level = flag;
  }
  if (const std::string flag = absl::GetFlag(FLAGS_log_format); !flag.empty()) {
    format = flag;
  }
  auto parsed_level = ParseLogLevel(level);
  if (!parsed_level.ok()) {
    Refuse(*program, absl::StrCat("refusing to start: log_level: ",
                                  parsed_level.status().message()));
  }
  auto parsed_format = ParseLogFormat(format);
  if (!parsed_format.ok()) {
    Refuse(*program, absl::StrCat("refusing to start: log_format: ",
                                  parsed_format.status().message()));
  }
  InitLogging(*program, *parsed_level, *parsed_format);
  return positional;
}

}  // namespace tailor
