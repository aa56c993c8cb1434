#include "tools/ops/scratch_state.h"

#include <stdlib.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/base/status_macros.h"
#include "libs/store/state_copy.h"

namespace tailor::ops {

absl::StatusOr<std::unique_ptr<ScratchState>> ScratchState::Create(
    const std::string& dir, const std::string& flag) {
  std::error_code ec;
  if (dir.empty()) {
    const char* tmp = getenv("TMPDIR");
    std::string pattern = absl::StrCat(tmp != nullptr && *tmp ? tmp : "/tmp",
                                       "/tailor-ops-state.XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("cannot create a temporary directory ", pattern));
    }
    return std::unique_ptr<ScratchState>(new ScratchState(pattern, true));
  }
  if (std::filesystem::exists(dir, ec) &&
      (!std::filesystem::is_directory(dir, ec) ||
       !std::filesystem::is_empty(dir, ec))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, ": ", dir,
        " is not empty; a scratch state must be a new or empty directory "
        "(never the live one)"));
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": cannot create ", dir, ": ", ec.message()));
  }
  return std::unique_ptr<ScratchState>(new ScratchState(dir, false));
}

ScratchState::~ScratchState() {
  store_.reset();
  if (temporary_) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

absl::Status ScratchState::CopyFrom(const std::string& live_dir) {
  return store::CopyLiveState(live_dir, dir_).status();
}

absl::StatusOr<store::ProfileStore*> ScratchState::Open(
    const tailor::v1::ServiceConfig& config) {
  store::StoreOptions options;
  options.path = dir_;
  options.block_cache_mb = config.block_cache_mb();
  options.write_buffer_mb = config.write_buffer_mb();
  TAILOR_ASSIGN_OR_RETURN(store_, store::ProfileStore::Open(options));
  return store_.get();
}

}  // namespace tailor::ops
