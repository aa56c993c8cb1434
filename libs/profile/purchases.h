// File: purchases.h
// The set of every product a customer bought
// (CustomerProfile.purchased_product_hashes): sorted 64-bit stable hashes of
// the product ids, bounded, so that recommendations can leave out anything
// the customer already bought however long ago. Pure functions; the caller
// owns the profile (same thread-safety as fold.h).
#ifndef TAILOR_LIBS_PROFILE_PURCHASES_H_
#define TAILOR_LIBS_PROFILE_PURCHASES_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "tailor/v1/events.pb.h"
#include "tailor/v1/profile.pb.h"

namespace tailor::profile {

// At most this many distinct products are remembered (8 KiB per profile).
// When a purchase does not fit, the smallest hashes that are not part of it
// are dropped (see purchased_product_hashes in profile.proto for why).
inline constexpr int kMaxPurchasedProducts = 1024;

// StableHash64({product_id}): the hash stored in purchased_product_hashes.
// Part of the stored format, and libs/decide computes the same formula: never
// change it.
uint64_t PurchasedProductHash(absl::string_view product_id);

// Adds the products of `order` to purchased_product_hashes, keeping it
// sorted, unique and at most kMaxPurchasedProducts long; every product of the
// order is kept. Adding a product twice changes nothing, so a re-folded order
// is harmless. Empty ids are ignored. Allocates only when the set grows or
// the order has more than 64 lines.
void AddPurchasedProducts(const tailor::v1::OrderPlaced& order,
                          tailor::v1::CustomerProfile* profile);

// The same for a single product.
void AddPurchasedProduct(absl::string_view product_id,
                         tailor::v1::CustomerProfile* profile);

// True if `product_id` is in purchased_product_hashes.
bool HasPurchased(const tailor::v1::CustomerProfile& profile,
                  absl::string_view product_id);

}  // namespace tailor::profile

#endif  // TAILOR_LIBS_PROFILE_PURCHASES_H_
