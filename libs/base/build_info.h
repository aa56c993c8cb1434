// File: build_info.h
// What was built: tailor's version (CMake project version), the git revision
// of the source tree (taken at build time; "unknown" outside a checkout unless
// -DTAILOR_GIT_REVISION=... is given) and the CMake build type.
#ifndef TAILOR_LIBS_BASE_BUILD_INFO_H_
#define TAILOR_LIBS_BASE_BUILD_INFO_H_

#include "absl/strings/string_view.h"

namespace tailor {

absl::string_view BuildVersion();      // "0.1.0"
absl::string_view BuildGitRevision();  // "3f2c1a9b7d10" or "...-dirty"
absl::string_view BuildType();         // "Release", "RelWithDebInfo", ...

}  // namespace tailor

#endif  // TAILOR_LIBS_BASE_BUILD_INFO_H_
