#include "broker/inflight.h"

#include <cassert>
#include <utility>

namespace mquictt::broker {

std::optional<uint16_t> OutboundInflight::allocate_id() {
  if (index_.size() >= 65535) return std::nullopt;
  for (;;) {
    const uint16_t id = next_id_;
    next_id_ = next_id_ == 65535 ? 1 : static_cast<uint16_t>(next_id_ + 1);
    if (!index_.count(id)) return id;
  }
}

void OutboundInflight::add(uint16_t packet_id, Outgoing out) {
  assert(packet_id != 0 && !index_.count(packet_id));
  assert(out.qos == 1 || out.qos == 2);
  const State s = out.qos == 1 ? State::kAwaitPubAck : State::kAwaitPubRec;
  entries_.push_back(Entry{packet_id, s, std::move(out)});
  index_.emplace(packet_id, std::prev(entries_.end()));
}

OutboundInflight::AckResult OutboundInflight::on_puback(uint16_t packet_id) {
  auto it = index_.find(packet_id);
  if (it == index_.end()) return AckResult::kUnknown;
  if (it->second->state != State::kAwaitPubAck) return AckResult::kWrongState;
  entries_.erase(it->second);
  index_.erase(it);
  return AckResult::kCompleted;
}

OutboundInflight::AckResult OutboundInflight::on_pubrec(uint16_t packet_id, uint8_t reason) {
  auto it = index_.find(packet_id);
  if (it == index_.end()) return AckResult::kUnknown;
  Entry& e = *it->second;
  // A repeated PUBREC (after we already sent PUBREL) just gets the PUBREL again.
  if (e.state == State::kAwaitPubComp) return AckResult::kReleased;
  if (e.state != State::kAwaitPubRec) return AckResult::kWrongState;
  if (reason >= 0x80) {
    entries_.erase(it->second);
    index_.erase(it);
    return AckResult::kCompleted;
  }
  e.state = State::kAwaitPubComp;
  e.out.msg.reset();
  e.out.subscription_ids.clear();
  return AckResult::kReleased;
}

OutboundInflight::AckResult OutboundInflight::on_pubcomp(uint16_t packet_id) {
  auto it = index_.find(packet_id);
  if (it == index_.end()) return AckResult::kUnknown;
  if (it->second->state != State::kAwaitPubComp) return AckResult::kWrongState;
  entries_.erase(it->second);
  index_.erase(it);
  return AckResult::kCompleted;
}

void OutboundInflight::erase(uint16_t packet_id) {
  auto it = index_.find(packet_id);
  if (it == index_.end()) return;
  entries_.erase(it->second);
  index_.erase(it);
}

void OutboundInflight::clear() {
  entries_.clear();
  index_.clear();
}

}  // namespace mquictt::broker
