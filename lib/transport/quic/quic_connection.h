#pragma once
// One server-side QUIC connection: owns the ngtcp2_conn, its GnuTLS session, its streams, one
// ev_timer (ngtcp2's expiry, later the closing/draining period) and the write loop.
//
// Ownership: the listener's ConnectionSet owns the QuicConnection (it is an OwnedConnection, so
// it is only ever deleted from the set's reap, never inside one of its own callbacks). The
// connection registers its connection IDs with its ConnectionHost (the listener's CID map) and
// removes them in its destructor.
//
// Life cycle:
//   kOpen      handshake, then MQTT on the control stream and any data streams (quic_stream.h);
//   kClosing   we sent CONNECTION_CLOSE; the packet is kept and re-sent (with backoff) to a peer
//              that keeps talking, for 3 x PTO (RFC 9000 10.2.1); then kDead;
//   kDraining  the peer closed; we stay silent for 3 x PTO, then kDead;
//   kDead      waiting for the set to delete us.
// Idle timeout and handshake timeout go straight to kDead (silently, RFC 9000 10.1). While the
// listener shuts down, closing and draining are skipped (CONNECTION_CLOSE is sent once).
//
// How the connection closes (application error codes as EMQX: 0 normal, 1 control stream down,
// 2 refused at accept):
//   - the MQTT side calls close() on the control stream: queued bytes and a FIN go out; once the
//     client acknowledged them all (or after linger_s) CONNECTION_CLOSE with error 0;
//   - abort(): CONNECTION_CLOSE with error 0 at once;
//   - the client finishes or resets the control stream: CONNECTION_CLOSE with error 1;
//   - Broker::accept() refuses the stream: CONNECTION_CLOSE with error 2.
//
// Data streams (every client bidirectional stream but the first, EMQX's multi-stream mode) come
// and go without touching the connection:
//   - opened: the control stream's handler gives it a handler (add_stream()); if it refuses, or
//     the control stream is already closed, the stream is reset (RESET_STREAM + STOP_SENDING,
//     application error 2). A data stream that arrives before the control stream opens the
//     control stream first (ngtcp2 opened it implicitly anyway);
//   - the client finishes it (FIN): its remaining bytes are delivered (once reading is on), then
//     the handler gets on_closed(kPeerClosed) and we finish our side after the queued bytes;
//   - the client resets it: on_closed(kError), and we shut down both directions with the
//     client's error code (EMQX mirrors it too). A STOP_SENDING is noticed when we next write
//     to the stream (ngtcp2 0.12 has no callback for it): the same, with error code 0;
//   - the MQTT side aborts it (abort_with_error(code)): RESET_STREAM + STOP_SENDING with that
//     code; close(): our FIN after the queued bytes (only happens while the connection ends; a
//     graceful close waits for those bytes as for the control stream's).
// Closed streams give their credit back (MAX_STREAMS), so at most max_streams_bidi streams are
// open at once, control stream included, but any number over the connection's life.
//
// ngtcp2 callbacks land in the public `cb_*` members (one-line trampolines in the .cc). They only
// change state; anything that needs an ngtcp2 call other than credit is deferred to after_io(),
// which runs after ngtcp2_conn_read_pkt returns and from the write event.

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "broker/byte_stream.h"
#include "transport/connection_set.h"
#include "transport/ev_loop.h"
#include "transport/quic/cid.h"
#include "transport/quic/qlog_writer.h"
#include "transport/quic/quic_clock.h"
#include "transport/quic/quic_stream.h"
#include "transport/quic/quic_tls.h"
#include "transport/quic/session_tickets.h"
#include "transport/quic/udp_socket.h"

namespace mquictt::quic {

// Application error codes in CONNECTION_CLOSE (EMQX's emqx_quic.hrl).
inline constexpr uint64_t kAppNoError = 0;
inline constexpr uint64_t kAppControlStreamDown = 1;
inline constexpr uint64_t kAppRefused = 2;

// Per-connection transport settings (lib/server maps the YAML `quic:` block onto this).
struct QuicTransportOptions {
  Timestamp idle_timeout = 120 * kNanosPerSecond;  // 0 = none
  Timestamp handshake_timeout = 10 * kNanosPerSecond;
  uint64_t max_streams_bidi = 10;
  uint64_t stream_window_bytes = 256 * 1024;
  uint64_t connection_window_bytes = 1024 * 1024;
  ngtcp2_cc_algo congestion_control = NGTCP2_CC_ALGO_CUBIC;
  Timestamp initial_rtt = 333 * kNanosPerMilli;
  Timestamp max_ack_delay = 25 * kNanosPerMilli;
  Timestamp keepalive = 0;  // QUIC PING after this much idle time; 0 = off
  std::string qlog_dir;     // empty = no qlog
  // Backpressure thresholds on QuicStream::pending_bytes() (BrokerConfig's watermarks).
  uint64_t high_watermark_bytes = 1024 * 1024;
  uint64_t low_watermark_bytes = 256 * 1024;
  // Upper bound on a graceful close (flush + acknowledgement), in seconds.
  double linger_s = 2.0;
};

class QuicConnection;

// What a connection needs from its listener.
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  // CID map. associate() is false if the CID is already taken.
  virtual bool associate_cid(const ngtcp2_cid& cid, QuicConnection& conn) = 0;
  virtual void dissociate_cid(const ngtcp2_cid& cid, QuicConnection& conn) = 0;
  virtual ngtcp2_cid new_cid(size_t length) = 0;
  // The stateless reset token for one of our CIDs (16 bytes into `token`).
  virtual bool stateless_reset_token(const ngtcp2_cid& cid, uint8_t* token) = 0;
  // An address validation token for a NEW_TOKEN frame to `remote` (empty on failure).
  virtual std::vector<uint8_t> new_token(const sockaddr* remote, socklen_t remote_len) = 0;
  virtual UdpSocket& socket() = 0;
  virtual QuicClock& clock() = 0;
  // Session tickets and 0-RTT for new connections; nullptr = no resumption.
  virtual const SessionTickets* session_tickets() const { return nullptr; }
  // The MQTT side of a control stream (Broker::accept); nullptr refuses it.
  virtual std::unique_ptr<broker::ByteStreamHandler> accept_stream(broker::ByteStream& s) = 0;
  virtual void handshake_completed(QuicConnection& conn) = 0;
  // From the connection's destructor (its CIDs are already dissociated).
  virtual void connection_gone(QuicConnection& conn) = 0;
  // The listener stops: skip closing/draining periods, nothing lingers.
  virtual bool shutting_down() const = 0;
};

// The first packet of a new connection, as accepted by the listener.
struct IncomingConnection {
  ngtcp2_pkt_hd hd{};  // from ngtcp2_accept: hd.scid is the client's CID, hd.dcid its chosen DCID
  SockAddr local;
  SockAddr remote;
  // Set when the Initial carried a valid Retry token: the DCID of the client's very first
  // Initial (then hd.dcid is the CID our Retry gave it).
  std::optional<ngtcp2_cid> original_dcid;
  bool address_validated = false;  // a valid Retry or NEW_TOKEN token: settings.token = hd.token
};

class QuicConnection final : public transport::OwnedConnection {
 public:
  enum class State : uint8_t { kOpen, kClosing, kDraining, kDead };
  enum class ReadResult : uint8_t { kOk, kRetry, kClosed };

  // Creates the ngtcp2 and TLS state and registers the first CIDs. nullptr (with `error` set) on
  // failure. The connection keeps `tls` (its TLS session uses its credentials) for its life, so a
  // listener may switch to a new context (certificate reload) under live connections.
  static std::unique_ptr<QuicConnection> create(transport::EvLoop& loop,
                                                transport::ConnectionSet& set, ConnectionHost& host,
                                                std::shared_ptr<const TlsServerContext> tls,
                                                const QuicTransportOptions& options,
                                                const IncomingConnection& incoming,
                                                std::string* error);
  ~QuicConnection() override;
  QuicConnection(const QuicConnection&) = delete;
  QuicConnection& operator=(const QuicConnection&) = delete;

  // A datagram routed to us by CID. kRetry: only for the very first datagram, the listener must
  // answer with a Retry (the connection is then dead).
  ReadResult on_datagram(const Datagram& d);

  State state() const { return state_; }
  bool handshake_done() const { return handshake_done_; }
  // The handshake resumed a session from a ticket / accepted 0-RTT (meaningful once done).
  bool resumed() const;
  bool early_data_accepted() const;
  const std::string& peer() const { return peer_; }
  const std::string& log_id() const { return log_id_; }
  size_t stream_count() const { return streams_.size(); }
  ngtcp2_conn* raw() const { return conn_; }

  // libev entry points (trampolines only).
  void on_timer() noexcept;
  void on_write_event() noexcept;
  void on_linger_timeout() noexcept;

  // ngtcp2 callbacks (trampolines only). Return 0 or an NGTCP2_ERR_* code.
  int cb_recv_stream_data(uint32_t flags, int64_t stream_id, std::span<const uint8_t> data);
  int cb_acked_stream_data_offset(int64_t stream_id, uint64_t offset, uint64_t datalen);
  int cb_stream_open(int64_t stream_id);
  int cb_stream_close(uint32_t flags, int64_t stream_id, uint64_t app_error_code);
  int cb_stream_reset(int64_t stream_id, uint64_t app_error_code);
  int cb_extend_max_stream_data(int64_t stream_id);
  int cb_get_new_connection_id(ngtcp2_cid* cid, uint8_t* token, size_t cidlen);
  int cb_remove_connection_id(const ngtcp2_cid* cid);
  int cb_handshake_completed();
  int cb_path_validation(const ngtcp2_path* path, bool succeeded);
  void cb_qlog(uint32_t flags, const void* data, size_t len);
  ngtcp2_conn* cb_get_conn() const { return conn_; }

  // For QuicStream.
  void stream_written(QuicStream& s);  // bytes queued: send them on the next write event
  void stream_resumed();               // reading re-enabled with parked bytes
  void stream_close_requested(QuicStream& s);
  void stream_abort_requested(QuicStream& s);
  void stream_closed_for_handler(QuicStream& s, broker::CloseCause cause);
  std::string describe_stream(int64_t stream_id) const;
  std::string tls_identity() const;
  // qlog (docs/qlog.md): whether this connection writes one, and an MQTT event for it.
  bool tracing() const { return qlog_ && qlog_->is_open(); }
  void trace_packet(int64_t stream_id, const broker::PacketTrace& packet);

  // transport::OwnedConnection
  bool reap() override;
  void terminate() override;
  void close_gracefully() override;

 private:
  QuicConnection(transport::EvLoop& loop, transport::ConnectionSet& set, ConnectionHost& host,
                 const QuicTransportOptions& options, const IncomingConnection& incoming);
  bool init(std::shared_ptr<const TlsServerContext> tls, const IncomingConnection& incoming,
            std::string* error);

  // Every timestamp handed to ngtcp2 comes from here; the last one is kept for trace_packet().
  Timestamp now() const { return last_now_ = host_.clock().now(); }
  QuicStream* find_stream(int64_t id);
  QuicStream& open_stream(int64_t id, bool by_callback);
  bool is_control(int64_t id) const { return id == 0; }
  void deliver(QuicStream& s, std::span<const uint8_t> data);
  void give_credit(int64_t stream_id, uint64_t n);
  // Data stream: the peer finished sending; ends it once no parked bytes remain.
  void finish_data_stream_if_drained(QuicStream& s);
  // Data stream: on_closed(cause) for the handler, and both directions shut down with `code`
  // (after_io).
  void reset_data_stream(QuicStream& s, broker::CloseCause cause, uint64_t code);
  // ngtcp2 refused to write a stream we did not shut: the client sent STOP_SENDING.
  void peer_stopped_reading(QuicStream& s);

  // Deferred work (outside ngtcp2 callbacks): resumed reads, stream resets, close requests,
  // on_writable. Returns false if the connection is gone (state != kOpen).
  bool after_io();
  // Writes packets until ngtcp2 has nothing more, the socket blocks, or the burst limit.
  void write_packets();
  // Sends parked batches; false while the socket is still full.
  bool flush_blocked();
  // Sends packets of one path and ECN marking, `segment_size` each (the last may be shorter),
  // as one GSO send or one by one; what the full socket refuses is parked (false).
  bool send_batch(const ngtcp2_path& path, uint8_t ecn, std::span<const uint8_t> data,
                  size_t segment_size);
  void arm_timer();
  void schedule_write() { write_ev_.start(); }

  // Closing. close_with() builds and sends CONNECTION_CLOSE from last_error_ (kClosing).
  void close_with_app_error(uint64_t code, const char* reason);
  void close_with_liberr(int liberr);
  void close_with_tls_alert();
  void start_closing(broker::CloseCause cause);
  void start_draining();
  void die();
  // The connection ends: every stream's handler gets on_closed (the control stream's with `cause`).
  void notify_streams_gone(broker::CloseCause cause);
  void maybe_finish_graceful_close();
  void on_stream_sent(QuicStream& s, ngtcp2_ssize ndatalen, uint32_t flags);

  transport::ConnectionSet& set_;
  ConnectionHost& host_;
  QuicTransportOptions options_;
  ngtcp2_conn* conn_ = nullptr;
  std::shared_ptr<const TlsServerContext> tls_context_;  // outlives tls_ (its credentials)
  gnutls_session_t tls_ = nullptr;
  ngtcp2_crypto_conn_ref conn_ref_{};
  State state_ = State::kOpen;
  bool handshake_done_ = false;
  std::string peer_;              // remote address at creation, for logs
  std::string log_id_;            // "quic 127.0.0.1:50312 3f9a2c1b"
  ngtcp2_cid scid_{};             // our first CID
  std::vector<ngtcp2_cid> cids_;  // every CID registered with the host
  std::map<int64_t, std::unique_ptr<QuicStream>> streams_;
  QuicStream* control_ = nullptr;
  // Data streams to shut down (both directions) with an application error code (after_io).
  std::vector<std::pair<int64_t, uint64_t>> to_reset_;
  std::vector<int64_t> to_erase_;              // streams ngtcp2 closed, to delete (after_io)
  bool resume_pending_ = false;                // a paused stream resumed with parked bytes
  bool new_token_pending_ = false;             // handshake done: send a NEW_TOKEN (after_io)
  bool tickets_ = false;                       // the TLS session issues session tickets
  bool early_data_seen_ = false;               // stream bytes arrived before the handshake
  bool early_confirm_pending_ = false;         // tell the handlers: early data confirmed
  bool graceful_close_ = false;                // close requested: CONNECTION_CLOSE once flushed
  bool abort_pending_ = false;                 // CONNECTION_CLOSE (error 0) at the next after_io
  std::optional<uint64_t> app_close_pending_;  // CONNECTION_CLOSE with this code (after_io)
  ngtcp2_connection_close_error last_error_{};
  std::vector<uint8_t> close_packet_;  // the CONNECTION_CLOSE re-sent during kClosing
  ngtcp2_path_storage close_path_{};
  uint64_t packets_while_closing_ = 0;
  bool skip_closing_period_ = false;  // terminate(): send CONNECTION_CLOSE once, then go
  // Packets the socket refused with EAGAIN (a batch, or its unsent tail), re-sent in order when
  // it becomes writable. (Packets are written into a per-thread batch buffer, batch_buffer() in
  // the .cc, so a connection holds no send buffer while idle.)
  struct Blocked {
    std::vector<uint8_t> data;
    SockAddr remote;
    SockAddr local;
    uint8_t ecn = 0;
    size_t segment_size = 0;  // datagram size within `data` (the last may be shorter)
  };
  std::vector<Blocked> blocked_;
  std::unique_ptr<QlogWriter> qlog_;  // null without qlog_dir
  mutable Timestamp last_now_ = 0;    // the latest now(): the ngtcp2 call in progress
  bool in_recv_callback_ = false;     // handing received stream data to a handler
  transport::TimerWatcher timer_;
  transport::IoWatcher write_ev_;
  transport::TimerWatcher linger_;
};

}  // namespace mquictt::quic
