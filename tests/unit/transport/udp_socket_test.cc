// UdpSocket on loopback: a GSO send (UDP_SEGMENT) arrives as separate datagrams of the right
// sizes, the fallback without GSO sends the same datagrams, and the ECN bits travel per datagram
// (a cmsg on each send, read back with IP_RECVTOS / IPV6_RECVTCLASS).

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include <cstdint>
#include <string>
#include <vector>

#include "transport/quic/udp_socket.h"

namespace mquictt::quic {
namespace {

struct Received {
  std::vector<uint8_t> data;
  uint8_t ecn = 0;
};

// Everything that arrives at `s` within `ms` of the last datagram.
std::vector<Received> drain(UdpSocket& s, int ms = 200) {
  std::vector<Received> out;
  std::vector<uint8_t> buf(65536);
  for (;;) {
    pollfd p{s.fd(), POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return out;
    while (auto d = s.receive(buf)) {
      out.push_back({{d->data.begin(), d->data.end()}, d->ecn});
    }
  }
}

// `n` bytes where byte i of segment k is (k * 31 + i) & 0xff: a misplaced segment shows.
std::vector<uint8_t> pattern(size_t n, size_t segment) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<uint8_t>((i / segment) * 31 + i % segment);
  return v;
}

class UdpSocketSegments : public ::testing::TestWithParam<bool> {};

TEST_P(UdpSocketSegments, ArriveAsSeparateDatagramsOfTheRightSizes) {
  const bool gso = GetParam();
  UdpSocket rx("127.0.0.1", 0, false);
  UdpSocket tx("127.0.0.1", 0, false);
  tx.set_gso(gso);
  // 5 full segments of 1200 bytes and a short last one.
  const auto data = pattern(5 * 1200 + 300, 1200);
  size_t sent = 0;
  const SockAddr& to = rx.local_address();
  ASSERT_EQ(tx.send_segments(to.sa(), to.len, nullptr, 2, data, 1200, &sent),
            UdpSocket::SendResult::kSent);
  EXPECT_EQ(sent, data.size());
  // GSO works on loopback (this machine and CI); a refusal would be a finding, not a skip.
  EXPECT_EQ(tx.gso(), gso) << "gso_error " << tx.gso_error();

  auto got = drain(rx);
  ASSERT_EQ(got.size(), 6u);
  for (size_t k = 0; k < got.size(); ++k) {
    const size_t len = k < 5 ? 1200 : 300;
    ASSERT_EQ(got[k].data.size(), len) << "datagram " << k;
    EXPECT_TRUE(std::equal(got[k].data.begin(), got[k].data.end(), data.begin() + k * 1200))
        << "datagram " << k;
    EXPECT_EQ(got[k].ecn, 2) << "datagram " << k;  // ECT(0) on every segment
  }
}

INSTANTIATE_TEST_SUITE_P(GsoOnAndOff, UdpSocketSegments, ::testing::Bool(),
                         [](const auto& p) { return p.param ? "Gso" : "OneByOne"; });

TEST(UdpSocket, OneSegmentGoesWithoutGso) {
  UdpSocket rx("127.0.0.1", 0, false);
  UdpSocket tx("127.0.0.1", 0, false);
  tx.set_gso(true);
  const auto data = pattern(700, 1200);
  size_t sent = 0;
  const SockAddr& to = rx.local_address();
  ASSERT_EQ(tx.send_segments(to.sa(), to.len, nullptr, 0, data, 1200, &sent),
            UdpSocket::SendResult::kSent);
  auto got = drain(rx);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, data);
}

// A kernel that refuses UDP_SEGMENT (here provoked with SO_NO_CHECK, which UDP GSO rejects with
// EINVAL, as a device without checksum offload makes it fail with EIO): the same datagrams go out
// one by one, and GSO stays off for the socket.
TEST(UdpSocket, GsoRefusedFallsBackToOneByOne) {
  UdpSocket rx("127.0.0.1", 0, false);
  UdpSocket tx("127.0.0.1", 0, false);
  int one = 1;
  ASSERT_EQ(setsockopt(tx.fd(), SOL_SOCKET, SO_NO_CHECK, &one, sizeof one), 0);
  tx.set_gso(true);
  const auto data = pattern(3 * 1000 + 10, 1000);
  size_t sent = 0;
  const SockAddr& to = rx.local_address();
  ASSERT_EQ(tx.send_segments(to.sa(), to.len, nullptr, 0, data, 1000, &sent),
            UdpSocket::SendResult::kSent);
  EXPECT_EQ(sent, data.size());
  EXPECT_FALSE(tx.gso());
  EXPECT_EQ(tx.gso_error(), EINVAL);
  EXPECT_EQ(tx.gso_sends(), 0u);
  tx.set_gso(true);  // stays off for good
  EXPECT_FALSE(tx.gso());
  auto got = drain(rx);
  ASSERT_EQ(got.size(), 4u);
  for (size_t k = 0; k < got.size(); ++k)
    EXPECT_EQ(got[k].data.size(), k < 3 ? 1000u : 10u);
}

// The marking changes from one datagram to the next with no setsockopt in between.
void expect_ecn_per_datagram(const std::string& host, bool ipv6) {
  UdpSocket rx(host, 0, ipv6);
  UdpSocket tx(host, 0, ipv6);
  tx.set_gso(true);
  const SockAddr& to = rx.local_address();
  const std::vector<uint8_t> one(100, 0xab);
  const uint8_t marks[] = {1, 2, 0, 3, 2, 0};
  for (uint8_t ecn : marks)
    ASSERT_EQ(tx.send(to.sa(), to.len, nullptr, ecn, one), UdpSocket::SendResult::kSent);
  // And a GSO batch with ECT(1) after them.
  size_t sent = 0;
  ASSERT_EQ(tx.send_segments(to.sa(), to.len, nullptr, 1, pattern(250, 100), 100, &sent),
            UdpSocket::SendResult::kSent);
  auto got = drain(rx);
  ASSERT_EQ(got.size(), std::size(marks) + 3);
  for (size_t i = 0; i < std::size(marks); ++i)
    EXPECT_EQ(got[i].ecn, marks[i]) << host << " datagram " << i;
  for (size_t i = std::size(marks); i < got.size(); ++i)
    EXPECT_EQ(got[i].ecn, 1) << host << " datagram " << i;
}

TEST(UdpSocket, EcnIsSetPerDatagramIpv4) {
  expect_ecn_per_datagram("127.0.0.1", false);
}

TEST(UdpSocket, EcnIsSetPerDatagramIpv6) {
  expect_ecn_per_datagram("::1", true);
}

}  // namespace
}  // namespace mquictt::quic
