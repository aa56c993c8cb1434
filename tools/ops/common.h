// File: common.h
// What every tailor-ops subcommand shares: the personalizer's config file
// and Kafka properties (TLS/SASL included), and how errors are reported.
//
// Flags (defined in common.cc, accepted by every subcommand):
//   --config=FILE            the personalizer's service config (YAML); the
//                            TAILOR_* environment applies as for the service
//   --bootstrap_servers=...  overrides the config file
//   --bootstrap_file=FILE    a devbroker bootstrap file
//   --kafka_property=k=v,... extra librdkafka properties for every client
#ifndef TAILOR_TOOLS_OPS_COMMON_H_
#define TAILOR_TOOLS_OPS_COMMON_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "libs/kafka/config.h"
#include "tailor/v1/config.pb.h"

namespace tailor::ops {

struct OpsConfig {
  // The service config with defaults applied (topic names, group id).
  // state_dir stays empty unless the file or environment sets it.
  tailor::v1::ServiceConfig service;
  // bootstrap.servers, kafka_properties, kafka_property_files and
  // --kafka_property, checked by librdkafka; for every client the tool makes.
  kafka::Properties kafka;
};

// Loads and checks the config. Errors name the field; they are usage errors
// (kExitUsage). `needs_kafka`: bootstrap servers are required.
absl::StatusOr<OpsConfig> LoadOpsConfig(bool needs_kafka = true);

// "tailor-ops <subcommand>", set by main.cc before the subcommand runs.
const std::string& ProgramName();
void SetProgramName(std::string name);

// Prints "<program>: <message>" on stderr and returns `exit_code`.
int Fail(int exit_code, absl::string_view message);
int Fail(int exit_code, const absl::Status& status);
// The same with the exit status the error asks for: a usage error (2) for
// InvalidArgument (a flag, a file's content), a runtime error (3) otherwise.
int Fail(const absl::Status& status);

}  // namespace tailor::ops

#endif  // TAILOR_TOOLS_OPS_COMMON_H_
