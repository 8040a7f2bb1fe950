// RetainedStore: set/replace/delete (§3.3.1.3), wildcard lookups with the $-rule, expiry with a
// ManualClock, pruning, reentrant visitors, and a randomized cross-check against
// codec::topic_matches.

#include "broker/retained_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "codec/topic.h"
#include "util/clock.h"

namespace mquictt::broker {
namespace {

MessagePtr msg(std::string topic, std::string payload, std::optional<TimeMs> expires = {}) {
  auto m = std::make_shared<Message>();
  m->topic = std::move(topic);
  m->payload.assign(payload.begin(), payload.end());
  m->retain = true;
  m->expires_at_ms = expires;
  return m;
}

std::string text(const MessagePtr& m) {
  return std::string(m->payload.begin(), m->payload.end());
}

// Topics of the retained messages matching `filter`, sorted.
std::vector<std::string> topics(RetainedStore& store, std::string_view filter, TimeMs now = 0) {
  std::vector<std::string> out;
  store.match(filter, now, [&](const MessagePtr& m) { out.push_back(m->topic); });
  std::sort(out.begin(), out.end());
  return out;
}

using Topics = std::vector<std::string>;

TEST(RetainedStore, SetReplaceAndDelete) {
  RetainedStore store;
  EXPECT_EQ(store.size(), 0u);
  store.set(msg("a/b", "1"));
  store.set(msg("a/c", "2"));
  EXPECT_EQ(store.size(), 2u);
  ASSERT_TRUE(store.get("a/b"));
  EXPECT_EQ(text(store.get("a/b")), "1");
  EXPECT_FALSE(store.get("a"));  // intermediate level only

  store.set(msg("a/b", "3"));  // replaces
  EXPECT_EQ(store.size(), 2u);
  EXPECT_EQ(text(store.get("a/b")), "3");

  store.set(msg("a/b", ""));  // empty payload deletes
  EXPECT_EQ(store.size(), 1u);
  EXPECT_FALSE(store.get("a/b"));
  store.set(msg("a/b", ""));  // deleting a missing one is a no-op
  store.set(msg("zz", ""));
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(store.node_count(), 2u);  // a, a/c

  store.set(msg("a/c", ""));
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.node_count(), 0u);
}

TEST(RetainedStore, DeletingAParentKeepsItsChildren) {
  RetainedStore store;
  store.set(msg("a", "p"));
  store.set(msg("a/b", "c"));
  store.set(msg("a", ""));
  EXPECT_EQ(topics(store, "#"), (Topics{"a/b"}));
  EXPECT_EQ(store.node_count(), 2u);
  store.set(msg("a/b", ""));
  EXPECT_EQ(store.node_count(), 0u);
}

class RetainedWildcards : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* t : {"sport", "sport/tennis", "sport/tennis/player1",
                          "sport/tennis/player1/ranking", "sport/tennis/player2", "sport/golf",
                          "/finance", "/", "a//b", "$SYS/broker/uptime", "$SYS", "x/$y"}) {
      store_.set(msg(t, "v"));
    }
  }
  RetainedStore store_;
};

TEST_F(RetainedWildcards, Literal) {
  EXPECT_EQ(topics(store_, "sport/tennis"), (Topics{"sport/tennis"}));
  EXPECT_EQ(topics(store_, "sport/tennis/player3"), Topics{});
  EXPECT_EQ(topics(store_, "a//b"), (Topics{"a//b"}));
  EXPECT_EQ(topics(store_, "a/b"), Topics{});
}

TEST_F(RetainedWildcards, MultiLevel) {
  EXPECT_EQ(topics(store_, "sport/tennis/player1/#"),
            (Topics{"sport/tennis/player1", "sport/tennis/player1/ranking"}));
  EXPECT_EQ(topics(store_, "sport/#"),
            (Topics{"sport", "sport/golf", "sport/tennis", "sport/tennis/player1",
                    "sport/tennis/player1/ranking", "sport/tennis/player2"}));
  // '#' alone: everything except $-topics.
  EXPECT_EQ(topics(store_, "#"),
            (Topics{"/", "/finance", "a//b", "sport", "sport/golf", "sport/tennis",
                    "sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis/player2",
                    "x/$y"}));
}

TEST_F(RetainedWildcards, SingleLevel) {
  EXPECT_EQ(topics(store_, "sport/tennis/+"),
            (Topics{"sport/tennis/player1", "sport/tennis/player2"}));
  EXPECT_EQ(topics(store_, "sport/+"), (Topics{"sport/golf", "sport/tennis"}));
  EXPECT_EQ(topics(store_, "+"), (Topics{"sport"}));  // not "$SYS"
  EXPECT_EQ(topics(store_, "+/+"), (Topics{"/", "/finance", "sport/golf", "sport/tennis", "x/$y"}));
  EXPECT_EQ(topics(store_, "/+"), (Topics{"/", "/finance"}));
  EXPECT_EQ(topics(store_, "a/+/b"), (Topics{"a//b"}));
  EXPECT_EQ(topics(store_, "+/tennis/#"),
            (Topics{"sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking",
                    "sport/tennis/player2"}));
}

TEST_F(RetainedWildcards, DollarTopicsNeedAnExplicitFirstLevel) {
  EXPECT_EQ(topics(store_, "+/broker/uptime"), Topics{});
  EXPECT_EQ(topics(store_, "$SYS/#"), (Topics{"$SYS", "$SYS/broker/uptime"}));
  EXPECT_EQ(topics(store_, "$SYS/+/uptime"), (Topics{"$SYS/broker/uptime"}));
  EXPECT_EQ(topics(store_, "$SYS"), (Topics{"$SYS"}));
  EXPECT_EQ(topics(store_, "x/+"), (Topics{"x/$y"}));  // first level only
}

TEST(RetainedStore, ExpiredMessagesAreSkippedAndDeletedOnMatch) {
  ManualClock clock;
  RetainedStore store;
  store.set(msg("a/1", "short", clock.now_ms() + 1'000));
  store.set(msg("a/2", "long", clock.now_ms() + 5'000));
  store.set(msg("a/3", "forever"));
  EXPECT_EQ(store.next_expiry(), clock.now_ms() + 1'000);
  EXPECT_EQ(topics(store, "a/+", clock.now_ms()), (Topics{"a/1", "a/2", "a/3"}));

  clock.advance(999);
  EXPECT_EQ(topics(store, "a/+", clock.now_ms()), (Topics{"a/1", "a/2", "a/3"}));
  clock.advance(1);  // expired(now) is now >= expires_at
  EXPECT_EQ(topics(store, "a/#", clock.now_ms()), (Topics{"a/2", "a/3"}));
  EXPECT_EQ(store.size(), 2u);
  EXPECT_FALSE(store.get("a/1"));
  EXPECT_EQ(store.next_expiry(), clock.now_ms() + 4'000);
}

TEST(RetainedStore, ExpireDropsDueMessagesAndPrunes) {
  ManualClock clock;
  RetainedStore store;
  store.set(msg("x/y/z", "1", clock.now_ms() + 10));
  store.set(msg("x/q", "2", clock.now_ms() + 20));
  store.set(msg("keep", "3"));
  store.expire(clock.now_ms() + 9);
  EXPECT_EQ(store.size(), 3u);
  clock.advance(10);
  store.expire(clock.now_ms());
  EXPECT_EQ(store.size(), 2u);
  EXPECT_FALSE(store.get("x/y/z"));
  EXPECT_EQ(store.node_count(), 3u);  // x, x/q, keep
  clock.advance(100);
  store.expire(clock.now_ms());
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(store.node_count(), 1u);
  EXPECT_EQ(store.next_expiry(), std::nullopt);
}

TEST(RetainedStore, ReplacingMovesTheExpiry) {
  ManualClock clock;
  RetainedStore store;
  store.set(msg("t", "old", clock.now_ms() + 10));
  store.set(msg("t", "new", clock.now_ms() + 1'000));
  clock.advance(500);
  store.expire(clock.now_ms());  // the old deadline must not delete the new message
  ASSERT_TRUE(store.get("t"));
  EXPECT_EQ(text(store.get("t")), "new");
  // Replaced by one without expiry: never expires.
  store.set(msg("t", "eternal"));
  EXPECT_EQ(store.next_expiry(), std::nullopt);
  clock.advance(1'000'000);
  store.expire(clock.now_ms());
  EXPECT_EQ(store.size(), 1u);
  // Deleting an expiring one removes its index entry too.
  store.set(msg("u", "x", clock.now_ms() + 5));
  store.set(msg("u", ""));
  EXPECT_EQ(store.next_expiry(), std::nullopt);
  clock.advance(10);
  store.expire(clock.now_ms());
  EXPECT_EQ(store.size(), 1u);
}

TEST(RetainedStore, VisitorMayModifyTheStore) {
  RetainedStore store;
  for (const char* t : {"a/1", "a/2", "a/3"})
    store.set(msg(t, "v"));
  std::vector<std::string> seen;
  store.match("a/+", 0, [&](const MessagePtr& m) {
    seen.push_back(m->topic);
    store.set(msg(m->topic, ""));  // delete what we're visiting
    store.set(msg("a/new", "v"));  // and add a matching one
  });
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (Topics{"a/1", "a/2", "a/3"}));
  EXPECT_EQ(topics(store, "a/+"), (Topics{"a/new"}));
}

TEST(RetainedStore, SharesTheMessageInsteadOfCopying) {
  RetainedStore store;
  MessagePtr m = msg("a", "v");
  store.set(m);
  const Message* seen = nullptr;
  store.match("a", 0, [&](const MessagePtr& p) { seen = p.get(); });
  EXPECT_EQ(seen, m.get());
}

TEST(RetainedStore, RandomizedCrossCheckAgainstCodec) {
  std::mt19937 rng(4242);
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
  int checks = 0;
  for (int round = 0; round < 20; ++round) {
    RetainedStore store;
    std::set<std::string> model;
    for (int i = 0; i < 60; ++i) {
      const std::string t = path(false);
      if (rng() % 4 == 0) {
        store.set(msg(t, ""));
        model.erase(t);
      } else {
        store.set(msg(t, "v"));
        model.insert(t);
      }
    }
    ASSERT_EQ(store.size(), model.size());
    for (int i = 0; i < 100; ++i) {
      const std::string f = path(true);
      Topics want;
      for (const std::string& t : model) {
        if (codec::topic_matches(f, t)) want.push_back(t);
      }
      ASSERT_EQ(topics(store, f), want) << "filter '" << f << "'";
      ++checks;
    }
    for (const std::string& t : model)
      store.set(msg(t, ""));
    EXPECT_EQ(store.size(), 0u);
    EXPECT_EQ(store.node_count(), 0u);
  }
  EXPECT_EQ(checks, 2000);
}

}  // namespace
}  // namespace mquictt::broker
