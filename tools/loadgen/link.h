#pragma once
// The byte stream under one MQTT connection of the load generator: plain TCP, TLS over TCP
// (OpenSSL, for brokers with a TLS listener such as mosquitto) or MQTT over QUIC (our QuicClient,
// one bidirectional stream). Conn (net.h) keeps the MQTT buffers and uses a Link only for raw
// bytes, so the scenarios are the same for all three.
//
// Every handshake is a full one: no TLS session is ever resumed, no QUIC 0-RTT or token is used.
// A Link is used by one thread. Times are now_ns() nanoseconds (CLOCK_MONOTONIC).

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "net.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace mquictt::quic {
class TlsClientContext;
}

namespace mquictt::loadgen {

class Link {
 public:
  enum class Status : uint8_t { kPending, kUp, kFailed };
  struct Step {
    Status status = Status::kPending;
    uint32_t events = 0;  // kPending: the epoll events to wait for
  };

  virtual ~Link() = default;
  virtual int fd() const = 0;
  // Moves the handshake on after `events` (0 = a timer fired). kUp once bytes can flow.
  virtual Step advance(uint32_t events, std::string& error) = 0;
  // Like send(2) and recv(2): bytes moved (> 0), 0 = would block, -1 = the link failed or, for
  // recv, the peer closed it.
  virtual long send(std::span<const uint8_t> bytes) = 0;
  virtual long recv(std::span<uint8_t> buf) = 0;
  // No more bytes from us (TCP SHUT_WR, TLS close_notify, QUIC stream FIN).
  virtual void shutdown_write() = 0;
  // Whether unsent bytes wait for EPOLLOUT (TCP, TLS). A QUIC link sends as the peer's ACKs
  // arrive, which are EPOLLIN, so it never asks for EPOLLOUT.
  virtual bool waits_for_epollout() const { return true; }
  // Earliest protocol timer (QUIC loss detection, delayed ACK, idle), INT64_MAX if none.
  virtual int64_t next_timer_ns() const { return INT64_MAX; }
  virtual void on_timer() {}
};

enum class Transport : uint8_t { kTcp, kTls, kQuic };
const char* transport_name(Transport t);

struct LinkOptions {
  Transport transport = Transport::kTcp;
  std::string ca_file;                    // tls/quic: PEM CA to verify the broker's certificate
  bool insecure = false;                  // tls/quic: do not verify the certificate
  std::string server_name = "localhost";  // SNI and the name the certificate must carry
};

// Opens links of one kind. Shared by all worker threads (OpenSSL's SSL_CTX is thread-safe for
// creating sessions).
class LinkFactory {
 public:
  // Throws std::runtime_error on a bad CA file or option combination.
  LinkFactory(const LinkOptions& options, const Endpoint& ep);
  ~LinkFactory();
  LinkFactory(const LinkFactory&) = delete;
  LinkFactory& operator=(const LinkFactory&) = delete;

  // Starts connecting; nullptr with `error` set if that failed at once.
  std::unique_ptr<Link> open(std::string& error) const;
  Transport transport() const { return options_.transport; }

 private:
  LinkOptions options_;
  Endpoint ep_;
  SSL_CTX* ssl_ctx_ = nullptr;                              // tls: shared by every link
  std::shared_ptr<const quic::TlsClientContext> quic_tls_;  // quic: shared by every link
};

// Per-transport constructors (link_tcp.cc, link_tls.cc, link_quic.cc).
std::unique_ptr<Link> open_tcp_link(const Endpoint& ep, std::string& error);
std::unique_ptr<Link> open_tls_link(SSL_CTX* ctx, const Endpoint& ep,
                                    const std::string& server_name, std::string& error);
SSL_CTX* make_tls_client_ctx(const LinkOptions& options);  // throws
void free_tls_client_ctx(SSL_CTX* ctx);
std::shared_ptr<const quic::TlsClientContext> make_quic_tls_ctx(const LinkOptions& options);
std::unique_ptr<Link> open_quic_link(const std::shared_ptr<const quic::TlsClientContext>& tls,
                                     const Endpoint& ep, std::string& error);

}  // namespace mquictt::loadgen
