#include "libs/pipeline/rules_file.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "libs/base/stable_hash.h"
#include "libs/base/status_macros.h"
#include "libs/config/yaml_proto.h"

namespace tailor::pipeline {

std::string RulesFingerprint(const tailor::v1::RulesConfig& rules) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    rules.SerializeToCodedStream(&coded);
  }
  return absl::StrCat(absl::Hex(StableHash64({bytes}), absl::kZeroPad16));
}

absl::StatusOr<LoadedRules> LoadRules(const std::string& path) {
  tailor::v1::RulesConfig rules = decide::DefaultRules();
  if (!path.empty()) {
    rules.Clear();
    TAILOR_RETURN_IF_ERROR(config::LoadYamlFileIntoProto(path, &rules));
  }
  TAILOR_ASSIGN_OR_RETURN(std::unique_ptr<decide::Engine> engine,
                          decide::Engine::Create(rules));
  return LoadedRules{std::shared_ptr<const decide::Engine>(std::move(engine)),
                     RulesFingerprint(rules)};
}

}  // namespace tailor::pipeline
