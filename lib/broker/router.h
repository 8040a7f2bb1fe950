#pragma once
// Router: every subscription of every session, and the publish-time lookup "who gets this
// message". Sans-I/O and single-threaded (owned by the broker on the loop thread; no locks).
//
// Data structures (ownership: the Router owns everything; sessions are referred to by id only)
//   - A TopicTrie of filters (without any "$share/<group>/" prefix). Each filter node holds the
//     non-shared subscriptions on that filter and the shared groups subscribed to it.
//   - A reverse index session -> { (stream, full filter) -> location in the trie }, so
//     unsubscribe is O(levels) worst case (O(1) to find the entry) and unsubscribe_all is O(own
//     subscriptions).
//
// Complexity
//   match:        O(depth of the topic * matching trie branches + matching subscriptions
//                 + members of the matching shared groups); independent of the total number of
//                 subscriptions. Steady state allocates nothing beyond `out` growth (and the
//                 subscription_ids vectors of deliveries that carry identifiers).
//   subscribe:    O(levels of the filter) + O(groups on the filter) for a shared one.
//   unsubscribe:  O(1) for a non-shared subscription plus pruning (O(levels)); O(group size) for a
//                 shared one.
//
// Stream-scoped subscriptions (MQTT over QUIC data streams, EMQX semantics): a subscription is
// identified by (session, stream tag, full filter). The same filter subscribed on two streams of
// one session is two subscriptions: a message matching it is delivered once on each stream.
// Everything below about one session's subscriptions holds per (session, stream). TCP and
// single-stream clients only ever use kControlStream, which is what the stream parameters default
// to.
//
// Overlapping subscriptions of one session (MQTT 5 §3.3.4 lets the server pick): a message is
// delivered ONCE per session and stream for all of its matching non-shared subscriptions, with
//   - qos: the highest granted QoS among them,
//   - retain_as_published: true if ANY of them has it (the publisher's RETAIN flag is then kept —
//     the subscriber asked for it on at least one of the filters that routed the message),
//   - subscription_ids: every identifier among them, ascending, without duplicates.
// Shared subscriptions are separate: each matching (group, filter) adds one Delivery of its own,
// even for a session that also gets a non-shared delivery of the same message.
//
// Reentrancy contract: match() calls no user code while walking except `eligible`, which must not
// modify the Router (no subscribe/unsubscribe, no nested match; asserted in debug builds). All
// results are in `out` when match() returns, so the caller may subscribe/unsubscribe freely while
// it processes them — nothing refers back into the trie.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/broker_config.h"
#include "broker/message.h"
#include "broker/topic_trie.h"
#include "codec/packet.h"

namespace mquictt::broker {

// One resolved delivery target for a PUBLISH.
struct Delivery {
  SessionId session;
  uint8_t qos;               // granted QoS of the matching subscription (caller applies min with
                             // the message QoS)
  bool retain_as_published;  // from the subscription options
  std::vector<uint32_t> subscription_ids;  // all ids of this session's matching subscriptions
                                           // (MQTT 5 §3.3.4), ascending
  StreamTag stream = kControlStream;       // the matching subscriptions' stream
};

// One subscription as stored, for persistence/inspection.
struct SubscriptionInfo {
  std::string filter;  // full filter as subscribed, including any "$share/<group>/"
  codec::SubscriptionOptions options;
  std::optional<uint32_t> subscription_id;
  StreamTag stream = kControlStream;
};

class Router {
 public:
  explicit Router(SharedStrategy strategy = SharedStrategy::kRoundRobin, uint64_t seed = 0x5eed);
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Adds or replaces (same session + stream + full filter) a subscription. `filter` is the full
  // filter as sent by the client, possibly "$share/<group>/<f>"; it must already be valid
  // (codec::valid_topic_filter). `session` must not be kNoSession. Returns true if it replaced an
  // existing one (a replaced shared member keeps its place in the group's rotation).
  bool subscribe(SessionId session, std::string_view filter,
                 const codec::SubscriptionOptions& options, std::optional<uint32_t> subscription_id,
                 StreamTag stream = kControlStream);
  // Returns true if the subscription (of exactly this stream) existed.
  bool unsubscribe(SessionId session, std::string_view filter, StreamTag stream = kControlStream);
  // Removes every subscription of the session (session ended), on every stream. O(own
  // subscriptions).
  void unsubscribe_all(SessionId session);
  // Moves the session's subscriptions of stream `from` to stream `to` (a data stream ended, or
  // the connection did: its subscriptions fall back to the control stream). Where `to` already
  // has the same filter, the subscription of `to` is kept as it is and the moved one is dropped.
  // A moved shared member keeps its place in its group's rotation. O(own subscriptions).
  void move_stream(SessionId session, StreamTag from, StreamTag to);

  // Targets for a message published on `topic` (a valid topic name) by `publisher` (kNoSession
  // for internal/will messages). `out` is cleared first; its order is unspecified.
  //  - non-shared: at most one Delivery per session (see "Overlapping subscriptions" above);
  //    subscriptions with no_local are skipped when the session is the publisher.
  //  - shared: per matching (group, filter) exactly one member, chosen by the strategy among the
  //    members for which `eligible(session)` is true (round robin: the next eligible one in
  //    subscription order; random: uniform among the eligible ones; sticky: the last chosen one
  //    while it stays eligible, else the next eligible one in round-robin order). If no member is
  //    eligible one is chosen anyway (round robin: the next in order; random: uniform among all;
  //    sticky: the current sticky member if it is still subscribed) and its session queues it.
  //    No Local does not apply (MQTT 5 §3.8.3.1 forbids it on shared subscriptions).
  // An empty `eligible` counts every session as eligible. See the reentrancy contract above.
  void match(std::string_view topic, SessionId publisher,
             const std::function<bool(SessionId)>& eligible, std::vector<Delivery>& out);

  size_t subscription_count() const { return subscription_count_; }  // incl. shared
  size_t shared_subscription_count() const { return shared_count_; }
  // Full filters (as subscribed) of a session, sorted (a filter subscribed on n streams appears n
  // times).
  std::vector<std::string> filters_of(SessionId session) const;
  // Every subscription of a session with its options, sorted by filter, then stream.
  std::vector<SubscriptionInfo> subscriptions_of(SessionId session) const;
  // Options and id of one subscription, or nullopt if the session doesn't have it.
  std::optional<SubscriptionInfo> find(SessionId session, std::string_view filter,
                                       StreamTag stream = kControlStream) const;
  // Number of sessions with at least one subscription.
  size_t session_count() const { return sessions_.size(); }
  // Trie nodes besides the root; 0 once every subscription is gone (pruning check for tests).
  size_t node_count() const { return trie_.node_count(); }

 private:
  struct FilterEntry;
  struct SharedGroup;
  struct SessionRecord;
  using Trie = TopicTrie<FilterEntry>;
  using Node = Trie::Node;

  // Where one (session, full filter) subscription lives in the trie.
  struct SubRef {
    Node* node = nullptr;
    SharedGroup* group = nullptr;  // null for a non-shared subscription
    uint32_t index = 0;            // non-shared: position in node->value.subs
  };

  // Key of a session's subscription: (stream, full filter). SubKeyView looks one up without
  // building a string.
  struct SubKey {
    StreamTag stream = kControlStream;
    std::string filter;
  };
  struct SubKeyView {
    StreamTag stream = kControlStream;
    std::string_view filter;
  };
  struct SubKeyHash {
    using is_transparent = void;
    size_t operator()(const SubKeyView& k) const {
      return std::hash<std::string_view>{}(k.filter) ^ (std::hash<StreamTag>{}(k.stream) * 31);
    }
    size_t operator()(const SubKey& k) const { return (*this)(SubKeyView{k.stream, k.filter}); }
  };
  struct SubKeyEq {
    using is_transparent = void;
    static SubKeyView view(const SubKey& k) { return {k.stream, k.filter}; }
    static SubKeyView view(const SubKeyView& k) { return k; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return view(a).stream == view(b).stream && view(a).filter == view(b).filter;
    }
  };

  struct SessionRecord {
    SessionId id = kNoSession;
    // Stable addresses (node-based map): LocalSub::ref points at the SubRef values, and
    // move_stream() re-keys entries by extract/insert, which keeps them.
    std::unordered_map<SubKey, SubRef, SubKeyHash, SubKeyEq> subs;
    // Dedup of overlapping subscriptions in match(): when stamp == the router's current match
    // stamp, out[index] is this session's non-shared Delivery for each (stream, index) here
    // (nearly always one stream; cleared, not freed, per match).
    uint64_t stamp = 0;
    std::vector<std::pair<StreamTag, size_t>> out_slots;
  };

  // Non-shared subscription on one filter node.
  struct LocalSub {
    SessionRecord* session;  // stable: unordered_map elements never move
    SubRef* ref;             // back-pointer, updated when this entry moves in the vector
    codec::SubscriptionOptions options;
    std::optional<uint32_t> id;
    StreamTag stream;
  };

  struct SharedMember {
    SessionId session;
    codec::SubscriptionOptions options;
    std::optional<uint32_t> id;
    StreamTag stream;
  };

  struct SharedGroup {
    std::string name;
    std::vector<SharedMember> members;  // subscription order (round-robin order)
    size_t next = 0;                    // round robin: where the next search starts (mod size)
    size_t sticky = kNone;              // sticky: index of the current member, or kNone
    static constexpr size_t kNone = static_cast<size_t>(-1);
  };

  struct FilterEntry {
    std::vector<LocalSub> subs;
    std::vector<std::unique_ptr<SharedGroup>> groups;  // few per filter; linear search by name
    bool empty() const { return subs.empty() && groups.empty(); }
  };

  void remove(SessionId session, StreamTag stream, const SubRef& ref);
  static SharedMember* member_of(SharedGroup& group, SessionId session, StreamTag stream);
  void add_delivery(SessionRecord& rec, const LocalSub& sub, std::vector<Delivery>& out);
  size_t pick(SharedGroup& group, const std::function<bool(SessionId)>& eligible);
  size_t next_eligible(const SharedGroup& group, const std::function<bool(SessionId)>& eligible,
                       bool& found) const;
  uint64_t next_random();
  static SubscriptionInfo info_of(const SubKey& key, SessionId session, const SubRef& ref);

  SharedStrategy strategy_;
  uint64_t rng_state_;
  Trie trie_;
  std::unordered_map<SessionId, SessionRecord> sessions_;
  size_t subscription_count_ = 0;
  size_t shared_count_ = 0;
  uint64_t stamp_ = 0;
  std::vector<uint32_t> eligible_scratch_;  // random strategy: indices of eligible members
  bool matching_ = false;                   // debug check of the reentrancy contract
};

}  // namespace mquictt::broker
