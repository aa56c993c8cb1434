// File: engine.h
// The decision engine of tailor: a pure, deterministic function of
// (profile, event or timer, rules, time) -> decisions and timers. No I/O, no
// clocks, no randomness except stable hashes. See libs/decide/README.md for
// the campaigns and the order in which the guards run.
#ifndef TAILOR_LIBS_DECIDE_ENGINE_H_
#define TAILOR_LIBS_DECIDE_ENGINE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/decide/rules.h"
#include "tailor/v1/config.pb.h"
#include "tailor/v1/decision.pb.h"
#include "tailor/v1/events.pb.h"
#include "tailor/v1/profile.pb.h"

namespace tailor::decide {

// What one OnEvent/OnTimer call produced. Owned by the caller, who reuses it
// across calls (Clear() keeps the vectors' capacity). Not thread-safe: one
// Outcome per calling thread.
struct Outcome {
  // Decisions in deterministic order (campaign order, see README.md).
  std::vector<tailor::v1::Decision> decisions;
  // Timers to set. The caller stores them; a timer whose timer_id already
  // exists for the customer replaces it.
  std::vector<tailor::v1::Timer> timers;

  void Clear();
};

// The rules engine. Created once per rules version and owned by the caller
// (typically shared by all partition tasks through a shared_ptr). Immutable
// after Create and thread-compatible: its const methods may be called from
// many threads at once, each with its own profile, partition state and
// Outcome.
class Engine {
 public:
  // Validates `rules` (ValidateRules) and precomputes what the hot path
  // needs: the default time zone, variants' cumulative weights, caps per
  // channel.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Engine>> Create(
      const tailor::v1::RulesConfig& rules);

  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine();

  // The rules this engine was created from.
  const tailor::v1::RulesConfig& rules() const;

  // Runs the rules after `event` has been folded into *profile.
  // `partition_state` (not null) holds the coupon budgets used in the
  // event's partition; its partition and partition_count say which share of
  // the shop-wide budgets the partition may use. Appends to *out (it does not
  // clear it). May update the profile's guard bookkeeping: campaigns,
  // channel_stats, coupons_issued and dissatisfaction.escalated_at_ms /
  // escalation_sent_at_ms.
  void OnEvent(const tailor::v1::Event& event,
               tailor::v1::CustomerProfile* profile,
               tailor::v1::PartitionState* partition_state, Outcome* out) const;

  // A timer fired at stream time `now_ms` (>= timer.fire_at_ms). Timers are
  // never cancelled early, so this checks that the timer is still valid (the
  // cart version matches, the cart is not empty, no order since, a line was
  // added inside the window) and does nothing otherwise. Appends to *out.
  void OnTimer(const tailor::v1::Timer& timer, int64_t now_ms,
               tailor::v1::CustomerProfile* profile,
               tailor::v1::PartitionState* partition_state, Outcome* out) const;

  struct Impl;  // Defined in libs/decide/internal.h.

 private:
  explicit Engine(std::unique_ptr<const Impl> impl);
  std::unique_ptr<const Impl> impl_;
};

}  // namespace tailor::decide

#endif  // TAILOR_LIBS_DECIDE_ENGINE_H_
