// The Processor's privacy duties without Kafka: audit records, the opt-out's
// timers, and the retention sweep with its timers, on a real RocksDB store.

#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/base/keyed_hash.h"
#include "libs/pipeline/processor.h"
#include "libs/store/profile_store.h"
#include "tailor/v1/audit.pb.h"
#include "tailor/v1/events.pb.h"
#include "tests/unit/pipeline/processor_test_base.h"

namespace tailor::pipeline {
namespace {

using tailor::v1::AuditRecord;
using tailor::v1::Event;

constexpr int64_t kHour = 3600 * 1000;
constexpr int64_t kDay = 24 * kHour;
// 2026-11-02 00:00:00 UTC: a UTC midnight.
constexpr int64_t kMidnight = 1793577600000;

class ProcessorPrivacyTest : public ProcessorTestBase {
 protected:
  void Start(int64_t retention_ms) {
    ProcessorOptions options = DefaultTopics();
    options.limits.max_future_skew_ms = 1000LL * kDay;
    options.audit_salt = "salt";
    options.instance = "pod-0";
    options.profile_retention_ms = retention_ms;
    StartProcessor(std::move(options));
  }

  // Processes one event; keeps the outputs of the step in outputs_.
  void Process(tailor::v1::EventTopic kind, Event event) {
    values_.push_back(event.SerializeAsString());
    keys_.push_back(event.customer_id());
    InputRecord rec;
    rec.kind = kind;
    rec.topic = InputTopic(kind);
    rec.offset = offset_++;
    rec.key = keys_.back();
    rec.value = values_.back();
    ASSERT_TRUE(processor_
                    ->ProcessBatch({rec}, event.event_time_ms(),
                                   std::numeric_limits<int64_t>::max())
                    .ok());
    processor_->PrepareCommit();
    for (const OutputRecord& out : processor_->outputs()) {
      outputs_.push_back(out);
    }
    ASSERT_TRUE(processor_->WriteState().ok());
  }

  static Event Of(const std::string& customer, int64_t t) {
    Event e;
    e.set_customer_id(customer);
    e.set_event_id(absl::StrCat(customer, "@", t));
    e.set_event_time_ms(t);
    return e;
  }
  void Consent(const std::string& customer, int64_t t, bool opt_out) {
    Event e = Of(customer, t);
    e.mutable_consent_updated()->add_granted_channels(tailor::v1::CHANNEL_PUSH);
    e.mutable_consent_updated()->set_profiling_opt_out(opt_out);
    Process(tailor::v1::EVENT_TOPIC_PRIVACY, e);
  }
  void Cart(const std::string& customer, int64_t t) {
    Event e = Of(customer, t);
    auto* item = e.mutable_cart_add()->mutable_item();
    item->set_product_id("p-1");
    item->set_quantity(1);
    item->mutable_unit_price()->set_minor_units(50000);
    item->mutable_unit_price()->set_currency("PLN");
    Process(tailor::v1::EVENT_TOPIC_CLICKSTREAM, e);
  }
  void View(const std::string& customer, int64_t t) {
    Event e = Of(customer, t);
    e.mutable_page_view()->set_page_type("home");
    Process(tailor::v1::EVENT_TOPIC_CLICKSTREAM, e);
  }

  std::vector<AuditRecord> Audits() const {
    std::vector<AuditRecord> out;
    for (const OutputRecord& o : outputs_) {
      if (o.kind != OutputKind::kAudit) continue;
      EXPECT_EQ(o.topic, "tailor.audit");
      AuditRecord r;
      EXPECT_TRUE(r.ParseFromString(o.value));
      EXPECT_EQ(o.key, r.customer_hash());
      out.push_back(r);
    }
    return out;
  }
  // The changelog values of `customer`, in order ("" = a tombstone).
  std::vector<std::string> Changelog(const std::string& customer) const {
    std::vector<std::string> out;
    for (const OutputRecord& o : outputs_) {
      if (o.kind == OutputKind::kChangelog && o.key == customer) {
        out.push_back(o.value);
      }
    }
    return out;
  }
  int Decisions(const std::string& customer) const {
    int n = 0;
    for (const OutputRecord& o : outputs_) {
      n += o.kind == OutputKind::kDecision && o.key == customer;
    }
    return n;
  }

  std::vector<std::string> values_;  // views of InputRecords point here
  std::vector<std::string> keys_;
  int64_t offset_ = 0;
  std::vector<OutputRecord> outputs_;
};

TEST_F(ProcessorPrivacyTest, ConsentOptOutAndErasureAreAudited) {
  Start(0);
  const int64_t t = kMidnight + 10 * kHour;
  Consent("c-1", t, false);
  Consent("c-1", t + 1, true);
  Event erase = Of("c-2", t + 2);
  erase.mutable_erasure_requested()->set_request_id("dsr-9");
  Process(tailor::v1::EVENT_TOPIC_PRIVACY, erase);

  const std::vector<AuditRecord> audits = Audits();
  ASSERT_EQ(audits.size(), 4u);
  EXPECT_EQ(audits[0].action(), tailor::v1::AUDIT_ACTION_CONSENT_CHANGED);
  EXPECT_EQ(audits[1].action(), tailor::v1::AUDIT_ACTION_CONSENT_CHANGED);
  EXPECT_EQ(audits[2].action(), tailor::v1::AUDIT_ACTION_PROFILING_OPTED_OUT);
  EXPECT_EQ(audits[3].action(), tailor::v1::AUDIT_ACTION_ERASED);
  EXPECT_EQ(audits[3].request_id(), "dsr-9");
  EXPECT_EQ(audits[3].customer_hash(), KeyedHashHex("salt", "c-2"));
  EXPECT_EQ(audits[3].instance(), "pod-0");
  EXPECT_EQ(audits[3].source_topic(), "privacy");
  EXPECT_EQ(audits[3].source_offset(), 2);
  for (const AuditRecord& r : audits) {
    EXPECT_EQ(r.SerializeAsString().find("c-"), std::string::npos);
  }
  EXPECT_EQ(processor_->stats().audit_records, 4);
  EXPECT_EQ(Changelog("c-2").back(), "");  // the tombstone, under the id
}

TEST_F(ProcessorPrivacyTest, OptOutDropsTheTimersOfTheCart) {
  Start(0);
  const int64_t t = kMidnight + 10 * kHour;
  Consent("c-1", t, false);
  Cart("c-1", t + 1000);
  ASSERT_GT(StoredTimers(), 0u);  // the reminders
  Consent("c-1", t + 2000, true);
  EXPECT_EQ(StoredTimers(), 0u);
  tailor::v1::CustomerProfile last;
  ASSERT_TRUE(last.ParseFromString(Changelog("c-1").back()));
  EXPECT_EQ(last.cart().items_size(), 0);
  EXPECT_EQ(last.pending_timers_size(), 0);
  // Days later, nothing was reminded.
  const int before = Decisions("c-1");
  View("c-other", t + 3 * kDay);
  EXPECT_EQ(Decisions("c-1"), before);
}

TEST_F(ProcessorPrivacyTest, RetentionSweepDeletesIdleProfilesAndTheirTimers) {
  // A retention shorter than the cart's second reminder (24 h), so the
  // expired profile still has a timer pending at the sweep.
  Start(kHour);
  Consent("c-idle", kMidnight + kHour - 1000, false);
  Cart("c-idle", kMidnight + kHour);
  Consent("c-opted-out", kMidnight + kHour + 1, true);
  View("c-active", kMidnight + 23 * kHour + 30 * 60 * 1000);
  EXPECT_EQ(processor_->stats().profiles_expired, 0);
  EXPECT_GT(StoredTimers(), 0u);  // the second reminder
  const int reminders = Decisions("c-idle");
  // Past midnight: c-idle was untouched for longer than the hour before
  // it; c-active was not; the opt-out is kept to honour it.
  View("c-late", kMidnight + kDay + 60 * 1000);
  EXPECT_EQ(processor_->stats().profiles_expired, 1);
  EXPECT_EQ(Changelog("c-idle").back(), "");
  EXPECT_NE(Changelog("c-active").back(), "");
  EXPECT_NE(Changelog("c-opted-out").back(), "");
  EXPECT_EQ(StoredTimers(), 0u);
  std::string value;
  EXPECT_FALSE(*store_->GetProfile(0, "c-idle", &value));
  // The second reminder's time passes: nothing fires for c-idle.
  View("c-late", kMidnight + kDay + 2 * kHour);
  EXPECT_EQ(Decisions("c-idle"), reminders);
  std::vector<AuditRecord> expired;
  for (const AuditRecord& r : Audits()) {
    if (r.action() == tailor::v1::AUDIT_ACTION_RETENTION_EXPIRED) {
      expired.push_back(r);
    }
  }
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].customer_hash(), KeyedHashHex("salt", "c-idle"));
  EXPECT_EQ(expired[0].event_time_ms(), kMidnight + kDay);
  EXPECT_EQ(expired[0].source_partition(), 0);
}

TEST_F(ProcessorPrivacyTest, NoRetentionKeepsEveryProfile) {
  Start(0);
  View("c-1", kMidnight - kHour);
  View("c-2", kMidnight + 400 * kDay);
  EXPECT_EQ(processor_->stats().profiles_expired, 0);
  EXPECT_NE(Changelog("c-1").back(), "");
}

}  // namespace
}  // namespace tailor::pipeline
