#pragma once
// TopicTrie: a trie over '/'-separated topic levels, used two ways:
//   - Router: a trie of subscription *filters*; match_topic(name) finds every filter matching a
//     published topic name.
//   - RetainedStore: a trie of topic *names*; match_filter(filter) finds every stored name a
//     subscription filter matches.
//
// Design
//   - One node per level. A node's literal children are keyed by the level text (empty levels are
//     ordinary keys: "a//b" is a -> "" -> b). The filter wildcards get dedicated children, `plus_`
//     for '+' and `hash_` for '#', so a topic walk tries at most three branches per level (the
//     literal, '+', '#') and never scans siblings. Topic names never contain '+' or '#', so a trie
//     of names only ever has literal children.
//   - Matching cost depends on the depth of the topic and on the branches that actually match,
//     never on the number of stored entries: match_topic is O(depth * matching branches), and
//     match_filter is O(levels of the filter + size of the subtrees a '+' or '#' opens).
//   - The $-rule (MQTT 5 §4.7.2) lives at the root only: a wildcard in the *first* level never
//     matches a level starting with '$' ("#" and "+/x" don't match "$SYS/x"; "$SYS/#" does).
//   - Walks are iterative with an explicit stack (a member reused between calls), so a topic of
//     thousands of levels can't overflow the call stack and steady-state matching doesn't allocate.
//   - Pruning: prune(node) frees the node and then every ancestor that has become empty (no value,
//     no children). Node addresses are stable (each node is heap-allocated and never moved), so
//     callers may keep a Node* to the entry they own and prune from it without a second lookup.
//
// Contract: single-threaded; no locks. The trie must not be modified while a match_* call is
// walking it (the visitor must not insert or prune). Router and RetainedStore guarantee this by
// only collecting results in the visitor and running any user code after the walk.
//
// Split: the structure and the walks are non-template (topic_trie.cc); TopicTrie<V> is a thin typed
// layer whose nodes add a `V value`. V must be default-constructible and have `bool empty() const`
// (an empty value lets the node be pruned).

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mquictt::broker {

namespace detail {

class TrieCore;

// Structural part of a node. Owned by its parent (the root by its TrieCore).
class TrieNode {
 public:
  TrieNode() = default;
  virtual ~TrieNode() = default;
  TrieNode(const TrieNode&) = delete;
  TrieNode& operator=(const TrieNode&) = delete;

  TrieNode* parent() const { return parent_; }
  bool has_children() const { return !literal_.empty() || plus_ || hash_; }

 protected:
  // Lets prune() decide whether the node still carries a value.
  virtual bool value_empty() const = 0;

 private:
  friend class TrieCore;
  enum class Kind : unsigned char { kRoot, kLiteral, kPlus, kHash };

  Kind kind_ = Kind::kRoot;
  TrieNode* parent_ = nullptr;
  std::string level_;  // the level text, for kLiteral; literal_ keys of the parent view it
  std::unordered_map<std::string_view, std::unique_ptr<TrieNode>> literal_;
  std::unique_ptr<TrieNode> plus_;
  std::unique_ptr<TrieNode> hash_;
};

// Type-erased visitor for the walks: cheaper than std::function (no allocation, one indirect call
// per visited node).
struct TrieVisitor {
  void* ctx;
  void (*fn)(void* ctx, TrieNode& node);
  void operator()(TrieNode& node) const { fn(ctx, node); }
};

class TrieCore {
 public:
  using MakeNode = std::unique_ptr<TrieNode> (*)();

  explicit TrieCore(MakeNode make);
  // Iterative teardown: a deep trie (one node per level of a long topic) must not recurse.
  ~TrieCore();
  TrieCore(const TrieCore&) = delete;
  TrieCore& operator=(const TrieCore&) = delete;

  // Node for `path` (a filter or a topic name), creating missing nodes with make_. O(levels).
  TrieNode& insert(std::string_view path);
  // Node for `path`, or null. O(levels).
  TrieNode* find(std::string_view path) const;
  // Frees `node` if it is empty and childless, then its ancestors while they are. The root stays.
  void prune(TrieNode* node);

  // Trie of filters: visits every node whose filter matches topic name `topic`.
  void match_topic(std::string_view topic, TrieVisitor visit);
  // Trie of names: visits every node whose name matches `filter` (no "$share/" prefix).
  void match_filter(std::string_view filter, TrieVisitor visit);

  // Nodes besides the root (0 when the trie is empty).
  size_t node_count() const { return nodes_; }
  TrieNode& root() { return *root_; }

 private:
  struct Frame {
    TrieNode* node;
    size_t pos;    // offset of the next level in the walked string; == size()+1 once consumed
    bool subtree;  // match_filter: everything below `node` matches (a '#' was reached)
  };
  static TrieNode* child(const TrieNode& node, std::string_view level);

  MakeNode make_;
  std::unique_ptr<TrieNode> root_;
  size_t nodes_ = 0;
  std::vector<Frame> stack_;  // scratch of the walks, kept to avoid reallocating
  bool walking_ = false;      // debug check of the no-mutation-during-walk contract
};

}  // namespace detail

template <typename V>
class TopicTrie {
 public:
  class Node final : public detail::TrieNode {
   public:
    V value;

   protected:
    bool value_empty() const override { return value.empty(); }
  };

  TopicTrie() : core_(&make_node) {}

  Node& insert(std::string_view path) { return static_cast<Node&>(core_.insert(path)); }
  Node* find(std::string_view path) const { return static_cast<Node*>(core_.find(path)); }
  // Call after emptying node->value; frees it and its empty ancestors. `node` may dangle after.
  void prune(Node* node) { core_.prune(node); }

  // f(Node&) for every stored filter matching topic name `topic`.
  template <typename F>
  void match_topic(std::string_view topic, F&& f) {
    core_.match_topic(topic, visitor(f));
  }
  // f(Node&) for every stored name matching `filter`.
  template <typename F>
  void match_filter(std::string_view filter, F&& f) {
    core_.match_filter(filter, visitor(f));
  }

  size_t node_count() const { return core_.node_count(); }

 private:
  static std::unique_ptr<detail::TrieNode> make_node() { return std::make_unique<Node>(); }
  template <typename F>
  static detail::TrieVisitor visitor(F& f) {
    // const_cast only erases the type; the callback restores the exact F (const included).
    return {const_cast<void*>(static_cast<const void*>(&f)),
            [](void* ctx, detail::TrieNode& n) { (*static_cast<F*>(ctx))(static_cast<Node&>(n)); }};
  }

  detail::TrieCore core_;
};

}  // namespace mquictt::broker
