#pragma once
// A UDP relay on 127.0.0.1 for transport tests: the client talks to the relay's port, the relay
// forwards to the server from its own socket (so the server sees the relay's address) and back.
// It counts what passes and can stop forwarding in either direction, which lets a test play a
// client that sent one Initial and fell silent (an attacker with a spoofed source address).
//
// Non-blocking; the test thread calls pump() from its polling loop. IPv4 only.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>

namespace mquictt::transport::test {

class UdpRelay {
 public:
  explicit UdpRelay(uint16_t server_port) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("relay: socket");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      throw std::runtime_error("relay: bind");
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    server_ = a;
    server_.sin_port = htons(server_port);
  }
  ~UdpRelay() { ::close(fd_); }
  UdpRelay(const UdpRelay&) = delete;
  UdpRelay& operator=(const UdpRelay&) = delete;

  uint16_t port() const { return port_; }

  // Datagrams from the client beyond this many are dropped (nullopt: no limit).
  std::optional<size_t> forward_to_server_limit;
  bool forward_to_client = true;

  size_t to_server_datagrams = 0;  // forwarded client -> server
  size_t to_server_bytes = 0;
  size_t from_server_datagrams = 0;  // received from the server (forwarded or not)
  size_t from_server_bytes = 0;

  // Moves whatever is waiting.
  void pump() {
    for (;;) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n =
          ::recvfrom(fd_, buf_.data(), buf_.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) return;
      const auto size = static_cast<size_t>(n);
      if (from.sin_port == server_.sin_port) {
        ++from_server_datagrams;
        from_server_bytes += size;
        if (forward_to_client && client_) send_to(*client_, size);
        continue;
      }
      client_ = from;
      if (forward_to_server_limit && to_server_datagrams >= *forward_to_server_limit) continue;
      ++to_server_datagrams;
      to_server_bytes += size;
      send_to(server_, size);
    }
  }

 private:
  void send_to(const sockaddr_in& to, size_t size) {
    (void)::sendto(fd_, buf_.data(), size, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  sockaddr_in server_{};
  std::optional<sockaddr_in> client_;
  std::array<uint8_t, 65536> buf_{};
};

}  // namespace mquictt::transport::test
