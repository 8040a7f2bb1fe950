// FrameSplitter: incremental framing, limits and error stickiness (see codec/frame_splitter.h).

#include "codec/frame_splitter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace mquictt::codec {
namespace {

using Bytes = std::vector<uint8_t>;

// Builds a frame with the given first byte and a body of `body_len` bytes whose content depends
// on `seed` (so frames are distinguishable).
Bytes make_frame(uint8_t first, size_t body_len, uint8_t seed = 0) {
  Bytes f{first};
  size_t n = body_len;
  do {
    uint8_t b = n % 128;
    n /= 128;
    if (n > 0) b |= 0x80;
    f.push_back(b);
  } while (n > 0);
  for (size_t i = 0; i < body_len; ++i)
    f.push_back(static_cast<uint8_t>(seed + i * 7));
  return f;
}

Bytes concat(const std::vector<Bytes>& frames) {
  Bytes out;
  for (const auto& f : frames)
    out.insert(out.end(), f.begin(), f.end());
  return out;
}

// Drains every complete frame; fails the test on an error.
std::vector<Bytes> drain(FrameSplitter& s) {
  std::vector<Bytes> out;
  for (;;) {
    auto r = s.next();
    EXPECT_TRUE(r.ok()) << "reason 0x" << std::hex << int{r.ok() ? 0 : r.error().reason};
    if (!r.ok() || !r->has_value()) return out;
    out.emplace_back((*r)->begin(), (*r)->end());
  }
}

// A mix of frame shapes: empty bodies, 1-, 2- and 3-byte remaining lengths.
std::vector<Bytes> sample_frames() {
  return {
      {0xC0, 0x00},                 // PINGREQ
      make_frame(0x30, 5, 1),       // small PUBLISH
      {0xE0, 0x00},                 // DISCONNECT
      make_frame(0x32, 127, 2),     // largest 1-byte remaining length
      make_frame(0x82, 128, 3),     // smallest 2-byte remaining length
      {0xD0, 0x00},                 // PINGRESP
      make_frame(0x30, 300, 4),     //
      make_frame(0x30, 16'383, 5),  // largest 2-byte remaining length
      make_frame(0x30, 16'384, 6),  // smallest 3-byte remaining length
      make_frame(0x40, 2, 7),       // PUBACK
      {0xC0, 0x00},                 //
  };
}

TEST(FrameSplitterTest, EmptyFeedGivesNothing) {
  FrameSplitter s;
  ASSERT_TRUE(s.feed({}).ok());
  auto r = s.next();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(s.buffered(), 0u);
  EXPECT_EQ(s.consumed_total(), 0u);
}

TEST(FrameSplitterTest, ZeroLengthBody) {
  FrameSplitter s;
  Bytes ping{0xC0, 0x00};
  ASSERT_TRUE(s.feed(ping).ok());
  auto r = s.next();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(Bytes((*r)->begin(), (*r)->end()), ping);
  EXPECT_EQ(s.consumed_total(), 2u);
  r = s.next();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(FrameSplitterTest, OneByteAtATime) {
  auto frames = sample_frames();
  Bytes all = concat(frames);
  FrameSplitter s;
  std::vector<Bytes> got;
  for (uint8_t b : all) {
    ASSERT_TRUE(s.feed(std::span<const uint8_t>(&b, 1)).ok());
    auto more = drain(s);
    got.insert(got.end(), more.begin(), more.end());
  }
  EXPECT_EQ(got, frames);
  EXPECT_EQ(s.buffered(), 0u);
  EXPECT_EQ(s.consumed_total(), all.size());
}

TEST(FrameSplitterTest, ManyPacketsInOneFeed) {
  auto frames = sample_frames();
  Bytes all = concat(frames);
  FrameSplitter s;
  ASSERT_TRUE(s.feed(all).ok());
  EXPECT_EQ(s.buffered(), all.size());
  EXPECT_EQ(drain(s), frames);
  EXPECT_EQ(s.buffered(), 0u);
  EXPECT_EQ(s.consumed_total(), all.size());
}

TEST(FrameSplitterTest, RandomChunksManySeeds) {
  auto frames = sample_frames();
  Bytes all = concat(frames);
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    std::mt19937 rng(seed);
    // Vary the typical chunk size per seed so both tiny and large chunks are covered.
    size_t max_chunk = size_t{1} << (seed % 16);
    std::uniform_int_distribution<size_t> chunk(0, max_chunk);
    std::bernoulli_distribution drain_now(0.5);
    FrameSplitter s;
    std::vector<Bytes> got;
    size_t pos = 0;
    while (pos < all.size()) {
      size_t n = std::min(chunk(rng), all.size() - pos);
      ASSERT_TRUE(s.feed(std::span<const uint8_t>(all).subspan(pos, n)).ok()) << "seed " << seed;
      pos += n;
      if (drain_now(rng)) {
        auto more = drain(s);
        got.insert(got.end(), more.begin(), more.end());
      }
      ASSERT_EQ(s.consumed_total() + s.buffered(), pos) << "seed " << seed;
    }
    auto more = drain(s);
    got.insert(got.end(), more.begin(), more.end());
    ASSERT_EQ(got, frames) << "seed " << seed;
    EXPECT_EQ(s.consumed_total(), all.size());
  }
}

TEST(FrameSplitterTest, IncompleteFrameWaits) {
  Bytes f = make_frame(0x30, 10);
  FrameSplitter s;
  ASSERT_TRUE(s.feed(std::span<const uint8_t>(f).first(f.size() - 1)).ok());
  auto r = s.next();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(s.buffered(), f.size() - 1);
  EXPECT_EQ(s.consumed_total(), 0u);
  ASSERT_TRUE(s.feed(std::span<const uint8_t>(f).last(1)).ok());
  r = s.next();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(Bytes((*r)->begin(), (*r)->end()), f);
}

TEST(FrameSplitterTest, MaxSizeBoundaryExact) {
  // Frame size = 1 (type) + 1 (varint) + 98 = 100.
  Bytes f = make_frame(0x30, 98);
  ASSERT_EQ(f.size(), 100u);
  FrameSplitter s(100);
  ASSERT_TRUE(s.feed(f).ok());
  auto r = s.next();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->size(), 100u);
}

TEST(FrameSplitterTest, MaxSizePlusOneRejectedBeforeBody) {
  Bytes f = make_frame(0x30, 99);  // 101 bytes
  FrameSplitter s(100);
  // The header alone proves the frame too large: the error comes with the second byte and no
  // body byte is buffered.
  auto r = s.feed(std::span<const uint8_t>(f).first(2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, 0x95);
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(FrameSplitterTest, MaxSizePlusOneInWholeFeed) {
  Bytes f = make_frame(0x30, 99);
  FrameSplitter s(100);
  auto r = s.feed(f);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, 0x95);
  EXPECT_EQ(s.buffered(), 0u);
  auto n = s.next();
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().reason, 0x95);
}

TEST(FrameSplitterTest, MaxSizeCountsMultiByteVarint) {
  // 200-byte body: varint takes 2 bytes, frame is 203 bytes.
  Bytes f = make_frame(0x30, 200);
  ASSERT_EQ(f.size(), 203u);
  {
    FrameSplitter s(203);
    ASSERT_TRUE(s.feed(f).ok());
    EXPECT_EQ(drain(s).size(), 1u);
  }
  {
    FrameSplitter s(202);
    auto r = s.feed(f);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().reason, 0x95);
    EXPECT_EQ(s.buffered(), 0u);
  }
}

TEST(FrameSplitterTest, HugeDeclaredLengthNotBuffered) {
  // A 4-byte varint announcing ~256 MiB against a 1 MiB limit: rejected from the header.
  Bytes hdr{0x30, 0xFF, 0xFF, 0xFF, 0x7F};
  FrameSplitter s(1 << 20);
  auto r = s.feed(hdr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, 0x95);
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(FrameSplitterTest, MaximumRemainingLengthAcceptedByDefault) {
  // ff ff ff 7f = 268,435,455, the largest legal value: with the default limit the header is
  // fine and the splitter waits for the body.
  Bytes hdr{0x30, 0xFF, 0xFF, 0xFF, 0x7F};
  FrameSplitter s;
  ASSERT_TRUE(s.feed(hdr).ok());
  auto r = s.next();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(FrameSplitterTest, FiveByteVarintIsMalformed) {
  Bytes bad{0x30, 0x80, 0x80, 0x80, 0x80, 0x01};
  FrameSplitter s;
  auto r = s.feed(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, 0x81);
  auto n = s.next();
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().reason, 0x81);
}

TEST(FrameSplitterTest, FiveByteVarintDetectedAtFourthByte) {
  // The fourth byte with its continuation bit set is already proof; no fifth byte is needed.
  Bytes bad{0xC0, 0xFF, 0xFF, 0xFF, 0xFF};
  FrameSplitter s;
  Result<void> r;
  size_t i = 0;
  for (; i < bad.size(); ++i) {
    r = s.feed(std::span<const uint8_t>(bad).subspan(i, 1));
    if (!r.ok()) break;
  }
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(i, 4u);
  EXPECT_EQ(r.error().reason, 0x81);
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(FrameSplitterTest, ErrorsAreSticky) {
  FrameSplitter s(10);
  Bytes big = make_frame(0x30, 20);
  ASSERT_FALSE(s.feed(big).ok());
  Bytes ping{0xC0, 0x00};
  auto r = s.feed(ping);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, 0x95);
  EXPECT_EQ(s.buffered(), 0u);  // nothing accepted after the failure
  for (int i = 0; i < 3; ++i) {
    auto n = s.next();
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.error().reason, 0x95);
  }
}

TEST(FrameSplitterTest, FramesBeforeErrorAreStillDelivered) {
  Bytes ping{0xC0, 0x00};
  Bytes pub = make_frame(0x30, 3, 9);
  Bytes bad{0x30, 0x80, 0x80, 0x80, 0x80, 0x01};
  Bytes all = concat({ping, pub, bad});
  FrameSplitter s;
  auto r = s.feed(all);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason, 0x81);
  EXPECT_EQ(s.buffered(), ping.size() + pub.size());
  auto n = s.next();
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE(n->has_value());
  EXPECT_EQ(Bytes((*n)->begin(), (*n)->end()), ping);
  n = s.next();
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE(n->has_value());
  EXPECT_EQ(Bytes((*n)->begin(), (*n)->end()), pub);
  n = s.next();
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().reason, 0x81);
  EXPECT_EQ(s.consumed_total(), ping.size() + pub.size());
}

TEST(FrameSplitterTest, TwoMegabyteFrameInChunks) {
  Bytes big = make_frame(0x30, 2 * 1024 * 1024, 3);
  Bytes after{0xC0, 0x00};
  Bytes all = concat({big, after});
  FrameSplitter s;
  std::mt19937 rng(42);
  std::uniform_int_distribution<size_t> chunk(1, 70'000);
  std::vector<Bytes> got;
  size_t pos = 0;
  while (pos < all.size()) {
    size_t n = std::min(chunk(rng), all.size() - pos);
    ASSERT_TRUE(s.feed(std::span<const uint8_t>(all).subspan(pos, n)).ok());
    pos += n;
    auto more = drain(s);
    got.insert(got.end(), more.begin(), more.end());
    // Nothing is handed out before the last byte of the big frame arrives.
    if (pos < big.size()) {
      ASSERT_TRUE(got.empty());
    }
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], big);
  EXPECT_EQ(got[1], after);
  EXPECT_EQ(s.consumed_total(), all.size());
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(FrameSplitterTest, SpanValidUntilNextCall) {
  Bytes a = make_frame(0x30, 50, 1);
  Bytes b = make_frame(0x30, 60, 2);
  FrameSplitter s;
  ASSERT_TRUE(s.feed(concat({a, b})).ok());
  auto r1 = s.next();
  ASSERT_TRUE(r1.ok() && r1->has_value());
  Bytes copy1((*r1)->begin(), (*r1)->end());  // read before the next call
  EXPECT_EQ(copy1, a);
  auto r2 = s.next();
  ASSERT_TRUE(r2.ok() && r2->has_value());
  EXPECT_EQ(Bytes((*r2)->begin(), (*r2)->end()), b);
}

TEST(FrameSplitterTest, BufferDoesNotGrowWithoutBound) {
  // A long stream of small frames, fed in chunks that split frames and drained each time: the
  // amount buffered stays below one chunk plus one frame.
  Bytes frame = make_frame(0x30, 37, 5);
  Bytes stream;
  for (int i = 0; i < 20'000; ++i)
    stream.insert(stream.end(), frame.begin(), frame.end());
  FrameSplitter s;
  size_t pos = 0;
  size_t frames = 0;
  size_t peak = 0;
  const size_t kChunk = 1000;
  while (pos < stream.size()) {
    size_t n = std::min(kChunk, stream.size() - pos);
    ASSERT_TRUE(s.feed(std::span<const uint8_t>(stream).subspan(pos, n)).ok());
    pos += n;
    peak = std::max(peak, s.buffered());
    frames += drain(s).size();
    EXPECT_LT(s.buffered(), frame.size());
  }
  EXPECT_EQ(frames, 20'000u);
  EXPECT_LE(peak, kChunk + frame.size());
  EXPECT_EQ(s.consumed_total(), stream.size());
}

TEST(FrameSplitterTest, LimitChangeAppliesToFramesNotYetStarted) {
  Bytes f = make_frame(0x30, 98);  // 100 bytes
  FrameSplitter s(1000);
  // Header and part of the body arrive under the old limit...
  ASSERT_TRUE(s.feed(std::span<const uint8_t>(f).first(10)).ok());
  s.set_max_packet_size(50);
  EXPECT_EQ(s.max_packet_size(), 50u);
  // ...so the frame already started still completes.
  ASSERT_TRUE(s.feed(std::span<const uint8_t>(f).subspan(10)).ok());
  auto r = s.next();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->size(), 100u);
  // The next one is held to the new limit.
  auto e = s.feed(f);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().reason, 0x95);
}

TEST(FrameSplitterTest, ConsumedTotalCountsOnlyReturnedFrames) {
  Bytes a = make_frame(0x30, 10);
  Bytes b = make_frame(0x30, 20);
  FrameSplitter s;
  ASSERT_TRUE(s.feed(concat({a, b})).ok());
  EXPECT_EQ(s.consumed_total(), 0u);
  ASSERT_TRUE(s.next().ok());
  EXPECT_EQ(s.consumed_total(), a.size());
  EXPECT_EQ(s.buffered(), b.size());
  ASSERT_TRUE(s.next().ok());
  EXPECT_EQ(s.consumed_total(), a.size() + b.size());
  EXPECT_EQ(s.buffered(), 0u);
}

}  // namespace
}  // namespace mquictt::codec
