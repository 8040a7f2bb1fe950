#include "broker/message_queue.h"

#include <utility>

namespace mquictt::broker {

bool MessageQueue::push(Outgoing out, const QueueLimits& limits) {
  const size_t cost = out.cost_bytes();
  if (limits.max_messages != 0 && q_.size() >= limits.max_messages) return false;
  if (limits.max_bytes != 0 && bytes_ + cost > limits.max_bytes) return false;
  bytes_ += cost;
  q_.push_back(std::move(out));
  return true;
}

void MessageQueue::push_front(Outgoing out) {
  bytes_ += out.cost_bytes();
  q_.push_front(std::move(out));
}

std::optional<Outgoing> MessageQueue::pop_front_live(TimeMs now, uint64_t* expired) {
  while (!q_.empty()) {
    Outgoing out = std::move(q_.front());
    q_.pop_front();
    bytes_ -= out.cost_bytes();
    if (out.msg && out.msg->expired(now)) {
      if (expired) ++*expired;
      continue;
    }
    return out;
  }
  return std::nullopt;
}

size_t MessageQueue::purge_expired(TimeMs now) {
  size_t dropped = 0;
  for (auto it = q_.begin(); it != q_.end();) {
    if (it->msg && it->msg->expired(now)) {
      bytes_ -= it->cost_bytes();
      it = q_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  return dropped;
}

std::optional<TimeMs> MessageQueue::earliest_expiry() const {
  std::optional<TimeMs> best;
  for (const Outgoing& o : q_) {
    if (o.msg && o.msg->expires_at_ms && (!best || *o.msg->expires_at_ms < *best)) {
      best = o.msg->expires_at_ms;
    }
  }
  return best;
}

void MessageQueue::clear() {
  q_.clear();
  bytes_ = 0;
}

}  // namespace mquictt::broker
