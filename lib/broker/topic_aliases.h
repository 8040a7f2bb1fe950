#pragma once
// Topic aliases of one connection (MQTT 5 §3.3.2.3.4), both directions. Connection state: both
// tables start empty on every new connection, including a session resume.
//
// Inbound (client -> server), limit = our CONNACK Topic Alias Maximum (config topic_alias_maximum):
//   alias   topic      result
//   -       "a/b"      "a/b"
//   -       ""         0x82 Protocol Error (no topic and no alias)
//   0 or >max  any     0x94 Topic Alias invalid
//   n       "a/b"      "a/b", and alias n := "a/b" (re-binding allowed)
//   n       ""         the topic bound to n, or 0x82 Protocol Error if n is unbound
//
// Outbound (server -> client), limit = min(client's CONNECT Topic Alias Maximum,
// config max_topic_alias_outbound); 0 disables. A topic gets an alias the first time it is sent
// (PUBLISH carries topic + alias), later PUBLISHes carry the alias and an empty topic. When every
// alias is taken the least recently used one is re-bound to the new topic (again sent with the
// topic). The LRU scan is O(limit), which is small (default 10).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/string_hash.h"
#include "util/result.h"

namespace mquictt::broker {

class InboundTopicAliases {
 public:
  explicit InboundTopicAliases(uint16_t maximum = 0) : maximum_(maximum) {}
  // Resolves the PUBLISH topic in place (see table).
  Result<void> resolve(std::string& topic, std::optional<uint16_t> alias);
  uint16_t maximum() const { return maximum_; }

 private:
  uint16_t maximum_;
  std::vector<std::string> by_alias_;  // index = alias; grown on demand up to maximum_ + 1
};

class OutboundTopicAliases {
 public:
  explicit OutboundTopicAliases(uint16_t maximum = 0) : maximum_(maximum) {}

  struct Choice {
    uint16_t alias = 0;
    bool send_topic = true;  // first use (or re-binding): the PUBLISH also carries the topic
  };
  // nullopt when aliases are disabled.
  std::optional<Choice> choose(std::string_view topic);
  uint16_t maximum() const { return maximum_; }

 private:
  struct Slot {
    std::string topic;
    uint64_t last_use = 0;
  };
  uint16_t maximum_;
  uint64_t clock_ = 0;
  std::vector<Slot> slots_;  // index = alias - 1
  std::unordered_map<std::string, uint16_t, StringHash, std::equal_to<>> by_topic_;
};

}  // namespace mquictt::broker
