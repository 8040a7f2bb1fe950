#pragma once
// TLS 1.3 for QUIC through GnuTLS and ngtcp2_crypto_gnutls (Debian's ngtcp2 0.12 has no OpenSSL
// backend; see docs/quic.md). One TlsServerContext per QUIC listener holds the certificate, key,
// trust store and priority cache; every connection gets its own gnutls_session_t from it.
//
// Policy:
//  - TLS 1.3 only, and only the cipher suites QUIC allows (RFC 9001 5.3: no CCM_8), preferring
//    AES-128-GCM; ECDHE groups X25519 and the NIST curves.
//  - ALPN must be exactly "mqtt" (the EMQX/NanoMQ convention). A client that offers something else,
//    or no ALPN at all, is refused with the no_application_protocol alert (QUIC CRYPTO_ERROR
//    0x178).
//  - With a CA file, client certificates are requested and must verify if sent;
//    require_certificate makes them mandatory.

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <string>
#include <string_view>
#include <vector>

namespace mquictt::quic {

class SessionTickets;

inline constexpr std::string_view kMqttAlpn = "mqtt";

// GnuTLS priority string: TLS 1.3 only, QUIC-legal AEADs, AES-128-GCM first.
inline constexpr const char* kTlsPriority =
    "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:"
    "+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
    "+GROUP-SECP384R1:+GROUP-SECP521R1";

struct TlsServerFiles {
  std::string cert_file;  // PEM chain
  std::string key_file;   // PEM private key
  std::string ca_file;    // PEM CA bundle for client certificates; empty = none requested
  bool require_certificate = false;
};

class TlsServerContext {
 public:
  // Loads the files. Throws std::runtime_error naming the file and GnuTLS's reason.
  explicit TlsServerContext(const TlsServerFiles& files);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  // A server session for one QUIC connection, wired to ngtcp2 through `conn_ref` (which must
  // outlive the session). With `tickets` (the listener's, which must outlive the session) it
  // issues session tickets and accepts resumption and, if enabled there, 0-RTT; not when client
  // certificates are requested (a resumed session carries no certificate to check).
  // Returns nullptr on failure. The caller owns it (gnutls_deinit).
  gnutls_session_t new_session(ngtcp2_crypto_conn_ref* conn_ref,
                               const SessionTickets* tickets = nullptr) const;
  // Whether sessions from new_session(conn_ref, tickets) issue and accept tickets: the one rule
  // (tickets configured, and no client certificates requested).
  bool issues_tickets(const SessionTickets* tickets) const {
    return tickets != nullptr && !verify_clients_;
  }

 private:
  gnutls_certificate_credentials_t creds_ = nullptr;
  gnutls_priority_t priority_ = nullptr;
  bool verify_clients_ = false;
  bool require_certificate_ = false;
};

struct TlsClientOptions {
  std::string ca_file;    // PEM CA bundle to verify the server; ignored when insecure
  bool insecure = false;  // skip server certificate verification (tests, debugging)
  std::string server_name = "localhost";  // SNI and the name the certificate must match
  std::string cert_file;                  // optional client certificate (mutual TLS)
  std::string key_file;
  std::string alpn = std::string(kMqttAlpn);
};

class TlsClientContext {
 public:
  // Throws std::runtime_error naming the file on failure.
  explicit TlsClientContext(const TlsClientOptions& options);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  // nullptr on failure; the caller owns it. With `session_data`, the session tries to resume it
  // (a stale or foreign ticket just means a full handshake).
  gnutls_session_t new_session(ngtcp2_crypto_conn_ref* conn_ref,
                               const std::vector<uint8_t>& session_data = {}) const;

 private:
  TlsClientOptions options_;
  gnutls_certificate_credentials_t creds_ = nullptr;
  gnutls_priority_t priority_ = nullptr;
};

// CN of the verified peer certificate, or "" (no certificate, or not verified).
std::string peer_common_name(gnutls_session_t session);
// The ALPN the handshake selected, or "".
std::string selected_alpn(gnutls_session_t session);

}  // namespace mquictt::quic
