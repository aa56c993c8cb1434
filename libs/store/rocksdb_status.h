// File: rocksdb_status.h
// The one place where rocksdb::Status becomes absl::Status. Keeps the
// distinction between retriable and fatal errors in the absl code.
#ifndef TAILOR_LIBS_STORE_ROCKSDB_STATUS_H_
#define TAILOR_LIBS_STORE_ROCKSDB_STATUS_H_

#include <rocksdb/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tailor::store {

// Converts `s` to an absl::Status whose message is "<what>: <rocksdb text>".
// OK stays OK. Mapping:
//   NotFound -> kNotFound, Corruption -> kDataLoss,
//   NotSupported -> kUnimplemented, InvalidArgument -> kInvalidArgument,
//   IOError: no space -> kResourceExhausted, fatal or unrecoverable
//            severity -> kInternal, otherwise kUnavailable (may clear up),
//   Busy / TryAgain / Incomplete -> kUnavailable,
//   TimedOut / Expired -> kDeadlineExceeded, Aborted -> kAborted,
//   ShutdownInProgress -> kCancelled,
//   ColumnFamilyDropped -> kFailedPrecondition, anything else -> kInternal.
[[nodiscard]] absl::Status RocksStatus(const rocksdb::Status& s,
                                       absl::string_view what);

}  // namespace tailor::store

#endif  // TAILOR_LIBS_STORE_ROCKSDB_STATUS_H_
