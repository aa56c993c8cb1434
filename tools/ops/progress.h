// File: progress.h
// Progress of a long operation, on stderr. On a terminal, one line redrawn
// at most 5 times a second:
//   reprocess [##########..........]  51%  1203344/2351002  85211/s  ETA 0:13
// (without a total: done and rate). Otherwise (a pipe, a log file, CI) a
// plain line every 5 s: "reprocess: 1203344/2351002 done, 85211/s, ETA 13 s".
// Finish() prints the final count and rate either way. Not thread-safe.
#ifndef TAILOR_TOOLS_OPS_PROGRESS_H_
#define TAILOR_TOOLS_OPS_PROGRESS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace tailor::ops {

class Progress {
 public:
  // `total` <= 0: not known (SetTotal() may tell it later).
  Progress(std::string what, int64_t total);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress();  // Finish() if not done yet

  void SetTotal(int64_t total);
  void Add(int64_t n);
  void Finish();

  int64_t done() const { return done_; }
  // Items per second since the start.
  double rate() const;

 private:
  void Show(bool final);

  std::string what_;
  int64_t total_;
  int64_t done_ = 0;
  absl::Time start_;
  absl::Time last_shown_;
  bool terminal_;
  bool finished_ = false;
};

}  // namespace tailor::ops

#endif  // TAILOR_TOOLS_OPS_PROGRESS_H_
