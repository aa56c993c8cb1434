// File: fold.h
// Folds one validated input event into a customer's behavioural profile, and
// prunes signals older than the signal horizon. Pure functions of
// (profile, event, spec, time): no I/O, no clock, no logging. Built for the hot
// path: repeated-field elements are reused, so folding into a profile that is
// kept between events allocates only when a list grows.
//
// Thread-safety: every function here is safe to call concurrently as long as
// no two calls share the same CustomerProfile; the caller owns the profile.
#ifndef TAILOR_LIBS_PROFILE_FOLD_H_
#define TAILOR_LIBS_PROFILE_FOLD_H_

#include <cstdint>

#include "tailor/v1/config.pb.h"
#include "tailor/v1/events.pb.h"
#include "tailor/v1/profile.pb.h"

namespace tailor::profile {

// Defaults applied to unset (zero or negative) ProfileSpec fields.
inline constexpr double kDefaultAffinityHalfLifeHours = 72.0;
inline constexpr int32_t kDefaultTopK = 10;
inline constexpr int32_t kDefaultRecentProducts = 20;
inline constexpr int64_t kDefaultSignalHorizonDays = 90;
inline constexpr int64_t kDefaultSessionGapMinutes = 30;

// At most this many entries are kept in each Dissatisfaction list (oldest are
// dropped first), on top of the horizon.
inline constexpr int kMaxDissatisfactionEntries = 64;
// Lines a cart keeps: a cart_add of a new product into a full cart drops the
// line added longest ago (a cart of 100 lines of 128-byte ids stays under
// 30 KiB).
inline constexpr int kMaxCartLines = 100;

// Affinity increments per signal.
inline constexpr double kProductViewWeight = 1.0;
inline constexpr double kCategoryPageWeight = 0.5;
inline constexpr double kSearchCategoryWeight = 0.5;
inline constexpr double kCartAddWeight = 2.0;

// What the caller must do with the profile after FoldEvent.
enum class FoldResult {
  kUpdated,  // Store the updated profile.
  kErased,   // Delete the profile and its timers (erasure requested).
};

// Folds a valid event (see ValidateEvent) into *profile, creating fields as
// needed; for a new customer the caller passes an empty profile and sets
// nothing else. Returns kErased for erasure_requested, after clearing
// *profile: the caller deletes the stored profile and its timers.
// Out-of-order events (event time older than last_seen) are folded too but
// never move last_seen backwards. A profiling opt-out (consent_updated with
// profiling_opt_out) leaves only customer_id, consented_channels and
// profiling_opt_out, and later events other than consent_updated change
// nothing. The full semantics are in README.md.
FoldResult FoldEvent(const tailor::v1::Event& event,
                     const tailor::v1::ProfileSpec& spec,
                     tailor::v1::CustomerProfile* profile);

// Drops signals older than spec.signal_horizon_days relative to now_ms:
// affinities, recently viewed products, dissatisfaction entries, channel
// recent_sent entries, and the cart (items and value, with version++) if it
// was last changed before the horizon. Time lists documented as oldest first
// (ChannelStats.recent_sent_at_ms, and the Dissatisfaction lists, which the
// fold keeps ascending) are trimmed from the front. FoldEvent calls it with
// the profile's last_seen; the timer path calls it with stream time.
void PruneExpired(const tailor::v1::ProfileSpec& spec, int64_t now_ms,
                  tailor::v1::CustomerProfile* profile);

// Returns a copy of `spec` with defaults for unset fields: half-life 72h,
// top_k 10, recent_products 20, horizon 90 days, session gap 30 min.
tailor::v1::ProfileSpec WithDefaults(const tailor::v1::ProfileSpec& spec);

// Decayed score of `a` at now_ms: score * 2^-((now_ms - updated_at_ms) /
// half-life). A non-positive half-life means no decay; now_ms before
// updated_at_ms returns the stored score (scores never grow backwards).
double DecayedScore(const tailor::v1::Affinity& a, double half_life_hours,
                    int64_t now_ms);

}  // namespace tailor::profile

#endif  // TAILOR_LIBS_PROFILE_FOLD_H_
