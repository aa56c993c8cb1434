// File: stable_hash.h
// Hashes that are equal across processes and machines (xxHash), for decision
// ids, coupon codes and experiment assignment. Never use absl::Hash for these:
// it is seeded per process.
#ifndef TAILOR_LIBS_BASE_STABLE_HASH_H_
#define TAILOR_LIBS_BASE_STABLE_HASH_H_

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/strings/string_view.h"

namespace tailor {

// 64-bit hash of the parts, each length-prefixed so ("ab","c") != ("a","bc").
uint64_t StableHash64(std::initializer_list<absl::string_view> parts);

// 128-bit hash of the parts as 32 lowercase hex characters.
std::string StableHashHex128(std::initializer_list<absl::string_view> parts);

// Uniform value in [0, 1) derived from the parts; used for holdout and A/B
// assignment.
double StableUnitInterval(std::initializer_list<absl::string_view> parts);

}  // namespace tailor

#endif  // TAILOR_LIBS_BASE_STABLE_HASH_H_
