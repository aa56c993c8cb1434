// Benchmarks of the profile store's hot path: Commit of 500-profile batches
// and MultiGet of 500 keys. Run by hand; not part of ctest.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "libs/store/profile_store.h"

namespace tailor::store {
namespace {

constexpr int kBatch = 500;
constexpr int kCustomers = 200'000;
constexpr size_t kValueBytes = 200;

class ScratchStore {
 public:
  ScratchStore() {
    std::string tmpl = std::filesystem::temp_directory_path().string() +
                       "/profile_store_bench.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir_ = tmpl;
    StoreOptions options;
    options.path = dir_ + "/db";
    auto store = ProfileStore::Open(options);
    if (!store.ok()) std::abort();
    store_ = *std::move(store);
  }
  ~ScratchStore() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  ProfileStore* get() { return store_.get(); }

 private:
  std::string dir_;
  std::unique_ptr<ProfileStore> store_;
};

std::vector<std::string> CustomerIds() {
  std::vector<std::string> ids;
  ids.reserve(kCustomers);
  for (int i = 0; i < kCustomers; ++i) ids.push_back(absl::StrCat("c", i));
  return ids;
}

void BM_Commit500Profiles(benchmark::State& state) {
  ScratchStore store;
  const std::vector<std::string> ids = CustomerIds();
  const std::string value(kValueBytes, 'v');
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int> pick(0, kCustomers - 1);
  ProfileStore::Batch batch = store.get()->NewBatch();
  int64_t offset = 0;
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) {
      batch.PutProfile(0, ids[pick(rng)], value);
    }
    offset += kBatch;
    batch.PutOffset("clickstream", 0, offset);
    if (!store.get()->Commit(&batch).ok()) {
      state.SkipWithError("commit failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_Commit500Profiles)->Unit(benchmark::kMicrosecond);

void BM_MultiGet500Profiles(benchmark::State& state) {
  ScratchStore store;
  const std::vector<std::string> ids = CustomerIds();
  const std::string value(kValueBytes, 'v');
  ProfileStore::Batch batch = store.get()->NewBatch();
  for (int i = 0; i < kCustomers; ++i) {
    batch.PutProfile(0, ids[i], value);
    if (batch.Count() == 1000 && !store.get()->Commit(&batch).ok()) {
      std::abort();
    }
  }
  if (!store.get()->Commit(&batch).ok() || !store.get()->Flush().ok()) {
    std::abort();
  }
  std::mt19937_64 rng(7);
  // Half the lookups miss, as for new customers.
  std::uniform_int_distribution<int> pick(0, 2 * kCustomers - 1);
  std::vector<std::string> keys(kBatch);
  std::vector<absl::string_view> views(kBatch);
  std::vector<std::string> values;
  std::vector<bool> found;
  for (auto _ : state) {
    state.PauseTiming();
    for (int i = 0; i < kBatch; ++i) {
      keys[i] = absl::StrCat("c", pick(rng));
      views[i] = keys[i];
    }
    state.ResumeTiming();
    if (!store.get()->MultiGetProfiles(0, views, &values, &found).ok()) {
      state.SkipWithError("multiget failed");
      break;
    }
    benchmark::DoNotOptimize(values.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_MultiGet500Profiles)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tailor::store

BENCHMARK_MAIN();
