#pragma once
// Hex <-> bytes for the codec tests: hex("10 0c 00 04") and to_hex(bytes) == "10 0c 00 04".
// Whitespace is ignored, so packets can be written one field per line.

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mquictt::codec_test {

inline std::vector<uint8_t> hex(std::string_view s) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument("bad hex digit");
  };
  std::vector<uint8_t> out;
  int high = -1;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\t') continue;
    int v = nibble(c);
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0) throw std::invalid_argument("odd number of hex digits");
  return out;
}

inline std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i) s.push_back(' ');
    s.push_back(kDigits[bytes[i] >> 4]);
    s.push_back(kDigits[bytes[i] & 0x0F]);
  }
  return s;
}

// Normalises a hand-written hex string (any spacing) to to_hex() form, for readable failures.
inline std::string norm_hex(std::string_view s) {
  return to_hex(hex(s));
}

inline std::vector<uint8_t> bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

// A whole frame as hex: `first` byte, the remaining length computed from the body, then the body.
// Negative tests use it so that a wrong hand-counted length cannot mask the rule under test.
inline std::string frame(uint8_t first, std::string_view body_hex) {
  std::vector<uint8_t> out{first};
  auto body = hex(body_hex);
  uint32_t n = static_cast<uint32_t>(body.size());
  do {
    uint8_t b = n & 0x7F;
    n >>= 7;
    if (n) b |= 0x80;
    out.push_back(b);
  } while (n);
  out.insert(out.end(), body.begin(), body.end());
  return to_hex(out);
}

}  // namespace mquictt::codec_test
