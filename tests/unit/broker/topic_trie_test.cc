// TopicTrie: matching against the MQTT 5 §4.7 rules in both directions (a trie of filters matched
// by a topic name, a trie of names matched by a filter), pruning, deep topics, and a randomized
// cross-check against the brute-force codec::topic_matches.

#include "broker/topic_trie.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "codec/topic.h"

namespace mquictt::broker {
namespace {

// A value that remembers which string (filter or name) the node was inserted for.
struct Tag {
  std::string text;
  bool empty() const { return text.empty(); }
};
using Trie = TopicTrie<Tag>;

void add(Trie& trie, const std::string& s) {
  trie.insert(s).value.text = s;
}

std::set<std::string> filters_matching(Trie& trie, std::string_view topic) {
  std::set<std::string> got;
  trie.match_topic(topic, [&](Trie::Node& n) {
    if (n.value.empty()) return;
    EXPECT_TRUE(got.insert(n.value.text).second) << "visited twice: " << n.value.text;
  });
  return got;
}

std::set<std::string> names_matching(Trie& trie, std::string_view filter) {
  std::set<std::string> got;
  trie.match_filter(filter, [&](Trie::Node& n) {
    if (n.value.empty()) return;
    EXPECT_TRUE(got.insert(n.value.text).second) << "visited twice: " << n.value.text;
  });
  return got;
}

struct MatchCase {
  const char* filter;
  const char* topic;
  bool matches;
};

// MQTT 5 §4.7.1-4.7.2 examples and their edges.
const MatchCase kSpecTable[] = {
    // '#' multi-level wildcard, including the parent level.
    {"sport/tennis/player1/#", "sport/tennis/player1", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
    {"sport/tennis/player1/#", "sport/tennis/player2", false},
    {"sport/tennis/player1/#", "sport/tennis", false},
    {"sport/#", "sport", true},
    {"sport/#", "sports", false},
    {"sport/#", "sport/", true},
    {"#", "sport/tennis/player1", true},
    {"#", "/", true},
    {"#", "a", true},
    // '+' single-level wildcard.
    {"sport/tennis/+", "sport/tennis/player1", true},
    {"sport/tennis/+", "sport/tennis/player2", true},
    {"sport/tennis/+", "sport/tennis/player1/ranking", false},
    {"sport/tennis/+", "sport/tennis", false},
    {"sport/tennis/+", "sport/tennis/", true},  // '+' matches an empty level
    {"sport/+", "sport", false},
    {"sport/+", "sport/", true},
    {"+", "sport", true},
    {"+/+", "/finance", true},
    {"/+", "/finance", true},
    {"+", "/finance", false},
    {"+/tennis/#", "sport/tennis/player1", true},
    {"+/tennis/#", "sport/tennis", true},
    {"+/#", "a", true},
    {"+/+/+", "a/b", false},
    // $-topics: wildcards in the first level never match them.
    {"#", "$SYS/x", false},
    {"#", "$SYS", false},
    {"+/monitor/Clients", "$SYS/monitor/Clients", false},
    {"+", "$SYS", false},
    {"$SYS/#", "$SYS/x", true},
    {"$SYS/#", "$SYS", true},
    {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
    {"$SYS/+/Clients", "$SYS/monitor/Clients", true},
    {"a/+", "a/$x", true},  // the rule is first-level only
    {"a/#", "a/$x/y", true},
    // Empty levels are ordinary levels.
    {"a//b", "a//b", true},
    {"a/+/b", "a//b", true},
    {"a/b", "a//b", false},
    {"a//b", "a/b", false},
    {"/", "/", true},
    {"+/+", "/", true},
    {"//", "/", false},
    {"a/", "a", false},
    {"a", "a/", false},
    // Literal levels compare exactly (case-sensitive, no prefixes).
    {"ACCOUNTS", "Accounts", false},
    {"a/b", "a/b", true},
    {"a/b", "a/bc", false},
    {"a/b/c", "a/b", false},
};

TEST(TopicTrieSpec, TableAgreesWithCodec) {
  // Guards the table itself: every filter is valid and codec::topic_matches agrees with it.
  for (const MatchCase& c : kSpecTable) {
    SCOPED_TRACE(std::string(c.filter) + " vs " + c.topic);
    EXPECT_TRUE(codec::valid_topic_filter(c.filter));
    EXPECT_TRUE(codec::valid_topic_name(c.topic));
    EXPECT_EQ(codec::topic_matches(c.filter, c.topic), c.matches);
  }
}

TEST(TopicTrieSpec, FilterTrieMatchesTopicOneFilterAtATime) {
  for (const MatchCase& c : kSpecTable) {
    SCOPED_TRACE(std::string(c.filter) + " vs " + c.topic);
    Trie trie;
    add(trie, c.filter);
    EXPECT_EQ(filters_matching(trie, c.topic).count(c.filter), c.matches ? 1u : 0u);
  }
}

TEST(TopicTrieSpec, NameTrieMatchesFilterOneNameAtATime) {
  for (const MatchCase& c : kSpecTable) {
    SCOPED_TRACE(std::string(c.filter) + " vs " + c.topic);
    Trie trie;
    add(trie, c.topic);
    EXPECT_EQ(names_matching(trie, c.filter).count(c.topic), c.matches ? 1u : 0u);
  }
}

TEST(TopicTrieSpec, AllFiltersInOneTrie) {
  Trie filters;
  Trie names;
  for (const MatchCase& c : kSpecTable) {
    add(filters, c.filter);
    add(names, c.topic);
  }
  // Expected sets come from the table's verdicts (only pairs the table lists) plus the codec's
  // for the pairs it doesn't, so this checks the two walks over a crowded trie.
  for (const MatchCase& c : kSpecTable) {
    std::set<std::string> want;
    for (const MatchCase& d : kSpecTable) {
      if (codec::topic_matches(d.filter, c.topic)) want.insert(d.filter);
    }
    EXPECT_EQ(filters_matching(filters, c.topic), want) << "topic " << c.topic;
    std::set<std::string> want_names;
    for (const MatchCase& d : kSpecTable) {
      if (codec::topic_matches(c.filter, d.topic)) want_names.insert(d.topic);
    }
    EXPECT_EQ(names_matching(names, c.filter), want_names) << "filter " << c.filter;
  }
}

struct ValidityCase {
  const char* filter;
  bool valid;
};

// §4.7.1 / §4.8.2 filter syntax; the router relies on the codec rejecting the invalid ones.
const ValidityCase kValidityTable[] = {
    {"sport/tennis/#", true},
    {"sport/tennis#", false},
    {"sport/tennis/#/ranking", false},
    {"#", true},
    {"+", true},
    {"sport+", false},
    {"+/tennis/#", true},
    {"sport/+/player1", true},
    {"/", true},
    {"a//b", true},
    {"", false},
    {"$SYS/#", true},
    {"$share/g/a/+", true},
    {"$share/g", false},
    {"$share//a", false},
    {"$share/g+/a", false},
    {"$share/g/", false},
    {"a/b+", false},
};

TEST(TopicTrieSpec, FilterValidity) {
  for (const ValidityCase& c : kValidityTable) {
    EXPECT_EQ(codec::valid_topic_filter(c.filter), c.valid) << c.filter;
  }
}

TEST(TopicTrie, InsertSharesPrefixesAndFindIsExact) {
  Trie trie;
  add(trie, "a/b/c");
  EXPECT_EQ(trie.node_count(), 3u);
  add(trie, "a/b/d");
  EXPECT_EQ(trie.node_count(), 4u);
  add(trie, "a/+/#");
  EXPECT_EQ(trie.node_count(), 6u);
  add(trie, "a//b");
  EXPECT_EQ(trie.node_count(), 8u);
  ASSERT_NE(trie.find("a/b/c"), nullptr);
  EXPECT_EQ(trie.find("a/b/c")->value.text, "a/b/c");
  EXPECT_EQ(trie.find("a/+/#")->value.text, "a/+/#");
  EXPECT_EQ(trie.find("a//b")->value.text, "a//b");
  ASSERT_NE(trie.find("a/b"), nullptr);  // intermediate node, no value
  EXPECT_TRUE(trie.find("a/b")->value.empty());
  EXPECT_EQ(trie.find("a/b/c/d"), nullptr);
  EXPECT_EQ(trie.find("a/x"), nullptr);
  // Inserting an existing path creates nothing.
  EXPECT_EQ(&trie.insert("a/b/c"), trie.find("a/b/c"));
  EXPECT_EQ(trie.node_count(), 8u);
}

TEST(TopicTrie, PruneFreesEmptyNodesUpToTheFirstNeeded) {
  Trie trie;
  for (const char* s : {"a/b/c", "a/b", "a/+/#", "a//b", "x"})
    add(trie, s);
  const size_t full = trie.node_count();
  EXPECT_EQ(full, 8u);  // a, a/b, a/b/c, a/+, a/+/#, a/"", a//b, x

  // Emptying "a/b" keeps it: it still has a child.
  Trie::Node* ab = trie.find("a/b");
  ab->value.text.clear();
  trie.prune(ab);
  EXPECT_EQ(trie.node_count(), full);
  EXPECT_NE(trie.find("a/b"), nullptr);

  // Removing "a/b/c" now frees c and the empty a/b, but not a (other children).
  Trie::Node* abc = trie.find("a/b/c");
  abc->value.text.clear();
  trie.prune(abc);
  EXPECT_EQ(trie.find("a/b"), nullptr);
  EXPECT_EQ(trie.node_count(), full - 2);

  // A node that still has a value is not pruned.
  trie.prune(trie.find("x"));
  EXPECT_NE(trie.find("x"), nullptr);

  for (const char* s : {"a/+/#", "a//b", "x"}) {
    Trie::Node* n = trie.find(s);
    ASSERT_NE(n, nullptr) << s;
    n->value.text.clear();
    trie.prune(n);
  }
  EXPECT_EQ(trie.node_count(), 0u);
  EXPECT_TRUE(filters_matching(trie, "a/b/c").empty());
  // Usable again after being emptied.
  add(trie, "a/#");
  EXPECT_EQ(filters_matching(trie, "a/q"), std::set<std::string>{"a/#"});
}

TEST(TopicTrie, DeepTopicsDoNotRecurse) {
  // 100k levels: the walks are iterative, so this can't overflow the call stack.
  std::string deep(100'000, '/');
  Trie filters;
  add(filters, deep);
  add(filters, "+" + deep + "#");
  EXPECT_EQ(filters_matching(filters, deep).size(), 2u);
  Trie names;
  add(names, deep);
  EXPECT_EQ(names_matching(names, "#").size(), 1u);
  EXPECT_EQ(names_matching(names, deep).size(), 1u);
  names.find(deep)->value.text.clear();
  names.prune(names.find(deep));
  EXPECT_EQ(names.node_count(), 0u);
}

TEST(TopicTrie, VisitorMayBeConstOrMutable) {
  Trie trie;
  add(trie, "a/+");
  int calls = 0;
  const auto counting = [&calls](Trie::Node& n) { calls += n.value.empty() ? 0 : 1; };
  trie.match_topic("a/b", counting);
  trie.match_topic("a/c", [&](Trie::Node& n) { calls += n.value.empty() ? 0 : 1; });
  EXPECT_EQ(calls, 2);
}

// Random levels drawn from a small alphabet so that collisions, empty levels and $-levels are
// frequent.
std::string random_path(std::mt19937& rng, bool filter) {
  static const char* const kLevels[] = {"a", "b", "", "$s", "c"};
  std::uniform_int_distribution<int> depth_d(1, 4);
  std::uniform_int_distribution<int> level_d(0, 4);
  std::uniform_int_distribution<int> wild_d(0, 5);
  const int depth = depth_d(rng);
  std::string s;
  for (int i = 0; i < depth; ++i) {
    if (i) s += '/';
    const int w = filter ? wild_d(rng) : 5;
    if (w == 0) {
      s += '+';
    } else if (w == 1 && i == depth - 1) {
      s += '#';
    } else {
      s += kLevels[level_d(rng)];
    }
  }
  if (s.empty()) s = "/";  // "" is not a valid name or filter; "/" is (two empty levels)
  EXPECT_TRUE(filter ? codec::valid_topic_filter(s) : codec::valid_topic_name(s)) << s;
  return s;
}

TEST(TopicTrie, RandomizedCrossCheckAgainstCodec) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 40; ++round) {
    Trie filters;
    Trie names;
    std::vector<std::string> fs;
    std::vector<std::string> ns;
    for (int i = 0; i < 60; ++i) {
      fs.push_back(random_path(rng, true));
      ns.push_back(random_path(rng, false));
      add(filters, fs.back());
      add(names, ns.back());
    }
    for (const std::string& topic : ns) {
      std::set<std::string> want;
      for (const std::string& f : fs) {
        if (codec::topic_matches(f, topic)) want.insert(f);
      }
      ASSERT_EQ(filters_matching(filters, topic), want) << "topic '" << topic << "'";
    }
    for (const std::string& filter : fs) {
      std::set<std::string> want;
      for (const std::string& n : ns) {
        if (codec::topic_matches(filter, n)) want.insert(n);
      }
      ASSERT_EQ(names_matching(names, filter), want) << "filter '" << filter << "'";
    }
    // Remove everything in random order: the trie must end empty.
    std::shuffle(fs.begin(), fs.end(), rng);
    for (const std::string& f : fs) {
      if (Trie::Node* n = filters.find(f)) {
        n->value.text.clear();
        filters.prune(n);
      }
    }
    EXPECT_EQ(filters.node_count(), 0u);
  }
}

}  // namespace
}  // namespace mquictt::broker
