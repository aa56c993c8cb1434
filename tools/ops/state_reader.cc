#include "tools/ops/state_reader.h"

#include <stdlib.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tailor::ops {

absl::StatusOr<std::unique_ptr<StateReader>> StateReader::Open(
    const std::string& state_dir) {
  std::unique_ptr<StateReader> reader(new StateReader());
  std::error_code ec;
  const std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec) return absl::InternalError("no temporary directory");
  std::string pattern = (base / "tailor-ops-state-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create a temporary directory in ", base.string()));
  }
  reader->scratch_ = std::move(pattern);
  store::StoreOptions options;
  options.path = state_dir;
  options.secondary_path = reader->scratch_;
  options.block_cache_mb = 16;
  options.write_buffer_mb = 4;
  absl::StatusOr<std::unique_ptr<store::ProfileStore>> store =
      store::ProfileStore::Open(options);
  if (!store.ok()) {
    return absl::Status(
        store.status().code(),
        absl::StrCat("--state_dir: ", store.status().message()));
  }
  reader->store_ = std::move(*store);
  return reader;
}

StateReader::~StateReader() {
  if (store_ != nullptr) store_->Close().IgnoreError();
  store_.reset();
  std::error_code ec;
  if (!scratch_.empty()) std::filesystem::remove_all(scratch_, ec);
}

}  // namespace tailor::ops
