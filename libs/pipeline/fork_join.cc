// File: fork_join.cc
#include "libs/pipeline/fork_join.h"

namespace tailor::pipeline {

ForkJoin::ForkJoin(int workers) {
  for (int w = 1; w < workers; ++w)
    threads_.emplace_back([this, w] { Loop(w); });
}

ForkJoin::~ForkJoin() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void ForkJoin::Run(absl::FunctionRef<void(int)> fn) {
  if (threads_.empty()) {
    fn(0);
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    job_ = &fn;
    running_ = static_cast<int>(threads_.size());
    ++generation_;
  }
  fn(0);
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* running) { return *running == 0; }, &running_));
  job_ = nullptr;
}

void ForkJoin::Loop(int worker) {
  uint64_t seen = 0;
  while (true) {
    const absl::FunctionRef<void(int)>* job = nullptr;
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || generation_ != seen;
      };
      mu_.Await(absl::Condition(&wake));
      if (stop_) return;
      seen = generation_;
      job = job_;
    }
    (*job)(worker);
    absl::MutexLock lock(&mu_);
    --running_;
  }
}

}  // namespace tailor::pipeline
