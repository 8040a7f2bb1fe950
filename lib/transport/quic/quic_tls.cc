#include "transport/quic/quic_tls.h"

#include "transport/quic/session_tickets.h"

#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <stdexcept>
#include <vector>

namespace mquictt::quic {

namespace {

// A ClientHello without our ALPN must fail the handshake: GNUTLS_ALPN_MANDATORY alone lets a
// ClientHello without any ALPN extension through. Runs after GnuTLS processed the ClientHello.
int check_alpn(gnutls_session_t session) {
  gnutls_datum_t alpn;
  if (gnutls_alpn_get_selected_protocol(session, &alpn) != 0 ||
      std::string_view(reinterpret_cast<const char*>(alpn.data), alpn.size) != kMqttAlpn) {
    return GNUTLS_E_NO_APPLICATION_PROTOCOL;
  }
  return 0;
}

int client_hello_hook(gnutls_session_t session, unsigned int, unsigned, unsigned int,
                      const gnutls_datum_t*) noexcept {
  return check_alpn(session);
}

// Client certificates (server with a CA file): one that is sent must verify against the CA;
// none at all is left to GNUTLS_CERT_REQUIRE (require_certificate) -- with GNUTLS_CERT_REQUEST
// such a client is let in, and the MQTT layer sees an empty tls_identity().
// (gnutls_session_set_verify_cert would also refuse a client that sends no certificate.)
int verify_client_certificate(gnutls_session_t session) noexcept {
  unsigned int n = 0;
  if (!gnutls_certificate_get_peers(session, &n) || n == 0) return 0;
  unsigned int status = 0;
  if (gnutls_certificate_verify_peers3(session, nullptr, &status) != 0 || status != 0) {
    return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
  }
  return 0;
}

std::runtime_error tls_error(const std::string& what, int rv) {
  return std::runtime_error(what + ": " + gnutls_strerror(rv));
}

}  // namespace

TlsServerContext::TlsServerContext(const TlsServerFiles& files)
    : verify_clients_(!files.ca_file.empty()), require_certificate_(files.require_certificate) {
  int rv = gnutls_certificate_allocate_credentials(&creds_);
  if (rv != 0) throw tls_error("gnutls_certificate_allocate_credentials", rv);
  try {
    // Certificate first, then key (GnuTLS's order).
    rv = gnutls_certificate_set_x509_key_file(creds_, files.cert_file.c_str(),
                                              files.key_file.c_str(), GNUTLS_X509_FMT_PEM);
    if (rv != 0) {
      throw tls_error("cannot load certificate " + files.cert_file + " / key " + files.key_file,
                      rv);
    }
    if (verify_clients_) {
      rv = gnutls_certificate_set_x509_trust_file(creds_, files.ca_file.c_str(),
                                                  GNUTLS_X509_FMT_PEM);
      if (rv < 0) throw tls_error("cannot load CA file " + files.ca_file, rv);
      if (rv == 0) throw std::runtime_error("CA file " + files.ca_file + " has no certificate");
    }
    rv = gnutls_priority_init(&priority_, kTlsPriority, nullptr);
    if (rv != 0) throw tls_error("gnutls_priority_init", rv);
  } catch (...) {
    gnutls_certificate_free_credentials(creds_);
    throw;
  }
}

TlsServerContext::~TlsServerContext() {
  if (priority_) gnutls_priority_deinit(priority_);
  gnutls_certificate_free_credentials(creds_);
}

gnutls_session_t TlsServerContext::new_session(ngtcp2_crypto_conn_ref* conn_ref,
                                               const SessionTickets* tickets) const {
  if (!issues_tickets(tickets)) tickets = nullptr;
  gnutls_session_t s = nullptr;
  if (gnutls_init(&s, GNUTLS_SERVER | (tickets ? tickets->session_flags() : 0u)) != 0) {
    return nullptr;
  }
  gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(const_cast<char*>(kMqttAlpn.data())),
                      static_cast<unsigned int>(kMqttAlpn.size())};
  bool ok = gnutls_priority_set(s, priority_) == 0 &&
            gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds_) == 0 &&
            gnutls_alpn_set_protocols(s, &alpn, 1,
                                      GNUTLS_ALPN_MANDATORY | GNUTLS_ALPN_SERVER_PRECEDENCE) == 0 &&
            ngtcp2_crypto_gnutls_configure_server_session(s) == 0 &&
            (!tickets || tickets->configure(s));
  if (!ok) {
    gnutls_deinit(s);
    return nullptr;
  }
  gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_CLIENT_HELLO, GNUTLS_HOOK_POST,
                                     client_hello_hook);
  if (verify_clients_) {
    gnutls_certificate_server_set_request(
        s, require_certificate_ ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_REQUEST);
    // Verify a certificate the client sends during the handshake (no host name for clients).
    gnutls_session_set_verify_function(s, verify_client_certificate);
  }
  gnutls_session_set_ptr(s, conn_ref);
  return s;
}

TlsClientContext::TlsClientContext(const TlsClientOptions& options) : options_(options) {
  int rv = gnutls_certificate_allocate_credentials(&creds_);
  if (rv != 0) throw tls_error("gnutls_certificate_allocate_credentials", rv);
  try {
    if (!options_.insecure && !options_.ca_file.empty()) {
      rv = gnutls_certificate_set_x509_trust_file(creds_, options_.ca_file.c_str(),
                                                  GNUTLS_X509_FMT_PEM);
      if (rv < 0) throw tls_error("cannot load CA file " + options_.ca_file, rv);
    } else if (!options_.insecure) {
      rv = gnutls_certificate_set_x509_system_trust(creds_);
      if (rv < 0) throw tls_error("cannot load the system trust store", rv);
    }
    if (!options_.cert_file.empty()) {
      rv = gnutls_certificate_set_x509_key_file(creds_, options_.cert_file.c_str(),
                                                options_.key_file.c_str(), GNUTLS_X509_FMT_PEM);
      if (rv != 0) throw tls_error("cannot load client certificate " + options_.cert_file, rv);
    }
    rv = gnutls_priority_init(&priority_, kTlsPriority, nullptr);
    if (rv != 0) throw tls_error("gnutls_priority_init", rv);
  } catch (...) {
    gnutls_certificate_free_credentials(creds_);
    throw;
  }
}

TlsClientContext::~TlsClientContext() {
  if (priority_) gnutls_priority_deinit(priority_);
  gnutls_certificate_free_credentials(creds_);
}

gnutls_session_t TlsClientContext::new_session(ngtcp2_crypto_conn_ref* conn_ref,
                                               const std::vector<uint8_t>& session_data) const {
  gnutls_session_t s = nullptr;
  // Early data is sent only when a resumed session allows it (ngtcp2_crypto installs the 0-RTT
  // key then); QUIC has no EndOfEarlyData message.
  if (gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA) !=
      0) {
    return nullptr;
  }
  gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(const_cast<char*>(options_.alpn.data())),
                      static_cast<unsigned int>(options_.alpn.size())};
  bool ok = gnutls_priority_set(s, priority_) == 0 &&
            gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds_) == 0 &&
            (options_.alpn.empty() ||
             gnutls_alpn_set_protocols(s, &alpn, 1, GNUTLS_ALPN_MANDATORY) == 0) &&
            ngtcp2_crypto_gnutls_configure_client_session(s) == 0 &&
            gnutls_server_name_set(s, GNUTLS_NAME_DNS, options_.server_name.data(),
                                   options_.server_name.size()) == 0 &&
            (session_data.empty() ||
             gnutls_session_set_data(s, session_data.data(), session_data.size()) == 0);
  if (!ok) {
    gnutls_deinit(s);
    return nullptr;
  }
  if (!options_.insecure) gnutls_session_set_verify_cert(s, options_.server_name.c_str(), 0);
  gnutls_session_set_ptr(s, conn_ref);
  return s;
}

std::string peer_common_name(gnutls_session_t session) {
  unsigned int n = 0;
  const gnutls_datum_t* certs = gnutls_certificate_get_peers(session, &n);
  if (!certs || n == 0) return {};
  // The handshake verified the chain (gnutls_session_set_verify_cert), or failed.
  unsigned int status = 0;
  if (gnutls_certificate_verify_peers2(session, &status) != 0 || status != 0) return {};
  gnutls_x509_crt_t crt;
  if (gnutls_x509_crt_init(&crt) != 0) return {};
  std::string cn;
  if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0) {
    std::vector<char> buf(256);
    size_t len = buf.size();
    if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf.data(), &len) ==
        0) {
      cn.assign(buf.data(), len);
    }
  }
  gnutls_x509_crt_deinit(crt);
  return cn;
}

std::string selected_alpn(gnutls_session_t session) {
  gnutls_datum_t alpn;
  if (gnutls_alpn_get_selected_protocol(session, &alpn) != 0) return {};
  return std::string(reinterpret_cast<const char*>(alpn.data), alpn.size);
}

}  // namespace mquictt::quic
