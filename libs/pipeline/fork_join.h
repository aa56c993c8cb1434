// File: fork_join.h
// A fixed team of threads that run one job on every worker index at once:
// Run(fn) calls fn(0) on the calling thread and fn(1) ... fn(n-1) on the
// team's threads, and returns when every call has returned. The calls of
// one Run() see everything the caller did before it, and the caller sees
// everything they did after it. With one worker there are no threads and
// Run(fn) is fn(0).
//
// Owned by Workers; Run() is called from one thread at a time.
#ifndef TAILOR_LIBS_PIPELINE_FORK_JOIN_H_
#define TAILOR_LIBS_PIPELINE_FORK_JOIN_H_

#include <cstdint>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"

namespace tailor::pipeline {

class ForkJoin {
 public:
  // `workers` >= 1: the caller and workers - 1 threads.
  explicit ForkJoin(int workers);
  ForkJoin(const ForkJoin&) = delete;
  ForkJoin& operator=(const ForkJoin&) = delete;
  ~ForkJoin();

  int workers() const { return static_cast<int>(threads_.size()) + 1; }
  void Run(absl::FunctionRef<void(int worker)> fn);

 private:
  void Loop(int worker);

  absl::Mutex mu_;
  const absl::FunctionRef<void(int)>* job_ ABSL_GUARDED_BY(mu_) = nullptr;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // Run() calls
  int running_ ABSL_GUARDED_BY(mu_) = 0;          // threads not done yet
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace tailor::pipeline

#endif  // TAILOR_LIBS_PIPELINE_FORK_JOIN_H_
