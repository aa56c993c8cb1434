#include "tools/ops/common.h"

#include <cstdio>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "libs/config/bootstrap_file.h"
#include "libs/config/service_config.h"
#include "libs/config/yaml_proto.h"
#include "libs/pipeline/pipeline.h"
#include "tools/ops/subcommand.h"

ABSL_FLAG(std::string, config, "",
          "The personalizer's service config file (YAML): topics, group, "
          "Kafka properties. TAILOR_* environment variables apply as for "
          "the service.");
ABSL_FLAG(std::string, bootstrap_servers, "",
          "Kafka bootstrap servers (overrides the config file).");
ABSL_FLAG(std::string, bootstrap_file, "",
          "File holding a line bootstrap.servers=... (as written by "
          "devbroker); waited for up to 10 s.");
ABSL_FLAG(std::vector<std::string>, kafka_property, {},
          "Extra librdkafka properties for every client, key=value[,...] "
          "(secrets belong in kafka_property_files of the config file).");

namespace tailor::ops {
namespace {

std::string& MutableProgramName() {
  static auto* const name = new std::string("tailor-ops");
  return *name;
}

}  // namespace

const std::string& ProgramName() { return MutableProgramName(); }
void SetProgramName(std::string name) {
  MutableProgramName() = std::move(name);
}

int Fail(int exit_code, absl::string_view message) {
  std::fprintf(stderr, "%s: %.*s\n", ProgramName().c_str(),
               static_cast<int>(message.size()), message.data());
  return exit_code;
}

int Fail(int exit_code, const absl::Status& status) {
  return Fail(exit_code, status.message());
}

int Fail(const absl::Status& status) {
  return Fail(absl::IsInvalidArgument(status) ? kExitUsage : kExitRuntime,
              status);
}

absl::StatusOr<OpsConfig> LoadOpsConfig(bool needs_kafka) {
  OpsConfig out;
  tailor::v1::ServiceConfig& cfg = out.service;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    TAILOR_RETURN_IF_ERROR(config::LoadYamlFileIntoProto(path, &cfg));
  }
  TAILOR_RETURN_IF_ERROR(
      config::ApplyServiceEnvironment(config::ProcessEnvironment(), &cfg));
  if (auto v = absl::GetFlag(FLAGS_bootstrap_servers); !v.empty()) {
    cfg.set_bootstrap_servers(v);
  }
  for (const std::string& kv : absl::GetFlag(FLAGS_kafka_property)) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka_property: expected key=value, got \"", kv, "\""));
    }
    (*cfg.mutable_kafka_properties())[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  const std::string bootstrap_file = absl::GetFlag(FLAGS_bootstrap_file);
  if (!bootstrap_file.empty() && cfg.bootstrap_servers().empty()) {
    cfg.set_bootstrap_servers("from-bootstrap-file:0");  // read below
  }
  const bool stand_in_servers = !needs_kafka && cfg.bootstrap_servers().empty();
  if (stand_in_servers) cfg.set_bootstrap_servers("unused:0");
  // The tool keeps no state of the service's: state_dir is not required.
  const bool stand_in_state = cfg.state_dir().empty();
  if (stand_in_state) cfg.set_state_dir("unused");
  config::ApplyServiceDefaults(&cfg);
  TAILOR_RETURN_IF_ERROR(config::ValidateServiceConfig(cfg));
  if (stand_in_state) cfg.clear_state_dir();
  if (stand_in_servers) cfg.clear_bootstrap_servers();
  if (!bootstrap_file.empty()) {
    TAILOR_ASSIGN_OR_RETURN(
        std::string servers,
        config::ReadBootstrapFile(bootstrap_file, absl::Seconds(10)));
    cfg.set_bootstrap_servers(servers);
  }
  if (!cfg.bootstrap_servers().empty()) {
    TAILOR_ASSIGN_OR_RETURN(out.kafka, pipeline::KafkaClientProperties(cfg));
  }
  return out;
}

}  // namespace tailor::ops
