#pragma once
// RetainedStore: the last retained message per topic (MQTT 5 §3.3.1.3), looked up by subscription
// filters. Sans-I/O, single-threaded (owned by the broker on the loop thread; no locks).
//
// Data structures (ownership: the store holds one MessagePtr reference per retained topic; the
// messages themselves are shared, immutable)
//   - A TopicTrie of topic *names*, one node per level, the message at the node of its topic. A
//     filter walk follows only the branches the filter can match: a literal level is one hash
//     lookup, '+' opens the children of one node, '#' the subtree of one node. The $-rule applies
//     at the root ("#" and "+/..." skip "$SYS/...").
//   - An expiry index (expiry time -> node) of the messages that carry a Message Expiry Interval,
//     so expire() costs O(expired * log n) instead of a full scan.
//
// Complexity: set O(levels + log n); match O(filter levels + visited subtree); expire
// O(expired * (log n + levels)).
//
// Reentrancy: match() collects the results first and calls `visit` only after the walk, so
// `visit` may call set()/match()/expire() on this store.

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string_view>

#include "broker/message.h"
#include "broker/topic_trie.h"
#include "util/clock.h"

namespace mquictt::broker {

class RetainedStore {
 public:
  RetainedStore() = default;
  RetainedStore(const RetainedStore&) = delete;
  RetainedStore& operator=(const RetainedStore&) = delete;

  // Stores msg under msg->topic (a valid topic name), replacing any previous one; an empty
  // payload deletes the retained message of that topic instead (MQTT 5 §3.3.1.3).
  void set(MessagePtr msg);
  // Calls visit(msg) for every retained message matching `filter` (a valid filter without a
  // "$share/" prefix; the $-topic rule applies), skipping and deleting expired ones
  // (msg->expired(now)). Order unspecified.
  void match(std::string_view filter, TimeMs now,
             const std::function<void(const MessagePtr&)>& visit);
  // Drops expired messages (called from the broker's periodic tick).
  void expire(TimeMs now);
  // Earliest expiry time among the stored messages, for the broker's next deadline.
  std::optional<TimeMs> next_expiry() const;
  // The retained message of exactly `topic`, or null (expired ones included; match() filters).
  MessagePtr get(std::string_view topic) const;
  size_t size() const { return size_; }
  // Trie nodes besides the root; 0 once the store is empty (pruning check for tests).
  size_t node_count() const { return trie_.node_count(); }

 private:
  struct Slot;
  using Trie = TopicTrie<Slot>;
  using Node = Trie::Node;
  using ExpiryIndex = std::multimap<TimeMs, Node*>;

  struct Slot {
    MessagePtr msg;
    ExpiryIndex::iterator expiry;  // valid iff msg && msg->expires_at_ms
    bool empty() const { return !msg; }
  };

  // Empties a node's slot and prunes it (and its empty ancestors).
  void erase(Node* node);

  Trie trie_;
  ExpiryIndex expiry_;
  size_t size_ = 0;
};

}  // namespace mquictt::broker
