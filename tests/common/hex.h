#pragma once
// Hex helpers for golden-bytes tests (codec, broker and integration): "10 0c 00 04" <-> bytes.
// Whitespace is ignored; '#' starts a comment that runs to the end of the line.

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mquictt::test {

inline std::vector<uint8_t> from_hex(std::string_view hex) {
  std::vector<uint8_t> out;
  int hi = -1;
  bool comment = false;
  for (char c : hex) {
    if (comment) {
      if (c == '\n') comment = false;
      continue;
    }
    if (c == '#') {
      comment = true;
      continue;
    }
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == ':') {
      continue;
    } else {
      throw std::invalid_argument("bad hex character");
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  if (hi >= 0) throw std::invalid_argument("odd number of hex digits");
  return out;
}

inline std::string to_hex(std::span<const uint8_t> bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i) s.push_back(' ');
    s.push_back(kDigits[bytes[i] >> 4]);
    s.push_back(kDigits[bytes[i] & 15]);
  }
  return s;
}

inline std::vector<uint8_t> hex(std::string_view s) {
  return from_hex(s);
}

// Normalises a hand-written hex string (any spacing) to to_hex() form, for readable failures.
inline std::string norm_hex(std::string_view s) {
  return to_hex(from_hex(s));
}

// Hex of a string's bytes ("a/b" -> "61 2f 62").
inline std::string str_hex(std::string_view s) {
  return to_hex(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

// A whole frame as hex: `first` byte, the remaining length computed from the body, then the body.
// Negative tests use it so that a wrong hand-counted length cannot mask the rule under test.
inline std::string frame(uint8_t first, std::string_view body_hex) {
  std::vector<uint8_t> out{first};
  auto body = from_hex(body_hex);
  auto n = static_cast<uint32_t>(body.size());
  do {
    uint8_t b = n & 0x7F;
    n >>= 7;
    if (n) b |= 0x80;
    out.push_back(b);
  } while (n);
  out.insert(out.end(), body.begin(), body.end());
  return to_hex(out);
}

// Bytes of a string, for building payloads in tests.
inline std::vector<uint8_t> bytes_of(std::string_view s) {
  return {s.begin(), s.end()};
}

}  // namespace mquictt::test
