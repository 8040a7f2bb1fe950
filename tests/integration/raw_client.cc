#include "integration/raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec/decoder.h"
#include "codec/encoder.h"
#include "common/hex.h"
#include "integration/daemon_process.h"

namespace mquictt::test {

RawClient::~RawClient() {
  close();
}

bool RawClient::connect(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

quic::QuicClientOptions RawClient::quic_options(
    uint16_t port, const std::function<void(quic::QuicClientOptions&)>& tweak) {
  quic::QuicClientOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.tls.ca_file = test_cert("ca.pem");
  if (tweak) tweak(o);
  return o;
}

bool RawClient::connect_quic(uint16_t port,
                             const std::function<void(quic::QuicClientOptions&)>& tweak) {
  quic_ = std::make_unique<quic::QuicClient>(quic_options(port, tweak));
  if (!quic_->connect(std::chrono::seconds(5))) return false;
  auto sid = quic_->open_stream();
  if (!sid) return false;
  stream_ = *sid;
  return true;
}

bool RawClient::begin_quic(uint16_t port,
                           const std::function<void(quic::QuicClientOptions&)>& tweak) {
  quic_ = std::make_unique<quic::QuicClient>(quic_options(port, tweak));
  if (!quic_->begin_connect()) return false;
  auto sid = quic_->open_stream();
  if (!sid) return false;
  stream_ = *sid;
  return true;
}

void RawClient::send_early(std::span<const uint8_t> bytes) {
  if (quic_) quic_->send(stream_, bytes);
}

void RawClient::send(std::span<const uint8_t> bytes) {
  if (quic_) {
    // Like a blocking TCP send: return once the server has the bytes (acknowledged), so that a
    // test waiting on another client next does not leave them stuck in this client (which only
    // makes progress while it is polled). Bounded, for a server that withholds credit.
    quic_->send(stream_, bytes);
    quic_->wait_until([this] { return quic_->unacked(stream_) == 0; }, std::chrono::seconds(5));
    return;
  }
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;  // peer closed; the test's next expectation reports it
    off += static_cast<size_t>(n);
  }
}

void RawClient::send_hex(std::string_view hex) {
  send(from_hex(hex));
}

void RawClient::send_packet(const codec::Packet& p, codec::ProtocolVersion v) {
  send(codec::encode(p, v));
}

void RawClient::close() {
  if (quic_) quic_->close(0);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawClient::fill_quic(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (quic_->available(stream_) != 0) {
      auto bytes = quic_->take(stream_);
      return splitter_.feed(bytes).ok();
    }
    if (quic_->peer_finished(stream_) || quic_->closed()) {
      eof_ = true;
      return false;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) return false;
    quic_->poll(std::min(left, std::chrono::milliseconds(50)));
  }
}

bool RawClient::fill(std::chrono::steady_clock::time_point deadline) {
  if (quic_) return !eof_ && fill_quic(deadline);
  if (eof_ || fd_ < 0) return false;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  uint8_t buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  return splitter_.feed({buf, static_cast<size_t>(n)}).ok();
}

std::optional<std::vector<uint8_t>> RawClient::read_frame(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto f = splitter_.next();
    if (!f.ok()) return std::nullopt;
    if (f->has_value()) return std::vector<uint8_t>((*f)->begin(), (*f)->end());
    if (!fill(deadline)) return std::nullopt;
  }
}

std::optional<codec::Packet> RawClient::read_packet(codec::ProtocolVersion v,
                                                    std::chrono::milliseconds timeout) {
  auto f = read_frame(timeout);
  if (!f) return std::nullopt;
  auto p = codec::decode(*f, v);
  if (!p.ok()) return std::nullopt;
  return std::move(p).value();
}

::testing::AssertionResult RawClient::expect_hex(std::string_view hex,
                                                 std::chrono::milliseconds timeout) {
  auto want = from_hex(hex);
  auto got = read_frame(timeout);
  if (!got) {
    return ::testing::AssertionFailure() << "expected " << to_hex(want) << " but got "
                                         << (eof_ ? "connection closed" : "nothing");
  }
  if (*got != want) {
    return ::testing::AssertionFailure()
           << "expected " << to_hex(want) << "\n     got " << to_hex(*got);
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult RawClient::expect_closed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    auto f = splitter_.next();
    if (f.ok() && f->has_value()) {
      return ::testing::AssertionFailure()
             << "expected close, got frame "
             << to_hex(std::vector<uint8_t>((*f)->begin(), (*f)->end()));
    }
    if (!fill(deadline) && !eof_) return ::testing::AssertionFailure() << "connection still open";
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult RawClient::expect_silence(std::chrono::milliseconds window) {
  auto f = read_frame(window);
  if (f) return ::testing::AssertionFailure() << "unexpected frame " << to_hex(*f);
  if (eof_) return ::testing::AssertionFailure() << "connection closed";
  return ::testing::AssertionSuccess();
}

std::vector<uint8_t> connect_bytes(const std::string& client_id, codec::ProtocolVersion v,
                                   bool clean, uint16_t keepalive) {
  codec::Connect c;
  c.version = v;
  c.client_id = client_id;
  c.clean_start = clean;
  c.keep_alive = keepalive;
  return codec::encode(c, v);
}

}  // namespace mquictt::test
