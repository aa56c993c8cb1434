#include "libs/pipeline/state_writer.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "libs/base/log.h"

namespace tailor::pipeline {

StateWriter::StateWriter(store::ProfileStore* store, CycleSplit* split)
    : store_(store), split_(split), thread_([this] { Run(); }) {}

StateWriter::~StateWriter() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  thread_.join();
}

void StateWriter::Submit(uint64_t seq, store::ProfileStore::Batch* batch) {
  absl::MutexLock lock(&mu_);
  queue_.emplace_back(seq, batch);
}

void StateWriter::Stop() {
  absl::MutexLock lock(&mu_);
  stop_ = true;
}

void StateWriter::WaitFor(uint64_t seq) {
  absl::MutexLock lock(&mu_);
  const auto done = [this, seq]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return written_.load() >= seq || (stop_ && failing_.load());
  };
  mu_.Await(absl::Condition(&done));
}

void StateWriter::Run() {
  for (;;) {
    std::pair<uint64_t, store::ProfileStore::Batch*> next;
    {
      absl::MutexLock lock(&mu_);
      const auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || closing_;
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // closing with nothing left
      next = queue_.front();
    }
    absl::Duration backoff = absl::Milliseconds(50);
    for (;;) {
      absl::Status status;
      {
        ScopedPhase phase(split_, CyclePhase::kRocksDb);
        status = store_->Commit(next.second);
      }
      if (status.ok()) break;
      failing_.store(true);
      ++failures_;
      spdlog::error("state write failed, retrying in {}: {}",
                    absl::FormatDuration(backoff), status.ToString());
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(5));
      absl::MutexLock lock(&mu_);
      if (stop_) return;
    }
    failing_.store(false);
    absl::MutexLock lock(&mu_);
    queue_.pop_front();
    written_.store(next.first);
  }
}

}  // namespace tailor::pipeline
