#include "libs/store/rocksdb_status.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace tailor::store {
namespace {

absl::StatusCode CodeOf(const rocksdb::Status& s) {
  using C = rocksdb::Status::Code;
  switch (s.code()) {
    case C::kOk:
      return absl::StatusCode::kOk;
    case C::kNotFound:
      return absl::StatusCode::kNotFound;
    case C::kCorruption:
      return absl::StatusCode::kDataLoss;
    case C::kNotSupported:
      return absl::StatusCode::kUnimplemented;
    case C::kInvalidArgument:
      return absl::StatusCode::kInvalidArgument;
    case C::kIOError:
      if (s.IsNoSpace()) return absl::StatusCode::kResourceExhausted;
      // rocksdb::Status (unlike IOStatus) carries no retryable flag; fatal
      // and unrecoverable errors are marked by their severity.
      if (s.severity() >= rocksdb::Status::Severity::kFatalError) {
        return absl::StatusCode::kInternal;
      }
      return absl::StatusCode::kUnavailable;
    case C::kBusy:
    case C::kTryAgain:
    case C::kIncomplete:
      return absl::StatusCode::kUnavailable;
    case C::kTimedOut:
    case C::kExpired:
      return absl::StatusCode::kDeadlineExceeded;
    case C::kAborted:
      return absl::StatusCode::kAborted;
    case C::kShutdownInProgress:
      return absl::StatusCode::kCancelled;
    case C::kColumnFamilyDropped:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::Status RocksStatus(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string message = absl::StrCat(what, ": ", s.ToString());
  if (s.severity() >= rocksdb::Status::Severity::kHardError) {
    absl::StrAppend(&message, " (severity ", static_cast<int>(s.severity()),
                    ")");
  }
  return absl::Status(CodeOf(s), message);
}

}  // namespace tailor::store
