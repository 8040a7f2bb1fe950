#include "link.h"

#include <stdexcept>

namespace mquictt::loadgen {

const char* transport_name(Transport t) {
  switch (t) {
    case Transport::kTcp:
      return "tcp";
    case Transport::kTls:
      return "tls";
    case Transport::kQuic:
      return "quic";
  }
  return "?";
}

LinkFactory::LinkFactory(const LinkOptions& options, const Endpoint& ep)
    : options_(options), ep_(ep) {
  if (options_.transport == Transport::kTcp) return;
  if (options_.ca_file.empty() && !options_.insecure) {
    throw std::runtime_error(std::string(transport_name(options_.transport)) +
                             " needs --cafile FILE or --insecure");
  }
  if (options_.transport == Transport::kTls) ssl_ctx_ = make_tls_client_ctx(options_);
  if (options_.transport == Transport::kQuic) quic_tls_ = make_quic_tls_ctx(options_);
}

LinkFactory::~LinkFactory() {
  if (ssl_ctx_) free_tls_client_ctx(ssl_ctx_);
}

std::unique_ptr<Link> LinkFactory::open(std::string& error) const {
  switch (options_.transport) {
    case Transport::kTcp:
      return open_tcp_link(ep_, error);
    case Transport::kTls:
      return open_tls_link(ssl_ctx_, ep_, options_.server_name, error);
    case Transport::kQuic:
      return open_quic_link(quic_tls_, ep_, error);
  }
  return nullptr;
}

}  // namespace mquictt::loadgen
