#include "tools/ops/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace tailor::ops {
namespace {

constexpr absl::Duration kTerminalEvery = absl::Milliseconds(200);
constexpr absl::Duration kPlainEvery = absl::Seconds(5);
constexpr int kBarWidth = 20;

std::string Clock(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

}  // namespace

Progress::Progress(std::string what, int64_t total)
    : what_(std::move(what)),
      total_(total),
      start_(absl::Now()),
      last_shown_(start_),
      terminal_(isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() { Finish(); }

void Progress::SetTotal(int64_t total) { total_ = total; }

double Progress::rate() const {
  const double seconds =
      std::max(absl::ToDoubleSeconds(absl::Now() - start_), 1e-3);
  return done_ / seconds;
}

void Progress::Add(int64_t n) {
  done_ += n;
  const absl::Time now = absl::Now();
  if (now - last_shown_ >= (terminal_ ? kTerminalEvery : kPlainEvery)) {
    last_shown_ = now;
    Show(false);
  }
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  Show(true);
}

void Progress::Show(bool final) {
  const double r = rate();
  const bool known = total_ > 0;
  const double remaining =
      known && r > 0 ? std::max<int64_t>(total_ - done_, 0) / r : 0;
  std::string line;
  if (final) {
    line = absl::StrFormat("%s: %d done in %.1f s, %.0f/s", what_, done_,
                           absl::ToDoubleSeconds(absl::Now() - start_), r);
  } else if (terminal_) {
    if (known) {
      const double part = std::min(1.0, static_cast<double>(done_) / total_);
      const int filled = static_cast<int>(part * kBarWidth);
      line = absl::StrFormat(
          "%s [%s%s] %3d%%  %d/%d  %.0f/s  ETA %s", what_,
          std::string(filled, '#'), std::string(kBarWidth - filled, '.'),
          static_cast<int>(part * 100), done_, total_, r, Clock(remaining));
    } else {
      line = absl::StrFormat("%s  %d  %.0f/s", what_, done_, r);
    }
  } else if (known) {
    line = absl::StrFormat("%s: %d/%d done, %.0f/s, ETA %.0f s", what_, done_,
                           total_, r, remaining);
  } else {
    line = absl::StrFormat("%s: %d done, %.0f/s", what_, done_, r);
  }
  if (terminal_) {
    // Carriage return and erase-line: the bar is redrawn in place.
    std::fprintf(stderr, "\r\033[2K%s%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace tailor::ops
