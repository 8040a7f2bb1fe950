// MQTT UTF-8 rules (MQTT 5 §1.5.4): well-formed per RFC 3629, no U+0000. Each case is written
// as raw bytes so the test says exactly what goes on the wire.

#include "util/utf8.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace mquictt {
namespace {

struct Utf8Case {
  const char* what;
  std::string bytes;
  bool valid;
};

std::string b(std::initializer_list<unsigned> v) {
  std::string s;
  for (unsigned c : v)
    s.push_back(static_cast<char>(c));
  return s;
}

std::vector<Utf8Case> cases() {
  return {
      // Valid.
      {"empty", "", true},
      {"ascii", "hello/world", true},
      {"U+0001 control (allowed, only discouraged)", b({0x01}), true},
      {"U+007F DEL", b({0x7F}), true},
      {"U+0080 smallest 2-byte", b({0xC2, 0x80}), true},
      {"U+00E9 e-acute", b({0xC3, 0xA9}), true},
      {"U+07FF largest 2-byte", b({0xDF, 0xBF}), true},
      {"U+0800 smallest 3-byte", b({0xE0, 0xA0, 0x80}), true},
      {"U+20AC euro", b({0xE2, 0x82, 0xAC}), true},
      {"U+D7FF just below surrogates", b({0xED, 0x9F, 0xBF}), true},
      {"U+E000 just above surrogates", b({0xEE, 0x80, 0x80}), true},
      {"U+FEFF BOM (kept, not stripped)", b({0xEF, 0xBB, 0xBF}), true},
      {"U+FFFF non-character (allowed)", b({0xEF, 0xBF, 0xBF}), true},
      {"U+10000 smallest 4-byte", b({0xF0, 0x90, 0x80, 0x80}), true},
      {"U+2A6D4 CJK ext B (spec example)", b({0x41, 0xF0, 0xAA, 0x9B, 0x94}), true},
      {"U+10FFFF largest", b({0xF4, 0x8F, 0xBF, 0xBF}), true},
      {"mixed", "a" + b({0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80}) + "z", true},

      // U+0000.
      {"U+0000 alone", b({0x00}), false},
      {"U+0000 inside", "a" + b({0x00}) + "b", false},
      {"U+0000 at end", "ab" + b({0x00}), false},
      {"U+0000 over-long C0 80", b({0xC0, 0x80}), false},

      // Surrogates U+D800..U+DFFF.
      {"U+D800 high surrogate", b({0xED, 0xA0, 0x80}), false},
      {"U+DBFF", b({0xED, 0xAF, 0xBF}), false},
      {"U+DC00 low surrogate", b({0xED, 0xB0, 0x80}), false},
      {"U+DFFF", b({0xED, 0xBF, 0xBF}), false},
      {"surrogate pair CESU-8", b({0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80}), false},

      // Over-long forms.
      {"over-long '/' C0 AF", b({0xC0, 0xAF}), false},
      {"over-long C1 BF", b({0xC1, 0xBF}), false},
      {"over-long 3-byte E0 80 80", b({0xE0, 0x80, 0x80}), false},
      {"over-long 3-byte E0 9F BF", b({0xE0, 0x9F, 0xBF}), false},
      {"over-long 4-byte F0 80 80 80", b({0xF0, 0x80, 0x80, 0x80}), false},
      {"over-long 4-byte F0 8F BF BF", b({0xF0, 0x8F, 0xBF, 0xBF}), false},

      // Beyond U+10FFFF and invalid lead bytes.
      {"U+110000 F4 90 80 80", b({0xF4, 0x90, 0x80, 0x80}), false},
      {"F5 lead", b({0xF5, 0x80, 0x80, 0x80}), false},
      {"F7 BF BF BF", b({0xF7, 0xBF, 0xBF, 0xBF}), false},
      {"5-byte form F8", b({0xF8, 0x88, 0x80, 0x80, 0x80}), false},
      {"6-byte form FC", b({0xFC, 0x84, 0x80, 0x80, 0x80, 0x80}), false},
      {"FE", b({0xFE}), false},
      {"FF", b({0xFF}), false},

      // Truncated sequences.
      {"2-byte lead alone", b({0xC3}), false},
      {"2-byte lead at end", "ab" + b({0xC3}), false},
      {"3-byte missing one", b({0xE2, 0x82}), false},
      {"3-byte missing two", b({0xE2}), false},
      {"4-byte missing one", b({0xF0, 0x9F, 0x98}), false},
      {"4-byte missing three", b({0xF0}), false},
      {"lead followed by ascii", b({0xC3, 0x41}), false},
      {"3-byte interrupted by ascii", b({0xE2, 0x82, 0x41}), false},
      {"4-byte interrupted by new lead", b({0xF0, 0x9F, 0xC3, 0xA9}), false},

      // Stray continuation bytes.
      {"lone continuation 80", b({0x80}), false},
      {"lone continuation BF", b({0xBF}), false},
      {"continuation after ascii", "a" + b({0x80}), false},
      {"extra continuation after 2-byte", b({0xC3, 0xA9, 0xA9}), false},
      {"extra continuation after 4-byte", b({0xF0, 0x9F, 0x98, 0x80, 0x80}), false},
  };
}

class Utf8Test : public ::testing::TestWithParam<Utf8Case> {};

TEST_P(Utf8Test, Table) {
  const auto& c = GetParam();
  EXPECT_EQ(valid_mqtt_utf8(c.bytes), c.valid) << c.what;
}

INSTANTIATE_TEST_SUITE_P(Cases, Utf8Test, ::testing::ValuesIn(cases()));

TEST(Utf8Test, EveryTwoByteSequence) {
  // Exhaustive over all lead/continuation pairs: valid exactly for C2..DF followed by 80..BF.
  for (unsigned lead = 0x80; lead <= 0xFF; ++lead) {
    for (unsigned cont = 0; cont <= 0xFF; ++cont) {
      std::string s = b({lead, cont});
      bool expect = lead >= 0xC2 && lead <= 0xDF && cont >= 0x80 && cont <= 0xBF;
      ASSERT_EQ(valid_mqtt_utf8(s), expect) << std::hex << lead << ' ' << cont;
    }
  }
}

TEST(Utf8Test, EveryBmpCodePoint) {
  // Encode every code point U+0001..U+FFFF by hand: all are valid except the surrogates.
  for (unsigned cp = 1; cp <= 0xFFFF; ++cp) {
    std::string s;
    if (cp < 0x80) {
      s = b({cp});
    } else if (cp < 0x800) {
      s = b({0xC0 | (cp >> 6), 0x80 | (cp & 0x3F)});
    } else {
      s = b({0xE0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F)});
    }
    bool expect = cp < 0xD800 || cp > 0xDFFF;
    ASSERT_EQ(valid_mqtt_utf8(s), expect) << std::hex << cp;
  }
}

TEST(Utf8Test, SupplementaryPlaneSamples) {
  for (unsigned cp : {0x10000u, 0x1F600u, 0x2A6D4u, 0xFFFFFu, 0x100000u, 0x10FFFFu}) {
    std::string s = b({0xF0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3F), 0x80 | ((cp >> 6) & 0x3F),
                       0x80 | (cp & 0x3F)});
    EXPECT_TRUE(valid_mqtt_utf8(s)) << std::hex << cp;
  }
}

TEST(Utf8Test, LongValidString) {
  std::string s;
  for (int i = 0; i < 20'000; ++i)
    s += b({0xE2, 0x82, 0xAC});
  EXPECT_TRUE(valid_mqtt_utf8(s));
  s.back() = 'x';  // break the last sequence
  EXPECT_FALSE(valid_mqtt_utf8(s));
}

}  // namespace
}  // namespace mquictt
