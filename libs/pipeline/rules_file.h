// File: rules_file.h
// The rules a personalizer (or tailor-ops) runs with: read from a YAML file,
// or the built-in defaults, compiled into a decide::Engine, with a
// fingerprint of their content so that running rules can be told apart.
#ifndef TAILOR_LIBS_PIPELINE_RULES_FILE_H_
#define TAILOR_LIBS_PIPELINE_RULES_FILE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "libs/decide/engine.h"
#include "tailor/v1/config.pb.h"

namespace tailor::pipeline {

// A hex fingerprint of the rules' content (deterministic serialization),
// not of the file's layout: the same rules give the same fingerprint
// whatever the YAML looks like.
std::string RulesFingerprint(const tailor::v1::RulesConfig& rules);

struct LoadedRules {
  std::shared_ptr<const decide::Engine> engine;
  std::string fingerprint;
};

// Reads and compiles the rules file at `path`; an empty path gives the
// built-in defaults. Errors name the file and the field.
absl::StatusOr<LoadedRules> LoadRules(const std::string& path);

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_RULES_FILE_H_
