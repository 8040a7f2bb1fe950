#include "broker/retained_store.h"

#include <cassert>
#include <utility>
#include <vector>

namespace mquictt::broker {

void RetainedStore::set(MessagePtr msg) {
  assert(msg);
  if (msg->payload.empty()) {
    if (Node* node = trie_.find(msg->topic); node && node->value.msg) erase(node);
    return;
  }
  Node& node = trie_.insert(msg->topic);
  Slot& slot = node.value;
  if (slot.msg) {
    if (slot.msg->expires_at_ms) expiry_.erase(slot.expiry);
  } else {
    ++size_;
  }
  slot.msg = std::move(msg);
  if (slot.msg->expires_at_ms) slot.expiry = expiry_.emplace(*slot.msg->expires_at_ms, &node);
}

void RetainedStore::erase(Node* node) {
  Slot& slot = node->value;
  assert(slot.msg);
  if (slot.msg->expires_at_ms) expiry_.erase(slot.expiry);
  slot.msg.reset();
  --size_;
  trie_.prune(node);
}

void RetainedStore::match(std::string_view filter, TimeMs now,
                          const std::function<void(const MessagePtr&)>& visit) {
  // Collect first: the trie must not change during the walk, and `visit` is user code.
  std::vector<MessagePtr> found;
  std::vector<Node*> expired;
  trie_.match_filter(filter, [&](Node& node) {
    const MessagePtr& msg = node.value.msg;
    if (!msg) return;  // an intermediate level with no retained message of its own
    if (msg->expired(now)) {
      expired.push_back(&node);
    } else {
      found.push_back(msg);
    }
  });
  // Expired nodes are distinct, and erasing one prunes only empty nodes, never another of them
  // (each still holds its message until its own turn).
  for (Node* node : expired)
    erase(node);
  for (const MessagePtr& msg : found)
    visit(msg);
}

void RetainedStore::expire(TimeMs now) {
  // expired(now) is now >= expires_at, so everything keyed <= now goes.
  while (!expiry_.empty() && expiry_.begin()->first <= now)
    erase(expiry_.begin()->second);
}

std::optional<TimeMs> RetainedStore::next_expiry() const {
  if (expiry_.empty()) return std::nullopt;
  return expiry_.begin()->first;
}

MessagePtr RetainedStore::get(std::string_view topic) const {
  const Node* node = trie_.find(topic);
  return node ? node->value.msg : nullptr;
}

}  // namespace mquictt::broker
