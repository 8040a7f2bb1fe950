#pragma once
// A non-blocking UDP socket for QUIC. Knows nothing about QUIC itself.
//
// Receive side: each datagram comes with the remote address, the local address it was sent to
// (IP_PKTINFO / IPV6_RECVPKTINFO, so a wildcard-bound server answers from the right address) and
// its ECN bits (IP_RECVTOS / IPV6_RECVTCLASS), which ngtcp2 needs for ECN validation.
// Send side: a datagram goes to the path ngtcp2 chose (remote address, local address as pktinfo)
// with the ECN marking ngtcp2 asked for, carried per datagram as a cmsg (IP_TOS / IPV6_TCLASS), so
// packets with different markings need no setsockopt in between. Don't-fragment is on
// (IP_MTU_DISCOVER = PMTUDISC_DO) so ngtcp2's path-MTU probes are real probes, not silently
// fragmented.
// GSO (off unless set_gso(true)): send_segments() hands the kernel several datagrams of one size
// (the last may be shorter) in one sendmsg with UDP_SEGMENT, which the kernel splits; one system
// call and one trip down the stack instead of N. If the kernel refuses UDP_SEGMENT (EIO: the
// device cannot checksum-offload; EINVAL: an old kernel), GSO turns itself off for good and the
// datagrams go one by one (gso_error() says why, for the caller's log).

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
  // The numeric address alone: "127.0.0.1" / "::1" ("?" for another family).
  std::string host() const;
  // Numeric host ("127.0.0.1", "::1") and port; nullopt if `host` is not a numeric address.
  static std::optional<SockAddr> from(const std::string& host, uint16_t port, bool ipv6);
  // A copy of `len` bytes of `sa` (e.g. an ngtcp2_addr).
  static SockAddr copy_of(const sockaddr* sa, socklen_t len);
  // Same family, address and port (padding such as sin_zero ignored).
  bool same_as(const sockaddr* other) const;
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
  // Sends `data` as consecutive datagrams of `segment_size` bytes (the last may be shorter), all
  // on the same path with the same ECN bits: one sendmsg with UDP_SEGMENT when GSO is on, else
  // one by one. `*sent` = bytes dealt with: on kBlocked the caller keeps data[*sent..] for when
  // the socket is writable; on kSent / kFailed everything (a failed datagram is lost, the others
  // still went out). At most kMaxSegments segments and kMaxGsoBytes bytes.
  SendResult send_segments(const sockaddr* remote, socklen_t remote_len, const sockaddr* local,
                           uint8_t ecn, std::span<const uint8_t> data, size_t segment_size,
                           size_t* sent);
  static constexpr size_t kMaxSegments = 64;     // the kernel's UDP_MAX_SEGMENTS
  static constexpr size_t kMaxGsoBytes = 65000;  // a GSO send is one IP packet before splitting

  void set_gso(bool on) { gso_ = on && gso_error_ == 0; }
  bool gso() const { return gso_; }
  // errno of the kernel's refusal of UDP_SEGMENT (GSO is then off for good); 0 = none.
  int gso_error() const { return gso_error_; }
  // sendmsg calls with UDP_SEGMENT that the kernel took, and the datagrams they carried.
  uint64_t gso_sends() const { return gso_sends_; }
  uint64_t gso_datagrams() const { return gso_datagrams_; }

 private:
  // One sendmsg; `segment_size` 0 = no UDP_SEGMENT. Returns 0 or errno.
  int send_one(const sockaddr* remote, socklen_t remote_len, const sockaddr* local, uint8_t ecn,
               std::span<const uint8_t> data, uint16_t segment_size);

  int fd_ = -1;
  bool ipv6_ = false;
  SockAddr local_;
  bool gso_ = false;
  int gso_error_ = 0;
  uint64_t gso_sends_ = 0;
  uint64_t gso_datagrams_ = 0;
};

}  // namespace mquictt::quic
