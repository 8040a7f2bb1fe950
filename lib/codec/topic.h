#pragma once
// Topic names and filters (MQTT 5 §4.7, 3.1.1 §4.7).
//
//   name / filter            valid name  valid filter  note
//   "a/b"                    yes         yes
//   "" (empty)               no          no            0x90 / 0x8F ("/" is fine: two empty levels)
//   "a/+/b", "+", "#", "a/#" no          yes
//   "a/b#", "a/#/b", "a+"    no          no            # must be last and whole level; + whole level
//   "$SYS/x"                 yes         yes           a $-topic: first-level wildcards don't match it
//   "$share/g/a/+"           (name ok)   yes (shared)  group non-empty, no + # /; filter non-empty
//   "$share/g" "$share//a"   -           no
// Names and filters are <= 65535 bytes and valid MQTT UTF-8 (checked by the codec on decode).

#include <optional>
#include <string_view>
#include <vector>

namespace mquictt::codec {

bool valid_topic_name(std::string_view name);
bool valid_topic_filter(std::string_view filter);  // also validates $share syntax
// True for topics whose first character is '$' (e.g. "$SYS/...").
inline bool is_dollar_topic(std::string_view t) { return !t.empty() && t.front() == '$'; }
// Splits on '/', keeping empty levels: "a//b" -> {"a","","b"}, "/" -> {"",""}.
std::vector<std::string_view> split_levels(std::string_view topic);

struct SharedFilter {
  std::string_view group;
  std::string_view filter;  // the filter after "$share/<group>/"
};
// If `filter` starts with "$share/", parses it; nullopt if it is not a shared subscription or is a
// malformed one (use valid_topic_filter to tell the two apart).
std::optional<SharedFilter> parse_shared(std::string_view filter);
inline bool is_shared(std::string_view filter) { return filter.starts_with("$share/"); }

// Does topic `name` match `filter` (no $share prefix)? Applies the $-topic rule.
bool topic_matches(std::string_view filter, std::string_view name);

}  // namespace mquictt::codec
