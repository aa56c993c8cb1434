// File: state_copy.h
// A copy of a live state directory, taken without writing to it: the copy
// a what-if run (tailor-ops reprocess --from_state) starts from, so that
// caps, cooldowns and budgets begin from real history.
#ifndef TAILOR_LIBS_STORE_STATE_COPY_H_
#define TAILOR_LIBS_STORE_STATE_COPY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace tailor::store {

// Copies every column family of the database at `live_dir` into a new
// database at `copy_dir` (which must not hold one) and returns the number
// of keys copied. `live_dir` is opened as a RocksDB secondary instance:
// read-only, beside a running personalizer that holds its lock, caught up
// with the primary's last write when the copy begins. The secondary's own
// log files go to a temporary directory next to `copy_dir`, removed
// afterwards.
absl::StatusOr<int64_t> CopyLiveState(const std::string& live_dir,
                                      const std::string& copy_dir);

}  // namespace tailor::store

#endif  // TAILOR_LIBS_STORE_STATE_COPY_H_
