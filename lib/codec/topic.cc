#include "codec/topic.h"

#include <cstddef>

namespace mquictt::codec {

namespace {

// MQTT 5 §1.5.4 / §4.7.3: a UTF-8 string field holds at most 65,535 bytes.
constexpr size_t kMaxTopicBytes = 65'535;

constexpr std::string_view kSharePrefix = "$share/";

// Checks wildcard placement level by level (MQTT 5 §4.7.1): '+' and '#' must each fill a whole
// level, and '#' must be the last level. Does not look at the $share prefix.
bool valid_plain_filter(std::string_view filter) {
  if (filter.empty() || filter.size() > kMaxTopicBytes) return false;
  size_t start = 0;
  for (;;) {
    size_t end = filter.find('/', start);
    bool last = end == std::string_view::npos;
    std::string_view level = filter.substr(start, last ? std::string_view::npos : end - start);
    if (level.find_first_of("+#") != std::string_view::npos) {
      if (level.size() != 1) return false;              // "a+", "#b": wildcard shares its level
      if (level.front() == '#' && !last) return false;  // "a/#/b": '#' must end the filter
    }
    if (last) return true;
    start = end + 1;
  }
}

}  // namespace

bool valid_topic_name(std::string_view name) {
  // §4.7.3: at least one character; §3.3.2-2: no wildcards. An empty PUBLISH topic with a Topic
  // Alias is legal on the wire, but that is the decoder's special case, not a valid name.
  if (name.empty() || name.size() > kMaxTopicBytes) return false;
  return name.find_first_of("+#") == std::string_view::npos;
}

bool valid_topic_filter(std::string_view filter) {
  if (is_shared(filter)) return parse_shared(filter).has_value();
  return valid_plain_filter(filter);
}

std::vector<std::string_view> split_levels(std::string_view topic) {
  std::vector<std::string_view> levels;
  size_t start = 0;
  for (;;) {
    size_t end = topic.find('/', start);
    if (end == std::string_view::npos) {
      levels.push_back(topic.substr(start));
      return levels;
    }
    levels.push_back(topic.substr(start, end - start));
    start = end + 1;
  }
}

std::optional<SharedFilter> parse_shared(std::string_view filter) {
  if (!is_shared(filter) || filter.size() > kMaxTopicBytes) return std::nullopt;
  std::string_view rest = filter.substr(kSharePrefix.size());
  size_t slash = rest.find('/');
  // §4.8.2 [MQTT-4.8.2-1/2]: ShareName is at least one character, has no '+' or '#', and is
  // followed by '/' and a Topic Filter.
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  std::string_view group = rest.substr(0, slash);
  if (group.find_first_of("+#") != std::string_view::npos) return std::nullopt;
  std::string_view inner = rest.substr(slash + 1);
  if (!valid_plain_filter(inner)) return std::nullopt;
  return SharedFilter{group, inner};
}

bool topic_matches(std::string_view filter, std::string_view name) {
  if (filter.empty() || name.empty()) return false;
  // §4.7.2 [MQTT-4.7.2-1]: a filter starting with a wildcard never matches a "$" topic.
  if (is_dollar_topic(name) && (filter.front() == '+' || filter.front() == '#')) return false;

  size_t fstart = 0;
  size_t nstart = 0;
  bool name_done = false;  // every level of `name` has been matched
  for (;;) {
    size_t fend = filter.find('/', fstart);
    bool flast = fend == std::string_view::npos;
    std::string_view flevel = filter.substr(fstart, flast ? std::string_view::npos : fend - fstart);
    // '#' matches the remaining levels, including none: "sport/#" matches "sport".
    if (flevel == "#") return true;
    if (name_done) return false;

    size_t nend = name.find('/', nstart);
    bool nlast = nend == std::string_view::npos;
    std::string_view nlevel = name.substr(nstart, nlast ? std::string_view::npos : nend - nstart);
    if (flevel != "+" && flevel != nlevel) return false;

    if (flast) return nlast;
    fstart = fend + 1;
    if (nlast) {
      name_done = true;
    } else {
      nstart = nend + 1;
    }
  }
}

}  // namespace mquictt::codec
