// Topic names, filters, $share parsing and matching (MQTT 5 §4.7, §4.8.2). The tables mirror the
// one in codec/topic.h and extend it with the spec's own examples.

#include "codec/topic.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace mquictt::codec {
namespace {

struct NameFilterCase {
  std::string text;
  bool valid_name;
  bool valid_filter;
};

std::vector<NameFilterCase> name_filter_cases() {
  return {
      // Plain names (valid as both).
      {"a/b", true, true},
      {"a", true, true},
      {"/", true, true},     // two empty levels (§4.7.3)
      {"//", true, true},    // three empty levels
      {"/a", true, true},    // leading '/' makes a distinct topic
      {"a/", true, true},    // trailing '/' too
      {"a//b", true, true},  // empty middle level
      {"Accounts payable", true, true},
      {"ACCOUNTS", true, true},
      {"\xC3\xA9t\xC3\xA9/\xE2\x82\xAC", true, true},  // UTF-8 is checked by the codec, not here
      {"$SYS/x", true, true},
      {"$SYS", true, true},
      {"$", true, true},
      {"$share", true, true},  // no trailing '/': not a shared subscription, just a topic
      {"share/g/a", true, true},
      // Empty.
      {"", false, false},
      // Valid wildcards (filters only).
      {"+", false, true},
      {"#", false, true},
      {"a/+/b", false, true},
      {"a/#", false, true},
      {"+/+", false, true},
      {"/+", false, true},
      {"+/", false, true},
      {"/#", false, true},
      {"+/#", false, true},
      {"sport/tennis/#", false, true},
      {"sport/+/player1", false, true},
      {"$SYS/#", false, true},
      {"$SYS/monitor/+", false, true},
      {"a/+/+/#", false, true},
      // Misplaced wildcards.
      {"a/b#", false, false},
      {"a/#/b", false, false},
      {"a+", false, false},
      {"sport/tennis#", false, false},
      {"sport+", false, false},
      {"#/a", false, false},
      {"##", false, false},
      {"++", false, false},
      {"+#", false, false},
      {"a/+b/c", false, false},
      {"a/b+/c", false, false},
      {"a/#b", false, false},
      {"#/", false, false},  // '#' followed by an (empty) level is not last
      // Shared subscriptions (§4.8.2): valid filters; as names they are ordinary text.
      {"$share/g/a/+", false, true},
      {"$share/g/a/b", true, true},
      {"$share/g/#", false, true},
      {"$share/g/+", false, true},
      {"$share/g//finance", true, true},
      {"$share/g/$SYS/#", false, true},
      {"$share/consumer1/sport/tennis/+", false, true},
      {"$share/g/$share/h/x", true, true},  // inner "$share/h/x" is just a topic filter
      {"$share/g", true, false},            // no '/' after the ShareName
      {"$share/g/", true, false},           // empty filter
      {"$share//a", true, false},           // empty ShareName
      {"$share/", true, false},
      {"$share//", true, false},
      {"$share/g+/a", false, false},  // ShareName with '+'
      {"$share/g#/a", false, false},  // ShareName with '#'
      {"$share/+/a", false, false},
      {"$share/#/a", false, false},
      {"$share/g/a/#/b", false, false},  // inner filter invalid
      {"$share/g/a+", false, false},
  };
}

class NameFilterTest : public ::testing::TestWithParam<NameFilterCase> {};

TEST_P(NameFilterTest, Validity) {
  const auto& c = GetParam();
  EXPECT_EQ(valid_topic_name(c.text), c.valid_name) << '"' << c.text << '"';
  EXPECT_EQ(valid_topic_filter(c.text), c.valid_filter) << '"' << c.text << '"';
}

INSTANTIATE_TEST_SUITE_P(Table, NameFilterTest, ::testing::ValuesIn(name_filter_cases()));

TEST(TopicTest, LengthLimit) {
  // §4.7.3 [MQTT-4.7.3-3]: at most 65,535 bytes.
  std::string max(65'535, 'a');
  std::string over(65'536, 'a');
  EXPECT_TRUE(valid_topic_name(max));
  EXPECT_TRUE(valid_topic_filter(max));
  EXPECT_FALSE(valid_topic_name(over));
  EXPECT_FALSE(valid_topic_filter(over));

  std::string max_filter = std::string(65'533, 'a') + "/#";
  ASSERT_EQ(max_filter.size(), 65'535u);
  EXPECT_TRUE(valid_topic_filter(max_filter));
  EXPECT_FALSE(valid_topic_filter("a" + max_filter));

  std::string shared = "$share/g/" + std::string(65'535 - 9, 'x');
  ASSERT_EQ(shared.size(), 65'535u);
  EXPECT_TRUE(valid_topic_filter(shared));
  EXPECT_FALSE(valid_topic_filter(shared + "x"));
}

TEST(TopicTest, DollarTopic) {
  EXPECT_TRUE(is_dollar_topic("$SYS/a"));
  EXPECT_TRUE(is_dollar_topic("$"));
  EXPECT_FALSE(is_dollar_topic(""));
  EXPECT_FALSE(is_dollar_topic("a/$SYS"));
}

TEST(TopicTest, SplitLevels) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(split_levels("a/b/c"), (V{"a", "b", "c"}));
  EXPECT_EQ(split_levels("a//b"), (V{"a", "", "b"}));
  EXPECT_EQ(split_levels("/"), (V{"", ""}));
  EXPECT_EQ(split_levels("//"), (V{"", "", ""}));
  EXPECT_EQ(split_levels("/a"), (V{"", "a"}));
  EXPECT_EQ(split_levels("a/"), (V{"a", ""}));
  EXPECT_EQ(split_levels("a"), (V{"a"}));
  EXPECT_EQ(split_levels(""), (V{""}));
  EXPECT_EQ(split_levels("sport/+/#"), (V{"sport", "+", "#"}));
}

TEST(TopicTest, ParseShared) {
  auto s = parse_shared("$share/consumer1/sport/tennis/+");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->group, "consumer1");
  EXPECT_EQ(s->filter, "sport/tennis/+");

  s = parse_shared("$share/g//finance");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->group, "g");
  EXPECT_EQ(s->filter, "/finance");

  s = parse_shared("$share/g/#");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->filter, "#");

  // A ShareName may hold any character except '/', '+' and '#'.
  s = parse_shared("$share/gr\xC3\xBCn $x/a");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->group, "gr\xC3\xBCn $x");

  EXPECT_TRUE(is_shared("$share/g/a"));
  EXPECT_FALSE(is_shared("$share"));
  EXPECT_FALSE(is_shared("$SHARE/g/a"));  // case sensitive
  EXPECT_FALSE(is_shared("a/$share/g/a"));

  // Not shared at all.
  EXPECT_FALSE(parse_shared("a/b").has_value());
  EXPECT_FALSE(parse_shared("$share").has_value());
  EXPECT_FALSE(parse_shared("$SHARE/g/a").has_value());
  // Malformed shared filters.
  for (std::string_view bad : {"$share/", "$share/g", "$share/g/", "$share//a", "$share//",
                               "$share/g+/a", "$share/#/a", "$share/g/a/#/x", "$share/g/b+"}) {
    EXPECT_FALSE(parse_shared(bad).has_value()) << bad;
    EXPECT_FALSE(valid_topic_filter(bad)) << bad;
  }
}

struct MatchCase {
  std::string_view filter;
  std::string_view name;
  bool matches;
};

std::vector<MatchCase> match_cases() {
  return {
      // Exact.
      {"a/b", "a/b", true},
      {"a/b", "a/c", false},
      {"a/b", "a", false},
      {"a", "a/b", false},
      {"a/b", "a/b/c", false},
      {"ACCOUNTS", "Accounts", false},  // case sensitive
      {"/finance", "finance", false},
      {"/finance", "/finance", true},
      {"/", "/", true},
      {"a/", "a", false},
      {"a", "a/", false},
      // '#' (§4.7.1.2).
      {"#", "a", true},
      {"#", "a/b/c", true},
      {"#", "/", true},
      {"#", "/a", true},
      {"sport/#", "sport", true},  // '#' also matches the parent level
      {"sport/#", "sport/", true},
      {"sport/#", "sport/tennis", true},
      {"sport/#", "sport/tennis/player1", true},
      {"sport/#", "sports", false},
      {"sport/#", "other", false},
      {"sport/tennis/player1/#", "sport/tennis/player1", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
      {"sport/tennis/player1/#", "sport/tennis", false},
      {"/#", "/", true},
      {"/#", "/a/b", true},
      {"/#", "a", false},
      // '+' (§4.7.1.3).
      {"+", "a", true},
      {"+", "a/b", false},
      {"+", "/finance", false},
      {"+/+", "/finance", true},
      {"/+", "/finance", true},
      {"+/+", "a/b", true},
      {"+/+", "a", false},
      {"sport/tennis/+", "sport/tennis/player1", true},
      {"sport/tennis/+", "sport/tennis/player2", true},
      {"sport/tennis/+", "sport/tennis/player1/ranking", false},
      {"sport/+", "sport", false},
      {"sport/+", "sport/", true},  // '+' matches an empty level
      {"a/+/c", "a//c", true},
      {"a/+/c", "a/b/c", true},
      {"a/+/c", "a/b/d", false},
      {"+/b", "/b", true},
      {"+/#", "a", true},
      {"+/#", "a/b/c", true},
      {"a/+/#", "a/b", true},
      {"a/+/#", "a", false},
      // $-topics (§4.7.2): first-level wildcards never match them.
      {"#", "$SYS/broker/uptime", false},
      {"#", "$SYS", false},
      {"#", "$", false},
      {"+", "$SYS", false},
      {"+/#", "$SYS/x", false},
      {"+/monitor/Clients", "$SYS/monitor/Clients", false},
      {"$SYS/#", "$SYS/monitor/Clients", true},
      {"$SYS/#", "$SYS", true},
      {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
      {"$SYS/+/Clients", "$SYS/monitor/Clients", true},
      {"$SYS", "$SYS", true},
      {"#", "a/$SYS", true},  // only a leading '$' is special
      {"+/$SYS", "a/$SYS", true},
      // Wildcard characters in a filter are not literal.
      {"+", "+", true},
      {"a/+", "a/#", true},
  };
}

class MatchTest : public ::testing::TestWithParam<MatchCase> {};

TEST_P(MatchTest, Matches) {
  const auto& c = GetParam();
  EXPECT_EQ(topic_matches(c.filter, c.name), c.matches)
      << "filter \"" << c.filter << "\" name \"" << c.name << '"';
}

INSTANTIATE_TEST_SUITE_P(Table, MatchTest, ::testing::ValuesIn(match_cases()));

TEST(TopicTest, MatchesAgreesWithLevelsOnLongTopics) {
  // Deep topics: no recursion or per-level allocation limits.
  std::string name;
  for (int i = 0; i < 10'000; ++i)
    name += "l/";
  name += "end";
  EXPECT_TRUE(topic_matches("#", name));
  EXPECT_TRUE(topic_matches("l/#", name));
  EXPECT_FALSE(topic_matches("l/+", name));
  std::string filter;
  for (int i = 0; i < 10'000; ++i)
    filter += "+/";
  EXPECT_TRUE(topic_matches(filter + "end", name));
  EXPECT_TRUE(topic_matches(filter + "+", name));
  EXPECT_FALSE(topic_matches(filter + "+/+", name));
}

}  // namespace
}  // namespace mquictt::codec
