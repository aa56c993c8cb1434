// File: limits.h
// The last line of defence on a profile's size. Every part of a profile has
// its own bound (fold.h: top-K affinities, recent products, kMaxCartLines,
// 1024 purchase hashes; validate.h: id and code lengths, line items per
// event), so a profile stays far below kMaxProfileBytes. If one gets there
// anyway, TrimToBytes() drops whole parts until it fits, so its changelog
// record can always be produced (a broker takes 1 MB by default). Pure.
#ifndef TAILOR_LIBS_PROFILE_LIMITS_H_
#define TAILOR_LIBS_PROFILE_LIMITS_H_

#include <cstddef>

#include "tailor/v1/profile.pb.h"

namespace tailor::profile {

// Decisions a profile remembers for attribution
// (CustomerProfile.recent_decisions, attribution.h); the oldest goes first.
// 32 entries of about 150 bytes: under 5 KiB.
inline constexpr int kMaxRecentDecisions = 32;

// Largest serialized profile tailor writes.
inline constexpr size_t kMaxProfileBytes = 512 * 1024;

// If `profile` serializes to more than `max_bytes`, clears, in this order
// and only until it fits: recently viewed products, the last order's
// product list, product affinities, category affinities, recently purchased
// product ids, the purchased-product hashes, the cart. Returns whether
// anything was cleared.
bool TrimToBytes(size_t max_bytes, tailor::v1::CustomerProfile* profile);

}  // namespace tailor::profile

#endif  // TAILOR_LIBS_PROFILE_LIMITS_H_
