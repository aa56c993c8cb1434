#include "libs/profile/limits.h"

#include <functional>

namespace tailor::profile {

using tailor::v1::CustomerProfile;

bool TrimToBytes(size_t max_bytes, CustomerProfile* profile) {
  const std::function<void(CustomerProfile*)> steps[] = {
      [](CustomerProfile* p) {
        p->clear_recent_viewed_product_ids();
        p->clear_recent_viewed_at_ms();
      },
      [](CustomerProfile* p) { p->mutable_last_order()->clear_product_ids(); },
      [](CustomerProfile* p) { p->clear_product_affinity(); },
      [](CustomerProfile* p) { p->clear_category_affinity(); },
      [](CustomerProfile* p) { p->clear_purchased_product_ids(); },
      [](CustomerProfile* p) { p->clear_purchased_product_hashes(); },
      [](CustomerProfile* p) { p->clear_cart(); },
  };
  bool trimmed = false;
  for (const auto& step : steps) {
    if (profile->ByteSizeLong() <= max_bytes) break;
    step(profile);
    trimmed = true;
  }
  return trimmed;
}

}  // namespace tailor::profile
