// File: processor_test_base.h
// A test fixture base for the Processor on a real RocksDB store: a fresh
// store in a temporary directory per test (small caches), and a processor
// with the built-in rules on it, removed after each test.
#ifndef TAILOR_TESTS_UNIT_PIPELINE_PROCESSOR_TEST_BASE_H_
#define TAILOR_TESTS_UNIT_PIPELINE_PROCESSOR_TEST_BASE_H_

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "libs/decide/engine.h"
#include "libs/decide/rules.h"
#include "libs/pipeline/processor.h"
#include "libs/store/profile_store.h"

namespace tailor::pipeline {

class ProcessorTestBase : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/processor_test.XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    store::StoreOptions store_options;
    store_options.path = dir_ + "/state";
    store_options.block_cache_mb = 8;
    store_options.write_buffer_mb = 4;
    auto store = store::ProfileStore::Open(store_options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void TearDown() override {
    processor_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Options with the default topic names.
  static ProcessorOptions DefaultTopics() {
    ProcessorOptions options;
    options.topics.set_clickstream("clickstream");
    options.topics.set_orders("orders");
    options.topics.set_privacy("privacy");
    options.topics.set_coupons("decisions.coupons");
    options.topics.set_push("decisions.push");
    options.topics.set_cart_reminders("decisions.cart-reminders");
    options.topics.set_dead_letter("tailor.dlq");
    options.topics.set_changelog("tailor.profiles.changelog");
    options.topics.set_audit("tailor.audit");
    return options;
  }

  // Makes processor_, on store_ with the built-in rules.
  void StartProcessor(ProcessorOptions options) {
    auto engine = decide::Engine::Create(decide::DefaultRules());
    ASSERT_TRUE(engine.ok()) << engine.status();
    processor_ = std::make_unique<Processor>(
        store_.get(), std::shared_ptr<const decide::Engine>(std::move(*engine)),
        std::move(options));
  }

  std::string dir_;
  std::unique_ptr<store::ProfileStore> store_;
  std::unique_ptr<Processor> processor_;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_TESTS_UNIT_PIPELINE_PROCESSOR_TEST_BASE_H_
