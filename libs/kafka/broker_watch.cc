#include "libs/kafka/broker_watch.h"

#include "absl/time/clock.h"

namespace tailor::kafka {

BrokerWatch::BrokerWatch(rd_kafka_t* rk, absl::Duration interval,
                         absl::Duration timeout)
    : rk_(rk),
      interval_(interval),
      timeout_(timeout),
      last_answer_ns_(absl::GetCurrentTimeNanos()),
      thread_([this] { Run(); }) {}

BrokerWatch::~BrokerWatch() {
  stop_.Notify();
  thread_.join();
}

absl::Duration BrokerWatch::silent_for() const {
  return absl::Nanoseconds(absl::GetCurrentTimeNanos() -
                           last_answer_ns_.load());
}

void BrokerWatch::Run() {
  do {
    const rd_kafka_metadata_t* metadata = nullptr;
    // Only the topics this client knows: a small request.
    const rd_kafka_resp_err_t err = rd_kafka_metadata(
        rk_, /*all_topics=*/0, nullptr, &metadata,
        static_cast<int>(absl::ToInt64Milliseconds(timeout_)));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      MetadataPtr owned(metadata);
      last_answer_ns_.store(absl::GetCurrentTimeNanos());
    }
  } while (!stop_.WaitForNotificationWithTimeout(interval_));
}

}  // namespace tailor::kafka
