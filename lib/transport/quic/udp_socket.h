#pragma once
// A non-blocking UDP socket for QUIC. Knows nothing about QUIC itself.
//
// Receive side: each datagram comes with the remote address, the local address it was sent to
// (IP_PKTINFO / IPV6_RECVPKTINFO, so a wildcard-bound server answers from the right address) and
// its ECN bits (IP_RECVTOS / IPV6_RECVTCLASS), which ngtcp2 needs for ECN validation.
// Send side: a datagram goes to the path ngtcp2 chose (remote address, local address as pktinfo)
// with the ECN marking ngtcp2 asked for. Don't-fragment is on (IP_MTU_DISCOVER = PMTUDISC_DO) so
// ngtcp2's path-MTU probes are real probes, not silently fragmented.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace mquictt::quic {

// A socket address with its length, as ngtcp2_addr wants it.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;

  sockaddr* sa() { return reinterpret_cast<sockaddr*>(&storage); }
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  uint16_t port() const;
  void set_port(uint16_t port);
  // "127.0.0.1:50312" / "[::1]:50312".
  std::string to_string() const;
  // Numeric host ("127.0.0.1", "::1") and port; nullopt if `host` is not a numeric address.
  static std::optional<SockAddr> from(const std::string& host, uint16_t port, bool ipv6);
};

struct Datagram {
  std::span<const uint8_t> data;  // points into the caller's buffer
  SockAddr remote;
  SockAddr local;
  uint8_t ecn = 0;  // the two ECN bits of the IP header
};

class UdpSocket {
 public:
  enum class SendResult : uint8_t {
    kSent,
    kBlocked,  // the socket buffer is full (EAGAIN): retry when writable
    kFailed,   // any other error; the datagram is lost (QUIC recovers, or the path is dead)
  };

  // Binds to host:port (numeric; port 0 = kernel-chosen). IPv6 sockets are IPV6_V6ONLY.
  // Throws std::runtime_error naming the address, e.g. "cannot listen on quic 127.0.0.1:14567:
  // bind: Address already in use".
  UdpSocket(const std::string& host, uint16_t port, bool ipv6);
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  int fd() const { return fd_; }
  // The bound address with the real port.
  const SockAddr& local_address() const { return local_; }

  // Reads one datagram into `buf`; nullopt when nothing is waiting (errors are skipped too:
  // ICMP-induced errors such as ECONNREFUSED must not stop the read loop).
  std::optional<Datagram> receive(std::span<uint8_t> buf);
  // Sends one datagram to `remote` from `local` (pktinfo; ignored when `local` is null) with ECN
  // bits `ecn`.
  SendResult send(const sockaddr* remote, socklen_t remote_len, const sockaddr* local, uint8_t ecn,
                  std::span<const uint8_t> data);

 private:
  void set_ecn(uint8_t ecn);

  int fd_ = -1;
  bool ipv6_ = false;
  SockAddr local_;
  uint8_t ecn_ = 0;  // TOS / traffic class currently set on the socket
};

}  // namespace mquictt::quic
