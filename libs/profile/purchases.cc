// The bounded, sorted set of purchased product hashes.
#include "libs/profile/purchases.h"

#include <algorithm>
#include <vector>

#include "absl/types/span.h"
#include "libs/base/stable_hash.h"

namespace tailor::profile {
namespace {

using Hashes = google::protobuf::RepeatedField<uint64_t>;

// Adds the hashes of one purchase, fresh[0, n), to the set; sorts them in
// place. When they do not fit, the smallest hashes not among them make room,
// so a purchase is never dropped by itself.
void Insert(uint64_t* fresh_data, size_t n, Hashes* set) {
  std::sort(fresh_data, fresh_data + n);
  const absl::Span<const uint64_t> fresh(
      fresh_data, std::unique(fresh_data, fresh_data + n) - fresh_data);
  auto contains = [&](uint64_t h) {
    return std::binary_search(fresh.begin(), fresh.end(), h);
  };
  if (fresh.size() >= static_cast<size_t>(kMaxPurchasedProducts)) {
    // One purchase alone fills the set: its largest hashes are the set.
    set->Clear();
    set->Add(fresh.end() - kMaxPurchasedProducts, fresh.end());
    return;
  }
  int missing = 0;
  for (uint64_t h : fresh) {
    if (!std::binary_search(set->begin(), set->end(), h)) ++missing;
  }
  if (missing == 0) return;
  // Make room first, so the set never grows past the bound.
  int overflow = set->size() + missing - kMaxPurchasedProducts;
  if (overflow > 0) {
    uint64_t* data = set->mutable_data();
    int kept = 0;
    for (int i = 0; i < set->size(); ++i) {
      if (overflow > 0 && !contains(data[i])) {
        --overflow;
        continue;
      }
      data[kept++] = data[i];
    }
    set->Truncate(kept);
  }
  for (uint64_t h : fresh) {
    const int size = set->size();
    const int pos = static_cast<int>(
        std::lower_bound(set->begin(), set->end(), h) - set->begin());
    if (pos < size && set->Get(pos) == h) continue;
    set->Add(h);
    uint64_t* data = set->mutable_data();
    std::copy_backward(data + pos, data + size, data + size + 1);
    data[pos] = h;
  }
}

}  // namespace

uint64_t PurchasedProductHash(absl::string_view product_id) {
  return StableHash64({product_id});
}

void AddPurchasedProducts(const tailor::v1::OrderPlaced& order,
                          tailor::v1::CustomerProfile* profile) {
  // Orders of up to kStackLines lines need no allocation.
  constexpr int kStackLines = 64;
  uint64_t stack[kStackLines];
  std::vector<uint64_t> heap;
  uint64_t* fresh = stack;
  if (order.items_size() > kStackLines) {
    heap.resize(order.items_size());
    fresh = heap.data();
  }
  size_t n = 0;
  for (const tailor::v1::LineItem& item : order.items()) {
    if (!item.product_id().empty()) {
      fresh[n++] = PurchasedProductHash(item.product_id());
    }
  }
  if (n > 0) Insert(fresh, n, profile->mutable_purchased_product_hashes());
}

void AddPurchasedProduct(absl::string_view product_id,
                         tailor::v1::CustomerProfile* profile) {
  if (product_id.empty()) return;
  uint64_t hash = PurchasedProductHash(product_id);
  Insert(&hash, 1, profile->mutable_purchased_product_hashes());
}

bool HasPurchased(const tailor::v1::CustomerProfile& profile,
                  absl::string_view product_id) {
  const auto& set = profile.purchased_product_hashes();
  return std::binary_search(set.begin(), set.end(),
                            PurchasedProductHash(product_id));
}

}  // namespace tailor::profile
