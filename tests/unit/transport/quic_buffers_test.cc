// Socket-free pieces of the QUIC transport: the stream send buffer (bytes kept until
// acknowledged, at stable addresses), the inbound buffer (credit only for consumed bytes) and the
// CID map / generator.

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "transport/quic/cid.h"
#include "transport/quic/stream_buffers.h"

namespace mquictt::quic {
namespace {

std::vector<uint8_t> bytes(size_t n, uint8_t start = 0) {
  std::vector<uint8_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// Everything peek_unsent() describes, concatenated.
std::vector<uint8_t> unsent_bytes(const SendBuffer& b) {
  std::vector<ngtcp2_vec> vecs(64);
  size_t n = b.peek_unsent(vecs.data(), vecs.size());
  std::vector<uint8_t> out;
  for (size_t i = 0; i < n; ++i)
    out.insert(out.end(), vecs[i].base, vecs[i].base + vecs[i].len);
  return out;
}

TEST(QuicSendBuffer, SmallWritesArePackedIntoOneChunk) {
  SendBuffer b;
  b.append(bytes(10));
  b.append(bytes(20, 10));
  EXPECT_EQ(b.chunk_count(), 1u);
  EXPECT_EQ(b.written(), 30u);
  EXPECT_EQ(b.unsent(), 30u);
  EXPECT_EQ(b.buffered(), 30u);
  EXPECT_EQ(unsent_bytes(b), bytes(30));
}

TEST(QuicSendBuffer, SentBytesStayUntilAcknowledged) {
  SendBuffer b;
  b.append(bytes(100));
  b.mark_sent(60);
  EXPECT_EQ(b.sent(), 60u);
  EXPECT_EQ(b.unsent(), 40u);
  EXPECT_EQ(b.buffered(), 100u);  // 60 in flight + 40 unsent
  EXPECT_EQ(unsent_bytes(b), bytes(40, 60));
  b.ack(0, 30);
  EXPECT_EQ(b.acked(), 30u);
  EXPECT_EQ(b.buffered(), 70u);
  b.ack(30, 30);
  EXPECT_EQ(b.buffered(), 40u);
  // An acknowledgement beyond what was sent is clamped (ngtcp2 never does that, but be safe).
  b.ack(60, 100);
  EXPECT_EQ(b.acked(), 60u);
}

// ngtcp2 keeps pointers into sent data for retransmission: appending must never move them.
TEST(QuicSendBuffer, AppendingDoesNotMoveSentBytes) {
  SendBuffer b;
  b.append(bytes(100));
  ngtcp2_vec v[4];
  ASSERT_EQ(b.peek_unsent(v, 4), 1u);
  const uint8_t* first = v[0].base;
  b.mark_sent(100);
  for (int i = 0; i < 100; ++i)
    b.append(bytes(1000, static_cast<uint8_t>(i)));
  EXPECT_GT(b.chunk_count(), 1u);
  std::vector<uint8_t> expect = bytes(100);
  EXPECT_EQ(std::memcmp(first, expect.data(), 100), 0);
}

TEST(QuicSendBuffer, LargeWriteGetsItsOwnChunkAndChunksAreReleased) {
  SendBuffer b;
  b.append(bytes(10));
  b.append(std::vector<uint8_t>(SendBuffer::kChunkCapacity * 2, 7));
  b.append(bytes(10));
  const size_t total = 20 + SendBuffer::kChunkCapacity * 2;
  EXPECT_EQ(b.written(), total);
  std::vector<uint8_t> all = unsent_bytes(b);
  ASSERT_EQ(all.size(), total);
  EXPECT_EQ(all.back(), 9);
  // Send in odd pieces, acknowledge everything: the memory goes, offsets stay.
  size_t left = total;
  while (left > 0) {
    size_t n = std::min<size_t>(left, 1337);
    b.mark_sent(n);
    left -= n;
  }
  EXPECT_EQ(b.unsent(), 0u);
  b.ack(0, total);
  EXPECT_EQ(b.buffered(), 0u);
  EXPECT_LE(b.chunk_count(), 1u);  // at most the partly filled packing chunk
  b.append(bytes(5, 50));
  EXPECT_EQ(unsent_bytes(b), bytes(5, 50));
  b.mark_sent(5);
  b.ack(total, 5);
  EXPECT_EQ(b.buffered(), 0u);
}

TEST(QuicSendBuffer, SharedFramesAreReferencedNotCopied) {
  SendBuffer b;
  auto frame = std::make_shared<const std::vector<uint8_t>>(bytes(2000));
  b.append_shared(frame);
  b.append_shared(frame);
  EXPECT_EQ(b.chunk_count(), 2u);
  ngtcp2_vec v[4];
  ASSERT_EQ(b.peek_unsent(v, 4), 2u);
  EXPECT_EQ(v[0].base, frame->data());
  EXPECT_EQ(v[1].base, frame->data());
  // Small shared frames are copied into the packing chunk instead.
  auto small = std::make_shared<const std::vector<uint8_t>>(bytes(20));
  b.append_shared(small);
  EXPECT_EQ(b.chunk_count(), 3u);
  ASSERT_EQ(b.peek_unsent(v, 4), 3u);
  EXPECT_NE(v[2].base, small->data());
  b.mark_sent(4020);
  b.ack(0, 4020);
  EXPECT_EQ(b.buffered(), 0u);
}

TEST(QuicSendBuffer, ExhaustedChunkThenAppend) {
  // A chunk sent up to its current end keeps receiving appends at the right offset.
  SendBuffer b;
  b.append(bytes(10));
  b.mark_sent(10);
  b.append(bytes(10, 10));
  EXPECT_EQ(unsent_bytes(b), bytes(10, 10));
  b.mark_sent(4);
  EXPECT_EQ(unsent_bytes(b), bytes(6, 14));
  b.mark_sent(6);
  EXPECT_EQ(b.unsent(), 0u);
  b.ack(0, 20);
  EXPECT_EQ(b.buffered(), 0u);
}

TEST(QuicSendBuffer, ClearDropsEverything) {
  SendBuffer b;
  b.append(bytes(100));
  b.mark_sent(50);
  b.clear();
  EXPECT_EQ(b.buffered(), 0u);
  EXPECT_EQ(b.unsent(), 0u);
  EXPECT_EQ(b.chunk_count(), 0u);
}

TEST(QuicInboundBuffer, DeliversDirectlyWhileReading) {
  InboundBuffer in;
  auto data = bytes(10);
  auto now = in.on_received(data, true);
  EXPECT_EQ(now.data(), data.data());  // no copy
  EXPECT_EQ(in.withheld(), 10u);       // delivered, not yet consumed
  EXPECT_EQ(in.consume(10), 10u);
  EXPECT_EQ(in.withheld(), 0u);
}

// Backpressure: while paused, bytes are parked and no credit goes back to the peer.
TEST(QuicInboundBuffer, PausedReadingWithholdsCredit) {
  InboundBuffer in;
  EXPECT_TRUE(in.on_received(bytes(10), false).empty());
  EXPECT_TRUE(in.on_received(bytes(5, 10), false).empty());
  EXPECT_EQ(in.parked(), 15u);
  EXPECT_EQ(in.withheld(), 15u);
  // Reading again, but older bytes are parked: new ones queue behind them (order!).
  EXPECT_TRUE(in.on_received(bytes(5, 15), true).empty());
  auto parked = in.take_parked();
  EXPECT_EQ(parked, bytes(20));
  EXPECT_EQ(in.parked(), 0u);
  EXPECT_EQ(in.withheld(), 20u);  // handed out is not consumed yet
  EXPECT_EQ(in.consume(parked.size()), 20u);
  EXPECT_EQ(in.withheld(), 0u);
  EXPECT_EQ(in.consumed(), 20u);
  // Never more credit than bytes received.
  EXPECT_EQ(in.consume(5), 0u);
}

TEST(QuicCid, GeneratorPutsNodeIdFirst) {
  uint8_t counter = 0;
  CidGenerator gen(0x42, [&](std::span<uint8_t> out) {
    for (auto& b : out)
      b = counter++;
  });
  ngtcp2_cid a = gen.generate();
  EXPECT_EQ(a.datalen, kServerCidLength);
  EXPECT_EQ(a.data[0], 0x42);
  EXPECT_EQ(a.data[1], 0);
  EXPECT_EQ(a.data[17], 16);
  ngtcp2_cid b = gen.generate(8);
  EXPECT_EQ(b.datalen, 8u);
  EXPECT_EQ(b.data[0], 0x42);
  EXPECT_EQ(CidKey(a).hex().substr(0, 6), "420001");
}

TEST(QuicCid, RealRandomCidsDiffer) {
  CidGenerator gen(1);
  EXPECT_FALSE(CidKey(gen.generate()) == CidKey(gen.generate()));
}

TEST(QuicCid, MapRoutesByCidAndRefusesDuplicates) {
  struct Conn {
    int id;
  };
  Conn c1{1}, c2{2};
  CidMap<Conn> map;
  const uint8_t k1[] = {1, 2, 3, 4};
  const uint8_t k2[] = {1, 2, 3, 4, 5};
  EXPECT_TRUE(map.add(CidKey(k1, 4), c1));
  EXPECT_TRUE(map.add(CidKey(k2, 5), c2));  // a longer CID with the same prefix is another key
  EXPECT_FALSE(map.add(CidKey(k1, 4), c2));
  EXPECT_EQ(map.find(std::span<const uint8_t>(k1, 4)), &c1);
  EXPECT_EQ(map.find(std::span<const uint8_t>(k2, 5)), &c2);
  EXPECT_EQ(map.find(std::span<const uint8_t>(k1, 3)), nullptr);
  // A connection cannot remove another connection's CID.
  map.remove(CidKey(k1, 4), c2);
  EXPECT_EQ(map.find(std::span<const uint8_t>(k1, 4)), &c1);
  map.remove(CidKey(k1, 4), c1);
  EXPECT_EQ(map.find(std::span<const uint8_t>(k1, 4)), nullptr);
  EXPECT_EQ(map.size(), 1u);
}

// ngtcp2_cid carries garbage beyond datalen; the key must ignore it.
TEST(QuicCid, KeyIgnoresBytesBeyondLength) {
  ngtcp2_cid a{}, b{};
  a.datalen = b.datalen = 4;
  std::memset(a.data, 0xaa, sizeof a.data);
  std::memset(b.data, 0xbb, sizeof b.data);
  std::memset(a.data, 1, 4);
  std::memset(b.data, 1, 4);
  EXPECT_TRUE(CidKey(a) == CidKey(b));
  EXPECT_EQ(CidKeyHash{}(CidKey(a)), CidKeyHash{}(CidKey(b)));
}

}  // namespace
}  // namespace mquictt::quic
