#include "util/utf8.h"

#include <cstdint>

namespace mquictt {

namespace {

bool check_utf8(const uint8_t* p, const uint8_t* end, bool allow_nul) {
  while (p < end) {
    uint8_t c = *p;
    if (c < 0x80) {
      if (c == 0 && !allow_nul) return false;
      ++p;
      continue;
    }
    size_t n;
    uint32_t cp;
    uint32_t min;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;  // continuation byte without lead, or 5/6-byte forms
    }
    if (static_cast<size_t>(end - p) <= n) return false;
    for (size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min) return false;                      // over-long
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;  // surrogate
    if (cp > 0x10FFFF) return false;
    p += n + 1;
  }
  return true;
}

}  // namespace

bool valid_mqtt_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  return check_utf8(p, p + s.size(), /*allow_nul=*/false);
}

bool well_formed_utf8(std::span<const uint8_t> bytes) {
  return check_utf8(bytes.data(), bytes.data() + bytes.size(), /*allow_nul=*/true);
}

}  // namespace mquictt
