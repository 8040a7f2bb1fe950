// MQTT over QUIC through our QuicClient (lib/transport/quic), driven by the worker's epoll loop:
// one UDP socket and one bidirectional stream per connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <vector>

#include "link.h"
#include "transport/quic/quic_client.h"

namespace mquictt::loadgen {

namespace {

// A publisher's send() is refused ("would block") while this much is buffered in the stream
// (unsent or unacknowledged), like a full TCP socket buffer.
constexpr size_t kMaxBuffered = 1024 * 1024;
// Receive buffer asked for on each client's UDP socket (the kernel caps it at net.core.rmem_max).
// The default (~208 KiB) overflows on a shared machine whenever this process waits a few ms for
// the CPU, and every overflow is a QUIC loss event; TCP sockets autotune far beyond that.
constexpr int kSocketReceiveBuffer = 4 * 1024 * 1024;

class QuicLink : public Link {
 public:
  explicit QuicLink(const quic::QuicClientOptions& o) : client_(o) {
    int size = kSocketReceiveBuffer;
    (void)::setsockopt(client_.fd(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  ~QuicLink() override {
    if (!client_.closed()) client_.close(0);  // CONNECTION_CLOSE, as a TCP close sends FIN
  }
  QuicLink(const QuicLink&) = delete;
  QuicLink& operator=(const QuicLink&) = delete;

  bool begin(std::string& error) {
    if (client_.begin_connect()) return true;
    error = "QUIC: " + client_.error();
    return false;
  }

  int fd() const override { return client_.fd(); }

  Step advance(uint32_t events, std::string& error) override {
    if (events & (EPOLLIN | EPOLLERR)) client_.on_readable();
    if (client_.closed()) {
      error = "QUIC handshake: " + client_.error();
      return {Status::kFailed, 0};
    }
    if (!client_.connected()) return {Status::kPending, EPOLLIN};
    auto id = client_.open_stream();
    if (!id) {
      error = "QUIC: the broker allows no stream";
      return {Status::kFailed, 0};
    }
    stream_ = *id;
    return {Status::kUp, 0};
  }

  long send(std::span<const uint8_t> bytes) override {
    if (client_.closed()) return -1;
    if (client_.unacked(stream_) >= kMaxBuffered) return 0;
    client_.send(stream_, bytes);
    return static_cast<long>(bytes.size());
  }

  long recv(std::span<uint8_t> buf) override {
    if (in_off_ == in_.size()) {
      client_.on_readable();
      in_ = client_.take(stream_);
      in_off_ = 0;
    }
    size_t n = std::min(buf.size(), in_.size() - in_off_);
    if (n > 0) {
      std::memcpy(buf.data(), in_.data() + in_off_, n);
      in_off_ += n;
      return static_cast<long>(n);
    }
    if (client_.closed() || client_.peer_finished(stream_)) return -1;
    return 0;
  }

  void shutdown_write() override { client_.finish(stream_); }
  bool waits_for_epollout() const override { return false; }
  int64_t next_timer_ns() const override {
    quic::Timestamp t = client_.next_timeout();
    return t >= static_cast<quic::Timestamp>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(t);
  }
  void on_timer() override { client_.on_timer(); }

 private:
  quic::QuicClient client_;
  int64_t stream_ = -1;
  std::vector<uint8_t> in_;  // taken from the client, not yet handed to recv()
  size_t in_off_ = 0;
};

}  // namespace

std::shared_ptr<const quic::TlsClientContext> make_quic_tls_ctx(const LinkOptions& options) {
  quic::TlsClientOptions tls;
  tls.ca_file = options.ca_file;
  tls.insecure = options.insecure;
  tls.server_name = options.server_name;
  return std::make_shared<const quic::TlsClientContext>(tls);  // throws on a bad CA file
}

std::unique_ptr<Link> open_quic_link(const std::shared_ptr<const quic::TlsClientContext>& tls,
                                     const Endpoint& ep, std::string& error) {
  quic::QuicClientOptions o;
  char host[64] = {};
  const void* addr =
      ep.family == AF_INET6
          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&ep.addr)->sin6_addr)
          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&ep.addr)->sin_addr);
  ::inet_ntop(ep.family, addr, host, sizeof host);
  o.host = host;
  o.ipv6 = ep.family == AF_INET6;
  o.port = ntohs(ep.family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&ep.addr)->sin6_port
                                       : reinterpret_cast<const sockaddr_in*>(&ep.addr)->sin_port);
  // One context (CA file parsed once) for every connection; each still gets its own session
  // and does a full handshake.
  o.tls_context = tls;
  // The broker's idle timeout decides (the smaller one wins); ours only must not be shorter.
  o.idle_timeout = 3600 * quic::kNanosPerSecond;
  // The initial RTT stays RFC 9002's 333 ms, as in real clients: QuicClient does not pace before
  // its first RTT sample (transport/quic/pacing.h), so the handshake does not wait on it.
  try {
    auto link = std::make_unique<QuicLink>(o);
    if (!link->begin(error)) return nullptr;
    return link;
  } catch (const std::exception& e) {  // socket or TLS context could not be created
    error = std::string("QUIC: ") + e.what();
    return nullptr;
  }
}

}  // namespace mquictt::loadgen
