// File: changelog.h
// Names shared by the writers and the readers of the changelog topic and of
// the local checkpoint of each partition's changelog position.
#ifndef TAILOR_LIBS_PIPELINE_CHANGELOG_H_
#define TAILOR_LIBS_PIPELINE_CHANGELOG_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/base/stable_hash.h"
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

// Meta key: the RecordFingerprint of the record just before the stored
// position of an input topic partition (decimal), to tell at the next start
// whether the topic is still the one the state was built from.
inline std::string OffsetFingerprintKey(absl::string_view topic,
                                        int32_t partition) {
  return absl::StrCat("offset-fingerprint/", topic, "/", partition);
}

// A fingerprint of a record's key and value.
inline uint64_t RecordFingerprint(absl::string_view key,
                                  absl::string_view value) {
  return StableHash64({key, value});
}

// Meta key of a partition's PartitionState.
inline std::string PartitionStateKey(int32_t partition) {
  return store::keys::PartitionStateKey(partition);
}

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_CHANGELOG_H_
