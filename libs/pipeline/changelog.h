// File: changelog.h
// Names shared by the writers and the readers of the changelog topic and of
// the local checkpoint of each partition's changelog position.
#ifndef TAILOR_LIBS_PIPELINE_CHANGELOG_H_
#define TAILOR_LIBS_PIPELINE_CHANGELOG_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/store/keys.h"

namespace tailor::pipeline {

// Key of a partition's PartitionCheckpoint record on the changelog. It starts
// with a NUL byte, which validation refuses in customer ids.
inline constexpr absl::string_view kCheckpointKey{"\0tailor.checkpoint", 18};

// Meta key: the next changelog offset the local state of a partition
// reflects (decimal).
inline std::string ChangelogPositionKey(int32_t partition) {
  return absl::StrCat("changelog/", partition);
}

// Meta key of a partition's PartitionState.
inline std::string PartitionStateKey(int32_t partition) {
  return store::keys::PartitionStateKey(partition);
}

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_CHANGELOG_H_
