#pragma once
// A TCP connection as a Link; TlsLink builds on it.

#include "link.h"

namespace mquictt::loadgen {

class TcpLink : public Link {
 public:
  explicit TcpLink(int fd) : fd_(fd) {}  // takes a socket from start_connect()
  ~TcpLink() override;
  TcpLink(const TcpLink&) = delete;
  TcpLink& operator=(const TcpLink&) = delete;

  int fd() const override { return fd_; }
  // kUp once the TCP connect finished.
  Step advance(uint32_t events, std::string& error) override;
  long send(std::span<const uint8_t> bytes) override;
  long recv(std::span<uint8_t> buf) override;
  void shutdown_write() override;

 private:
  int fd_;
  bool tcp_up_ = false;
};

}  // namespace mquictt::loadgen
