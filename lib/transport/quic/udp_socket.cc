#include "transport/quic/udp_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/ip.h>
#include <unistd.h>

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

std::string SockAddr::to_string() const {
  char host[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, host,
              sizeof host);
    return std::string(host) + ":" + std::to_string(port());
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, host,
              sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(port());
  }
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

void UdpSocket::set_ecn(uint8_t ecn) {
  if (ecn == ecn_) return;
  int tos = ecn & 0x3;
  // Best effort: without it packets just go out as not-ECT, and ngtcp2 notices ECN fails.
  if (ipv6_) {
    (void)::setsockopt(fd_, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
  } else {
    (void)::setsockopt(fd_, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
  }
  ecn_ = ecn;
}

UdpSocket::SendResult UdpSocket::send(const sockaddr* remote, socklen_t remote_len,
                                      const sockaddr* local, uint8_t ecn,
                                      std::span<const uint8_t> data) {
  set_ecn(ecn);
  iovec iov{const_cast<uint8_t*>(data.data()), data.size()};
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr*>(remote);
  msg.msg_namelen = remote_len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (local && local->sa_family == AF_INET && !ipv6_) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo pi{};
    pi.ipi_spec_dst = reinterpret_cast<const sockaddr_in*>(local)->sin_addr;
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  } else if (local && local->sa_family == AF_INET6 && ipv6_) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(in6_pktinfo));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
    in6_pktinfo pi{};
    pi.ipi6_addr = reinterpret_cast<const sockaddr_in6*>(local)->sin6_addr;
    std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
  }
  for (;;) {
    ssize_t n = ::sendmsg(fd_, &msg, 0);
    if (n >= 0) return SendResult::kSent;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return SendResult::kBlocked;
    return SendResult::kFailed;
  }
}

}  // namespace mquictt::quic
