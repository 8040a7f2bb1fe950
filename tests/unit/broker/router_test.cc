// Router: MQTT 5 §4.7 matching through subscriptions, overlapping subscriptions of one session,
// No Local, shared subscriptions (§4.8.2) with each strategy and the eligibility fallback, the
// reverse index (unsubscribe/unsubscribe_all, pruning), and a randomized cross-check against the
// brute-force codec::topic_matches.

#include "broker/router.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "codec/topic.h"

namespace mquictt::broker {
namespace {

codec::SubscriptionOptions opts(uint8_t qos, bool no_local = false, bool rap = false) {
  codec::SubscriptionOptions o;
  o.qos = qos;
  o.no_local = no_local;
  o.retain_as_published = rap;
  return o;
}

const std::function<bool(SessionId)> kAll = [](SessionId) { return true; };

std::vector<Delivery> route(Router& r, std::string_view topic, SessionId publisher = kNoSession,
                            const std::function<bool(SessionId)>& eligible = kAll) {
  std::vector<Delivery> out;
  r.match(topic, publisher, eligible, out);
  std::sort(out.begin(), out.end(),
            [](const Delivery& a, const Delivery& b) { return a.session < b.session; });
  return out;
}

std::vector<SessionId> sessions_of(const std::vector<Delivery>& ds) {
  std::vector<SessionId> s;
  for (const Delivery& d : ds)
    s.push_back(d.session);
  return s;
}

// Session chosen for one shared message (exactly one delivery expected).
SessionId shared_pick(Router& r, std::string_view topic,
                      const std::function<bool(SessionId)>& eligible = kAll) {
  std::vector<Delivery> out;
  r.match(topic, kNoSession, eligible, out);
  EXPECT_EQ(out.size(), 1u);
  return out.empty() ? kNoSession : out.front().session;
}

struct RouteCase {
  const char* filter;
  const char* topic;
  bool matches;
};

const RouteCase kSpecTable[] = {
    {"sport/tennis/player1/#", "sport/tennis/player1", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
    {"sport/#", "sport", true},
    {"sport/tennis/+", "sport/tennis/player1/ranking", false},
    {"sport/+", "sport", false},
    {"+/+", "/finance", true},
    {"/+", "/finance", true},
    {"+", "/finance", false},
    {"#", "$SYS/x", false},
    {"+/monitor/Clients", "$SYS/monitor/Clients", false},
    {"$SYS/#", "$SYS/x", true},
    {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
    {"a//b", "a//b", true},
    {"a/+/b", "a//b", true},
    {"a/b", "a//b", false},
    // Shared subscriptions match on the filter after "$share/<group>/".
    {"$share/g/sport/#", "sport/tennis", true},
    {"$share/g/+", "$SYS", false},
    {"$share/g/$SYS/+", "$SYS/x", true},
    {"$share/g/a/b", "$share/g/a/b", false},
};

TEST(RouterSpec, Table) {
  for (const RouteCase& c : kSpecTable) {
    SCOPED_TRACE(std::string(c.filter) + " vs " + c.topic);
    Router r;
    r.subscribe(7, c.filter, opts(1), std::nullopt);
    std::vector<Delivery> out = route(r, c.topic);
    EXPECT_EQ(out.size(), c.matches ? 1u : 0u);
    if (!out.empty()) {
      EXPECT_EQ(out[0].session, 7u);
      EXPECT_EQ(out[0].qos, 1);
    }
  }
}

TEST(Router, NoSubscriptionsNoDeliveries) {
  Router r;
  std::vector<Delivery> out{Delivery{1, 0, false, {}}};
  r.match("a", kNoSession, kAll, out);
  EXPECT_TRUE(out.empty());  // cleared first
}

TEST(Router, OverlappingFiltersGiveOneDeliveryWithMaxQosAndAllIds) {
  Router r;
  r.subscribe(1, "a/+", opts(1), 11);
  r.subscribe(1, "a/b", opts(0), 5);
  r.subscribe(1, "#", opts(2), std::nullopt);
  r.subscribe(1, "a/#", opts(0), 11);  // same id twice: listed once
  r.subscribe(2, "a/b", opts(0), 9);
  std::vector<Delivery> out = route(r, "a/b");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].session, 1u);
  EXPECT_EQ(out[0].qos, 2);
  EXPECT_EQ(out[0].subscription_ids, (std::vector<uint32_t>{5, 11}));
  EXPECT_FALSE(out[0].retain_as_published);
  EXPECT_EQ(out[1].session, 2u);
  EXPECT_EQ(out[1].qos, 0);
  EXPECT_EQ(out[1].subscription_ids, (std::vector<uint32_t>{9}));

  // Only the matching subscriptions count.
  out = route(r, "a/c/d");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].qos, 2);
  EXPECT_EQ(out[0].subscription_ids, (std::vector<uint32_t>{11}));
}

TEST(Router, RetainAsPublishedIfAnyMatchingSubscriptionHasIt) {
  Router r;
  r.subscribe(1, "a/+", opts(0, false, true), std::nullopt);
  r.subscribe(1, "a/b", opts(1, false, false), std::nullopt);
  std::vector<Delivery> out = route(r, "a/b");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].retain_as_published);
  EXPECT_EQ(out[0].qos, 1);
  out = route(r, "a/c");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].retain_as_published);
  EXPECT_EQ(out[0].qos, 0);
}

TEST(Router, DedupDoesNotLeakAcrossCalls) {
  Router r;
  r.subscribe(1, "a/+", opts(1), 1);
  r.subscribe(1, "a/b", opts(2), 2);
  r.subscribe(2, "x", opts(0), std::nullopt);
  ASSERT_EQ(route(r, "a/b").size(), 1u);
  // Session 1 doesn't match "x": it must not be merged into a stale slot of the previous call.
  std::vector<Delivery> out = route(r, "x");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].session, 2u);
  EXPECT_TRUE(out[0].subscription_ids.empty());
  out = route(r, "a/z");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].qos, 1);
  EXPECT_EQ(out[0].subscription_ids, (std::vector<uint32_t>{1}));
}

TEST(Router, NoLocalSkipsOnlyThePublishersOwnNoLocalSubscriptions) {
  Router r;
  r.subscribe(1, "a/b", opts(2, true), 1);
  r.subscribe(1, "a/+", opts(1, false), 2);
  r.subscribe(2, "a/b", opts(1, true), std::nullopt);
  // Published by 1: its no_local "a/b" is skipped, "a/+" still delivers (with its own QoS/id).
  std::vector<Delivery> out = route(r, "a/b", 1);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].session, 1u);
  EXPECT_EQ(out[0].qos, 1);
  EXPECT_EQ(out[0].subscription_ids, (std::vector<uint32_t>{2}));
  EXPECT_EQ(out[1].session, 2u);
  // Published by 2: 2 gets nothing.
  EXPECT_EQ(sessions_of(route(r, "a/b", 2)), (std::vector<SessionId>{1}));
  // Internal message: everyone.
  EXPECT_EQ(sessions_of(route(r, "a/b", kNoSession)), (std::vector<SessionId>{1, 2}));
  r.unsubscribe(1, "a/+");
  EXPECT_EQ(sessions_of(route(r, "a/b", 1)), (std::vector<SessionId>{2}));
}

TEST(Router, ResubscribeReplacesOptions) {
  Router r;
  EXPECT_FALSE(r.subscribe(1, "a/b", opts(0), 3));
  EXPECT_TRUE(r.subscribe(1, "a/b", opts(2, false, true), std::nullopt));
  EXPECT_EQ(r.subscription_count(), 1u);
  std::vector<Delivery> out = route(r, "a/b");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].qos, 2);
  EXPECT_TRUE(out[0].retain_as_published);
  EXPECT_TRUE(out[0].subscription_ids.empty());
  auto info = r.find(1, "a/b");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->options, opts(2, false, true));
  EXPECT_EQ(info->subscription_id, std::nullopt);
  EXPECT_FALSE(r.find(1, "a/c"));
  EXPECT_FALSE(r.find(2, "a/b"));
}

TEST(Router, UnsubscribePrunesAndCounts) {
  Router r;
  r.subscribe(1, "a/b/c", opts(0), std::nullopt);
  r.subscribe(2, "a/b/c", opts(0), std::nullopt);
  r.subscribe(2, "a/+/#", opts(0), std::nullopt);
  r.subscribe(3, "$share/g/a/b/c", opts(0), std::nullopt);
  EXPECT_EQ(r.subscription_count(), 4u);
  EXPECT_EQ(r.shared_subscription_count(), 1u);
  EXPECT_EQ(r.node_count(), 5u);  // a b c + #

  EXPECT_FALSE(r.unsubscribe(1, "a/b"));
  EXPECT_FALSE(r.unsubscribe(9, "a/b/c"));
  EXPECT_TRUE(r.unsubscribe(1, "a/b/c"));
  EXPECT_FALSE(r.unsubscribe(1, "a/b/c"));
  EXPECT_EQ(r.node_count(), 5u);  // 2 and the shared group still use a/b/c
  EXPECT_EQ(sessions_of(route(r, "a/b/c")), (std::vector<SessionId>{2, 3}));

  EXPECT_TRUE(r.unsubscribe(2, "a/b/c"));
  EXPECT_TRUE(r.unsubscribe(3, "$share/g/a/b/c"));
  EXPECT_EQ(r.node_count(), 3u);  // a + #
  EXPECT_EQ(r.shared_subscription_count(), 0u);
  EXPECT_TRUE(r.unsubscribe(2, "a/+/#"));
  EXPECT_EQ(r.node_count(), 0u);
  EXPECT_EQ(r.subscription_count(), 0u);
  EXPECT_EQ(r.session_count(), 0u);
  EXPECT_TRUE(route(r, "a/b/c").empty());
}

TEST(Router, SwapRemoveKeepsTheOtherSubscribersReachable) {
  Router r;
  for (SessionId s = 1; s <= 5; ++s)
    r.subscribe(s, "t", opts(0), static_cast<uint32_t>(s));
  r.unsubscribe(2, "t");  // moves 5 into 2's slot
  r.unsubscribe(5, "t");  // must find 5 at its new slot
  r.unsubscribe(1, "t");
  std::vector<Delivery> out = route(r, "t");
  ASSERT_EQ(sessions_of(out), (std::vector<SessionId>{3, 4}));
  EXPECT_EQ(out[0].subscription_ids, (std::vector<uint32_t>{3}));
  EXPECT_EQ(out[1].subscription_ids, (std::vector<uint32_t>{4}));
}

TEST(Router, UnsubscribeAllRemovesOnlyThatSession) {
  Router r;
  r.subscribe(1, "a/#", opts(0), std::nullopt);
  r.subscribe(1, "b", opts(0), std::nullopt);
  r.subscribe(1, "$share/g/c", opts(0), std::nullopt);
  r.subscribe(1, "$share/h/c", opts(0), std::nullopt);
  r.subscribe(2, "b", opts(1), std::nullopt);
  r.subscribe(2, "$share/g/c", opts(1), std::nullopt);
  EXPECT_EQ(r.filters_of(1), (std::vector<std::string>{"$share/g/c", "$share/h/c", "a/#", "b"}));
  r.unsubscribe_all(1);
  r.unsubscribe_all(1);  // idempotent
  r.unsubscribe_all(42);
  EXPECT_TRUE(r.filters_of(1).empty());
  EXPECT_EQ(r.filters_of(2), (std::vector<std::string>{"$share/g/c", "b"}));
  EXPECT_EQ(r.subscription_count(), 2u);
  EXPECT_EQ(r.shared_subscription_count(), 1u);
  EXPECT_TRUE(route(r, "a/x").empty());
  EXPECT_EQ(sessions_of(route(r, "b")), (std::vector<SessionId>{2}));
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(shared_pick(r, "c"), 2u);
  r.unsubscribe_all(2);
  EXPECT_EQ(r.node_count(), 0u);
  EXPECT_EQ(r.session_count(), 0u);
}

TEST(Router, SubscriptionsOfReportsOptionsAndIds) {
  Router r;
  r.subscribe(1, "b", opts(1, true), 4);
  r.subscribe(1, "$share/g/a", opts(2), std::nullopt);
  std::vector<SubscriptionInfo> subs = r.subscriptions_of(1);
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_EQ(subs[0].filter, "$share/g/a");
  EXPECT_EQ(subs[0].options, opts(2));
  EXPECT_EQ(subs[0].subscription_id, std::nullopt);
  EXPECT_EQ(subs[1].filter, "b");
  EXPECT_EQ(subs[1].options, opts(1, true));
  EXPECT_EQ(subs[1].subscription_id, 4u);
  EXPECT_TRUE(r.subscriptions_of(2).empty());
}

// --- Shared subscriptions ---------------------------------------------------------------------

TEST(RouterShared, RoundRobinInSubscriptionOrder) {
  Router r;
  r.subscribe(10, "$share/g/s/+", opts(1), std::nullopt);
  r.subscribe(20, "$share/g/s/+", opts(1), std::nullopt);
  r.subscribe(30, "$share/g/s/+", opts(1), std::nullopt);
  EXPECT_EQ(r.shared_subscription_count(), 3u);
  std::vector<SessionId> picks;
  for (int i = 0; i < 6; ++i)
    picks.push_back(shared_pick(r, "s/x"));
  EXPECT_EQ(picks, (std::vector<SessionId>{10, 20, 30, 10, 20, 30}));
}

TEST(RouterShared, DeliveryCarriesTheMembersOptions) {
  Router r;
  r.subscribe(10, "$share/g/s", opts(2, false, true), 77);
  std::vector<Delivery> out = route(r, "s");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].qos, 2);
  EXPECT_TRUE(out[0].retain_as_published);
  EXPECT_EQ(out[0].subscription_ids, (std::vector<uint32_t>{77}));
}

TEST(RouterShared, RoundRobinSkipsIneligibleMembers) {
  Router r;
  for (SessionId s : {10, 20, 30})
    r.subscribe(s, "$share/g/s", opts(1), std::nullopt);
  auto not_20 = [](SessionId s) { return s != 20; };
  std::vector<SessionId> picks;
  for (int i = 0; i < 4; ++i)
    picks.push_back(shared_pick(r, "s", not_20));
  EXPECT_EQ(picks, (std::vector<SessionId>{10, 30, 10, 30}));
  // 20 back: rotation continues from where it was.
  picks.clear();
  for (int i = 0; i < 3; ++i)
    picks.push_back(shared_pick(r, "s"));
  EXPECT_EQ(picks, (std::vector<SessionId>{10, 20, 30}));
}

TEST(RouterShared, NoEligibleMemberStillDeliversToOne) {
  Router r;
  for (SessionId s : {10, 20, 30})
    r.subscribe(s, "$share/g/s", opts(1), std::nullopt);
  auto none = [](SessionId) { return false; };
  std::vector<SessionId> picks;
  for (int i = 0; i < 4; ++i)
    picks.push_back(shared_pick(r, "s", none));
  EXPECT_EQ(picks, (std::vector<SessionId>{10, 20, 30, 10}));
  // An empty std::function means "everyone is eligible".
  EXPECT_EQ(shared_pick(r, "s", std::function<bool(SessionId)>()), 20u);
}

TEST(RouterShared, RemovingAMemberKeepsTheRotation) {
  Router r;
  for (SessionId s : {10, 20, 30, 40})
    r.subscribe(s, "$share/g/s", opts(1), std::nullopt);
  EXPECT_EQ(shared_pick(r, "s"), 10u);
  EXPECT_EQ(shared_pick(r, "s"), 20u);
  r.unsubscribe(10, "$share/g/s");  // before the cursor
  EXPECT_EQ(shared_pick(r, "s"), 30u);
  r.unsubscribe(40, "$share/g/s");  // after the cursor
  EXPECT_EQ(shared_pick(r, "s"), 20u);
  EXPECT_EQ(shared_pick(r, "s"), 30u);
  // Re-subscribing replaces the member's options in place (keeps its turn).
  EXPECT_TRUE(r.subscribe(20, "$share/g/s", opts(2), 5));
  std::vector<Delivery> out = route(r, "s");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].session, 20u);
  EXPECT_EQ(out[0].qos, 2);
  EXPECT_EQ(out[0].subscription_ids, (std::vector<uint32_t>{5}));
}

TEST(RouterShared, OneDeliveryPerGroupAndFilter) {
  Router r;
  r.subscribe(1, "$share/g/a/+", opts(0), std::nullopt);
  r.subscribe(2, "$share/g/a/+", opts(0), std::nullopt);
  r.subscribe(3, "$share/h/a/+", opts(0), std::nullopt);
  r.subscribe(4, "$share/g/a/b", opts(0), std::nullopt);  // same group name, other filter
  std::vector<Delivery> out = route(r, "a/b");
  EXPECT_EQ(out.size(), 3u);
  const std::vector<SessionId> ids = sessions_of(out);
  const std::set<SessionId> got(ids.begin(), ids.end());
  EXPECT_TRUE(got.count(3));
  EXPECT_TRUE(got.count(4));
  EXPECT_EQ(got.count(1) + got.count(2), 1u);
  EXPECT_EQ(sessions_of(route(r, "a/c")).size(), 2u);  // g on a/+ and h
}

TEST(RouterShared, SharedAndNonSharedOfOneSessionAreSeparateDeliveries) {
  Router r;
  r.subscribe(1, "a", opts(0), 1);
  r.subscribe(1, "$share/g/a", opts(2), 2);
  std::vector<Delivery> out = route(r, "a");
  ASSERT_EQ(out.size(), 2u);
  std::sort(out.begin(), out.end(),
            [](const Delivery& x, const Delivery& y) { return x.qos < y.qos; });
  EXPECT_EQ(out[0].session, 1u);
  EXPECT_EQ(out[0].subscription_ids, (std::vector<uint32_t>{1}));
  EXPECT_EQ(out[1].session, 1u);
  EXPECT_EQ(out[1].qos, 2);
  EXPECT_EQ(out[1].subscription_ids, (std::vector<uint32_t>{2}));
}

TEST(RouterShared, NoLocalIsNotAppliedToSharedSubscriptions) {
  Router r;
  // The handler rejects no_local on $share; if one slipped through it must not drop messages.
  r.subscribe(1, "$share/g/a", opts(0, true), std::nullopt);
  EXPECT_EQ(sessions_of(route(r, "a", 1)), (std::vector<SessionId>{1}));
}

TEST(RouterShared, RandomIsDeterministicPerSeedAndReachesEveryone) {
  auto run = [](uint64_t seed) {
    Router r(SharedStrategy::kRandom, seed);
    for (SessionId s : {10, 20, 30})
      r.subscribe(s, "$share/g/s", opts(0), std::nullopt);
    std::vector<SessionId> picks;
    for (int i = 0; i < 60; ++i)
      picks.push_back(shared_pick(r, "s"));
    return picks;
  };
  std::vector<SessionId> a = run(1);
  EXPECT_EQ(a, run(1));
  EXPECT_NE(a, run(2));
  std::map<SessionId, int> counts;
  for (SessionId s : a)
    ++counts[s];
  EXPECT_EQ(counts.size(), 3u);
  for (auto& [s, n] : counts)
    EXPECT_GE(n, 5) << s;  // ~20 each expected
  // Not simply round robin.
  EXPECT_NE(std::vector<SessionId>(a.begin(), a.begin() + 6),
            (std::vector<SessionId>{10, 20, 30, 10, 20, 30}));
}

TEST(RouterShared, RandomPicksOnlyEligibleMembersWhenThereAreAny) {
  Router r(SharedStrategy::kRandom, 99);
  for (SessionId s : {10, 20, 30, 40})
    r.subscribe(s, "$share/g/s", opts(0), std::nullopt);
  auto even_tens = [](SessionId s) { return s == 20 || s == 40; };
  std::set<SessionId> seen;
  for (int i = 0; i < 50; ++i)
    seen.insert(shared_pick(r, "s", even_tens));
  EXPECT_EQ(seen, (std::set<SessionId>{20, 40}));
  seen.clear();
  auto none = [](SessionId) { return false; };
  for (int i = 0; i < 80; ++i)
    seen.insert(shared_pick(r, "s", none));
  EXPECT_EQ(seen, (std::set<SessionId>{10, 20, 30, 40}));
}

TEST(RouterShared, StickyKeepsTheMemberWhileEligible) {
  Router r(SharedStrategy::kSticky);
  for (SessionId s : {10, 20, 30})
    r.subscribe(s, "$share/g/s", opts(0), std::nullopt);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(shared_pick(r, "s"), 10u);
  // 10 goes away: the next eligible one becomes sticky...
  auto not_10 = [](SessionId s) { return s != 10; };
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(shared_pick(r, "s", not_10), 20u);
  // ...and stays when 10 is back.
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(shared_pick(r, "s"), 20u);
  // Nobody eligible: stay with the sticky member (it queues).
  auto none = [](SessionId) { return false; };
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(shared_pick(r, "s", none), 20u);
  // The sticky member unsubscribes: the next in rotation takes over.
  r.unsubscribe(20, "$share/g/s");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(shared_pick(r, "s"), 30u);
  // A member removed before the sticky one doesn't change who is sticky.
  r.unsubscribe(10, "$share/g/s");
  EXPECT_EQ(shared_pick(r, "s"), 30u);
}

TEST(RouterShared, StickyWithNobodyEverEligibleStillPicks) {
  Router r(SharedStrategy::kSticky);
  for (SessionId s : {10, 20})
    r.subscribe(s, "$share/g/s", opts(0), std::nullopt);
  auto none = [](SessionId) { return false; };
  EXPECT_EQ(shared_pick(r, "s", none), 10u);
  EXPECT_EQ(shared_pick(r, "s", none), 10u);
  EXPECT_EQ(shared_pick(r, "s"), 10u);
}

TEST(Router, CallerMayMutateAfterMatchReturns) {
  Router r;
  for (SessionId s = 1; s <= 4; ++s)
    r.subscribe(s, "a/#", opts(0), std::nullopt);
  std::vector<Delivery> out = route(r, "a/b");
  // Typical handler reaction to a delivery: drop the session's subscriptions.
  for (const Delivery& d : out)
    r.unsubscribe_all(d.session);
  EXPECT_EQ(r.node_count(), 0u);
}

// --- Stream-scoped subscriptions (MQTT over QUIC data streams) ---

// Deliveries sorted by (session, stream), for comparisons.
std::vector<std::pair<SessionId, StreamTag>> targets(Router& r, std::string_view topic) {
  std::vector<Delivery> out;
  r.match(topic, kNoSession, kAll, out);
  std::vector<std::pair<SessionId, StreamTag>> t;
  for (const Delivery& d : out)
    t.emplace_back(d.session, d.stream);
  std::sort(t.begin(), t.end());
  return t;
}

TEST(RouterStreams, SameFilterOnTwoStreamsIsTwoSubscriptionsAndTwoDeliveries) {
  Router r;
  EXPECT_FALSE(r.subscribe(1, "a/b", opts(1), std::nullopt, kControlStream));
  EXPECT_FALSE(r.subscribe(1, "a/b", opts(2), 7, 5));
  EXPECT_EQ(r.subscription_count(), 2u);
  std::vector<Delivery> out;
  r.match("a/b", kNoSession, kAll, out);
  ASSERT_EQ(out.size(), 2u);
  std::sort(out.begin(), out.end(),
            [](const Delivery& a, const Delivery& b) { return a.stream < b.stream; });
  EXPECT_EQ(out[0].stream, kControlStream);
  EXPECT_EQ(out[0].qos, 1);
  EXPECT_TRUE(out[0].subscription_ids.empty());
  EXPECT_EQ(out[1].stream, 5u);
  EXPECT_EQ(out[1].qos, 2);
  EXPECT_EQ(out[1].subscription_ids, (std::vector<uint32_t>{7}));
  // Each stream's subscription is found and replaced on its own.
  EXPECT_TRUE(r.subscribe(1, "a/b", opts(0), std::nullopt, 5));
  EXPECT_EQ(r.find(1, "a/b", 5)->options.qos, 0);
  EXPECT_EQ(r.find(1, "a/b")->options.qos, 1);
  EXPECT_FALSE(r.find(1, "a/b", 9));
  auto subs = r.subscriptions_of(1);
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_EQ(subs[0].stream, kControlStream);
  EXPECT_EQ(subs[1].stream, 5u);
}

TEST(RouterStreams, OverlapsMergePerStreamOnly) {
  Router r;
  r.subscribe(1, "a/+", opts(0), 1, 4);
  r.subscribe(1, "a/b", opts(2), 2, 4);
  r.subscribe(1, "#", opts(1), 3, 8);
  std::vector<Delivery> out;
  r.match("a/b", kNoSession, kAll, out);
  ASSERT_EQ(out.size(), 2u);
  std::sort(out.begin(), out.end(),
            [](const Delivery& a, const Delivery& b) { return a.stream < b.stream; });
  EXPECT_EQ(out[0].stream, 4u);
  EXPECT_EQ(out[0].qos, 2);
  EXPECT_EQ(out[0].subscription_ids, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(out[1].stream, 8u);
  EXPECT_EQ(out[1].subscription_ids, (std::vector<uint32_t>{3}));
}

TEST(RouterStreams, UnsubscribeOnlyTouchesItsOwnStream) {
  Router r;
  r.subscribe(1, "a/b", opts(1), std::nullopt, 4);
  EXPECT_FALSE(r.unsubscribe(1, "a/b"));  // the control stream has none
  EXPECT_FALSE(r.unsubscribe(1, "a/b", 8));
  EXPECT_EQ(targets(r, "a/b"), (std::vector<std::pair<SessionId, StreamTag>>{{1, 4}}));
  EXPECT_TRUE(r.unsubscribe(1, "a/b", 4));
  EXPECT_TRUE(targets(r, "a/b").empty());
  EXPECT_EQ(r.node_count(), 0u);
  EXPECT_EQ(r.session_count(), 0u);
}

TEST(RouterStreams, MoveStreamRetagsAndKeepsTheTargetsOwnSubscription) {
  Router r;
  r.subscribe(1, "a/b", opts(2), 10, 4);
  r.subscribe(1, "x/#", opts(1), 11, 4);
  r.subscribe(1, "$share/g/s", opts(1), 12, 4);
  r.subscribe(1, "a/b", opts(0), 20, kControlStream);  // the control stream's own one wins
  r.subscribe(1, "y", opts(0), std::nullopt, 8);       // another stream: untouched
  r.subscribe(2, "a/b", opts(0), std::nullopt, 4);     // another session: untouched
  EXPECT_EQ(r.subscription_count(), 6u);
  r.move_stream(1, 4, kControlStream);
  EXPECT_EQ(r.subscription_count(), 5u);
  EXPECT_EQ(targets(r, "a/b"),
            (std::vector<std::pair<SessionId, StreamTag>>{{1, kControlStream}, {2, 4}}));
  EXPECT_EQ(r.find(1, "a/b")->subscription_id, 20u);
  EXPECT_EQ(r.find(1, "x/#")->subscription_id, 11u);
  EXPECT_EQ(r.find(1, "$share/g/s")->subscription_id, 12u);
  EXPECT_FALSE(r.find(1, "x/#", 4));
  EXPECT_EQ(targets(r, "x/1"), (std::vector<std::pair<SessionId, StreamTag>>{{1, kControlStream}}));
  EXPECT_EQ(targets(r, "s"), (std::vector<std::pair<SessionId, StreamTag>>{{1, kControlStream}}));
  EXPECT_EQ(targets(r, "y"), (std::vector<std::pair<SessionId, StreamTag>>{{1, 8}}));
  // Moved entries are fully re-keyed: unsubscribe by the new stream prunes everything.
  EXPECT_TRUE(r.unsubscribe(1, "x/#"));
  EXPECT_TRUE(r.unsubscribe(1, "$share/g/s"));
  EXPECT_TRUE(r.unsubscribe(1, "a/b"));
  EXPECT_TRUE(r.unsubscribe(1, "y", 8));
  EXPECT_TRUE(r.unsubscribe(2, "a/b", 4));
  EXPECT_EQ(r.subscription_count(), 0u);
  EXPECT_EQ(r.node_count(), 0u);
}

TEST(RouterStreams, SharedMembersOfOneSessionOnTwoStreamsRotate) {
  Router r;
  r.subscribe(1, "$share/g/s", opts(1), std::nullopt, kControlStream);
  r.subscribe(1, "$share/g/s", opts(1), std::nullopt, 4);
  r.subscribe(2, "$share/g/s", opts(1), std::nullopt);
  std::vector<std::pair<SessionId, StreamTag>> picks;
  for (int i = 0; i < 3; ++i) {
    auto t = targets(r, "s");
    ASSERT_EQ(t.size(), 1u);
    picks.push_back(t[0]);
  }
  EXPECT_EQ(picks, (std::vector<std::pair<SessionId, StreamTag>>{{1, 0}, {1, 4}, {2, 0}}));
  EXPECT_TRUE(r.unsubscribe(1, "$share/g/s", 4));
  EXPECT_EQ(r.shared_subscription_count(), 2u);
  // Moving onto a stream that is already a member of the group keeps that member only.
  r.subscribe(1, "$share/g/s", opts(2), 9, 8);
  r.move_stream(1, 8, kControlStream);
  EXPECT_EQ(r.shared_subscription_count(), 2u);
  EXPECT_EQ(r.find(1, "$share/g/s")->options.qos, 1);
}

#ifndef NDEBUG
TEST(RouterDeathTest, EligibleMustNotMutateTheRouter) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Router r;
        r.subscribe(1, "$share/g/a", opts(0), std::nullopt);
        std::vector<Delivery> out;
        r.match(
            "a", kNoSession, [&r](SessionId s) { return r.unsubscribe(s, "$share/g/a"); }, out);
      },
      "inside match");
}
#endif

// Randomized cross-check: every (session, topic) delivery against a brute-force evaluation of the
// session's subscriptions with codec::topic_matches.
TEST(Router, RandomizedCrossCheckAgainstCodec) {
  std::mt19937 rng(777);
  static const char* const kLevels[] = {"a", "b", "", "$s"};
  auto path = [&](bool filter) {
    std::string s;
    const int depth = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int i = 0; i < depth; ++i) {
      if (i) s += '/';
      const int w = filter ? std::uniform_int_distribution<int>(0, 5)(rng) : 5;
      if (w == 0) {
        s += '+';
      } else if (w == 1 && i == depth - 1) {
        s += '#';
      } else {
        s += kLevels[std::uniform_int_distribution<int>(0, 3)(rng)];
      }
    }
    if (s.empty()) s = "/";  // "" is not a valid name or filter; "/" is (two empty levels)
    EXPECT_TRUE(filter ? codec::valid_topic_filter(s) : codec::valid_topic_name(s)) << s;
    return s;
  };
  struct Sub {
    codec::SubscriptionOptions o;
    std::optional<uint32_t> id;
  };
  int checks = 0;
  for (int round = 0; round < 20; ++round) {
    Router r;
    std::map<SessionId, std::map<std::string, Sub>> model;
    for (int i = 0; i < 80; ++i) {
      const SessionId s = std::uniform_int_distribution<SessionId>(1, 8)(rng);
      const std::string f = path(true);
      Sub sub{opts(static_cast<uint8_t>(rng() % 3), rng() % 4 == 0, rng() % 2 == 0),
              rng() % 2 ? std::optional<uint32_t>(rng() % 5 + 1) : std::nullopt};
      const bool existed = model[s].count(f) > 0;
      EXPECT_EQ(r.subscribe(s, f, sub.o, sub.id), existed);
      model[s][f] = sub;
      if (rng() % 5 == 0) {  // and some churn
        const std::string g = path(true);
        EXPECT_EQ(r.unsubscribe(s, g), model[s].erase(g) > 0);
      }
    }
    for (int t = 0; t < 100; ++t) {
      const std::string topic = path(false);
      const SessionId publisher = std::uniform_int_distribution<SessionId>(0, 8)(rng);
      std::vector<Delivery> got = route(r, topic, publisher);
      std::vector<Delivery> want;
      for (auto& [s, subs] : model) {
        Delivery d{s, 0, false, {}};
        bool any = false;
        for (auto& [f, sub] : subs) {
          if (!codec::topic_matches(f, topic)) continue;
          if (sub.o.no_local && s == publisher) continue;
          any = true;
          d.qos = std::max(d.qos, sub.o.qos);
          d.retain_as_published = d.retain_as_published || sub.o.retain_as_published;
          if (sub.id) d.subscription_ids.push_back(*sub.id);
        }
        if (!any) continue;
        std::sort(d.subscription_ids.begin(), d.subscription_ids.end());
        d.subscription_ids.erase(std::unique(d.subscription_ids.begin(), d.subscription_ids.end()),
                                 d.subscription_ids.end());
        want.push_back(d);
      }
      ASSERT_EQ(got.size(), want.size()) << "topic '" << topic << "'";
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].session, want[i].session);
        EXPECT_EQ(got[i].qos, want[i].qos);
        EXPECT_EQ(got[i].retain_as_published, want[i].retain_as_published);
        EXPECT_EQ(got[i].subscription_ids, want[i].subscription_ids);
      }
      ++checks;
    }
    size_t total = 0;
    for (auto& [s, subs] : model)
      total += subs.size();
    EXPECT_EQ(r.subscription_count(), total);
    for (auto& [s, subs] : model)
      r.unsubscribe_all(s);
    EXPECT_EQ(r.node_count(), 0u);
    EXPECT_EQ(r.subscription_count(), 0u);
  }
  EXPECT_EQ(checks, 2000);
}

}  // namespace
}  // namespace mquictt::broker
