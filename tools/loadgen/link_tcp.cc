// Plain TCP links, and the socket calls TLS links share with them.
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "link.h"
#include "link_tcp.h"

namespace mquictt::loadgen {

TcpLink::~TcpLink() {
  if (fd_ >= 0) ::close(fd_);  // closing also removes it from every epoll set
}

Link::Step TcpLink::advance(uint32_t events, std::string& error) {
  if (tcp_up_) return {Status::kUp, 0};
  if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return {Status::kPending, EPOLLOUT};
  int err = connect_result(fd_);
  if (err != 0) {
    error = std::string("connect: ") + std::strerror(err);
    return {Status::kFailed, 0};
  }
  tcp_up_ = true;
  return {Status::kUp, 0};
}

long TcpLink::send(std::span<const uint8_t> bytes) {
  for (;;) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<long>(n);
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  }
}

long TcpLink::recv(std::span<uint8_t> buf) {
  for (;;) {
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n > 0) return static_cast<long>(n);
    if (n == 0) return -1;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  }
}

void TcpLink::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

std::unique_ptr<Link> open_tcp_link(const Endpoint& ep, std::string& error) {
  int fd = start_connect(ep);
  if (fd < 0) {
    error = std::string("connect: ") + std::strerror(errno);
    return nullptr;
  }
  return std::make_unique<TcpLink>(fd);
}

}  // namespace mquictt::loadgen
