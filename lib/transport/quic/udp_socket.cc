#include "transport/quic/udp_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mquictt::quic {

uint16_t SockAddr::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

void SockAddr::set_port(uint16_t port) {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
}

std::string SockAddr::host() const {
  char host[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, host,
              sizeof host);
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, host,
              sizeof host);
  }
  return host;
}

std::string SockAddr::to_string() const {
  if (family() == AF_INET) return host() + ":" + std::to_string(port());
  if (family() == AF_INET6) return "[" + host() + "]:" + std::to_string(port());
  return "unknown";
}

std::optional<SockAddr> SockAddr::from(const std::string& host, uint16_t port, bool ipv6) {
  SockAddr a;
  if (ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) != 1) return std::nullopt;
    a.len = sizeof(sockaddr_in6);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &in->sin_addr) != 1) return std::nullopt;
    a.len = sizeof(sockaddr_in);
  }
  return a;
}

SockAddr SockAddr::copy_of(const sockaddr* sa, socklen_t len) {
  SockAddr a;
  len = std::min<socklen_t>(len, sizeof a.storage);
  std::memcpy(&a.storage, sa, len);
  a.len = len;
  return a;
}

bool SockAddr::same_as(const sockaddr* other) const {
  if (!other || other->sa_family != family()) return false;
  if (family() == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&storage);
    const auto* b = reinterpret_cast<const sockaddr_in*>(other);
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  if (family() == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&storage);
    const auto* b = reinterpret_cast<const sockaddr_in6*>(other);
    return a->sin6_port == b->sin6_port &&
           std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
  }
  return false;
}

UdpSocket::UdpSocket(const std::string& host, uint16_t port, bool ipv6) : ipv6_(ipv6) {
  const std::string wanted =
      ipv6 ? "[" + host + "]:" + std::to_string(port) : host + ":" + std::to_string(port);
  auto fail = [&](const char* what) {
    int err = errno;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("cannot listen on quic " + wanted + ": " + what + ": " +
                             std::strerror(err));
  };
  auto addr = SockAddr::from(host, port, ipv6);
  if (!addr) {
    throw std::runtime_error("cannot listen on quic " + wanted + ": not a numeric " +
                             (ipv6 ? "IPv6" : "IPv4") + " address");
  }
  fd_ = ::socket(addr->family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail("socket");
  int one = 1;
  if (ipv6) {
    if (::setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) fail("IPV6_V6ONLY");
    if (::setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) != 0) {
      fail("IPV6_RECVPKTINFO");
    }
    if (::setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof one) != 0) {
      fail("IPV6_RECVTCLASS");
    }
    int pmtud = IPV6_PMTUDISC_DO;
    if (::setsockopt(fd_, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &pmtud, sizeof pmtud) != 0) {
      fail("IPV6_MTU_DISCOVER");
    }
  } else {
    if (::setsockopt(fd_, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0) fail("IP_PKTINFO");
    if (::setsockopt(fd_, IPPROTO_IP, IP_RECVTOS, &one, sizeof one) != 0) fail("IP_RECVTOS");
    int pmtud = IP_PMTUDISC_DO;
    if (::setsockopt(fd_, IPPROTO_IP, IP_MTU_DISCOVER, &pmtud, sizeof pmtud) != 0) {
      fail("IP_MTU_DISCOVER");
    }
  }
  if (::bind(fd_, addr->sa(), addr->len) != 0) fail("bind");
  local_.len = sizeof local_.storage;
  if (::getsockname(fd_, local_.sa(), &local_.len) != 0) fail("getsockname");
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<Datagram> UdpSocket::receive(std::span<uint8_t> buf) {
  for (;;) {
    Datagram d;
    iovec iov{buf.data(), buf.size()};
    alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_name = &d.remote.storage;
    msg.msg_namelen = sizeof d.remote.storage;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd_, &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return std::nullopt;
      // ECONNREFUSED and friends come from ICMP for earlier sends: skip, keep reading.
      continue;
    }
    d.remote.len = msg.msg_namelen;
    d.local = local_;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        reinterpret_cast<sockaddr_in*>(&d.local.storage)->sin_addr = pi.ipi_addr;
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        reinterpret_cast<sockaddr_in6*>(&d.local.storage)->sin6_addr = pi.ipi6_addr;
      } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
        uint8_t tos = 0;
        std::memcpy(&tos, CMSG_DATA(c), sizeof tos);
        d.ecn = tos & 0x3;
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
        int tclass = 0;
        std::memcpy(&tclass, CMSG_DATA(c), sizeof tclass);
        d.ecn = static_cast<uint8_t>(tclass & 0x3);
      }
    }
    d.data = buf.first(static_cast<size_t>(n));
    return d;
  }
}

UdpSocket::SendResult UdpSocket::send(const sockaddr* remote, socklen_t remote_len,
                                      const sockaddr* local, uint8_t ecn,
                                      std::span<const uint8_t> data) {
  const int err = send_one(remote, remote_len, local, ecn, data, 0);
  if (err == 0) return SendResult::kSent;
  if (err == EAGAIN || err == EWOULDBLOCK) return SendResult::kBlocked;
  return SendResult::kFailed;
}

UdpSocket::SendResult UdpSocket::send_segments(const sockaddr* remote, socklen_t remote_len,
                                               const sockaddr* local, uint8_t ecn,
                                               std::span<const uint8_t> data, size_t segment_size,
                                               size_t* sent) {
  *sent = 0;
  if (data.empty()) return SendResult::kSent;
  if (segment_size == 0 || segment_size > data.size()) segment_size = data.size();
  if (gso_ && data.size() > segment_size && data.size() <= kMaxGsoBytes &&
      (data.size() + segment_size - 1) / segment_size <= kMaxSegments) {
    const int err =
        send_one(remote, remote_len, local, ecn, data, static_cast<uint16_t>(segment_size));
    if (err == 0) {
      *sent = data.size();
      ++gso_sends_;
      gso_datagrams_ += (data.size() + segment_size - 1) / segment_size;
      return SendResult::kSent;
    }
    if (err == EAGAIN || err == EWOULDBLOCK) return SendResult::kBlocked;
    if (err != EIO && err != EINVAL) {
      *sent = data.size();
      return SendResult::kFailed;
    }
    // The kernel (or the device) cannot do UDP GSO: never again on this socket; one by one now.
    gso_ = false;
    gso_error_ = err;
  }
  bool failed = false;
  while (*sent < data.size()) {
    const auto one = data.subspan(*sent, std::min(segment_size, data.size() - *sent));
    const int err = send_one(remote, remote_len, local, ecn, one, 0);
    if (err == EAGAIN || err == EWOULDBLOCK) return SendResult::kBlocked;
    if (err != 0) failed = true;  // this datagram is lost; QUIC recovers; send the others
    *sent += one.size();
  }
  return failed ? SendResult::kFailed : SendResult::kSent;
}

int UdpSocket::send_one(const sockaddr* remote, socklen_t remote_len, const sockaddr* local,
                        uint8_t ecn, std::span<const uint8_t> data, uint16_t segment_size) {
  iovec iov{const_cast<uint8_t*>(data.data()), data.size()};
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int)) +
                                   CMSG_SPACE(sizeof(uint16_t))] = {};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr*>(remote);
  msg.msg_namelen = remote_len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  size_t used = 0;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  auto add = [&](int level, int type, const void* value, size_t len) {
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(len);
    std::memcpy(CMSG_DATA(c), value, len);
    used += CMSG_SPACE(len);
    c = reinterpret_cast<cmsghdr*>(reinterpret_cast<uint8_t*>(c) + CMSG_SPACE(len));
  };
  if (local && local->sa_family == AF_INET && !ipv6_) {
    in_pktinfo pi{};
    pi.ipi_spec_dst = reinterpret_cast<const sockaddr_in*>(local)->sin_addr;
    add(IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
  } else if (local && local->sa_family == AF_INET6 && ipv6_) {
    in6_pktinfo pi{};
    pi.ipi6_addr = reinterpret_cast<const sockaddr_in6*>(local)->sin6_addr;
    add(IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
  }
  // ECN per datagram (the other six TOS bits stay 0). Without it the packet goes out not-ECT.
  const int tos = ecn & 0x3;
  if (ipv6_) {
    add(IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
  } else {
    add(IPPROTO_IP, IP_TOS, &tos, sizeof tos);
  }
  if (segment_size != 0) add(SOL_UDP, UDP_SEGMENT, &segment_size, sizeof segment_size);
  msg.msg_controllen = used;
  for (;;) {
    if (::sendmsg(fd_, &msg, 0) >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

}  // namespace mquictt::quic
