// TLS over TCP with OpenSSL: a non-blocking SSL on the TCP socket. TLS 1.3 only, AES-128-GCM,
// X25519 (the same choices the QUIC side makes), and no session cache, so every connection is
// a full handshake.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "link.h"
#include "link_tcp.h"

namespace mquictt::loadgen {

namespace {

std::string ssl_error_text() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no OpenSSL error queued";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// TLS 1.3 plaintext records are at most this long; reading into at least this much space
// consumes a whole record, so no plaintext stays hidden inside OpenSSL where epoll cannot see it.
constexpr size_t kMaxRecord = 16384;

class TlsLink : public TcpLink {
 public:
  TlsLink(int fd, SSL* ssl) : TcpLink(fd), ssl_(ssl) {}
  ~TlsLink() override { SSL_free(ssl_); }
  TlsLink(const TlsLink&) = delete;
  TlsLink& operator=(const TlsLink&) = delete;

  Step advance(uint32_t events, std::string& error) override {
    if (!tcp_done_) {
      Step s = TcpLink::advance(events, error);
      if (s.status != Status::kUp) return s;
      tcp_done_ = true;
    }
    int r = SSL_connect(ssl_);
    if (r == 1) return {Status::kUp, 0};
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_READ:
        return {Status::kPending, EPOLLIN};
      case SSL_ERROR_WANT_WRITE:
        return {Status::kPending, EPOLLIN | EPOLLOUT};
      default:
        error = "TLS handshake: " + ssl_error_text();
        return {Status::kFailed, 0};
    }
  }

  long send(std::span<const uint8_t> bytes) override {
    size_t n = 0;
    if (SSL_write_ex(ssl_, bytes.data(), bytes.size(), &n) == 1) return static_cast<long>(n);
    int e = SSL_get_error(ssl_, 0);
    ERR_clear_error();
    return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? 0 : -1;
  }

  long recv(std::span<uint8_t> buf) override {
    size_t total = 0;
    while (buf.size() - total >= kMaxRecord) {
      size_t n = 0;
      if (SSL_read_ex(ssl_, buf.data() + total, buf.size() - total, &n) == 1) {
        total += n;
        continue;
      }
      int e = SSL_get_error(ssl_, 0);
      ERR_clear_error();
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
      return total > 0 ? static_cast<long>(total) : -1;  // close_notify, EOF or error
    }
    return static_cast<long>(total);
  }

  void shutdown_write() override {
    (void)SSL_shutdown(ssl_);  // sends close_notify
    ERR_clear_error();
    TcpLink::shutdown_write();
  }

 private:
  SSL* ssl_;
  bool tcp_done_ = false;
};

}  // namespace

SSL_CTX* make_tls_client_ctx(const LinkOptions& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) throw std::runtime_error("SSL_CTX_new: " + ssl_error_text());
  auto fail = [ctx](const std::string& what) {
    std::string msg = what + ": " + ssl_error_text();
    SSL_CTX_free(ctx);
    throw std::runtime_error(msg);
  };
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1) fail("TLS 1.3");
  if (SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256") != 1) fail("cipher suites");
  if (SSL_CTX_set1_groups_list(ctx, "X25519") != 1) fail("groups");
  // Full handshakes only: no client session cache, so no ticket is ever offered back.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (o.insecure) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    if (SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr) != 1) {
      fail("CA file " + o.ca_file);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  return ctx;
}

void free_tls_client_ctx(SSL_CTX* ctx) {
  SSL_CTX_free(ctx);
}

std::unique_ptr<Link> open_tls_link(SSL_CTX* ctx, const Endpoint& ep,
                                    const std::string& server_name, std::string& error) {
  SSL* ssl = SSL_new(ctx);
  if (!ssl) {
    error = "SSL_new: " + ssl_error_text();
    return nullptr;
  }
  SSL_set_tlsext_host_name(ssl, server_name.c_str());
  if (SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE) SSL_set1_host(ssl, server_name.c_str());
  int fd = start_connect(ep);
  if (fd < 0) {
    SSL_free(ssl);
    error = std::string("connect: ") + std::strerror(errno);
    return nullptr;
  }
  SSL_set_fd(ssl, fd);
  return std::make_unique<TlsLink>(fd, ssl);
}

}  // namespace mquictt::loadgen
