// File: state_reader.h
// A personalizer state directory (RocksDB) opened read-only: a secondary
// instance whose scratch files live in a temporary directory, removed on
// close. It works beside the personalizer that has the directory open and
// sees the state as of Open() (what is only in the service's WAL
// included), never writes to it.
#ifndef TAILOR_TOOLS_OPS_STATE_READER_H_
#define TAILOR_TOOLS_OPS_STATE_READER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "libs/store/profile_store.h"

namespace tailor::ops {

class StateReader {
 public:
  // Errors name the directory; NotFound when it holds no state.
  static absl::StatusOr<std::unique_ptr<StateReader>> Open(
      const std::string& state_dir);
  StateReader(const StateReader&) = delete;
  StateReader& operator=(const StateReader&) = delete;
  ~StateReader();  // closes the store, removes the scratch directory

  // Read methods only: a write is refused by RocksDB.
  store::ProfileStore& store() { return *store_; }

 private:
  StateReader() = default;
  std::string scratch_;
  std::unique_ptr<store::ProfileStore> store_;
};

}  // namespace tailor::ops

#endif  // TAILOR_TOOLS_OPS_STATE_READER_H_
