// Fuzz target: the personalizer's service config as main.cc loads it: a
// YAML/JSON file parsed into tailor.v1.ServiceConfig, then the TAILOR_*
// environment (ApplyServiceEnvironment), defaults and validation. The input
// is the file's text, optionally followed by a line "%env" and lines
// NAME=value that make the environment. A config that passes validation
// must give a usable HTTP address; applying the defaults is idempotent.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/util/message_differencer.h"
#include "libs/config/service_config.h"
#include "libs/config/yaml_proto.h"
#include "tailor/v1/config.pb.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace config = ::tailor::config;
  namespace fuzz = ::tailor::fuzz;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string> environment;
  constexpr absl::string_view kEnvMarker = "\n%env\n";
  if (const size_t at = text.find(kEnvMarker); at != text.npos) {
    for (absl::string_view line :
         absl::StrSplit(text.substr(at + kEnvMarker.size()), '\n')) {
      const size_t eq = line.find('=');
      if (eq == line.npos) continue;
      environment[std::string(line.substr(0, eq))] =
          std::string(line.substr(eq + 1));
    }
    text = text.substr(0, at + 1);
  }

  tailor::v1::ServiceConfig cfg;
  if (!config::ParseYamlIntoProto(text, &cfg).ok()) return 0;
  const config::EnvironmentLookup lookup =
      [&](const std::string& name) -> std::optional<std::string> {
    auto it = environment.find(name);
    if (it == environment.end()) return std::nullopt;
    return it->second;
  };
  if (!config::ApplyServiceEnvironment(lookup, &cfg).ok()) return 0;
  config::ApplyServiceDefaults(&cfg);
  const tailor::v1::ServiceConfig once = cfg;
  config::ApplyServiceDefaults(&cfg);
  if (!google::protobuf::util::MessageDifferencer::Equals(cfg, once)) {
    fuzz::Fail("ApplyServiceDefaults is not idempotent");
  }
  if (!config::ValidateServiceConfig(cfg).ok()) return 0;
  const std::optional<std::string> http = config::HttpListenAddress(cfg);
  if (http.has_value() && !config::IsValidHostPort(*http)) {
    fuzz::Fail("a valid config has an unusable http_address");
  }
  return 0;
}
