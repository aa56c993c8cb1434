// tailor-ops: the operator's tool. One subcommand per job, each with its own
// flags and --help:
//
//   tailor-ops <subcommand> [flags] [arguments]
//   tailor-ops --help | --version
//
// Exit statuses: 0 ok, 1 differences found (diff), 2 usage or configuration
// error, 3 runtime error. Flags are parsed here, not by each subcommand:
// only the subcommand's own flags, the shared ones (common.cc) and the
// logging ones are accepted.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "libs/base/cli.h"
#include "tools/ops/common.h"
#include "tools/ops/subcommand.h"

namespace tailor::ops {
namespace {

constexpr absl::string_view kCommonFlagsFile = "tools/ops/common.cc";
constexpr absl::string_view kLoggingFlagsFile = "libs/base/cli.cc";
constexpr absl::string_view kSharedFlagsFile = "tools/ops/shared_flags.cc";

void PrintOverview(std::FILE* out) {
  std::fprintf(out,
               "Usage: tailor-ops <subcommand> [flags] [arguments]\n\n"
               "The operator's tool for tailor. Subcommands:\n");
  for (const Subcommand& s : Subcommands()) {
    std::fprintf(out, "  %-11.*s %.*s\n", static_cast<int>(s.name.size()),
                 s.name.data(), static_cast<int>(s.summary.size()),
                 s.summary.data());
  }
  std::fprintf(out,
               "\n`tailor-ops <subcommand> --help` lists its flags. Exit "
               "statuses: 0 ok, 1 differences found (diff), 2 usage or "
               "configuration error, 3 runtime error.\n");
}

bool FromFile(const absl::CommandLineFlag& flag, absl::string_view file) {
  return absl::EndsWith(flag.Filename(), file);
}

// Whether `flag` belongs to `sub` (its own file, the common, the logging
// flags, or the shared flags it names).
bool Accepts(const Subcommand& sub, const absl::CommandLineFlag& flag) {
  absl::string_view own = sub.flags_file;
  const size_t tools = own.rfind("tools/ops/");
  if (tools != absl::string_view::npos) own = own.substr(tools);
  if (FromFile(flag, kSharedFlagsFile)) {
    return std::find(sub.shared_flags.begin(), sub.shared_flags.end(),
                     flag.Name()) != sub.shared_flags.end();
  }
  return FromFile(flag, own) || FromFile(flag, kCommonFlagsFile) ||
         FromFile(flag, kLoggingFlagsFile);
}

void PrintHelp(const Subcommand& sub) {
  std::printf("Usage: tailor-ops %.*s\n\n%.*s.\n\nFlags:\n",
              static_cast<int>(sub.usage.size()), sub.usage.data(),
              static_cast<int>(sub.summary.size()), sub.summary.data());
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (Accepts(sub, *flag)) flags.push_back(flag);
  }
  // The subcommand's own flags first, then the shared ones, by name.
  std::sort(flags.begin(), flags.end(), [&](auto* a, auto* b) {
    const bool own_a =
        !FromFile(*a, kCommonFlagsFile) && !FromFile(*a, kLoggingFlagsFile);
    const bool own_b =
        !FromFile(*b, kCommonFlagsFile) && !FromFile(*b, kLoggingFlagsFile);
    if (own_a != own_b) return own_a;
    return a->Name() < b->Name();
  });
  for (const absl::CommandLineFlag* flag : flags) {
    const std::string def = flag->DefaultValue();
    std::printf(
        "  --%s  %s%s\n", std::string(flag->Name()).c_str(),
        flag->Help().c_str(),
        def.empty() ? "" : absl::StrCat(" (default: ", def, ")").c_str());
  }
}

// Parses `args` (after the subcommand's name) into the subcommand's flags
// and positional arguments. Returns false, with a message printed, on an
// unknown, foreign or ill-formed flag.
bool ParseArguments(const Subcommand& sub, const std::vector<std::string>& args,
                    std::vector<std::string>* positional, bool* help,
                    bool* version) {
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") {
      positional->insert(positional->end(), args.begin() + i + 1, args.end());
      return true;
    }
    if (!absl::StartsWith(arg, "-") || arg == "-") {
      positional->emplace_back(arg);
      continue;
    }
    absl::ConsumePrefix(&arg, "-");
    absl::ConsumePrefix(&arg, "-");
    if (arg == "help" || arg == "h") {
      *help = true;
      continue;
    }
    if (arg == "version") {
      *version = true;
      continue;
    }
    std::string name(arg.substr(0, arg.find('=')));
    const bool has_value = arg.find('=') != absl::string_view::npos;
    std::string value =
        has_value ? std::string(arg.substr(arg.find('=') + 1)) : std::string();
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    bool negated = false;
    if (flag == nullptr && absl::StartsWith(name, "no") && !has_value) {
      flag = absl::FindCommandLineFlag(name.substr(2));
      negated = flag != nullptr && flag->IsOfType<bool>();
      if (!negated) flag = nullptr;
    }
    if (flag == nullptr || !Accepts(sub, *flag)) {
      Fail(kExitUsage, absl::StrCat("unknown flag --", name,
                                    " (see tailor-ops ", sub.name, " --help)"));
      return false;
    }
    if (flag->IsOfType<bool>() && !has_value) {
      value = negated ? "false" : "true";
    } else if (!has_value) {
      if (i + 1 >= args.size()) {
        Fail(kExitUsage, absl::StrCat("flag --", name, " needs a value"));
        return false;
      }
      value = args[++i];
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      Fail(kExitUsage, absl::StrCat("--", name, ": ", error));
      return false;
    }
  }
  return true;
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    PrintOverview(stderr);
    return kExitUsage;
  }
  const std::string first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    PrintOverview(stdout);
    return kExitOk;
  }
  if (first == "--version") {
    std::fputs(VersionLine("tailor-ops").c_str(), stdout);
    return kExitOk;
  }
  const std::vector<Subcommand> all = Subcommands();
  auto sub = std::find_if(all.begin(), all.end(),
                          [&](const Subcommand& s) { return s.name == first; });
  if (sub == all.end()) {
    Fail(kExitUsage, absl::StrCat("unknown subcommand \"", first, "\""));
    PrintOverview(stderr);
    return kExitUsage;
  }
  SetProgramName(absl::StrCat("tailor-ops ", sub->name));
  std::vector<std::string> positional;
  bool help = false;
  bool version = false;
  if (!ParseArguments(*sub, std::vector<std::string>(argv + 2, argv + argc),
                      &positional, &help, &version)) {
    return kExitUsage;
  }
  if (help) {
    PrintHelp(*sub);
    return kExitOk;
  }
  if (version) {
    std::fputs(VersionLine("tailor-ops").c_str(), stdout);
    return kExitOk;
  }
  // Logging (--log_level, --log_format were parsed above).
  const std::string usage = absl::StrCat("tailor-ops ", sub->usage);
  char* program = argv[0];
  InitProgram({.name = "tailor-ops",
               .usage = usage,
               .flags_file = sub->flags_file,
               .more_flags_files = {kCommonFlagsFile},
               .default_log_level = "warn"},
              1, &program);
  return sub->run(positional);
}

}  // namespace
}  // namespace tailor::ops

int main(int argc, char** argv) { return tailor::ops::Main(argc, argv); }
