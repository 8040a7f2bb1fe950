#include "util/lazy_deque.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mquictt {
namespace {

TEST(LazyDeque, EmptyIteratesZeroTimesAndFifoOrderHolds) {
  LazyDeque<std::string> q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
  int n = 0;
  for (auto& s : q)
    n += static_cast<int>(s.size());
  EXPECT_EQ(n, 0);
  q.push_back("a");
  q.emplace_back("b");
  q.push_front("z");
  std::vector<std::string> seen(q.begin(), q.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"z", "a", "b"}));
  q.pop_front();
  EXPECT_EQ(q.front(), "a");
  EXPECT_EQ(q.back(), "b");
  q.pop_back();
  q.pop_front();
  EXPECT_TRUE(q.empty());
  q.push_back("again");  // usable after draining (the deque was released)
  EXPECT_EQ(q.size(), 1u);
  auto it = q.erase(q.begin());
  EXPECT_EQ(it, q.end());
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace mquictt
