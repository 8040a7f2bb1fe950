// libFuzzer target: FrameSplitter under adversarial chunking. The input is a byte stream; a few
// leading bytes choose the maximum packet size and seed the chunk sizes, so the fuzzer explores
// both the stream and how it is cut. Checked:
//   - every frame's length is consistent with its own fixed header and within the limit;
//   - the result (frames, error, leftover) does not depend on the chunking: it equals feeding the
//     whole stream at once;
//   - consumed_total() + buffered() accounts for every byte fed while no error has occurred;
//   - errors are 0x81 or 0x95 and sticky.
// Each frame is also decoded under both versions (the decoder must not crash on any frame).

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <vector>

#include "codec/decoder.h"
#include "codec/frame_splitter.h"

namespace {

using mquictt::codec::FrameSplitter;
using mquictt::codec::kMaxPacketSizeLimit;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "frame_splitter_fuzz: %s\n", what);
  std::abort();
}

struct Outcome {
  std::vector<std::vector<uint8_t>> frames;
  std::optional<uint8_t> error;
  size_t leftover = 0;
};

// Checks one frame against its own header and the limit, then decodes it.
void check_frame(std::span<const uint8_t> f, uint32_t limit) {
  if (f.size() < 2 || f.size() > limit) fail("frame size out of range");
  uint32_t rl = 0;
  size_t i = 1;
  for (; i < 5; ++i) {
    if (i >= f.size()) fail("frame ends inside its remaining length");
    rl |= uint32_t{f[i] & 0x7Fu} << (7 * (i - 1));
    if ((f[i] & 0x80) == 0) break;
  }
  if (i == 5) fail("frame has a remaining length longer than 4 bytes");
  if (f.size() != 1 + i + size_t{rl}) fail("frame length disagrees with its remaining length");
  (void)mquictt::codec::decode(f, mquictt::codec::ProtocolVersion::kV311);
  (void)mquictt::codec::decode(f, mquictt::codec::ProtocolVersion::kV5);
}

// Pulls every frame out of `s`, recording an error if one comes.
void drain(FrameSplitter& s, Outcome& o, uint32_t limit) {
  for (;;) {
    auto r = s.next();
    if (!r.ok()) {
      uint8_t reason = r.error().reason;
      if (o.error && *o.error != reason) fail("next() error differs from feed() error");
      o.error = reason;
      return;
    }
    if (!r->has_value()) return;
    check_frame(**r, limit);
    o.frames.emplace_back((*r)->begin(), (*r)->end());
  }
}

Outcome run(std::span<const uint8_t> stream, uint32_t limit, uint64_t seed, bool chunked) {
  FrameSplitter s(limit);
  Outcome o;
  size_t pos = 0;
  size_t fed_ok = 0;  // bytes accepted before any error
  while (pos < stream.size()) {
    size_t n = stream.size() - pos;
    if (chunked) {
      // xorshift64: small chunks most of the time, sometimes large ones.
      seed ^= seed << 13;
      seed ^= seed >> 7;
      seed ^= seed << 17;
      size_t cap = (seed & 3) == 0 ? 4096 : 8;
      n = std::min<size_t>(n, (seed >> 8) % cap);
    }
    auto fed = s.feed(stream.subspan(pos, n));
    pos += n;
    if (!fed.ok()) {
      uint8_t reason = fed.error().reason;
      if (reason != 0x81 && reason != 0x95) fail("unexpected splitter error code");
      if (o.error && *o.error != reason) fail("error changed");
      o.error = reason;
      // Sticky: a later feed fails the same way and buffers nothing.
      size_t before = s.buffered();
      uint8_t probe[2] = {0xC0, 0x00};
      auto again = s.feed(probe);
      if (again.ok() || again.error().reason != reason) fail("error is not sticky");
      if (s.buffered() != before) fail("bytes buffered after an error");
      drain(s, o, limit);
      break;
    }
    fed_ok = pos;
    if (s.consumed_total() + s.buffered() != fed_ok) fail("byte accounting is off");
    // Drain now and then, so frames are taken out mid-stream as well as at the end.
    if (!chunked || (seed & 16)) drain(s, o, limit);
  }
  if (!o.error) drain(s, o, limit);
  uint64_t total = 0;
  for (const auto& f : o.frames)
    total += f.size();
  if (total != s.consumed_total()) fail("consumed_total() differs from frames handed out");
  o.leftover = s.buffered();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  // Byte 0: the limit; 0 means the protocol maximum. Bytes 1-2: chunking seed.
  uint32_t limit = data[0] == 0 ? kMaxPacketSizeLimit : uint32_t{data[0]} * 4 + 2;
  uint64_t seed = (uint64_t{data[1]} << 8 | data[2]) * 0x9E3779B97F4A7C15ull | 1;
  std::span<const uint8_t> stream(data + 3, size - 3);

  Outcome whole = run(stream, limit, seed, false);
  Outcome chunked = run(stream, limit, seed, true);
  if (whole.frames != chunked.frames) fail("frames depend on chunking");
  if (whole.error != chunked.error) fail("error depends on chunking");
  if (!whole.error && whole.leftover != chunked.leftover) fail("leftover depends on chunking");
  return 0;
}
