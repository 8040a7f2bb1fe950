#include "transport/quic/quic_connection.h"

#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>

#include "log/log.h"
#include "transport/quic/ngtcp2_callbacks.h"
#include "transport/quic/pacing.h"

namespace mquictt::quic {

namespace {

// Packets per write burst, so one busy connection cannot hold the loop (ngtcp2's pacing and the
// congestion window usually stop a burst earlier).
constexpr size_t kMaxPacketsPerWrite = 64;

// Largest UDP payload we write (>= settings.max_tx_udp_payload_size, ngtcp2's 1452).
constexpr size_t kMaxUdpPayload = 1500;

// The packets of one write burst, before they leave as one GSO batch (or one by one). Shared by
// every connection of the thread: a batch never outlives write_packets(), so connections need
// no send buffer of their own.
std::span<uint8_t> batch_buffer() {
  thread_local std::vector<uint8_t> buf(UdpSocket::kMaxGsoBytes);
  return buf;
}

std::shared_ptr<spdlog::logger> qlog() {
  return log::get("quic");
}

QuicConnection* self(void* user_data) {
  return static_cast<QuicConnection*>(user_data);
}

// ---- ngtcp2 trampolines ----

int stream_open(ngtcp2_conn*, int64_t stream_id, void* ud) noexcept {
  return self(ud)->cb_stream_open(stream_id);
}

int stream_close(ngtcp2_conn*, uint32_t flags, int64_t stream_id, uint64_t app_error_code, void* ud,
                 void*) noexcept {
  return self(ud)->cb_stream_close(flags, stream_id, app_error_code);
}

int extend_max_stream_data(ngtcp2_conn*, int64_t stream_id, uint64_t, void* ud, void*) noexcept {
  return self(ud)->cb_extend_max_stream_data(stream_id);
}

int remove_connection_id(ngtcp2_conn*, const ngtcp2_cid* cid, void* ud) noexcept {
  return self(ud)->cb_remove_connection_id(cid);
}

// ---- libev trampolines ----

void timercb(struct ev_loop*, ev_timer* w, int) noexcept {
  self(w->data)->on_timer();
}

void writecb(struct ev_loop*, ev_io* w, int) noexcept {
  self(w->data)->on_write_event();
}

void lingercb(struct ev_loop*, ev_timer* w, int) noexcept {
  self(w->data)->on_linger_timeout();
}

ngtcp2_callbacks server_callbacks() {
  ngtcp2_callbacks cb = callbacks::common<QuicConnection>();
  cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  cb.stream_open = stream_open;
  cb.stream_close = stream_close;
  cb.remove_connection_id = remove_connection_id;
  cb.extend_max_stream_data = extend_max_stream_data;
  return cb;
}

ngtcp2_path make_path(const SockAddr& local, const SockAddr& remote) {
  return ngtcp2_path{{const_cast<sockaddr*>(local.sa()), local.len},
                     {const_cast<sockaddr*>(remote.sa()), remote.len},
                     nullptr};
}

}  // namespace

// ---- construction ----

QuicConnection::QuicConnection(transport::EvLoop& loop, transport::ConnectionSet& set,
                               ConnectionHost& host, const QuicTransportOptions& options,
                               const IncomingConnection& incoming)
    : set_(set),
      host_(host),
      options_(options),
      peer_(incoming.remote.to_string()),
      timer_(loop, timercb, this),
      write_ev_(loop, writecb, this),
      linger_(loop, lingercb, this) {
  write_ev_.set(host_.socket().fd(), EV_WRITE);
  ngtcp2_connection_close_error_default(&last_error_);
  conn_ref_.get_conn = callbacks::get_conn<QuicConnection>;
  conn_ref_.user_data = this;
}

std::unique_ptr<QuicConnection> QuicConnection::create(
    transport::EvLoop& loop, transport::ConnectionSet& set, ConnectionHost& host,
    std::shared_ptr<const TlsServerContext> tls, const QuicTransportOptions& options,
    const IncomingConnection& incoming, std::string* error) {
  std::unique_ptr<QuicConnection> c(new QuicConnection(loop, set, host, options, incoming));
  if (!c->init(std::move(tls), incoming, error)) return nullptr;
  return c;
}

bool QuicConnection::init(std::shared_ptr<const TlsServerContext> tls,
                          const IncomingConnection& incoming, std::string* error) {
  const ngtcp2_pkt_hd& hd = incoming.hd;
  scid_ = host_.new_cid(kServerCidLength);
  log_id_ = "quic " + peer_ + " " + CidKey(scid_).hex().substr(0, 8);

  ngtcp2_settings settings;
  ngtcp2_settings_default(&settings);
  settings.initial_ts = now();
  settings.cc_algo = options_.congestion_control;
  settings.initial_rtt = options_.initial_rtt;
  settings.handshake_timeout = options_.handshake_timeout;
  if (incoming.address_validated) settings.token = hd.token;
  if (!options_.qlog_dir.empty()) {
    std::string path = options_.qlog_dir + "/" + CidKey(scid_).hex() + ".sqlog";
    std::string why;
    qlog_ = QlogWriter::open(path, settings.initial_ts, &why);
    if (!qlog_) {
      // Diagnostics only: the connection works without its qlog.
      qlog()->warn("{}: cannot open qlog file {}: {}", log_id_, path, why);
    } else {
      settings.qlog.write = callbacks::qlog_write<QuicConnection>;
      settings.qlog.odcid = incoming.original_dcid ? *incoming.original_dcid : hd.dcid;
    }
  }

  ngtcp2_transport_params params;
  ngtcp2_transport_params_default(&params);
  params.initial_max_stream_data_bidi_local = options_.stream_window_bytes;
  params.initial_max_stream_data_bidi_remote = options_.stream_window_bytes;
  params.initial_max_stream_data_uni = 0;
  params.initial_max_data = options_.connection_window_bytes;
  params.initial_max_streams_bidi = options_.max_streams_bidi;
  params.initial_max_streams_uni = 0;  // MQTT over QUIC uses bidirectional streams only
  params.max_idle_timeout = options_.idle_timeout;
  params.max_ack_delay = options_.max_ack_delay;
  params.max_datagram_frame_size = 0;  // no DATAGRAM frames
  params.active_connection_id_limit = 7;
  params.stateless_reset_token_present = 1;
  if (!host_.stateless_reset_token(scid_, params.stateless_reset_token)) {
    *error = "cannot derive a stateless reset token";
    return false;
  }
  if (incoming.original_dcid) {
    params.original_dcid = *incoming.original_dcid;
    params.retry_scid = hd.dcid;
    params.retry_scid_present = 1;
  } else {
    params.original_dcid = hd.dcid;
  }

  const ngtcp2_callbacks cbs = server_callbacks();
  const ngtcp2_path path = make_path(incoming.local, incoming.remote);
  int rv = ngtcp2_conn_server_new(&conn_, &hd.scid, &scid_, &path, hd.version, &cbs, &settings,
                                  &params, nullptr, this);
  if (rv != 0) {
    conn_ = nullptr;
    *error = std::string("ngtcp2_conn_server_new: ") + ngtcp2_strerror(rv);
    return false;
  }
  tls_context_ = std::move(tls);
  tls_ = tls_context_->new_session(&conn_ref_, host_.session_tickets());
  tickets_ = tls_context_->issues_tickets(host_.session_tickets());
  if (!tls_) {
    *error = "cannot create a TLS session";
    return false;
  }
  ngtcp2_conn_set_tls_native_handle(conn_, tls_);
  if (options_.keepalive != 0) ngtcp2_conn_set_keep_alive_timeout(conn_, options_.keepalive);

  // Our first CID and the client's initial DCID (its Initial retransmissions and 0-RTT carry it).
  for (const ngtcp2_cid& cid : {scid_, hd.dcid}) {
    if (!host_.associate_cid(cid, *this)) {
      *error = "connection ID collision";
      return false;
    }
    cids_.push_back(cid);
  }
  return true;
}

QuicConnection::~QuicConnection() {
  timer_.stop();
  write_ev_.stop();
  linger_.stop();
  for (const ngtcp2_cid& cid : cids_)
    host_.dissociate_cid(cid, *this);
  cids_.clear();
  // The set always reaps first; this keeps "on_closed exactly once" if it did not.
  for (auto& [id, s] : streams_) {
    if (!s->handler_) continue;
    auto h = std::move(s->handler_);
    try {
      h->on_closed(broker::CloseCause::kTransportGone);
    } catch (...) {
    }
  }
  streams_.clear();
  if (conn_) ngtcp2_conn_del(conn_);
  if (tls_) gnutls_deinit(tls_);
  qlog_.reset();
  host_.connection_gone(*this);
}

// ---- input ----

QuicConnection::ReadResult QuicConnection::on_datagram(const Datagram& d) {
  switch (state_) {
    case State::kOpen:
      break;
    case State::kClosing:
      // Answer a peer that keeps talking, but exponentially less often (RFC 9000 10.2.1).
      ++packets_while_closing_;
      if ((packets_while_closing_ & (packets_while_closing_ - 1)) == 0 && !close_packet_.empty()) {
        (void)host_.socket().send(close_path_.path.remote.addr, close_path_.path.remote.addrlen,
                                  close_path_.path.local.addr, 0, close_packet_);
      }
      return ReadResult::kClosed;
    case State::kDraining:
    case State::kDead:
      return ReadResult::kClosed;
  }
  const ngtcp2_path path = make_path(d.local, d.remote);
  ngtcp2_pkt_info pi{};
  pi.ecn = d.ecn;
  int rv = ngtcp2_conn_read_pkt(conn_, &path, &pi, d.data.data(), d.data.size(), now());
  if (rv != 0) {
    if (qlog()->should_log(spdlog::level::debug)) {
      qlog()->debug("{}: ngtcp2_conn_read_pkt: {}", log_id_, ngtcp2_strerror(rv));
    }
    switch (rv) {
      case NGTCP2_ERR_DRAINING:
        start_draining();
        return ReadResult::kClosed;
      case NGTCP2_ERR_RETRY:
        die();
        return ReadResult::kRetry;
      case NGTCP2_ERR_DROP_CONN:
        die();
        return ReadResult::kClosed;
      case NGTCP2_ERR_CRYPTO:
        close_with_tls_alert();
        return ReadResult::kClosed;
      default:
        close_with_liberr(rv);
        return ReadResult::kClosed;
    }
  }
  if (!after_io()) return ReadResult::kClosed;
  // Packets are written from the write event: a burst of datagrams gets one round of ACKs.
  schedule_write();
  arm_timer();
  return ReadResult::kOk;
}

QuicStream* QuicConnection::find_stream(int64_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

QuicStream& QuicConnection::open_stream(int64_t id, bool by_callback) {
  // A data stream's handler comes from the control stream's: a client whose stream 4 overtook
  // stream 0 gets its control stream (implicitly opened by ngtcp2 already) first.
  if (!is_control(id) && !control_) open_stream(0, false);
  auto owned = std::make_unique<QuicStream>(*this, id);
  QuicStream& s = *owned;
  s.opened_by_peer_callback_ = by_callback;
  streams_.emplace(id, std::move(owned));
  if (!is_control(id)) {
    std::unique_ptr<broker::ByteStreamHandler> handler;
    if (control_->handler_ && !control_->local_closed_) {
      try {
        handler = control_->handler_->add_stream(s);
      } catch (const std::exception& e) {
        qlog()->error("{}: add_stream failed: {}", describe_stream(id), e.what());
      }
    }
    if (handler) {
      s.handler_ = std::move(handler);
    } else {
      s.local_closed_ = true;
      s.reset_ = true;
      to_reset_.emplace_back(id, kAppRefused);
    }
    return s;
  }
  control_ = &s;
  std::unique_ptr<broker::ByteStreamHandler> handler;
  try {
    handler = host_.accept_stream(s);
  } catch (const std::exception& e) {
    qlog()->error("{}: accept handler failed: {}", log_id_, e.what());
  }
  if (handler) {
    s.handler_ = std::move(handler);
  } else {
    s.local_closed_ = true;
    app_close_pending_ = kAppRefused;
  }
  return s;
}

void QuicConnection::deliver(QuicStream& s, std::span<const uint8_t> data) {
  try {
    s.handler_->on_data(data);
  } catch (const std::exception& e) {
    qlog()->error("{}: read handler failed: {}", describe_stream(s.id_), e.what());
    stream_closed_for_handler(s, broker::CloseCause::kError);
    s.local_closed_ = true;
    abort_pending_ = true;
  }
  // The handler takes every byte it is given (it buffers partial frames itself), so all of them
  // are consumed now and their credit goes back to the peer.
  give_credit(s.id_, s.inbound_.consume(data.size()));
}

void QuicConnection::give_credit(int64_t stream_id, uint64_t n) {
  if (n == 0) return;
  (void)ngtcp2_conn_extend_max_stream_offset(conn_, stream_id, n);
  ngtcp2_conn_extend_max_offset(conn_, n);
}

int QuicConnection::cb_recv_stream_data(uint32_t flags, int64_t stream_id,
                                        std::span<const uint8_t> data) {
  try {
    QuicStream* s = find_stream(stream_id);
    if (!s) s = &open_stream(stream_id, false);  // opened implicitly: no stream_open callback
    // 0-RTT (ByteStream::early_data()): the handlers hear when the handshake confirms it.
    if (!handshake_done_) early_data_seen_ = true;
    if (s->local_closed_ || !s->handler_) {
      // Refused streams, or input after our close(): discarded, which is consuming it too.
      give_credit(stream_id, data.size());
    } else {
      auto now_bytes = s->inbound_.on_received(data, s->reading_);
      if (!now_bytes.empty()) {
        in_recv_callback_ = true;  // for trace_packet(); deliver() does not throw
        deliver(*s, now_bytes);
        in_recv_callback_ = false;
      }
    }
    if ((flags & NGTCP2_STREAM_DATA_FLAG_FIN) && !s->peer_finished_) {
      s->peer_finished_ = true;
      if (s != control_) {
        finish_data_stream_if_drained(*s);
      } else if (!s->local_closed_) {
        // The client closed the control stream: that closes the connection (EMQX: error 1).
        stream_closed_for_handler(*s, broker::CloseCause::kPeerClosed);
        s->local_closed_ = true;
        app_close_pending_ = kAppControlStreamDown;
      }
    }
    return 0;
  } catch (const std::exception& e) {
    qlog()->error("{}: recv_stream_data: {}", log_id_, e.what());
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
}

int QuicConnection::cb_acked_stream_data_offset(int64_t stream_id, uint64_t offset,
                                                uint64_t datalen) {
  if (QuicStream* s = find_stream(stream_id)) s->send_.ack(offset, datalen);
  return 0;
}

int QuicConnection::cb_stream_open(int64_t stream_id) {
  try {
    if (QuicStream* s = find_stream(stream_id)) {
      s->opened_by_peer_callback_ = true;  // a control stream opened early for a data stream
    } else {
      open_stream(stream_id, true);
    }
    return 0;
  } catch (const std::exception& e) {
    qlog()->error("{}: stream_open: {}", log_id_, e.what());
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
}

int QuicConnection::cb_stream_close(uint32_t flags, int64_t stream_id, uint64_t) {
  QuicStream* s = find_stream(stream_id);
  if (!s) return 0;
  // ngtcp2 0.12 gives stream credit back by itself only for streams it never reported open.
  if (s->opened_by_peer_callback_ && !ngtcp2_conn_is_local_stream(conn_, stream_id)) {
    ngtcp2_conn_extend_max_streams_bidi(conn_, 1);
  }
  if (s == control_) {
    if (!s->local_closed_) {
      const bool error = flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET;
      stream_closed_for_handler(
          *s, error ? broker::CloseCause::kError : broker::CloseCause::kPeerClosed);
      s->local_closed_ = true;
      app_close_pending_ = kAppControlStreamDown;
    }
    s->fin_sent_ = true;  // nothing more can go out; a graceful close is complete
    s->send_.clear();     // ngtcp2 is done with the stream's bytes
    return 0;
  }
  if (!s->local_closed_) {
    // Both directions ended without our noticing a FIN or reset first (e.g. a FIN whose bytes
    // were still parked): the handler hears of it now.
    const bool error = flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET;
    stream_closed_for_handler(*s,
                              error ? broker::CloseCause::kError : broker::CloseCause::kPeerClosed);
    s->local_closed_ = true;
  }
  // Erased later (after_io, or the reap if its handler still has to hear on_closed): ngtcp2 may
  // report a close while we are inside the write loop, which still holds a pointer to the stream.
  s->send_.clear();
  s->fin_sent_ = true;
  s->closed_ = true;
  to_erase_.push_back(stream_id);
  return 0;
}

void QuicConnection::finish_data_stream_if_drained(QuicStream& s) {
  if (s.local_closed_ || !s.peer_finished_ || s.inbound_.parked() != 0) return;
  // The client is done sending on this data stream: EMQX closes the stream gracefully, and so do
  // we -- the handler ends it, queued replies go out, then our FIN.
  stream_closed_for_handler(s, broker::CloseCause::kPeerClosed);
  s.local_closed_ = true;
  s.fin_requested_ = true;
  if (state_ == State::kOpen) schedule_write();
}

void QuicConnection::reset_data_stream(QuicStream& s, broker::CloseCause cause, uint64_t code) {
  (void)s.inbound_.take_parked();
  stream_closed_for_handler(s, cause);
  if (s.reset_) return;
  s.local_closed_ = true;
  s.fin_requested_ = false;
  s.reset_ = true;
  s.reset_code_ = code;
  to_reset_.emplace_back(s.id_, code);
  if (state_ == State::kOpen) schedule_write();
}

int QuicConnection::cb_stream_reset(int64_t stream_id, uint64_t app_error_code) {
  QuicStream* s = find_stream(stream_id);
  if (!s) return 0;
  if (s != control_) {
    s->peer_finished_ = true;
    reset_data_stream(*s, broker::CloseCause::kError, app_error_code);
    return 0;
  }
  s->peer_finished_ = true;
  (void)s->inbound_.take_parked();
  if (!s->local_closed_) {
    if (qlog()->should_log(spdlog::level::debug)) {
      qlog()->debug("{}: control stream reset by the client (error {})", log_id_, app_error_code);
    }
    stream_closed_for_handler(*s, broker::CloseCause::kError);
    s->local_closed_ = true;
    app_close_pending_ = kAppControlStreamDown;
  }
  return 0;
}

void QuicConnection::peer_stopped_reading(QuicStream& s) {
  if (s.local_closed_) return;
  if (&s != control_) {
    // The client will not read this data stream any more; we stop reading it too. (ngtcp2 0.12
    // does not tell us the STOP_SENDING's error code.)
    reset_data_stream(s, broker::CloseCause::kError, 0);
    return;
  }
  // The client will not read our MQTT output any more: the control stream is down.
  stream_closed_for_handler(s, broker::CloseCause::kError);
  s.local_closed_ = true;
  app_close_pending_ = kAppControlStreamDown;
  schedule_write();  // after_io() closes the connection
}

int QuicConnection::cb_extend_max_stream_data(int64_t) {
  schedule_write();
  return 0;
}

int QuicConnection::cb_get_new_connection_id(ngtcp2_cid* cid, uint8_t* token, size_t cidlen) {
  try {
    // A collision with a live CID is astronomically unlikely with 17 random bytes; retry anyway.
    for (int attempt = 0; attempt < 8; ++attempt) {
      *cid = host_.new_cid(cidlen);
      if (!host_.associate_cid(*cid, *this)) continue;
      cids_.push_back(*cid);
      return host_.stateless_reset_token(*cid, token) ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
    }
  } catch (const std::exception& e) {
    qlog()->error("{}: get_new_connection_id: {}", log_id_, e.what());
  }
  return NGTCP2_ERR_CALLBACK_FAILURE;
}

int QuicConnection::cb_remove_connection_id(const ngtcp2_cid* cid) {
  host_.dissociate_cid(*cid, *this);
  auto it = std::find_if(cids_.begin(), cids_.end(),
                         [&](const ngtcp2_cid& c) { return ngtcp2_cid_eq(&c, cid); });
  if (it != cids_.end()) cids_.erase(it);
  return 0;
}

int QuicConnection::cb_handshake_completed() {
  handshake_done_ = true;
  new_token_pending_ = true;
  early_confirm_pending_ = early_data_seen_;
  // A ticket for resumption and 0-RTT next time (GnuTLS's automatic sending is off: QUIC sends
  // it as CRYPTO data once the handshake is done, RFC 9001 4.6.1).
  if (tickets_ && gnutls_session_ticket_send(tls_, 1, 0) != 0) {
    qlog()->debug("{}: cannot send a session ticket", log_id_);
  }
  host_.handshake_completed(*this);
  if (qlog()->should_log(spdlog::level::debug)) {
    qlog()->debug("{}: handshake completed (ALPN {}, {}{}{})", log_id_, selected_alpn(tls_),
                  gnutls_cipher_get_name(gnutls_cipher_get(tls_)), resumed() ? ", resumed" : "",
                  early_data_accepted() ? ", 0-RTT accepted" : "");
  }
  return 0;
}

int QuicConnection::cb_path_validation(const ngtcp2_path* path, bool succeeded) {
  // The client migrated or its NAT rebound: ngtcp2 validated (or failed to validate) the new
  // path. Routing is by CID, and every packet goes out on the path ngtcp2 returns, so nothing
  // else changes here; the line is for operators (and the migration tests).
  const SockAddr local = SockAddr::copy_of(path->local.addr, path->local.addrlen);
  const SockAddr remote = SockAddr::copy_of(path->remote.addr, path->remote.addrlen);
  if (succeeded) {
    qlog()->info("{}: path validated: client now at {} (server {})", log_id_, remote.to_string(),
                 local.to_string());
  } else {
    qlog()->info("{}: path validation failed for client at {} (server {})", log_id_,
                 remote.to_string(), local.to_string());
  }
  return 0;
}

bool QuicConnection::resumed() const {
  return tls_ && gnutls_session_is_resumed(tls_) != 0;
}

bool QuicConnection::early_data_accepted() const {
  return tls_ && (gnutls_session_get_flags(tls_) & GNUTLS_SFLAGS_EARLY_DATA) != 0;
}

void QuicConnection::cb_qlog(uint32_t flags, const void* data, size_t len) {
  if (qlog_) qlog_->write_ngtcp2(flags, data, len);
}

void QuicConnection::trace_packet(int64_t stream_id, const broker::PacketTrace& packet) {
  if (!qlog_) return;
  // ngtcp2 stamps its records with the timestamp of the API call in progress, and a packet
  // traced from inside that call (recv_stream_data: the packet that arrived, and the replies)
  // must not get a later time than the records ngtcp2 still writes in it, since qvis wants the
  // file in time order. So it takes that call's timestamp; outside any call, the current time,
  // which no later call can precede.
  qlog_->write_packet(in_recv_callback_ ? last_now_ : host_.clock().now(), stream_id, packet);
}

// ---- requests from streams (never call ngtcp2 or handlers here) ----

void QuicConnection::stream_written(QuicStream& s) {
  if (s.send_.buffered() > options_.high_watermark_bytes) s.above_high_ = true;
  if (state_ == State::kOpen) schedule_write();
}

void QuicConnection::stream_resumed() {
  resume_pending_ = true;
  if (state_ == State::kOpen) schedule_write();
}

void QuicConnection::stream_close_requested(QuicStream& s) {
  stream_closed_for_handler(s, broker::CloseCause::kLocal);
  if (&s == control_ && !graceful_close_) {
    graceful_close_ = true;
    if (state_ == State::kOpen) linger_.start_after(options_.linger_s);
  }
  if (state_ == State::kOpen) schedule_write();
}

void QuicConnection::stream_abort_requested(QuicStream& s) {
  if (&s != control_) {
    reset_data_stream(s, broker::CloseCause::kLocal, s.reset_code_);
    return;
  }
  stream_closed_for_handler(s, broker::CloseCause::kLocal);
  abort_pending_ = true;
  if (state_ == State::kOpen) schedule_write();
}

void QuicConnection::stream_closed_for_handler(QuicStream& s, broker::CloseCause cause) {
  if (s.close_pending_ || !s.handler_) return;
  s.close_pending_ = true;
  s.cause_ = cause;
  set_.schedule_reap(*this);
}

std::string QuicConnection::describe_stream(int64_t stream_id) const {
  return log_id_ + "/" + std::to_string(stream_id);
}

std::string QuicConnection::tls_identity() const {
  return tls_ ? peer_common_name(tls_) : std::string();
}

// ---- deferred work and output ----

bool QuicConnection::after_io() {
  if (state_ != State::kOpen) return false;
  for (const auto& [id, code] : to_reset_) {
    // RESET_STREAM and STOP_SENDING (whichever directions are still open); the connection stays.
    (void)ngtcp2_conn_shutdown_stream(conn_, id, code);
  }
  to_reset_.clear();
  for (int64_t id : to_erase_) {
    auto it = streams_.find(id);
    // A stream whose handler still waits for on_closed() is erased by the reap instead.
    if (it != streams_.end() && it->second->closed_ && !it->second->handler_ &&
        it->second.get() != control_) {
      streams_.erase(it);
    }
  }
  to_erase_.clear();
  if (new_token_pending_) {
    // A returning client presents it and skips the Retry round trip (RFC 9000 8.1.3).
    new_token_pending_ = false;
    const ngtcp2_path* path = ngtcp2_conn_get_path(conn_);
    auto token = host_.new_token(path->remote.addr, path->remote.addrlen);
    if (!token.empty()) (void)ngtcp2_conn_submit_new_token(conn_, token.data(), token.size());
  }
  if (early_confirm_pending_) {
    early_confirm_pending_ = false;
    // Held 0-RTT input may be processed now (stream ids in order: the control stream first).
    for (auto& [id, s] : streams_) {
      if (!s->handler_ || s->local_closed_) continue;
      try {
        s->handler_->on_early_data_confirmed();
      } catch (const std::exception& e) {
        qlog()->error("{}: early data handler failed: {}", describe_stream(id), e.what());
        stream_closed_for_handler(*control_, broker::CloseCause::kError);
        abort_pending_ = true;
        break;
      }
    }
  }
  if (resume_pending_) {
    resume_pending_ = false;
    // Handlers never add or remove streams synchronously, so the map is stable here.
    for (auto& [id, s] : streams_) {
      if (!s->reading_ || !s->handler_ || s->local_closed_ || s->inbound_.parked() == 0) continue;
      auto parked = s->inbound_.take_parked();
      deliver(*s, parked);
      if (s.get() != control_) finish_data_stream_if_drained(*s);  // a FIN behind parked bytes
    }
  }
  for (auto& [id, s] : streams_) {
    if (!s->above_high_ || !s->handler_ || s->local_closed_ ||
        s->send_.buffered() > options_.low_watermark_bytes) {
      continue;
    }
    s->above_high_ = false;
    try {
      s->handler_->on_writable();
    } catch (const std::exception& e) {
      qlog()->error("{}: write handler failed: {}", describe_stream(id), e.what());
      stream_closed_for_handler(*control_, broker::CloseCause::kError);
      abort_pending_ = true;
      break;
    }
  }
  if (abort_pending_) {
    close_with_app_error(kAppNoError, "");
    return false;
  }
  if (app_close_pending_) {
    close_with_app_error(*app_close_pending_, "");
    return false;
  }
  maybe_finish_graceful_close();
  return state_ == State::kOpen;
}

void QuicConnection::maybe_finish_graceful_close() {
  if (!graceful_close_ || state_ != State::kOpen) return;
  // Every stream we are finishing (the control stream, data streams closed with it) has its
  // FIN out and its bytes acknowledged.
  for (const auto& [id, s] : streams_) {
    if (s.get() != control_ && (!s->fin_requested_ || s->closed_)) continue;
    if (!(s->fin_sent_ && s->send_.buffered() == 0)) return;
  }
  close_with_app_error(kAppNoError, "");
}

void QuicConnection::on_stream_sent(QuicStream& s, ngtcp2_ssize ndatalen, uint32_t flags) {
  if (ndatalen < 0) return;
  s.send_.mark_sent(static_cast<size_t>(ndatalen));
  if ((flags & NGTCP2_WRITE_STREAM_FLAG_FIN) && s.send_.unsent() == 0) s.fin_sent_ = true;
}

bool QuicConnection::flush_blocked() {
  while (!blocked_.empty()) {
    Blocked& b = blocked_.front();
    size_t sent = 0;
    auto r = host_.socket().send_segments(b.remote.sa(), b.remote.len, b.local.sa(), b.ecn, b.data,
                                          b.segment_size, &sent);
    if (r == UdpSocket::SendResult::kBlocked) {
      b.data.erase(b.data.begin(), b.data.begin() + static_cast<std::ptrdiff_t>(sent));
      return false;
    }
    blocked_.erase(blocked_.begin());
  }
  return true;
}

bool QuicConnection::send_batch(const ngtcp2_path& path, uint8_t ecn, std::span<const uint8_t> data,
                                size_t segment_size) {
  UdpSocket& sock = host_.socket();
  size_t sent = 0;
  if (blocked_.empty()) {  // else keep the order: behind what is already waiting
    const bool had_gso = sock.gso();
    auto r = sock.send_segments(path.remote.addr, path.remote.addrlen, path.local.addr, ecn, data,
                                segment_size, &sent);
    if (had_gso && !sock.gso()) {
      qlog()->warn(
          "{}: the kernel refused UDP GSO ({}); this listener sends datagrams one by one "
          "from now on",
          log_id_, std::strerror(sock.gso_error()));
    }
    if (r != UdpSocket::SendResult::kBlocked) return true;
  }
  Blocked b;
  b.data.assign(data.begin() + static_cast<std::ptrdiff_t>(sent), data.end());
  b.remote = SockAddr::copy_of(path.remote.addr, path.remote.addrlen);
  b.local = SockAddr::copy_of(path.local.addr, path.local.addrlen);
  b.ecn = ecn;
  b.segment_size = segment_size;
  blocked_.push_back(std::move(b));
  return false;
}

void QuicConnection::write_packets() {
  write_ev_.stop();
  if (state_ != State::kOpen) return;
  if (!flush_blocked()) {
    write_ev_.start();  // the socket is full: wait until it is writable
    return;
  }
  // Packets are written one after the other into the batch buffer and leave in batches: with GSO
  // consecutive packets of one path, one ECN marking and one size (the last may be shorter) go
  // as one sendmsg; without GSO a batch is one packet.
  const std::span<uint8_t> buf = batch_buffer();
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  const Timestamp ts = now();
  const size_t max_udp = std::min(ngtcp2_conn_get_max_tx_udp_payload_size(conn_), kMaxUdpPayload);
  const size_t max_pkts =
      std::clamp<size_t>(ngtcp2_conn_get_send_quantum(conn_) / max_udp, 1, kMaxPacketsPerWrite);
  const size_t max_batch =
      host_.socket().gso() ? std::clamp<size_t>(buf.size() / max_udp, 1, UdpSocket::kMaxSegments)
                           : 1;
  ngtcp2_path_storage batch_ps;
  ngtcp2_path_storage_zero(&batch_ps);
  uint8_t batch_ecn = 0;
  size_t used = 0;     // bytes of the batch in buf
  size_t count = 0;    // packets in the batch
  size_t segment = 0;  // size of its first packet
  bool blocked = false;
  auto flush = [&] {
    if (count != 0 && !send_batch(batch_ps.path, batch_ecn, buf.first(used), segment)) {
      blocked = true;
    }
    used = 0;
    count = 0;
  };
  std::vector<int64_t> stuck;  // streams ngtcp2 cannot take data from in this burst
  size_t pkts = 0;
  for (;;) {
    QuicStream* s = nullptr;
    for (auto& [id, st] : streams_) {
      const bool has_output =
          !st->reset_ && (st->send_.unsent() != 0 || (st->fin_requested_ && !st->fin_sent_));
      if (has_output && std::find(stuck.begin(), stuck.end(), id) == stuck.end()) {
        s = st.get();
        break;
      }
    }
    std::array<ngtcp2_vec, 16> vecs;
    size_t nvec = 0;
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
    int64_t sid = -1;
    if (s) {
      sid = s->id_;
      nvec = s->send_.peek_unsent(vecs.data(), vecs.size());
      size_t total = 0;
      for (size_t i = 0; i < nvec; ++i)
        total += vecs[i].len;
      if (s->fin_requested_ && total == s->send_.unsent()) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    }
    ngtcp2_ssize ndatalen = -1;
    ngtcp2_ssize n = ngtcp2_conn_writev_stream(conn_, &ps.path, &pi, buf.data() + used, max_udp,
                                               &ndatalen, flags, sid, vecs.data(), nvec, ts);
    if (n < 0) {
      if (n == NGTCP2_ERR_WRITE_MORE) {
        if (s) on_stream_sent(*s, ndatalen, flags);
        continue;
      }
      if (s && (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR ||
                n == NGTCP2_ERR_STREAM_NOT_FOUND)) {
        // SHUT_WR on a stream we neither reset nor finished: the client sent STOP_SENDING and
        // ngtcp2 reset our side. (0.12 has no callback for a received STOP_SENDING: its
        // stream_stop_sending reports our own shutdown_stream_read.)
        if (n == NGTCP2_ERR_STREAM_SHUT_WR) peer_stopped_reading(*s);
        stuck.push_back(sid);
        continue;
      }
      qlog()->debug("{}: ngtcp2_conn_writev_stream: {}", log_id_,
                    ngtcp2_strerror(static_cast<int>(n)));
      close_with_liberr(static_cast<int>(n));
      return;
    }
    if (s) on_stream_sent(*s, ndatalen, flags);
    if (n == 0) break;  // nothing left, or congestion / pacing limited (the timer resumes)
    const size_t len = static_cast<size_t>(n);
    // A path-MTU probe is larger than what the path is known to carry: it travels alone, never
    // as a GSO segment size (gso_size above the route MTU fails the whole sendmsg, taking the
    // normal packets of the batch with it).
    const bool probe = len > ngtcp2_conn_get_path_max_tx_udp_payload_size(conn_);
    if (count != 0 && (!ngtcp2_path_eq(&batch_ps.path, &ps.path) || pi.ecn != batch_ecn ||
                       len > segment || probe)) {
      // This packet cannot join the batch: send the batch, and the packet starts the next one.
      const size_t at = used;
      flush();
      std::memmove(buf.data(), buf.data() + at, len);
    }
    if (count == 0) {
      ngtcp2_path_copy(&batch_ps.path, &ps.path);
      batch_ecn = static_cast<uint8_t>(pi.ecn);
      segment = len;
    }
    used += len;
    ++count;
    if (len < segment || count >= max_batch || probe) flush();  // a short packet ends a batch
    if (blocked || ++pkts >= max_pkts) {
      // Blocked: wait until writable. Else more on the next loop iteration, after other
      // connections had a turn.
      write_ev_.start();
      break;
    }
  }
  flush();
  if (blocked) write_ev_.start();
  update_pacing(conn_, ts);
  maybe_finish_graceful_close();
  arm_timer();
}

void QuicConnection::arm_timer() {
  if (state_ != State::kOpen) return;
  const Timestamp expiry = ngtcp2_conn_get_expiry(conn_);
  if (expiry == UINT64_MAX) {
    timer_.stop();
    return;
  }
  const Timestamp t = now();
  const double delay = expiry > t ? static_cast<double>(expiry - t) / kNanosPerSecond : 0.0;
  timer_.start_after(delay);
}

void QuicConnection::on_timer() noexcept {
  try {
    if (state_ == State::kClosing || state_ == State::kDraining) return die();
    if (state_ != State::kOpen) return;
    int rv = ngtcp2_conn_handle_expiry(conn_, now());
    if (rv != 0) {
      if (rv == NGTCP2_ERR_IDLE_CLOSE || rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
        if (qlog()->should_log(spdlog::level::debug)) {
          qlog()->debug("{}: {}", log_id_,
                        rv == NGTCP2_ERR_IDLE_CLOSE ? "idle timeout" : "handshake timeout");
        }
        return die();  // silently (RFC 9000 10.1)
      }
      return close_with_liberr(rv);
    }
    if (!after_io()) return;
    write_packets();
  } catch (const std::exception& e) {
    qlog()->error("{}: timer: {}", log_id_, e.what());
    die();
  }
}

void QuicConnection::on_write_event() noexcept {
  try {
    if (!after_io()) {
      write_ev_.stop();
      return;
    }
    write_packets();
  } catch (const std::exception& e) {
    qlog()->error("{}: write: {}", log_id_, e.what());
    die();
  }
}

void QuicConnection::on_linger_timeout() noexcept {
  try {
    if (graceful_close_ && state_ == State::kOpen) {
      if (qlog()->should_log(spdlog::level::debug)) {
        qlog()->debug("{}: close linger timeout, {} bytes unacknowledged", log_id_,
                      control_ ? control_->send_.buffered() : 0);
      }
      close_with_app_error(kAppNoError, "");
    }
  } catch (const std::exception& e) {
    qlog()->error("{}: linger: {}", log_id_, e.what());
    die();
  }
}

// ---- closing ----

void QuicConnection::close_with_app_error(uint64_t code, const char* reason) {
  ngtcp2_connection_close_error_set_application_error(
      &last_error_, code, reinterpret_cast<const uint8_t*>(reason), std::strlen(reason));
  start_closing(code == kAppNoError ? broker::CloseCause::kLocal : broker::CloseCause::kError);
}

void QuicConnection::close_with_liberr(int liberr) {
  ngtcp2_connection_close_error_set_transport_error_liberr(&last_error_, liberr, nullptr, 0);
  start_closing(broker::CloseCause::kError);
}

void QuicConnection::close_with_tls_alert() {
  ngtcp2_connection_close_error_set_transport_error_tls_alert(
      &last_error_, ngtcp2_conn_get_tls_alert(conn_), nullptr, 0);
  start_closing(broker::CloseCause::kError);
}

void QuicConnection::start_closing(broker::CloseCause cause) {
  if (state_ != State::kOpen) return;
  notify_streams_gone(cause);
  write_ev_.stop();
  linger_.stop();
  timer_.stop();
  ngtcp2_path_storage_zero(&close_path_);
  ngtcp2_pkt_info pi{};
  close_packet_.resize(NGTCP2_MAX_UDP_PAYLOAD_SIZE);
  ngtcp2_ssize n =
      ngtcp2_conn_write_connection_close(conn_, &close_path_.path, &pi, close_packet_.data(),
                                         close_packet_.size(), &last_error_, now());
  if (n <= 0) {
    close_packet_.clear();
    return die();
  }
  close_packet_.resize(static_cast<size_t>(n));
  (void)host_.socket().send(close_path_.path.remote.addr, close_path_.path.remote.addrlen,
                            close_path_.path.local.addr, 0, close_packet_);
  if (qlog()->should_log(spdlog::level::debug)) {
    qlog()->debug("{}: closing ({} error {:#x})", log_id_,
                  last_error_.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION
                      ? "application"
                      : "transport",
                  last_error_.error_code);
  }
  if (host_.shutting_down() || skip_closing_period_) return die();
  state_ = State::kClosing;
  timer_.start_after(3.0 * static_cast<double>(ngtcp2_conn_get_pto(conn_)) / kNanosPerSecond);
}

void QuicConnection::start_draining() {
  if (state_ != State::kOpen) return;
  notify_streams_gone(broker::CloseCause::kTransportGone);
  write_ev_.stop();
  linger_.stop();
  timer_.stop();
  if (host_.shutting_down() || skip_closing_period_) return die();
  state_ = State::kDraining;
  timer_.start_after(3.0 * static_cast<double>(ngtcp2_conn_get_pto(conn_)) / kNanosPerSecond);
}

void QuicConnection::die() {
  if (state_ == State::kDead) return;
  notify_streams_gone(broker::CloseCause::kTransportGone);
  state_ = State::kDead;
  timer_.stop();
  write_ev_.stop();
  linger_.stop();
  set_.schedule_reap(*this);
}

void QuicConnection::notify_streams_gone(broker::CloseCause cause) {
  for (auto& [id, s] : streams_)
    stream_closed_for_handler(*s, s.get() == control_ ? cause : broker::CloseCause::kTransportGone);
}

// ---- OwnedConnection ----

bool QuicConnection::reap() {
  // In stream id order: the control stream's handler (which closes the data streams) first.
  for (auto& [id, s] : streams_) {
    if (!s->close_pending_ || !s->handler_) continue;
    auto h = std::move(s->handler_);
    h->on_closed(s->cause_);
  }
  // Data streams ngtcp2 is done with and whose handler is gone now.
  std::erase_if(streams_, [this](const auto& entry) {
    const QuicStream& s = *entry.second;
    return s.closed_ && !s.handler_ && &s != control_;
  });
  return state_ == State::kDead;
}

void QuicConnection::terminate() {
  skip_closing_period_ = true;
  if (state_ == State::kOpen) {
    close_with_app_error(kAppNoError, "");
  } else {
    die();
  }
  die();
}

void QuicConnection::close_gracefully() {
  if (state_ != State::kOpen) return;
  if (control_ && control_->handler_ && !control_->local_closed_) {
    control_->close();
    return;
  }
  if (!graceful_close_) {
    graceful_close_ = true;
    linger_.start_after(options_.linger_s);
  }
  schedule_write();
}

}  // namespace mquictt::quic
