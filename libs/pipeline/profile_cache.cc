#include "libs/pipeline/profile_cache.h"

namespace tailor::pipeline {

CachedProfile* ProfileCache::Find(absl::string_view customer_id) {
  auto it = entries_.find(customer_id);
  return it == entries_.end() ? nullptr : &it->second;
}

CachedProfile* ProfileCache::Insert(absl::string_view customer_id) {
  auto [it, inserted] = entries_.try_emplace(customer_id);
  CachedProfile* entry = &it->second;
  if (inserted) {
    entry->key = &it->first;
    entry->charge = ChargeFor(customer_id.size(), 0);
    bytes_ += entry->charge;
    LinkHottest(entry);
  }
  return entry;
}

void ProfileCache::Touch(CachedProfile* entry) {
  if (entry == hottest_) return;
  Unlink(entry);
  LinkHottest(entry);
}

void ProfileCache::Measure(CachedProfile* entry, size_t serialized_bytes) {
  bytes_ -= entry->charge;
  entry->charge = ChargeFor(entry->key->size(), serialized_bytes);
  bytes_ += entry->charge;
}

void ProfileCache::Unlink(CachedProfile* entry) {
  (entry->hotter != nullptr ? entry->hotter->colder : hottest_) = entry->colder;
  (entry->colder != nullptr ? entry->colder->hotter : coldest_) = entry->hotter;
  entry->hotter = nullptr;
  entry->colder = nullptr;
}

void ProfileCache::LinkHottest(CachedProfile* entry) {
  entry->colder = hottest_;
  (hottest_ != nullptr ? hottest_->hotter : coldest_) = entry;
  hottest_ = entry;
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
    fn(*entry->key, *entry);
    entry->erased = false;
  }
  dirty_.clear();
  dirty_count_ = 0;
}

void ProfileCache::ForEach(
    absl::FunctionRef<void(const std::string&, const CachedProfile&)> fn)
    const {
  for (const auto& [id, entry] : entries_) fn(id, entry);
}

size_t ProfileCache::EvictTo(size_t max_entries, size_t max_bytes,
                             uint64_t durable_seq) {
  size_t evicted = 0;
  CachedProfile* entry = coldest_;
  while (entry != nullptr &&
         (entries_.size() > max_entries || bytes_ > max_bytes)) {
    CachedProfile* next = entry->hotter;
    if (!entry->dirty && entry->pinned_until <= durable_seq) {
      Unlink(entry);
      bytes_ -= entry->charge;
      entries_.erase(entries_.find(*entry->key));
      ++evicted;
    }
    entry = next;
  }
  return evicted;
}

}  // namespace tailor::pipeline
