#include "transport/quic/quic_listener.h"

#include <ngtcp2/ngtcp2_crypto.h>

#include <exception>
#include <stdexcept>

#include "log/log.h"

namespace mquictt::quic {

namespace {

void readcb(struct ev_loop*, ev_io* w, int) noexcept {
  static_cast<QuicListener*>(w->data)->on_readable();
}

std::shared_ptr<spdlog::logger> qlog() {
  return log::get("quic");
}

// RFC 9000 14.1: a client's first datagram is at least 1200 bytes; answering smaller ones with
// anything but silence would make us an amplifier.
constexpr size_t kMinInitialDatagram = 1200;
// RFC 9000 10.3: a Stateless Reset is at least 21 bytes and must be smaller than its trigger.
constexpr size_t kMinStatelessReset =
    NGTCP2_MIN_STATELESS_RESET_RANDLEN + NGTCP2_STATELESS_RESET_TOKENLEN + 1;
constexpr size_t kMaxStatelessReset = 43;

}  // namespace

EarlyDataLimits early_data_limits(const QuicTransportOptions& options) {
  EarlyDataLimits l;
  l.max_data = options.connection_window_bytes;
  l.max_stream_data = options.stream_window_bytes;
  l.max_streams_bidi = options.max_streams_bidi;
  return l;
}

QuicListener::QuicListener(transport::EvLoop& loop, QuicListenerOptions options, AcceptFn accept,
                           QuicClock& clock)
    : loop_(loop),
      options_(std::move(options)),
      accept_(std::move(accept)),
      clock_(clock),
      tls_(std::make_shared<const TlsServerContext>(options_.tls)),
      socket_(options_.host, options_.port, options_.ipv6),
      cids_(options_.node_id),
      connections_(loop),
      read_io_(loop, readcb, this) {
  if (!options_.static_secret.empty()) {
    secret_ = options_.static_secret;
  } else {
    secret_.resize(32);
    secure_random(secret_);
  }
  socket_.set_gso(options_.gso);
  if (options_.session_tickets) {
    tickets_ = std::make_unique<SessionTickets>(*options_.session_tickets, options_.static_secret,
                                                early_data_limits(options_.transport));
  }
  read_io_.set(socket_.fd(), EV_READ);
}

QuicListener::~QuicListener() {
  read_io_.stop();
  accepting_ = false;
  // Connections first: they send their CONNECTION_CLOSE through socket_ and unregister their CIDs.
  connections_.terminate_all();
}

void QuicListener::set_transport_options(const QuicTransportOptions& options) {
  options_.transport = options;
  if (tickets_) tickets_->set_limits(early_data_limits(options));
}

bool QuicListener::reload_tls(const TlsServerFiles& files, std::string* error) {
  try {
    tls_ = std::make_shared<const TlsServerContext>(files);
  } catch (const std::runtime_error& e) {
    *error = e.what();
    return false;
  }
  options_.tls = files;
  return true;
}

void QuicListener::start() {
  read_io_.start();
}

void QuicListener::stop_accepting() {
  accepting_ = false;
}

void QuicListener::on_readable() noexcept {
  std::span<uint8_t> buf = connections_.read_buffer();
  for (int i = 0; i < kMaxDatagramsPerEvent; ++i) {
    std::optional<Datagram> d;
    try {
      d = socket_.receive(buf);
      if (!d) return;
      handle_datagram(*d);
    } catch (const std::exception& e) {
      qlog()->error("listener {}: datagram from {}: {}", name(), d ? d->remote.to_string() : "?",
                    e.what());
    }
  }
}

void QuicListener::handle_datagram(const Datagram& d) {
  ngtcp2_version_cid vc;
  int rv = ngtcp2_pkt_decode_version_cid(&vc, d.data.data(), d.data.size(), kServerCidLength);
  if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) return send_version_negotiation(vc, d);
  if (rv != 0) return;  // not QUIC, or truncated: drop silently
  if (QuicConnection* c = cid_map_.find(std::span<const uint8_t>(vc.dcid, vc.dcidlen))) {
    // The connection reports its own death to the set; nothing to do with the result here.
    (void)c->on_datagram(d);
    return;
  }
  const bool long_header = d.data[0] & 0x80;
  if (long_header) return accept_new(d);
  send_stateless_reset({vc.dcid, vc.dcidlen}, d);
}

bool QuicListener::retry_wanted() const {
  switch (options_.retry) {
    case RetryMode::kNever:
      return false;
    case RetryMode::kAlways:
      return true;
    case RetryMode::kAboveHandshakes:
      return handshakes_ > options_.retry_handshakes_above;
  }
  return false;
}

void QuicListener::accept_new(const Datagram& d) {
  IncomingConnection in;
  if (ngtcp2_accept(&in.hd, d.data.data(), d.data.size()) != 0) return;  // not a valid Initial
  if (!accepting_) return;
  if (options_.max_connections != 0 && connections_.size() >= options_.max_connections) {
    // Log the first refusal and then every 1000th, so a flood cannot flood the log too.
    if (refused_++ % 1000 == 0) {
      qlog()->warn("listener {}: max_connections ({}) reached; refusing connections", name(),
                   options_.max_connections);
    }
    return send_stateless_close(in.hd, d, NGTCP2_CONNECTION_REFUSED);
  }
  const ngtcp2_vec& token = in.hd.token;
  const bool want_retry = retry_wanted();
  if (token.len != 0) {
    const Timestamp now = clock_.now();
    if (token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
      ngtcp2_cid odcid;
      if (ngtcp2_crypto_verify_retry_token(
              &odcid, token.base, token.len, secret_.data(), secret_.size(), in.hd.version,
              d.remote.sa(), d.remote.len, &in.hd.dcid, kRetryTokenLifetime, now) != 0) {
        return send_stateless_close(in.hd, d, NGTCP2_INVALID_TOKEN);
      }
      in.original_dcid = odcid;
      in.address_validated = true;
    } else if (token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_REGULAR &&
               ngtcp2_crypto_verify_regular_token(token.base, token.len, secret_.data(),
                                                  secret_.size(), d.remote.sa(), d.remote.len,
                                                  kNewTokenLifetime, now) == 0) {
      in.address_validated = true;  // a returning client: no Retry needed
    } else if (want_retry) {
      return send_retry(in.hd, d);  // stale or foreign token
    } else {
      in.hd.token = ngtcp2_vec{nullptr, 0};
    }
  } else if (want_retry) {
    return send_retry(in.hd, d);
  }

  in.local = d.local;
  in.remote = d.remote;
  std::string error;
  ++handshakes_;  // the connection's destructor reports it gone, even if creation fails
  auto conn =
      QuicConnection::create(loop_, connections_, *this, tls_, options_.transport, in, &error);
  if (!conn) {
    qlog()->warn("listener {}: cannot set up a connection from {}: {}", name(),
                 d.remote.to_string(), error);
    return;
  }
  QuicConnection& c = connections_.add(std::move(conn));
  if (qlog()->should_log(spdlog::level::debug)) {
    qlog()->debug("listener {}: new connection {}", name(), c.log_id());
  }
  const auto result = c.on_datagram(d);
  if (result == QuicConnection::ReadResult::kRetry) return send_retry(in.hd, d);
  // The first datagram carries the ClientHello: TLS decided on early data already.
  if (result == QuicConnection::ReadResult::kOk && c.early_data_accepted()) ++early_accepted_;
}

void QuicListener::send_version_negotiation(const ngtcp2_version_cid& vc, const Datagram& d) {
  if (d.data.size() < kMinInitialDatagram) return;
  uint8_t unused = 0;
  secure_random({&unused, 1});
  // Also a reserved version (RFC 9000 15), so clients' version negotiation logic gets exercised.
  const uint32_t versions[] = {NGTCP2_PROTO_VER_V1, 0x1a2a3a4au};
  std::array<uint8_t, 1500> buf;
  ngtcp2_ssize n =
      ngtcp2_pkt_write_version_negotiation(buf.data(), buf.size(), unused, vc.scid, vc.scidlen,
                                           vc.dcid, vc.dcidlen, versions, std::size(versions));
  if (n > 0) send_raw(d, {buf.data(), static_cast<size_t>(n)});
}

void QuicListener::send_retry(const ngtcp2_pkt_hd& hd, const Datagram& d) {
  if (d.data.size() < kMinInitialDatagram) return;
  const ngtcp2_cid scid = cids_.generate(kServerCidLength);
  std::array<uint8_t, NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN> token;
  ngtcp2_ssize tokenlen = ngtcp2_crypto_generate_retry_token(
      token.data(), secret_.data(), secret_.size(), hd.version, d.remote.sa(), d.remote.len, &scid,
      &hd.dcid, clock_.now());
  if (tokenlen < 0) return;
  std::array<uint8_t, 256> buf;
  ngtcp2_ssize n = ngtcp2_crypto_write_retry(buf.data(), buf.size(), hd.version, &hd.scid, &scid,
                                             &hd.dcid, token.data(), static_cast<size_t>(tokenlen));
  if (n > 0) send_raw(d, {buf.data(), static_cast<size_t>(n)});
}

void QuicListener::send_stateless_close(const ngtcp2_pkt_hd& hd, const Datagram& d,
                                        uint64_t error_code) {
  std::array<uint8_t, NGTCP2_MAX_UDP_PAYLOAD_SIZE> buf;
  ngtcp2_ssize n = ngtcp2_crypto_write_connection_close(buf.data(), buf.size(), hd.version,
                                                        &hd.scid, &hd.dcid, error_code, nullptr, 0);
  if (n > 0) send_raw(d, {buf.data(), static_cast<size_t>(n)});
}

void QuicListener::send_stateless_reset(std::span<const uint8_t> dcid, const Datagram& d) {
  if (d.data.size() <= kMinStatelessReset) return;
  const size_t len = std::min(d.data.size() - 1, kMaxStatelessReset);
  ngtcp2_cid cid;
  ngtcp2_cid_init(&cid, dcid.data(), dcid.size());
  std::array<uint8_t, NGTCP2_STATELESS_RESET_TOKENLEN> token;
  if (!stateless_reset_token(cid, token.data())) return;
  std::array<uint8_t, kMaxStatelessReset> rand;
  secure_random(rand);
  std::array<uint8_t, kMaxStatelessReset> buf;
  ngtcp2_ssize n = ngtcp2_pkt_write_stateless_reset(buf.data(), len, token.data(), rand.data(),
                                                    len - NGTCP2_STATELESS_RESET_TOKENLEN);
  if (n > 0) send_raw(d, {buf.data(), static_cast<size_t>(n)});
}

void QuicListener::send_raw(const Datagram& d, std::span<const uint8_t> bytes) {
  // Best effort: a lost stateless reply is re-triggered by the peer's next packet.
  (void)socket_.send(d.remote.sa(), d.remote.len, d.local.sa(), 0, bytes);
}

bool QuicListener::associate_cid(const ngtcp2_cid& cid, QuicConnection& conn) {
  return cid_map_.add(CidKey(cid), conn);
}

void QuicListener::dissociate_cid(const ngtcp2_cid& cid, QuicConnection& conn) {
  cid_map_.remove(CidKey(cid), conn);
}

bool QuicListener::stateless_reset_token(const ngtcp2_cid& cid, uint8_t* token) {
  return ngtcp2_crypto_generate_stateless_reset_token(token, secret_.data(), secret_.size(),
                                                      &cid) == 0;
}

std::vector<uint8_t> QuicListener::new_token(const sockaddr* remote, socklen_t remote_len) {
  std::vector<uint8_t> token(NGTCP2_CRYPTO_MAX_REGULAR_TOKENLEN);
  ngtcp2_ssize n = ngtcp2_crypto_generate_regular_token(
      token.data(), secret_.data(), secret_.size(), remote, remote_len, clock_.now());
  if (n < 0) return {};
  token.resize(static_cast<size_t>(n));
  return token;
}

std::unique_ptr<broker::ByteStreamHandler> QuicListener::accept_stream(broker::ByteStream& s) {
  return accept_ ? accept_(s) : nullptr;
}

void QuicListener::handshake_completed(QuicConnection& conn) {
  if (conn.resumed()) ++resumed_;
  if (conn.early_data_accepted()) ++early_data_;
  if (handshakes_ > 0) --handshakes_;
}

void QuicListener::connection_gone(QuicConnection& conn) {
  if (!conn.handshake_done() && handshakes_ > 0) --handshakes_;
}

}  // namespace mquictt::quic
