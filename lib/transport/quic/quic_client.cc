#include "transport/quic/quic_client.h"

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "transport/quic/cid.h"
#include "transport/quic/ngtcp2_callbacks.h"
#include "transport/quic/pacing.h"

namespace mquictt::quic {

namespace {

QuicClient* self(void* user_data) {
  return static_cast<QuicClient*>(user_data);
}

int stream_close(ngtcp2_conn*, uint32_t, int64_t stream_id, uint64_t, void* ud, void*) noexcept {
  return self(ud)->cb_stream_close(stream_id);
}

int recv_retry(ngtcp2_conn* conn, const ngtcp2_pkt_hd* hd, void* ud) noexcept {
  // Count it, then let ngtcp2_crypto install the new Initial keys.
  if (self(ud)->cb_recv_retry() != 0) return NGTCP2_ERR_CALLBACK_FAILURE;
  return ngtcp2_crypto_recv_retry_cb(conn, hd, ud);
}

int recv_version_negotiation(ngtcp2_conn*, const ngtcp2_pkt_hd*, const uint32_t*, size_t,
                             void* ud) noexcept {
  return self(ud)->cb_recv_version_negotiation();
}

int recv_new_token(ngtcp2_conn*, const ngtcp2_vec* token, void* ud) noexcept {
  return self(ud)->cb_recv_new_token({token->base, token->len});
}

int recv_stateless_reset(ngtcp2_conn*, const ngtcp2_pkt_stateless_reset*, void* ud) noexcept {
  return self(ud)->cb_recv_stateless_reset();
}

// GnuTLS hook: the server sent a NewSessionTicket (gnutls_session_get_ptr is our conn_ref).
int ticket_hook(gnutls_session_t session, unsigned int, unsigned, unsigned int,
                const gnutls_datum_t*) noexcept {
  auto* ref = static_cast<ngtcp2_crypto_conn_ref*>(gnutls_session_get_ptr(session));
  return self(ref->user_data)->cb_new_session_ticket();
}

ngtcp2_callbacks client_callbacks() {
  ngtcp2_callbacks cb = callbacks::common<QuicClient>();
  cb.client_initial = ngtcp2_crypto_client_initial_cb;
  cb.recv_version_negotiation = recv_version_negotiation;
  cb.stream_close = stream_close;
  cb.recv_retry = recv_retry;
  cb.recv_new_token = recv_new_token;
  cb.recv_stateless_reset = recv_stateless_reset;
  return cb;
}

// Length of the first QUIC packet of a datagram (RFC 9000 17.2: long headers carry their length,
// a short header packet runs to the end of the datagram); 0 if malformed.
size_t first_packet_length(std::span<const uint8_t> d) {
  if (d.empty() || !(d[0] & 0x80)) return d.size();
  size_t pos = 5;  // first byte, version
  auto varint = [&](uint64_t& v) {
    if (pos >= d.size()) return false;
    const size_t n = size_t{1} << (d[pos] >> 6);
    if (pos + n > d.size()) return false;
    v = d[pos] & 0x3f;
    for (size_t i = 1; i < n; ++i)
      v = (v << 8) | d[pos + i];
    pos += n;
    return true;
  };
  for (int cid = 0; cid < 2; ++cid) {
    if (pos >= d.size()) return 0;
    pos += 1 + d[pos];
  }
  const uint8_t type = (d[0] >> 4) & 0x03;  // QUIC v1: 0 Initial, 2 Handshake
  uint64_t v = 0;
  if (type == 0) {
    if (!varint(v)) return 0;
    pos += v;  // token
  }
  if (type == 3) return d.size();  // Retry
  if (!varint(v) || pos + v > d.size()) return 0;
  return pos + v;
}

bool is_handshake_packet(std::span<const uint8_t> p) {
  return !p.empty() && (p[0] & 0x80) && ((p[0] >> 4) & 0x03) == 2;
}

std::string error_name(uint64_t code, bool application) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s error 0x%llx", application ? "application" : "transport",
                static_cast<unsigned long long>(code));
  return buf;
}

// The loopback address of the server's family when the server is on loopback (the tests), else
// the wildcard address.
std::string local_host_for(const std::string& server, bool ipv6) {
  if (ipv6) return server == "::1" ? "::1" : "::";
  return server.rfind("127.", 0) == 0 ? "127.0.0.1" : "0.0.0.0";
}

}  // namespace

QuicClient::QuicClient(QuicClientOptions options, QuicClock& clock)
    : options_(std::move(options)), clock_(clock), rx_(64 * 1024), tx_(1500) {
  tls_ctx_ = options_.tls_context ? options_.tls_context
                                  : std::make_shared<const TlsClientContext>(options_.tls);
  auto remote = SockAddr::from(options_.host, options_.port, options_.ipv6);
  if (!remote) throw std::runtime_error("not a numeric address: " + options_.host);
  remote_ = *remote;
  const std::string local_host = options_.local_host.empty()
                                     ? local_host_for(options_.host, options_.ipv6)
                                     : options_.local_host;
  socket_ = std::make_unique<UdpSocket>(local_host, options_.local_port, options_.ipv6);
  conn_ref_.get_conn = callbacks::get_conn<QuicClient>;
  conn_ref_.user_data = this;
}

QuicClient::~QuicClient() {
  if (conn_) ngtcp2_conn_del(conn_);
  if (tls_) gnutls_deinit(tls_);
}

bool QuicClient::start() {
  ngtcp2_cid scid{};
  ngtcp2_cid dcid{};
  scid.datalen = 17;
  dcid.datalen = 18;
  secure_random({scid.data, scid.datalen});
  secure_random({dcid.data, dcid.datalen});

  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = now();
  settings.handshake_timeout = options_.handshake_timeout;
  settings.initial_rtt = options_.initial_rtt;
  if (!options_.token.empty()) {
    settings.token = ngtcp2_vec{options_.token.data(), options_.token.size()};
  }
  if (!options_.qlog_path.empty()) {
    std::string why;  // a test that asks for a qlog finds the file missing
    qlog_ = QlogWriter::open(options_.qlog_path, settings.initial_ts, &why);
    if (qlog_) settings.qlog.write = callbacks::qlog_write<QuicClient>;
  }
  // Allow compatible version negotiation to v1 when a test starts with another version.
  static uint32_t kV1 = NGTCP2_PROTO_VER_V1;
  if (options_.version != NGTCP2_PROTO_VER_V1) {
    settings.preferred_versions = &kV1;
    settings.preferred_versionslen = 1;
  }

  ngtcp2_transport_params params;
  ngtcp2_transport_params_default(&params);
  params.initial_max_stream_data_bidi_local = options_.stream_window_bytes;
  params.initial_max_stream_data_bidi_remote = options_.stream_window_bytes;
  params.initial_max_stream_data_uni = options_.stream_window_bytes;
  params.initial_max_data = options_.connection_window_bytes;
  params.initial_max_streams_bidi = 0;  // servers never open streams in MQTT over QUIC
  params.initial_max_streams_uni = 0;
  params.max_idle_timeout = options_.idle_timeout;

  const SockAddr& local = socket_->local_address();
  ngtcp2_path path{
      {const_cast<sockaddr*>(local.sa()), local.len}, {remote_.sa(), remote_.len}, nullptr};
  const ngtcp2_callbacks cbs = client_callbacks();
  int rv = ngtcp2_conn_client_new(&conn_, &dcid, &scid, &path, options_.version, &cbs, &settings,
                                  &params, nullptr, this);
  if (rv != 0) {
    conn_ = nullptr;
    error_ = std::string("ngtcp2_conn_client_new: ") + ngtcp2_strerror(rv);
    return false;
  }
  const std::vector<uint8_t> no_session;
  tls_ = tls_ctx_->new_session(&conn_ref_,
                               options_.resumption ? options_.resumption->ticket : no_session);
  if (!tls_) {
    error_ = "cannot create a TLS session";
    return false;
  }
  gnutls_handshake_set_hook_function(tls_, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET, GNUTLS_HOOK_POST,
                                     ticket_hook);
  ngtcp2_conn_set_tls_native_handle(conn_, tls_);
  if (options_.resumption && !options_.resumption->transport_params.empty()) {
    // 0-RTT within the limits the server gave last time; it rejects the early data if they
    // shrank since (SessionTickets).
    ngtcp2_transport_params remembered;
    const auto& tp = options_.resumption->transport_params;
    if (ngtcp2_decode_transport_params(&remembered,
                                       NGTCP2_TRANSPORT_PARAMS_TYPE_ENCRYPTED_EXTENSIONS, tp.data(),
                                       tp.size()) == 0) {
      ngtcp2_conn_set_early_remote_transport_params(conn_, &remembered);
      early_data_attempted_ = true;
    }
  }
  return true;
}

std::optional<ResumptionState> QuicClient::resumption_state() const {
  if (ticket_.empty() || server_params_.empty()) return std::nullopt;
  return ResumptionState{ticket_, server_params_};
}

bool QuicClient::resumed() const {
  return tls_ && handshake_done_ && gnutls_session_is_resumed(tls_) != 0;
}

uint64_t QuicClient::early_bytes_sent(int64_t stream_id) const {
  const Stream* s = find(stream_id);
  return s ? s->early_bytes : 0;
}

int QuicClient::cb_new_session_ticket() {
  gnutls_datum_t data{nullptr, 0};
  if (gnutls_session_get_data2(tls_, &data) != 0) return 0;  // no ticket: no resumption
  ticket_.assign(data.data, data.data + data.size);
  gnutls_free(data.data);
  return 0;
}

bool QuicClient::resend_rejected_early_data() {
  // ngtcp2 forgot the streams and their ids; open them again in the same order, so they get the
  // same ids, and send their bytes from the start.
  for (auto& [id, s] : streams_) {
    int64_t again = -1;
    if (ngtcp2_conn_open_bidi_stream(conn_, &again, nullptr) != 0 || again != id ||
        !s.send.rewind()) {
      return false;
    }
    s.fin_sent = false;
  }
  return true;
}

bool QuicClient::begin_connect() {
  if (conn_) return !closed_;
  if (!start()) {
    closed_ = true;
    return false;
  }
  write_packets();
  return true;
}

bool QuicClient::connect(std::chrono::milliseconds timeout) {
  if (!begin_connect()) return false;
  bool ok = wait_until([this] { return handshake_done_; }, timeout);
  if (!ok && error_.empty()) error_ = "handshake timed out";
  return ok;
}

std::string QuicClient::alpn() const {
  return tls_ ? selected_alpn(tls_) : std::string();
}

QuicClient::Stream* QuicClient::find(int64_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

const QuicClient::Stream* QuicClient::find(int64_t id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

std::optional<int64_t> QuicClient::open_stream() {
  if (!conn_ || closed_) return std::nullopt;
  int64_t id = -1;
  if (ngtcp2_conn_open_bidi_stream(conn_, &id, nullptr) != 0) return std::nullopt;
  streams_[id];
  return id;
}

void QuicClient::send(int64_t stream_id, std::span<const uint8_t> bytes) {
  Stream* s = find(stream_id);
  if (!s || closed_ || s->fin_requested) return;
  s->send.append(bytes);
  write_packets();
}

void QuicClient::finish(int64_t stream_id) {
  Stream* s = find(stream_id);
  if (!s || closed_) return;
  s->fin_requested = true;
  write_packets();
}

void QuicClient::reset(int64_t stream_id, uint64_t app_error_code) {
  if (!conn_ || closed_) return;
  (void)ngtcp2_conn_shutdown_stream(conn_, stream_id, app_error_code);
  write_packets();
}

void QuicClient::stop_reading(int64_t stream_id, uint64_t app_error_code) {
  if (!conn_ || closed_) return;
  (void)ngtcp2_conn_shutdown_stream_read(conn_, stream_id, app_error_code);
  write_packets();
}

size_t QuicClient::available(int64_t stream_id) const {
  const Stream* s = find(stream_id);
  return s ? s->received.size() : 0;
}

std::vector<uint8_t> QuicClient::take(int64_t stream_id) {
  Stream* s = find(stream_id);
  std::vector<uint8_t> out;
  if (s) out.swap(s->received);
  return out;
}

bool QuicClient::peer_finished(int64_t stream_id) const {
  const Stream* s = find(stream_id);
  return s && s->peer_finished;
}

bool QuicClient::peer_reset(int64_t stream_id) const {
  const Stream* s = find(stream_id);
  return s && s->peer_reset;
}

std::optional<uint64_t> QuicClient::peer_reset_code(int64_t stream_id) const {
  const Stream* s = find(stream_id);
  return s ? s->reset_code : std::nullopt;
}

bool QuicClient::stream_closed(int64_t stream_id) const {
  const Stream* s = find(stream_id);
  return s && s->closed;
}

size_t QuicClient::unacked(int64_t stream_id) const {
  const Stream* s = find(stream_id);
  return s ? s->send.buffered() : 0;
}

void QuicClient::send_connection_close(const ngtcp2_connection_close_error& ccerr) {
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  ngtcp2_ssize n = ngtcp2_conn_write_connection_close(conn_, &ps.path, &pi, tx_.data(), tx_.size(),
                                                      &ccerr, now());
  if (n > 0) {
    (void)socket_for(ps.path.local)
        .send(ps.path.remote.addr, ps.path.remote.addrlen, nullptr, 0,
              {tx_.data(), static_cast<size_t>(n)});
  }
}

void QuicClient::close(uint64_t app_error_code, const std::string& reason) {
  if (!conn_ || closed_) return;
  ngtcp2_connection_close_error ccerr;
  ngtcp2_connection_close_error_default(&ccerr);
  ngtcp2_connection_close_error_set_application_error(
      &ccerr, app_error_code, reinterpret_cast<const uint8_t*>(reason.data()), reason.size());
  send_connection_close(ccerr);
  CloseInfo info;
  info.application = true;
  info.code = app_error_code;
  info.reason = reason;
  close_info_ = info;
  finish_closed("closed locally");
}

void QuicClient::drop() {
  finish_closed("dropped locally");
}

bool QuicClient::initiate_key_update() {
  if (!conn_ || closed_) return false;
  if (ngtcp2_conn_initiate_key_update(conn_, now()) != 0) return false;
  write_packets();
  return true;
}

bool QuicClient::migrate() {
  return migrate_to(socket_->local_address().host(), 0, false);
}

std::unique_ptr<UdpSocket> QuicClient::socket_for_move(const std::string& host, uint16_t port) {
  if (!conn_ || closed_ || probe_) return nullptr;  // not connected, or a move is in progress
  try {
    return std::make_unique<UdpSocket>(host, port, options_.ipv6);
  } catch (const std::runtime_error& e) {
    error_ = e.what();
    return nullptr;
  }
}

bool QuicClient::migrate_to(const std::string& host, uint16_t port, bool validate_first) {
  std::unique_ptr<UdpSocket> fresh = socket_for_move(host, port);
  if (!fresh) return false;
  const SockAddr& local = fresh->local_address();
  ngtcp2_path path{
      {const_cast<sockaddr*>(local.sa()), local.len}, {remote_.sa(), remote_.len}, nullptr};
  if (validate_first) {
    if (ngtcp2_conn_initiate_migration(conn_, &path, now()) != 0) return false;
    probe_ = std::move(fresh);
  } else {
    if (ngtcp2_conn_initiate_immediate_migration(conn_, &path, now()) != 0) return false;
    socket_ = std::move(fresh);
    nat_local_.reset();
  }
  write_packets();
  return true;
}

bool QuicClient::rebind(const std::string& host, uint16_t port) {
  std::unique_ptr<UdpSocket> fresh = socket_for_move(host, port);
  if (!fresh) return false;
  const ngtcp2_path* path = ngtcp2_conn_get_path(conn_);
  if (!nat_local_) nat_local_ = SockAddr::copy_of(path->local.addr, path->local.addrlen);
  socket_ = std::move(fresh);
  write_packets();
  return true;
}

UdpSocket& QuicClient::socket_for(const ngtcp2_addr& local) {
  if (probe_ && probe_->local_address().same_as(local.addr)) return *probe_;
  return *socket_;
}

void QuicClient::settle_migration() {
  if (!probe_ || !conn_) return;
  if (probe_failed_) {
    probe_.reset();
    probe_failed_ = false;
    return;
  }
  if (probe_->local_address().same_as(ngtcp2_conn_get_path(conn_)->local.addr)) {
    socket_ = std::move(probe_);
    nat_local_.reset();
  }
}

int QuicClient::fd() const {
  return socket_->fd();
}

Timestamp QuicClient::next_timeout() const {
  return conn_ && !closed_ ? ngtcp2_conn_get_expiry(conn_) : UINT64_MAX;
}

bool QuicClient::poll(std::chrono::milliseconds timeout) {
  if (!conn_ || closed_) return false;
  Timestamp wait = static_cast<Timestamp>(timeout.count()) * kNanosPerMilli;
  const Timestamp expiry = next_timeout();
  const Timestamp t = now();
  if (expiry != UINT64_MAX) wait = std::min(wait, expiry > t ? expiry - t : 0);
  std::array<pollfd, 2> p{pollfd{socket_->fd(), POLLIN, 0}, pollfd{-1, POLLIN, 0}};
  if (probe_) p[1].fd = probe_->fd();
  // Round up: waking a little late is harmless, waking early just spins once more.
  int ms = static_cast<int>((wait + kNanosPerMilli - 1) / kNanosPerMilli);
  if (::poll(p.data(), p.size(), ms) > 0) on_readable();
  if (!closed_ && next_timeout() <= now()) on_timer();
  if (!closed_) write_packets();
  return !closed_;
}

bool QuicClient::wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (closed_) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    poll(std::min(left, std::chrono::milliseconds(50)));
  }
  return true;
}

void QuicClient::on_readable() {
  read_datagrams();
  // ACKs and handshake messages the datagrams call for go out now, not at the next timer.
  write_packets();
}

void QuicClient::on_timer() {
  if (!conn_ || closed_) return;
  int rv = ngtcp2_conn_handle_expiry(conn_, now());
  if (rv == NGTCP2_ERR_IDLE_CLOSE || rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
    return finish_closed(rv == NGTCP2_ERR_IDLE_CLOSE ? "idle timeout" : "handshake timeout");
  }
  if (rv != 0)
    return finish_closed(std::string("ngtcp2_conn_handle_expiry: ") + ngtcp2_strerror(rv));
  settle_migration();  // a path validation may have timed out
  write_packets();
}

void QuicClient::read_datagrams() {
  read_from(*socket_);
  if (probe_) read_from(*probe_);
  settle_migration();
}

void QuicClient::read_from(UdpSocket& sock) {
  for (int i = 0; i < 64 && !closed_; ++i) {
    auto d = sock.receive(rx_);
    if (!d) return;
    // Behind a "NAT" (rebind()) ngtcp2 keeps seeing its old local address.
    if (nat_local_ && &sock == socket_.get()) d->local = *nat_local_;
    if (!feed(*d)) return;
  }
}

bool QuicClient::feed(const Datagram& d) {
  if (!options_.hold_handshake || handshake_done_) return feed_packet(d, d.data);
  // Packet by packet: Handshake packets wait, the rest is processed (and answered) now.
  std::span<const uint8_t> rest = d.data;
  while (!rest.empty() && !closed_) {
    const size_t n = first_packet_length(rest);
    if (n == 0) return true;  // malformed: dropped, as ngtcp2 would
    const std::span<const uint8_t> pkt = rest.first(n);
    rest = rest.subspan(n);
    if (is_handshake_packet(pkt)) {
      held_.push_back({{pkt.begin(), pkt.end()}, d.local, d.remote});
      continue;
    }
    if (!feed_packet(d, pkt)) return false;
    write_packets();  // e.g. 0-RTT right after the ServerHello
  }
  return !closed_;
}

bool QuicClient::feed_packet(const Datagram& d, std::span<const uint8_t> pkt) {
  ngtcp2_path path{{const_cast<sockaddr*>(d.local.sa()), d.local.len},
                   {const_cast<sockaddr*>(d.remote.sa()), d.remote.len},
                   nullptr};
  ngtcp2_pkt_info pi{};
  pi.ecn = d.ecn;
  int rv = ngtcp2_conn_read_pkt(conn_, &path, &pi, pkt.data(), pkt.size(), now());
  return rv == 0 || handle_read_error(rv);
}

void QuicClient::release_handshake() {
  options_.hold_handshake = false;
  for (const HeldPacket& h : std::exchange(held_, {})) {
    if (closed_) return;
    Datagram d;
    d.local = h.local;
    d.remote = h.remote;
    d.data = h.bytes;
    if (!feed_packet(d, h.bytes)) return;
  }
  write_packets();
}

bool QuicClient::handle_read_error(int rv) {
  if (rv == NGTCP2_ERR_DRAINING || rv == NGTCP2_ERR_RECV_VERSION_NEGOTIATION) {
    ngtcp2_connection_close_error ccerr;
    ngtcp2_conn_get_connection_close_error(conn_, &ccerr);
    CloseInfo info;
    info.by_peer = rv == NGTCP2_ERR_DRAINING;
    info.application = ccerr.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION;
    info.code = ccerr.error_code;
    if (ccerr.reason)
      info.reason.assign(reinterpret_cast<const char*>(ccerr.reason), ccerr.reasonlen);
    close_info_ = info;
    finish_closed(rv == NGTCP2_ERR_DRAINING
                      ? "closed by the server: " + error_name(info.code, info.application)
                      : "version negotiation failed");
    return false;
  }
  if (rv == NGTCP2_ERR_DISCARD_PKT) return true;
  // Our own failure (bad certificate, protocol violation...): tell the server, then stop.
  ngtcp2_connection_close_error ccerr;
  ngtcp2_connection_close_error_default(&ccerr);
  if (rv == NGTCP2_ERR_CRYPTO) {
    ngtcp2_connection_close_error_set_transport_error_tls_alert(
        &ccerr, ngtcp2_conn_get_tls_alert(conn_), nullptr, 0);
  } else {
    ngtcp2_connection_close_error_set_transport_error_liberr(&ccerr, rv, nullptr, 0);
  }
  send_connection_close(ccerr);
  CloseInfo info;
  info.code = ccerr.error_code;
  close_info_ = info;
  finish_closed(std::string("ngtcp2_conn_read_pkt: ") + ngtcp2_strerror(rv) + " (" +
                error_name(ccerr.error_code, false) + ")");
  return false;
}

void QuicClient::write_packets() {
  if (!conn_ || closed_) return;
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  const Timestamp ts = now();
  std::vector<int64_t> stuck;
  for (int pkts = 0; pkts < 256; ++pkts) {
    int64_t sid = -1;
    Stream* s = nullptr;
    for (auto& [id, st] : streams_) {
      const bool has_output = st.send.unsent() != 0 || (st.fin_requested && !st.fin_sent);
      if (has_output && std::find(stuck.begin(), stuck.end(), id) == stuck.end()) {
        sid = id;
        s = &st;
        break;
      }
    }
    std::array<ngtcp2_vec, 16> vecs;
    size_t nvec = 0;
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
    if (s) {
      nvec = s->send.peek_unsent(vecs.data(), vecs.size());
      size_t total = 0;
      for (size_t i = 0; i < nvec; ++i)
        total += vecs[i].len;
      if (s->fin_requested && total == s->send.unsent()) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    }
    ngtcp2_ssize ndatalen = -1;
    ngtcp2_ssize n = ngtcp2_conn_writev_stream(conn_, &ps.path, &pi, tx_.data(), tx_.size(),
                                               &ndatalen, flags, sid, vecs.data(), nvec, ts);
    auto account = [&] {
      if (!s || ndatalen < 0) return;
      if (!handshake_done_) s->early_bytes += static_cast<uint64_t>(ndatalen);
      s->send.mark_sent(static_cast<size_t>(ndatalen));
      if ((flags & NGTCP2_WRITE_STREAM_FLAG_FIN) && s->send.unsent() == 0) s->fin_sent = true;
    };
    if (n < 0) {
      if (n == NGTCP2_ERR_WRITE_MORE) {
        account();
        continue;
      }
      if (s && (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR ||
                n == NGTCP2_ERR_STREAM_NOT_FOUND)) {
        stuck.push_back(sid);
        continue;
      }
      finish_closed(std::string("ngtcp2_conn_writev_stream: ") +
                    ngtcp2_strerror(static_cast<int>(n)));
      return;
    }
    account();
    if (n == 0) break;
    if (options_.on_datagram_sent) options_.on_datagram_sent({tx_.data(), static_cast<size_t>(n)});
    UdpSocket& sock = socket_for(ps.path.local);
    auto r = sock.send(ps.path.remote.addr, ps.path.remote.addrlen, nullptr, pi.ecn,
                       {tx_.data(), static_cast<size_t>(n)});
    if (r == UdpSocket::SendResult::kBlocked) {
      // Loopback with a full socket buffer: wait briefly; a lost datagram is retransmitted.
      pollfd p{sock.fd(), POLLOUT, 0};
      (void)::poll(&p, 1, 100);
    }
  }
  update_pacing(conn_, ts);
}

void QuicClient::finish_closed(const std::string& why) {
  if (closed_) return;
  closed_ = true;
  if (error_.empty()) error_ = why;
}

int QuicClient::cb_recv_stream_data(uint32_t flags, int64_t stream_id,
                                    std::span<const uint8_t> data) {
  Stream& s = streams_[stream_id];
  s.received.insert(s.received.end(), data.begin(), data.end());
  if (flags & NGTCP2_STREAM_DATA_FLAG_FIN) s.peer_finished = true;
  // The test reads at its own pace; the window only has to keep the server going.
  (void)ngtcp2_conn_extend_max_stream_offset(conn_, stream_id, data.size());
  ngtcp2_conn_extend_max_offset(conn_, data.size());
  return 0;
}

int QuicClient::cb_acked_stream_data_offset(int64_t stream_id, uint64_t offset, uint64_t datalen) {
  if (Stream* s = find(stream_id)) s->send.ack(offset, datalen);
  return 0;
}

int QuicClient::cb_stream_close(int64_t stream_id) {
  if (Stream* s = find(stream_id)) {
    s->peer_finished = true;
    s->closed = true;
    s->send.clear();
  }
  return 0;
}

int QuicClient::cb_stream_reset(int64_t stream_id, uint64_t app_error_code) {
  Stream& s = streams_[stream_id];
  s.peer_finished = true;
  s.peer_reset = true;
  s.reset_code = app_error_code;
  return 0;
}

int QuicClient::cb_handshake_completed() {
  handshake_done_ = true;
  if (const ngtcp2_transport_params* p = ngtcp2_conn_get_remote_transport_params(conn_)) {
    std::array<uint8_t, 512> buf;
    ngtcp2_ssize n = ngtcp2_encode_transport_params(
        buf.data(), buf.size(), NGTCP2_TRANSPORT_PARAMS_TYPE_ENCRYPTED_EXTENSIONS, p);
    if (n > 0) server_params_.assign(buf.data(), buf.data() + n);
  }
  if (!early_data_attempted_) return 0;
  early_data_accepted_ = (gnutls_session_get_flags(tls_) & GNUTLS_SFLAGS_EARLY_DATA) != 0;
  if (early_data_accepted_) return 0;
  // GnuTLS reports a refusal only now; ngtcp2 drops the 0-RTT streams, we start them over.
  early_data_rejected_ = true;
  if (ngtcp2_conn_early_data_rejected(conn_) != 0 || !resend_rejected_early_data()) {
    error_ = "0-RTT rejected and the streams could not be opened again";
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int QuicClient::cb_recv_retry() {
  ++retries_;
  return 0;
}

int QuicClient::cb_recv_version_negotiation() {
  ++version_negotiations_;
  return 0;
}

int QuicClient::cb_get_new_connection_id(ngtcp2_cid* cid, uint8_t* token, size_t cidlen) {
  cid->datalen = cidlen;
  if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, cidlen) != 0 ||
      gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0) {
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int QuicClient::cb_recv_new_token(std::span<const uint8_t> token) {
  new_token_.assign(token.begin(), token.end());
  return 0;
}

int QuicClient::cb_recv_stateless_reset() {
  stateless_reset_ = true;
  return 0;
}

int QuicClient::cb_path_validation(const ngtcp2_path* path, bool succeeded) {
  if (succeeded) {
    ++path_validations_ok_;
  } else {
    ++path_validations_failed_;
    if (probe_ && probe_->local_address().same_as(path->local.addr)) probe_failed_ = true;
  }
  return 0;
}

void QuicClient::cb_qlog(uint32_t flags, const void* data, size_t len) {
  if (qlog_) qlog_->write_ngtcp2(flags, data, len);
}

}  // namespace mquictt::quic
