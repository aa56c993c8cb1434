// File: temp_store_test_base.h
// A test fixture with a real ProfileStore in a fresh temporary directory,
// removed after the test, for the pipeline's unit tests.
#ifndef TAILOR_TESTS_UNIT_PIPELINE_TEMP_STORE_TEST_BASE_H_
#define TAILOR_TESTS_UNIT_PIPELINE_TEMP_STORE_TEST_BASE_H_

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "libs/store/profile_store.h"

namespace tailor::pipeline {

class TempStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/tailor_store.XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    store::StoreOptions options;
    options.path = dir_ + "/state";
    options.block_cache_mb = 8;
    options.write_buffer_mb = 4;
    auto store = store::ProfileStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // The timers of `partition` in the store.
  size_t StoredTimers(int32_t partition = 0) const {
    size_t n = 0;
    EXPECT_TRUE(store_
                    ->ForEachTimer(partition,
                                   [&](int64_t, absl::string_view,
                                       absl::string_view, absl::string_view) {
                                     ++n;
                                     return true;
                                   })
                    .ok());
    return n;
  }

  std::string dir_;
  std::unique_ptr<store::ProfileStore> store_;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_TESTS_UNIT_PIPELINE_TEMP_STORE_TEST_BASE_H_
