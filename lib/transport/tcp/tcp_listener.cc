#include "transport/tcp/tcp_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <stdexcept>

#include "log/log.h"

namespace mquictt::transport {

namespace {

void acceptcb(struct ev_loop*, ev_io* w, int) noexcept {
  static_cast<TcpListener*>(w->data)->on_acceptable();
}

void resumecb(struct ev_loop*, ev_timer* w, int) noexcept {
  static_cast<TcpListener*>(w->data)->on_resume();
}

// "127.0.0.1:50312" / "[::1]:50312".
std::string format_address(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(a.sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a.sin6_port));
  }
  return "unknown";
}

uint16_t port_of(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
  return 0;
}

}  // namespace

TcpListener::TcpListener(EvLoop& loop, TcpListenerOptions options, AcceptFn accept)
    : loop_(loop),
      options_(std::move(options)),
      accept_(std::move(accept)),
      connections_(loop),
      accept_io_(loop, acceptcb, this),
      resume_(loop, resumecb, this) {
  const std::string wanted = options_.ipv6
                                 ? "[" + options_.host + "]:" + std::to_string(options_.port)
                                 : options_.host + ":" + std::to_string(options_.port);
  auto fail = [&](const char* what) {
    int err = errno;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("cannot listen on tcp " + wanted + ": " + what + ": " +
                             std::strerror(err));
  };

  sockaddr_storage ss{};
  socklen_t len = 0;
  if (options_.ipv6) {
    auto& a = reinterpret_cast<sockaddr_in6&>(ss);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(options_.port);
    if (inet_pton(AF_INET6, options_.host.c_str(), &a.sin6_addr) != 1) {
      throw std::runtime_error("cannot listen on tcp " + wanted + ": not an IPv6 address");
    }
    len = sizeof(sockaddr_in6);
  } else {
    auto& a = reinterpret_cast<sockaddr_in&>(ss);
    a.sin_family = AF_INET;
    a.sin_port = htons(options_.port);
    if (inet_pton(AF_INET, options_.host.c_str(), &a.sin_addr) != 1) {
      throw std::runtime_error("cannot listen on tcp " + wanted + ": not an IPv4 address");
    }
    len = sizeof(sockaddr_in);
  }

  fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail("socket");
  int one = 1;
  // SO_REUSEADDR: a restart must not wait for TIME_WAIT connections of the previous process.
  if (::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) fail("SO_REUSEADDR");
  if (options_.ipv6 && ::setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
    fail("IPV6_V6ONLY");
  }
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&ss), len) != 0) fail("bind");
  if (::listen(fd_, options_.backlog) != 0) fail("listen");

  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
    fail("getsockname");
  }
  port_ = port_of(bound);
  local_address_ = format_address(bound);
  accept_io_.set(fd_, EV_READ);
}

TcpListener::~TcpListener() {
  accept_io_.stop();
  resume_.stop();
  if (fd_ >= 0) ::close(fd_);
  connections_.terminate_all();
}

void TcpListener::start() {
  if (fd_ >= 0) accept_io_.start();
}

void TcpListener::stop_accepting() {
  accept_io_.stop();
  resume_.stop();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void TcpListener::on_resume() noexcept {
  start();
}

void TcpListener::on_acceptable() noexcept {
  for (int i = 0; i < kAcceptBatch; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      switch (errno) {
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
          return;
        case EINTR:
        case ECONNABORTED:  // the client gave up while queued; try the next one
        case EPROTO:
          continue;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
          log::net()->warn("listener {}: cannot accept: {}; pausing accepts for {} s", name(),
                           std::strerror(errno), kAcceptPauseS);
          accept_io_.stop();
          resume_.start_after(kAcceptPauseS);
          return;
        default:
          log::net()->error("listener {}: accept: {}", name(), std::strerror(errno));
          return;
      }
    }
    if (options_.max_connections != 0 && connections_.size() >= options_.max_connections) {
      ::close(fd);
      // Log the first refusal and then every 1000th, so a flood cannot flood the log too.
      if (refused_++ % 1000 == 0) {
        log::net()->warn("listener {}: max_connections ({}) reached; refusing connections", name(),
                         options_.max_connections);
      }
      continue;
    }
    try {
      accept_one(fd, format_address(ss));
    } catch (const std::exception& e) {
      // Only allocation can fail here; accept_one() has closed or handed over the fd.
      log::net()->error("listener {}: cannot set up a connection: {}", name(), e.what());
      return;
    }
  }
}

void TcpListener::accept_one(int fd, const std::string& peer) {
  if (options_.tcp_nodelay) {
    int one = 1;
    // Best effort: a failure only costs latency.
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  std::unique_ptr<TcpConnection> owned;
  try {
    owned = std::make_unique<TcpConnection>(loop_, connections_, fd, peer, options_.connection);
  } catch (...) {
    ::close(fd);
    throw;
  }
  auto& conn = connections_.add(std::move(owned));
  std::unique_ptr<broker::ByteStreamHandler> handler;
  try {
    handler = accept_(conn);
  } catch (const std::exception& e) {
    log::net()->error("listener {}: {}: accept handler failed: {}", name(), conn.describe(),
                      e.what());
  }
  if (log::net()->should_log(spdlog::level::debug)) {
    log::net()->debug("listener {}: accepted {}", name(), conn.describe());
  }
  conn.start(std::move(handler));
}

}  // namespace mquictt::transport
