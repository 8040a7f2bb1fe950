#include "broker/topic_trie.h"

#include <cassert>

namespace mquictt::broker::detail {

namespace {

// End offset of the level starting at `pos` (the next '/' or the end of the string).
size_t level_end(std::string_view s, size_t pos) {
  size_t end = s.find('/', pos);
  return end == std::string_view::npos ? s.size() : end;
}

bool starts_with_dollar(std::string_view level) {
  return !level.empty() && level.front() == '$';
}

// Marks a walk in progress (checked by the mutators' asserts); cleared even if a visitor throws.
class WalkGuard {
 public:
  explicit WalkGuard(bool& flag) : flag_(flag) {
    assert(!flag_);
    flag_ = true;
  }
  ~WalkGuard() { flag_ = false; }
  WalkGuard(const WalkGuard&) = delete;
  WalkGuard& operator=(const WalkGuard&) = delete;

 private:
  bool& flag_;
};

}  // namespace

TrieCore::TrieCore(MakeNode make) : make_(make), root_(make()) {}

TrieCore::~TrieCore() {
  std::vector<std::unique_ptr<TrieNode>> pending;
  pending.push_back(std::move(root_));
  while (!pending.empty()) {
    std::unique_ptr<TrieNode> node = std::move(pending.back());
    pending.pop_back();
    // Detach the children first so destroying `node` never recurses into them.
    for (auto& entry : node->literal_)
      pending.push_back(std::move(entry.second));
    if (node->plus_) pending.push_back(std::move(node->plus_));
    if (node->hash_) pending.push_back(std::move(node->hash_));
  }
}

TrieNode* TrieCore::child(const TrieNode& node, std::string_view level) {
  if (level == "+") return node.plus_.get();
  if (level == "#") return node.hash_.get();
  auto it = node.literal_.find(level);
  return it == node.literal_.end() ? nullptr : it->second.get();
}

TrieNode& TrieCore::insert(std::string_view path) {
  assert(!walking_);
  TrieNode* node = root_.get();
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = level_end(path, pos);
    std::string_view level = path.substr(pos, end - pos);
    pos = end + 1;
    if (TrieNode* next = child(*node, level)) {
      node = next;
      continue;
    }
    std::unique_ptr<TrieNode> fresh = make_();
    TrieNode* raw = fresh.get();
    raw->parent_ = node;
    if (level == "+") {
      raw->kind_ = TrieNode::Kind::kPlus;
      node->plus_ = std::move(fresh);
    } else if (level == "#") {
      raw->kind_ = TrieNode::Kind::kHash;
      node->hash_ = std::move(fresh);
    } else {
      raw->kind_ = TrieNode::Kind::kLiteral;
      raw->level_.assign(level);
      // The key views the node's own copy of the level, which lives as long as the entry.
      node->literal_.emplace(std::string_view(raw->level_), std::move(fresh));
    }
    ++nodes_;
    node = raw;
  }
  return *node;
}

TrieNode* TrieCore::find(std::string_view path) const {
  TrieNode* node = root_.get();
  size_t pos = 0;
  while (node && pos <= path.size()) {
    size_t end = level_end(path, pos);
    node = child(*node, path.substr(pos, end - pos));
    pos = end + 1;
  }
  return node;
}

void TrieCore::prune(TrieNode* node) {
  assert(!walking_);
  while (node && node != root_.get() && !node->has_children() && node->value_empty()) {
    TrieNode* parent = node->parent_;
    switch (node->kind_) {
      case TrieNode::Kind::kPlus:
        parent->plus_.reset();
        break;
      case TrieNode::Kind::kHash:
        parent->hash_.reset();
        break;
      case TrieNode::Kind::kLiteral: {
        // Erase by iterator: the key views node->level_, which the erase destroys.
        auto it = parent->literal_.find(std::string_view(node->level_));
        assert(it != parent->literal_.end());
        parent->literal_.erase(it);
        break;
      }
      case TrieNode::Kind::kRoot:
        assert(false);
        return;
    }
    --nodes_;
    node = parent;
  }
}

void TrieCore::match_topic(std::string_view topic, TrieVisitor visit) {
  WalkGuard guard(walking_);
  const size_t done = topic.size() + 1;
  // $-rule: wildcards in the first level never match a topic starting with '$'.
  const bool dollar = starts_with_dollar(topic);
  stack_.clear();
  stack_.push_back({root_.get(), 0, false});
  while (!stack_.empty()) {
    Frame f = stack_.back();
    stack_.pop_back();
    TrieNode& node = *f.node;
    if (f.pos == done) {
      // Every level consumed: this filter matches exactly, and "x/#" matches its parent "x".
      visit(node);
      if (node.hash_) visit(*node.hash_);
      continue;
    }
    const bool wildcards_ok = !(dollar && f.pos == 0);
    // '#' matches the remaining levels, however many. It is always a leaf (it must be last).
    if (node.hash_ && wildcards_ok) visit(*node.hash_);
    const size_t end = level_end(topic, f.pos);
    if (node.plus_ && wildcards_ok) stack_.push_back({node.plus_.get(), end + 1, false});
    if (!node.literal_.empty()) {
      auto it = node.literal_.find(topic.substr(f.pos, end - f.pos));
      if (it != node.literal_.end()) stack_.push_back({it->second.get(), end + 1, false});
    }
  }
}

void TrieCore::match_filter(std::string_view filter, TrieVisitor visit) {
  WalkGuard guard(walking_);
  const size_t done = filter.size() + 1;
  stack_.clear();
  stack_.push_back({root_.get(), 0, false});
  while (!stack_.empty()) {
    Frame f = stack_.back();
    stack_.pop_back();
    TrieNode& node = *f.node;
    // Only the root's children are first-level names, where the $-rule applies.
    const bool at_root = &node == root_.get();
    if (f.subtree) {
      visit(node);
      for (auto& entry : node.literal_)
        stack_.push_back({entry.second.get(), 0, true});
      continue;
    }
    if (f.pos == done) {
      visit(node);
      continue;
    }
    const size_t end = level_end(filter, f.pos);
    const std::string_view level = filter.substr(f.pos, end - f.pos);
    if (level == "#") {
      // "x/#" matches "x" itself and everything below it. The root holds no name (names have
      // at least one level), so visiting it is harmless.
      if (!at_root) visit(node);
      for (auto& [name, next] : node.literal_) {
        if (at_root && starts_with_dollar(name)) continue;
        stack_.push_back({next.get(), 0, true});
      }
    } else if (level == "+") {
      for (auto& [name, next] : node.literal_) {
        if (at_root && starts_with_dollar(name)) continue;
        stack_.push_back({next.get(), end + 1, false});
      }
    } else {
      auto it = node.literal_.find(level);
      if (it != node.literal_.end()) stack_.push_back({it->second.get(), end + 1, false});
    }
  }
}

}  // namespace mquictt::broker::detail
