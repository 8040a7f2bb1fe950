// The golden packet catalogue (tests/data/packets/, format in its README.md): one GoogleTest per
// file. Malformed files must fail to decode with the exact MQTT 5 reason (or, for MQTT 3.1.1, fail
// and, when a code is given, with that code); valid files must decode and re-encode to the same
// bytes. Cases about the remaining-length varint itself ("# via: splitter") go through
// FrameSplitter first, as they would on a connection.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "codec/decoder.h"
#include "codec/encoder.h"
#include "codec/frame_splitter.h"
#include "codec/packet.h"

namespace mquictt::codec {
namespace {

namespace fs = std::filesystem;

const fs::path kPacketsDir = fs::path(MQUICTT_TEST_DATA_DIR) / "packets";

struct CatalogueFile {
  std::string test_name;  // "malformed_v5_publish_qos_3"
  fs::path path;
  bool valid_dir;
};

// GoogleTest prints parameters of failing tests; the path says it all.
void PrintTo(const CatalogueFile& f, std::ostream* os) {
  *os << f.path.filename().string();
}

// A parsed file. `error` is non-empty when the file itself does not follow the format.
struct Case {
  std::string description;
  int version = 0;
  bool expect_ok = false;
  std::optional<uint8_t> reason;  // v5: always set for malformed; v4: optional
  bool expect_close = false;      // "close [0xNN]" form (MQTT 3.1.1 files)
  bool via_splitter = false;
  std::optional<uint32_t> max_packet_size;
  std::vector<uint8_t> bytes;
  std::string error;
};

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

std::optional<uint8_t> parse_code(const std::string& s) {
  if (s.size() != 4 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return std::nullopt;
  if (!std::isxdigit(static_cast<unsigned char>(s[2])) ||
      !std::isxdigit(static_cast<unsigned char>(s[3]))) {
    return std::nullopt;
  }
  return static_cast<uint8_t>(std::stoul(s.substr(2), nullptr, 16));
}

Case parse_file(const fs::path& path, bool valid_dir) {
  Case c;
  std::ifstream in(path);
  if (!in) {
    c.error = "cannot open file";
    return c;
  }
  bool have_expect = false;
  std::string hex;
  std::string line;
  while (std::getline(in, line)) {
    std::string t = trim(line);
    if (t.empty()) continue;
    if (t[0] != '#') {
      hex += t;
      hex += ' ';
      continue;
    }
    std::string body = trim(t.substr(1));
    auto value_of = [&](const std::string& key) -> std::optional<std::string> {
      if (body.rfind(key, 0) != 0) return std::nullopt;
      return trim(body.substr(key.size()));
    };
    if (auto v = value_of("version:")) {
      if (*v == "4" || *v == "5") {
        c.version = std::stoi(*v);
      } else {
        c.error = "version must be 4 or 5";
      }
    } else if (auto e = value_of("expect:")) {
      have_expect = true;
      if (*e == "ok") {
        c.expect_ok = true;
      } else if (e->rfind("close", 0) == 0) {
        std::string code = trim(e->substr(5));
        if (!code.empty()) {
          c.reason = parse_code(code);
          if (!c.reason) c.error = "bad code after 'close'";
        }
        c.expect_close = true;
      } else {
        c.reason = parse_code(*e);
        if (!c.reason) c.error = "expect must be ok, 0xNN or close [0xNN]";
      }
    } else if (auto via = value_of("via:")) {
      if (*via == "splitter") {
        c.via_splitter = true;
      } else {
        c.error = "via must be 'splitter'";
      }
    } else if (auto m = value_of("max-packet-size:")) {
      c.max_packet_size = static_cast<uint32_t>(std::stoul(*m));
    } else if (c.description.empty()) {
      c.description = body;
    }
    // Any other '#' line is a free comment ("# note: ...").
  }
  if (!c.error.empty()) return c;
  if (c.description.empty()) c.error = "missing description line";
  if (c.version == 0) c.error = "missing '# version:'";
  if (!have_expect) c.error = "missing '# expect:'";
  if (valid_dir != c.expect_ok) c.error = "files under valid/ (and only those) expect ok";
  if (!c.expect_ok && c.version == 5 && (c.expect_close || !c.reason)) {
    c.error = "version 5 files expect 0xNN";
  }
  if (!c.expect_ok && c.version == 4 && !c.expect_close) {
    c.error = "version 4 files expect close [0xNN]";
  }
  if (!c.error.empty()) return c;

  std::string digits;
  for (char ch : hex) {
    if (std::isspace(static_cast<unsigned char>(ch))) continue;
    if (!std::isxdigit(static_cast<unsigned char>(ch))) {
      c.error = std::string("non-hex character '") + ch + "'";
      return c;
    }
    digits += ch;
  }
  if (digits.size() % 2 != 0) {
    c.error = "odd number of hex digits";
    return c;
  }
  for (size_t i = 0; i < digits.size(); i += 2) {
    c.bytes.push_back(static_cast<uint8_t>(std::stoul(digits.substr(i, 2), nullptr, 16)));
  }
  if (c.bytes.empty()) c.error = "no bytes";
  return c;
}

std::vector<CatalogueFile> list_dir(const std::string& sub, bool valid_dir) {
  std::vector<CatalogueFile> out;
  fs::path dir = kPacketsDir / sub;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().extension() != ".hex") continue;
    std::string name = sub + "_" + e.path().stem().string();
    for (char& ch : name) {
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    }
    out.push_back({name, e.path(), valid_dir});
  }
  std::sort(out.begin(), out.end(), [](const CatalogueFile& a, const CatalogueFile& b) {
    return a.test_name < b.test_name;
  });
  return out;
}

std::vector<CatalogueFile> all_files() {
  auto out = list_dir("malformed", false);
  auto valid = list_dir("valid", true);
  out.insert(out.end(), valid.begin(), valid.end());
  return out;
}

std::string hex_of(std::span<const uint8_t> b) {
  std::ostringstream os;
  for (size_t i = 0; i < b.size(); ++i) {
    static constexpr char kDigits[] = "0123456789abcdef";
    if (i) os << ' ';
    os << kDigits[b[i] >> 4] << kDigits[b[i] & 0xF];
  }
  return os.str();
}

std::string code_str(uint8_t code) {
  std::ostringstream os;
  os << "0x" << std::hex << (code < 16 ? "0" : "") << int{code};
  return os.str();
}

// Result of running one case: decoded packet, or the failing reason and detail.
struct Outcome {
  std::optional<Packet> packet;
  uint8_t reason = 0;
  std::string detail;
  std::vector<uint8_t> frame;  // the frame that was decoded
};

Outcome run(const Case& c) {
  Outcome o;
  ProtocolVersion v = c.version == 4 ? ProtocolVersion::kV311 : ProtocolVersion::kV5;
  std::span<const uint8_t> frame(c.bytes);
  FrameSplitter splitter(c.max_packet_size.value_or(kMaxPacketSizeLimit));
  if (c.via_splitter) {
    auto fed = splitter.feed(c.bytes);
    if (!fed.ok()) {
      o.reason = fed.error().reason;
      o.detail = std::string("splitter: ") + fed.error().detail;
      return o;
    }
    auto next = splitter.next();
    if (!next.ok()) {
      o.reason = next.error().reason;
      o.detail = std::string("splitter: ") + next.error().detail;
      return o;
    }
    if (!next->has_value()) {
      o.detail = "splitter: incomplete frame (no error, no frame)";
      return o;
    }
    frame = **next;
  }
  o.frame.assign(frame.begin(), frame.end());
  auto r = decode(frame, v);
  if (r.ok()) {
    o.packet = std::move(r).value();
  } else {
    o.reason = r.error().reason;
    o.detail = r.error().detail;
  }
  return o;
}

class CatalogueTest : public ::testing::TestWithParam<CatalogueFile> {};

TEST_P(CatalogueTest, Decodes) {
  const CatalogueFile& f = GetParam();
  Case c = parse_file(f.path, f.valid_dir);
  ASSERT_TRUE(c.error.empty()) << f.path << ": " << c.error;
  SCOPED_TRACE(f.path.filename().string() + ": " + c.description);

  Outcome o = run(c);
  if (c.expect_ok) {
    ASSERT_TRUE(o.packet.has_value())
        << "expected a valid packet, got " << code_str(o.reason) << " (" << o.detail << ")";
    ProtocolVersion v = c.version == 4 ? ProtocolVersion::kV311 : ProtocolVersion::kV5;
    if (const auto* conn = std::get_if<Connect>(&*o.packet)) v = conn->version;
    std::vector<uint8_t> again = encode(*o.packet, v);
    EXPECT_EQ(hex_of(again), hex_of(c.bytes)) << "re-encoding differs";
    EXPECT_EQ(encoded_size(*o.packet, v), c.bytes.size());
    // A valid frame is exactly one frame for the splitter too.
    FrameSplitter s;
    ASSERT_TRUE(s.feed(c.bytes).ok());
    auto n = s.next();
    ASSERT_TRUE(n.ok() && n->has_value());
    EXPECT_EQ(hex_of(**n), hex_of(c.bytes));
    EXPECT_EQ(s.buffered(), 0u);
    return;
  }

  ASSERT_FALSE(o.packet.has_value()) << "decoded successfully, expected "
                                     << (c.reason ? code_str(*c.reason) : std::string("a failure"));
  if (c.reason) {
    EXPECT_EQ(code_str(o.reason), code_str(*c.reason)) << "decoder said: " << o.detail;
  } else {
    EXPECT_FALSE(o.detail.empty() && o.reason == 0) << "failure without a reason";
  }
}

INSTANTIATE_TEST_SUITE_P(Packets, CatalogueTest, ::testing::ValuesIn(all_files()),
                         [](const ::testing::TestParamInfo<CatalogueFile>& param_info) {
                           return param_info.param.test_name;
                         });

TEST(CatalogueSizeTest, HasAtLeast150MalformedCases) {
  EXPECT_GE(list_dir("malformed", false).size(), 150u);
}

TEST(CatalogueSizeTest, HasAtLeast30ValidFrames) {
  EXPECT_GE(list_dir("valid", true).size(), 30u);
}

TEST(CatalogueSizeTest, CoversEveryPacketTypeInBothVersions) {
  // Every packet type (and the reserved type 0) appears among the malformed cases of each
  // version, judged by the first byte of the frame.
  for (int version : {4, 5}) {
    bool seen[16] = {};
    for (const auto& f : list_dir("malformed", false)) {
      Case c = parse_file(f.path, false);
      if (c.error.empty() && c.version == version) seen[c.bytes[0] >> 4] = true;
    }
    for (int t = 0; t < 16; ++t)
      EXPECT_TRUE(seen[t]) << "version " << version << " type " << t;
  }
}

}  // namespace
}  // namespace mquictt::codec
