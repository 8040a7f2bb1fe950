#pragma once
// Transparent string hash, so unordered containers keyed by std::string can be searched with a
// std::string_view without building a temporary string.

#include <cstddef>
#include <functional>
#include <string_view>

namespace mquictt::broker {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace mquictt::broker
