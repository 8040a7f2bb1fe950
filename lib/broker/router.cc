#include "broker/router.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "codec/topic.h"

namespace mquictt::broker {

namespace {

// Debug check of the reentrancy contract: set while match() runs.
class MatchGuard {
 public:
  explicit MatchGuard(bool& flag) : flag_(flag) {
    assert(!flag_ && "Router::match is not reentrant");
    flag_ = true;
  }
  ~MatchGuard() { flag_ = false; }
  MatchGuard(const MatchGuard&) = delete;
  MatchGuard& operator=(const MatchGuard&) = delete;

 private:
  bool& flag_;
};

void insert_sorted_unique(std::vector<uint32_t>& ids, uint32_t id) {
  auto it = std::lower_bound(ids.begin(), ids.end(), id);
  if (it == ids.end() || *it != id) ids.insert(it, id);
}

}  // namespace

Router::Router(SharedStrategy strategy, uint64_t seed) : strategy_(strategy), rng_state_(seed) {}

bool Router::subscribe(SessionId session, std::string_view filter,
                       const codec::SubscriptionOptions& options,
                       std::optional<uint32_t> subscription_id, StreamTag stream) {
  assert(!matching_ && "subscribe() called from inside match()");
  assert(session != kNoSession);
  SessionRecord& rec = sessions_[session];
  rec.id = session;

  if (auto it = rec.subs.find(SubKeyView{stream, filter}); it != rec.subs.end()) {
    // Replacement (MQTT 5 §3.8.4): new options, same place in the trie and in the rotation.
    const SubRef& ref = it->second;
    if (!ref.group) {
      LocalSub& sub = ref.node->value.subs[ref.index];
      sub.options = options;
      sub.id = subscription_id;
    } else if (SharedMember* m = member_of(*ref.group, session, stream)) {
      m->options = options;
      m->id = subscription_id;
    }
    return true;
  }

  std::optional<codec::SharedFilter> shared;
  if (codec::is_shared(filter)) {
    shared = codec::parse_shared(filter);
    assert(shared && "subscribe() needs a valid filter");
  }
  Node& node = trie_.insert(shared ? shared->filter : filter);
  SubRef& ref = rec.subs.emplace(SubKey{stream, std::string(filter)}, SubRef{&node, nullptr, 0})
                    .first->second;
  FilterEntry& entry = node.value;
  if (!shared) {
    ref.index = static_cast<uint32_t>(entry.subs.size());
    entry.subs.push_back(LocalSub{&rec, &ref, options, subscription_id, stream});
  } else {
    SharedGroup* group = nullptr;
    for (auto& g : entry.groups) {
      if (g->name == shared->group) {
        group = g.get();
        break;
      }
    }
    if (!group) {
      entry.groups.push_back(std::make_unique<SharedGroup>());
      group = entry.groups.back().get();
      group->name.assign(shared->group);
    }
    ref.group = group;
    group->members.push_back(SharedMember{session, options, subscription_id, stream});
    ++shared_count_;
  }
  ++subscription_count_;
  return false;
}

bool Router::unsubscribe(SessionId session, std::string_view filter, StreamTag stream) {
  assert(!matching_ && "unsubscribe() called from inside match()");
  auto sit = sessions_.find(session);
  if (sit == sessions_.end()) return false;
  SessionRecord& rec = sit->second;
  auto it = rec.subs.find(SubKeyView{stream, filter});
  if (it == rec.subs.end()) return false;
  remove(session, stream, it->second);
  rec.subs.erase(it);
  if (rec.subs.empty()) sessions_.erase(sit);
  return true;
}

void Router::unsubscribe_all(SessionId session) {
  assert(!matching_ && "unsubscribe_all() called from inside match()");
  auto sit = sessions_.find(session);
  if (sit == sessions_.end()) return;
  for (const auto& [key, ref] : sit->second.subs)
    remove(session, key.stream, ref);
  sessions_.erase(sit);
}

void Router::move_stream(SessionId session, StreamTag from, StreamTag to) {
  assert(!matching_ && "move_stream() called from inside match()");
  if (from == to) return;
  auto sit = sessions_.find(session);
  if (sit == sessions_.end()) return;
  SessionRecord& rec = sit->second;
  std::vector<std::string_view> moving;
  for (const auto& [key, ref] : rec.subs) {
    if (key.stream == from) moving.push_back(key.filter);
  }
  for (std::string_view filter : moving) {
    auto it = rec.subs.find(SubKeyView{from, filter});
    if (rec.subs.contains(SubKeyView{to, filter})) {
      // `to` has its own subscription of this filter: it stays as it is.
      remove(session, from, it->second);
      rec.subs.erase(it);  // invalidates `filter` (it pointed into this key); not used again
      continue;
    }
    const SubRef& ref = it->second;
    if (!ref.group) {
      ref.node->value.subs[ref.index].stream = to;
    } else if (SharedMember* m = member_of(*ref.group, session, from)) {
      m->stream = to;
    }
    // Re-key in place: the node (and the SubRef that LocalSub::ref points at) keeps its address.
    auto node = rec.subs.extract(it);
    node.key().stream = to;
    rec.subs.insert(std::move(node));
  }
  if (rec.subs.empty()) sessions_.erase(sit);
}

Router::SharedMember* Router::member_of(SharedGroup& group, SessionId session, StreamTag stream) {
  for (SharedMember& m : group.members) {
    if (m.session == session && m.stream == stream) return &m;
  }
  return nullptr;
}

void Router::remove(SessionId session, StreamTag stream, const SubRef& ref) {
  Node* node = ref.node;
  FilterEntry& entry = node->value;
  if (!ref.group) {
    // Swap-remove keeps this O(1); the moved entry's reverse-index slot learns its new index.
    const uint32_t i = ref.index;
    assert(i < entry.subs.size() && entry.subs[i].session->id == session);
    if (i + 1 != entry.subs.size()) {
      entry.subs[i] = entry.subs.back();
      entry.subs[i].ref->index = i;
    }
    entry.subs.pop_back();
  } else {
    SharedGroup& g = *ref.group;
    auto mit = std::find_if(g.members.begin(), g.members.end(), [&](const SharedMember& m) {
      return m.session == session && m.stream == stream;
    });
    assert(mit != g.members.end());
    const size_t i = static_cast<size_t>(mit - g.members.begin());
    // erase (not swap-remove) keeps the rotation order of the remaining members.
    g.members.erase(mit);
    if (i < g.next) --g.next;
    if (g.sticky != SharedGroup::kNone) {
      if (g.sticky == i) {
        g.sticky = SharedGroup::kNone;
      } else if (i < g.sticky) {
        --g.sticky;
      }
    }
    if (g.members.empty()) {
      std::erase_if(entry.groups,
                    [&g](const std::unique_ptr<SharedGroup>& p) { return p.get() == &g; });
    }
    --shared_count_;
  }
  --subscription_count_;
  if (entry.empty()) trie_.prune(node);
}

void Router::match(std::string_view topic, SessionId publisher,
                   const std::function<bool(SessionId)>& eligible, std::vector<Delivery>& out) {
  MatchGuard guard(matching_);
  out.clear();
  // A fresh stamp invalidates every SessionRecord::out_index left by earlier calls at once.
  ++stamp_;
  trie_.match_topic(topic, [&](Node& node) {
    FilterEntry& entry = node.value;
    for (const LocalSub& sub : entry.subs) {
      SessionRecord& rec = *sub.session;
      if (sub.options.no_local && rec.id == publisher) continue;
      add_delivery(rec, sub, out);
    }
    for (auto& group : entry.groups) {
      const SharedMember& m = group->members[pick(*group, eligible)];
      Delivery& d = out.emplace_back(
          Delivery{m.session, m.options.qos, m.options.retain_as_published, {}, m.stream});
      if (m.id) d.subscription_ids.push_back(*m.id);
    }
  });
}

void Router::add_delivery(SessionRecord& rec, const LocalSub& sub, std::vector<Delivery>& out) {
  if (rec.stamp != stamp_) {
    rec.stamp = stamp_;
    rec.out_slots.clear();
  }
  for (const auto& [stream, index] : rec.out_slots) {
    if (stream != sub.stream) continue;
    // Another of this session's filters on this stream already matched: merge into its Delivery.
    Delivery& d = out[index];
    d.qos = std::max(d.qos, sub.options.qos);
    d.retain_as_published = d.retain_as_published || sub.options.retain_as_published;
    if (sub.id) insert_sorted_unique(d.subscription_ids, *sub.id);
    return;
  }
  rec.out_slots.emplace_back(sub.stream, out.size());
  Delivery& d = out.emplace_back(
      Delivery{rec.id, sub.options.qos, sub.options.retain_as_published, {}, sub.stream});
  if (sub.id) d.subscription_ids.push_back(*sub.id);
}

// Next eligible member in round-robin order starting at group.next; `found` false (and the index
// group.next would give) if none is eligible.
size_t Router::next_eligible(const SharedGroup& group,
                             const std::function<bool(SessionId)>& eligible, bool& found) const {
  const size_t n = group.members.size();
  const size_t start = group.next % n;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (start + k) % n;
    if (!eligible || eligible(group.members[i].session)) {
      found = true;
      return i;
    }
  }
  found = false;
  return start;
}

size_t Router::pick(SharedGroup& group, const std::function<bool(SessionId)>& eligible) {
  const size_t n = group.members.size();
  assert(n > 0);  // empty groups are removed
  bool found = false;
  switch (strategy_) {
    case SharedStrategy::kRoundRobin: {
      const size_t i = next_eligible(group, eligible, found);
      group.next = i + 1;
      return i;
    }
    case SharedStrategy::kRandom: {
      // Uniform among the eligible members (one eligible() call each), else among all. The
      // modulo bias of a 64-bit draw over a group size is negligible.
      eligible_scratch_.clear();
      for (size_t i = 0; i < n; ++i) {
        if (!eligible || eligible(group.members[i].session)) {
          eligible_scratch_.push_back(static_cast<uint32_t>(i));
        }
      }
      if (eligible_scratch_.empty()) return static_cast<size_t>(next_random() % n);
      return eligible_scratch_[static_cast<size_t>(next_random() % eligible_scratch_.size())];
    }
    case SharedStrategy::kSticky: {
      if (group.sticky != SharedGroup::kNone &&
          (!eligible || eligible(group.members[group.sticky].session))) {
        return group.sticky;
      }
      const size_t i = next_eligible(group, eligible, found);
      // Nobody eligible: stay with the current member (its session queues the message) so the
      // group doesn't hop between offline members.
      if (!found && group.sticky != SharedGroup::kNone) return group.sticky;
      group.sticky = i;
      group.next = i + 1;
      return i;
    }
  }
  return 0;
}

uint64_t Router::next_random() {
  // splitmix64: tiny, fast, good enough for load spreading, deterministic for a given seed.
  uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

SubscriptionInfo Router::info_of(const SubKey& key, SessionId session, const SubRef& ref) {
  SubscriptionInfo info{key.filter, {}, std::nullopt, key.stream};
  if (!ref.group) {
    const LocalSub& sub = ref.node->value.subs[ref.index];
    info.options = sub.options;
    info.subscription_id = sub.id;
  } else if (const SharedMember* m = member_of(*ref.group, session, key.stream)) {
    info.options = m->options;
    info.subscription_id = m->id;
  }
  return info;
}

std::vector<std::string> Router::filters_of(SessionId session) const {
  std::vector<std::string> filters;
  auto sit = sessions_.find(session);
  if (sit == sessions_.end()) return filters;
  filters.reserve(sit->second.subs.size());
  for (const auto& entry : sit->second.subs)
    filters.push_back(entry.first.filter);
  std::sort(filters.begin(), filters.end());
  return filters;
}

std::vector<SubscriptionInfo> Router::subscriptions_of(SessionId session) const {
  std::vector<SubscriptionInfo> subs;
  auto sit = sessions_.find(session);
  if (sit == sessions_.end()) return subs;
  subs.reserve(sit->second.subs.size());
  for (const auto& [key, ref] : sit->second.subs)
    subs.push_back(info_of(key, session, ref));
  std::sort(subs.begin(), subs.end(), [](const SubscriptionInfo& a, const SubscriptionInfo& b) {
    return a.filter != b.filter ? a.filter < b.filter : a.stream < b.stream;
  });
  return subs;
}

std::optional<SubscriptionInfo> Router::find(SessionId session, std::string_view filter,
                                             StreamTag stream) const {
  auto sit = sessions_.find(session);
  if (sit == sessions_.end()) return std::nullopt;
  auto it = sit->second.subs.find(SubKeyView{stream, filter});
  if (it == sit->second.subs.end()) return std::nullopt;
  return info_of(it->first, session, it->second);
}

}  // namespace mquictt::broker
