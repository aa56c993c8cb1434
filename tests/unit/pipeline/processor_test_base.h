// File: processor_test_base.h
// A test fixture base for the Processor on a real RocksDB store
// (TempStoreTest): a processor with the built-in rules on it, removed after
// each test.
#ifndef TAILOR_TESTS_UNIT_PIPELINE_PROCESSOR_TEST_BASE_H_
#define TAILOR_TESTS_UNIT_PIPELINE_PROCESSOR_TEST_BASE_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "libs/decide/engine.h"
#include "libs/decide/rules.h"
#include "libs/pipeline/processor.h"
#include "libs/store/profile_store.h"
#include "tests/unit/pipeline/temp_store_test_base.h"

namespace tailor::pipeline {

class ProcessorTestBase : public TempStoreTest {
 protected:
  void TearDown() override {
    processor_.reset();
    TempStoreTest::TearDown();
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

  // The topic an event of `kind` comes from, by DefaultTopics()' names.
  static absl::string_view InputTopic(tailor::v1::EventTopic kind) {
    switch (kind) {
      case tailor::v1::EVENT_TOPIC_PRIVACY:
        return "privacy";
      case tailor::v1::EVENT_TOPIC_CLICKSTREAM:
        return "clickstream";
      default:
        return "orders";
    }
  }

  // Makes processor_, on store_ with the built-in rules.
  void StartProcessor(ProcessorOptions options) {
    auto engine = decide::Engine::Create(decide::DefaultRules());
    ASSERT_TRUE(engine.ok()) << engine.status();
    processor_ = std::make_unique<Processor>(
        store_.get(), std::shared_ptr<const decide::Engine>(std::move(*engine)),
        std::move(options));
  }

  std::unique_ptr<Processor> processor_;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_TESTS_UNIT_PIPELINE_PROCESSOR_TEST_BASE_H_
