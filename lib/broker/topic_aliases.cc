#include "broker/topic_aliases.h"

#include "codec/reason_code.h"

namespace mquictt::broker {

Result<void> InboundTopicAliases::resolve(std::string& topic, std::optional<uint16_t> alias) {
  if (!alias) {
    if (topic.empty()) return Error{codec::rc::kProtocolError, "PUBLISH without topic or alias"};
    return ok();
  }
  if (*alias == 0 || *alias > maximum_) {
    return Error{codec::rc::kTopicAliasInvalid, "topic alias out of range"};
  }
  if (by_alias_.size() <= *alias) by_alias_.resize(size_t{*alias} + 1);
  std::string& bound = by_alias_[*alias];
  if (!topic.empty()) {
    bound = topic;
    return ok();
  }
  if (bound.empty()) return Error{codec::rc::kProtocolError, "unknown topic alias"};
  topic = bound;
  return ok();
}

std::optional<OutboundTopicAliases::Choice> OutboundTopicAliases::choose(std::string_view topic) {
  if (maximum_ == 0) return std::nullopt;
  ++clock_;
  if (auto it = by_topic_.find(topic); it != by_topic_.end()) {
    slots_[it->second - 1].last_use = clock_;
    return Choice{it->second, false};
  }
  uint16_t alias;
  if (slots_.size() < maximum_) {
    slots_.push_back(Slot{std::string(topic), clock_});
    alias = static_cast<uint16_t>(slots_.size());
  } else {
    size_t lru = 0;
    for (size_t i = 1; i < slots_.size(); ++i) {
      if (slots_[i].last_use < slots_[lru].last_use) lru = i;
    }
    by_topic_.erase(slots_[lru].topic);
    slots_[lru] = Slot{std::string(topic), clock_};
    alias = static_cast<uint16_t>(lru + 1);
  }
  by_topic_.emplace(std::string(topic), alias);
  return Choice{alias, true};
}

}  // namespace mquictt::broker
