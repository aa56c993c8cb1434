#include "libs/pipeline/timer_index.h"

#include <limits>
#include <utility>

namespace tailor::pipeline {

void TimerIndex::Load(tailor::v1::Timer timer) {
  Key key{timer.fire_at_ms(), timer.customer_id(), timer.timer_id()};
  by_id_[{key.customer_id, key.timer_id}] = key.fire_at_ms;
  timers_.insert_or_assign(std::move(key), std::move(timer));
}

void TimerIndex::Remove(const Key& key) {
  timers_.erase(key);
  changes_.insert_or_assign(key, std::nullopt);
}

void TimerIndex::Set(const tailor::v1::Timer& timer) {
  auto [it, inserted] =
      by_id_.try_emplace(std::make_pair(timer.customer_id(), timer.timer_id()),
                         timer.fire_at_ms());
  if (!inserted) {
    if (it->second != timer.fire_at_ms()) {
      Remove(Key{it->second, timer.customer_id(), timer.timer_id()});
    }
    it->second = timer.fire_at_ms();
  }
  Key key{timer.fire_at_ms(), timer.customer_id(), timer.timer_id()};
  changes_.insert_or_assign(key, timer);
  timers_.insert_or_assign(std::move(key), timer);
}

void TimerIndex::RemoveCustomer(absl::string_view customer_id) {
  RemoveCustomers({std::string(customer_id)});
}

void TimerIndex::RemoveCustomers(
    const absl::flat_hash_set<std::string>& customer_ids) {
  std::vector<Key> keys;
  for (const auto& [id, fire_at_ms] : by_id_) {
    if (customer_ids.contains(id.first))
      keys.push_back({fire_at_ms, id.first, id.second});
  }
  for (const Key& key : keys) {
    by_id_.erase(std::make_pair(key.customer_id, key.timer_id));
    Remove(key);
  }
}

void TimerIndex::PopDue(int64_t now_ms, std::vector<tailor::v1::Timer>* due) {
  while (!timers_.empty() && timers_.begin()->first.fire_at_ms <= now_ms) {
    auto node = timers_.extract(timers_.begin());
    by_id_.erase(std::make_pair(node.key().customer_id, node.key().timer_id));
    changes_.insert_or_assign(node.key(), std::nullopt);
    due->push_back(std::move(node.mapped()));
  }
}

int64_t TimerIndex::next_fire_ms() const {
  return timers_.empty() ? std::numeric_limits<int64_t>::max()
                         : timers_.begin()->first.fire_at_ms;
}

}  // namespace tailor::pipeline
