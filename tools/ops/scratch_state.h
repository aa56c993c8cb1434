// File: scratch_state.h
// The scratch state directory of a replay (reprocess, rebuild): one named
// by the operator, which must be new or empty, or a temporary one removed
// when the run ends. Optionally filled first with a copy of a live state
// directory (never written to).
#ifndef TAILOR_TOOLS_OPS_SCRATCH_STATE_H_
#define TAILOR_TOOLS_OPS_SCRATCH_STATE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "libs/store/profile_store.h"
#include "tailor/v1/config.pb.h"

namespace tailor::ops {

class ScratchState {
 public:
  // `dir` empty: a temporary directory. `flag` names the flag in errors
  // (InvalidArgument: a usage error).
  static absl::StatusOr<std::unique_ptr<ScratchState>> Create(
      const std::string& dir, const std::string& flag);
  ScratchState(const ScratchState&) = delete;
  ScratchState& operator=(const ScratchState&) = delete;
  ~ScratchState();  // closes the store; removes a temporary directory

  // Copies the live state at `live_dir` into the directory (before Open()).
  absl::Status CopyFrom(const std::string& live_dir);
  // Opens the store with the config's cache sizes.
  absl::StatusOr<store::ProfileStore*> Open(
      const tailor::v1::ServiceConfig& config);

  const std::string& dir() const { return dir_; }

 private:
  ScratchState(std::string dir, bool temporary)
      : dir_(std::move(dir)), temporary_(temporary) {}

  std::string dir_;
  bool temporary_;
  std::unique_ptr<store::ProfileStore> store_;
};

}  // namespace tailor::ops

#endif  // TAILOR_TOOLS_OPS_SCRATCH_STATE_H_
