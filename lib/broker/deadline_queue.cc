#include "broker/deadline_queue.h"

namespace mquictt::broker {

TimerId DeadlineQueue::schedule(TimeMs at, TimerTarget target) {
  const TimerId id = next_id_++;
  order_.emplace(at, id);
  entries_.emplace(id, std::make_pair(at, target));
  return id;
}

void DeadlineQueue::cancel(TimerId id) {
  if (id == kNoTimer) return;
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  order_.erase({it->second.first, id});
  entries_.erase(it);
}

std::optional<TimeMs> DeadlineQueue::next() const {
  if (order_.empty()) return std::nullopt;
  return order_.begin()->first;
}

std::optional<std::pair<TimerId, TimerTarget>> DeadlineQueue::pop_due(TimeMs now) {
  if (order_.empty() || order_.begin()->first > now) return std::nullopt;
  const TimerId id = order_.begin()->second;
  order_.erase(order_.begin());
  auto it = entries_.find(id);
  const TimerTarget target = it->second.second;
  entries_.erase(it);
  return std::make_pair(id, target);
}

}  // namespace mquictt::broker
