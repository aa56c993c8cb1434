#include "libs/pipeline/profile_cache.h"

#include <algorithm>

namespace tailor::pipeline {

CachedProfile* ProfileCache::Find(absl::string_view customer_id) {
  auto it = entries_.find(customer_id);
  return it == entries_.end() ? nullptr : it->second.get();
}

CachedProfile* ProfileCache::Insert(absl::string_view customer_id) {
  auto [it, inserted] = entries_.try_emplace(customer_id, nullptr);
  if (inserted) it->second = std::make_unique<CachedProfile>();
  return it->second.get();
}

void ProfileCache::MarkDirty(CachedProfile* entry) {
  if (entry->dirty) return;
  entry->dirty = true;
  dirty_.push_back(entry);
  ++dirty_count_;
}

void ProfileCache::DrainDirty(
    absl::FunctionRef<void(const std::string&, CachedProfile&)> fn) {
  if (dirty_.empty()) return;
  for (CachedProfile* entry : dirty_) {
    entry->dirty = false;
    fn(entry->profile.customer_id(), *entry);
    entry->erased = false;
  }
  dirty_.clear();
  dirty_count_ = 0;
}

void ProfileCache::ForEach(
    absl::FunctionRef<void(const std::string&, const CachedProfile&)> fn)
    const {
  for (const auto& [id, entry] : entries_) fn(id, *entry);
}

size_t ProfileCache::EvictTo(size_t target, uint64_t durable_seq) {
  if (entries_.size() <= target) return 0;
  const auto evictable = [durable_seq](const CachedProfile& e) {
    return !e.dirty && e.pinned_until <= durable_seq;
  };
  std::vector<uint64_t> ages;
  ages.reserve(entries_.size());
  for (const auto& [id, entry] : entries_) {
    if (evictable(*entry)) ages.push_back(entry->last_used);
  }
  const size_t excess = entries_.size() - target;
  if (ages.empty()) return 0;
  const size_t nth = std::min(excess, ages.size()) - 1;
  std::nth_element(ages.begin(), ages.begin() + nth, ages.end());
  const uint64_t cutoff = ages[nth];
  size_t evicted = 0;
  for (auto it = entries_.begin(); it != entries_.end() && evicted < excess;) {
    auto cur = it++;
    if (evictable(*cur->second) && cur->second->last_used <= cutoff) {
      entries_.erase(cur);
      ++evicted;
    }
  }
  return evicted;
}

}  // namespace tailor::pipeline
