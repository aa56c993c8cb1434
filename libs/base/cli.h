// File: cli.h
// Start-up shared by tailor's programs (personalizer, devbroker, loadgen and
// the bench programs):
//
//   --help      the usage line and the program's own flags (with the logging
//               flags); --helpfull lists every flag linked in.
//   --version   "<program> <version> (git <revision>, <build type>)".
//   --log_level debug | info | warn | error | off, in any case; default from
//               TAILOR_LOG_LEVEL, else the program's default.
//   --log_format text | json; default from TAILOR_LOG_FORMAT, else text.
//
// An unknown log level or format is refused before anything else happens: a
// message on stderr and exit status 2.
#ifndef TAILOR_LIBS_BASE_CLI_H_
#define TAILOR_LIBS_BASE_CLI_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace tailor {

struct ProgramOptions {
  absl::string_view name;  // e.g. "personalizer"; also the logger's name
  // The usage text after "Usage: ", e.g. "personalizer --config=FILE
  // [flags]", then optionally more lines.
  absl::string_view usage;
  // __FILE__ of the file that defines the program's flags (its main.cc).
  absl::string_view flags_file;
  // Further files whose flags --help lists (flags shared by several
  // programs or subcommands).
  std::vector<absl::string_view> more_flags_files = {};
  absl::string_view default_log_level = "info";
};

// Parses the command line (exits on --help, --version or a bad flag value),
// then sets up logging. Returns the positional arguments, argv[0] first.
std::vector<char*> InitProgram(const ProgramOptions& options, int argc,
                               char** argv);

// "<name> <version> (git <revision>, <build type>)\n".
std::string VersionLine(absl::string_view name);

}  // namespace tailor

#endif  // TAILOR_LIBS_BASE_CLI_H_
