// File: broker_watch.h
// Whether the cluster answers: a thread of its own asks for metadata every
// `interval` (waiting at most `timeout`) and remembers when an answer last
// came. A broker that is down, unreachable or frozen (its connections open,
// no answer) shows as silence; readiness follows it.
//
// Owned by its creator; silent_for() may be called from any thread.
#ifndef TAILOR_LIBS_KAFKA_BROKER_WATCH_H_
#define TAILOR_LIBS_KAFKA_BROKER_WATCH_H_

#include <atomic>
#include <cstdint>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "libs/kafka/handles.h"

namespace tailor::kafka {

class BrokerWatch {
 public:
  // `rk` (not owned) must outlive the watch.
  BrokerWatch(rd_kafka_t* rk, absl::Duration interval, absl::Duration timeout);
  BrokerWatch(const BrokerWatch&) = delete;
  BrokerWatch& operator=(const BrokerWatch&) = delete;
  ~BrokerWatch();  // Stops and joins the thread.

  // How long since the last answer (since the start until the first one).
  absl::Duration silent_for() const;

 private:
  void Run();

  rd_kafka_t* rk_;
  absl::Duration interval_;
  absl::Duration timeout_;
  std::atomic<int64_t> last_answer_ns_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace tailor::kafka

#endif  // TAILOR_LIBS_KAFKA_BROKER_WATCH_H_
