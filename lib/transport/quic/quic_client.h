#pragma once
// A small MQTT-over-QUIC client transport for tests and tools: one QUIC connection with ALPN
// "mqtt" over its own UDP socket, bidirectional streams, bytes in and out per stream.
//
// It drives itself: every call that waits (connect(), poll(), wait_until()) runs its own poll(2)
// loop on the socket and ngtcp2's timer, so tests need no event loop and no thread. Nothing
// happens between calls: a client that is not polled does not acknowledge, which QUIC tolerates
// (the peer retransmits) as long as it is polled within the idle timeout. A caller with its own
// loop can instead watch fd(), call on_readable() when it is readable (it reads, then writes
// what the datagrams call for) and on_timer() at next_timeout().
//
// Not thread-safe; one thread uses one client. All sizes in bytes, times as named.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "transport/quic/quic_clock.h"
#include "transport/quic/quic_tls.h"
#include "transport/quic/stream_buffers.h"
#include "transport/quic/udp_socket.h"

namespace mquictt::quic {

struct QuicClientOptions {
  std::string host = "127.0.0.1";  // numeric server address
  uint16_t port = 14567;
  bool ipv6 = false;
  TlsClientOptions tls;  // ca_file or insecure, server_name, optional client certificate, alpn
  // A context to share instead of building one from `tls` (tools that open many connections
  // load the CA file once); null = build one.
  std::shared_ptr<const TlsClientContext> tls_context;
  uint32_t version = NGTCP2_PROTO_VER_V1;  // an unsupported one provokes Version Negotiation
  Timestamp idle_timeout = 30 * kNanosPerSecond;
  Timestamp handshake_timeout = 10 * kNanosPerSecond;
  // RTT assumed before the first sample. ngtcp2 paces packets by smoothed RTT / cwnd, so with
  // its default (333 ms) the client's Finished waits ~25 ms behind its Initial; a tool on
  // loopback can set a realistic value.
  Timestamp initial_rtt = NGTCP2_DEFAULT_INITIAL_RTT;
  uint64_t stream_window_bytes = 1024 * 1024;
  uint64_t connection_window_bytes = 4 * 1024 * 1024;
  std::string qlog_path;  // write a qlog of this connection; empty = none
  // An address validation token from an earlier connection's NEW_TOKEN (new_token()); lets the
  // server skip its Retry.
  std::vector<uint8_t> token;
};

class QuicClient {
 public:
  // How the connection ended, as far as the client knows.
  struct CloseInfo {
    bool by_peer = false;      // the server sent CONNECTION_CLOSE (else: local, timeout, reset)
    bool application = false;  // application error (0x1d frame) rather than transport (0x1c)
    uint64_t code = 0;         // e.g. 0x178 = CRYPTO_ERROR no_application_protocol
    std::string reason;
  };

  // Creates the socket (bound to the loopback address of the server's family, kernel port) and
  // TLS context. Throws std::runtime_error (e.g. a CA file that cannot be read).
  explicit QuicClient(QuicClientOptions options, QuicClock& clock = monotonic_clock());
  ~QuicClient();
  QuicClient(const QuicClient&) = delete;
  QuicClient& operator=(const QuicClient&) = delete;

  // Runs the handshake. True once it completed (TLS verified, ALPN agreed); false on failure or
  // timeout, with error() saying why.
  bool connect(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Sends the first Initial and returns at once (drive the rest with poll() or the loop API).
  // False if the connection could not even be set up (error()).
  bool begin_connect();
  bool connected() const { return handshake_done_ && !closed_; }
  bool closed() const { return closed_; }
  const std::string& error() const { return error_; }
  const std::optional<CloseInfo>& close_info() const { return close_info_; }
  std::string alpn() const;
  // Retry packets the client followed during the handshake (0 or 1).
  int retries() const { return retries_; }
  int version_negotiations() const { return version_negotiations_; }
  // The last NEW_TOKEN the server sent (empty if none), for QuicClientOptions::token next time.
  const std::vector<uint8_t>& new_token() const { return new_token_; }
  // The server reset the connection statelessly (it lost the connection's state).
  bool stateless_reset() const { return stateless_reset_; }

  // Opens the next client bidirectional stream (0, 4, 8, ...). nullopt if the server's stream
  // limit does not allow one now (or the connection is not up).
  std::optional<int64_t> open_stream();
  // Queues bytes (sent on the next poll; send() also flushes at once).
  void send(int64_t stream_id, std::span<const uint8_t> bytes);
  // FIN after the queued bytes.
  void finish(int64_t stream_id);
  // RESET_STREAM + STOP_SENDING with `app_error_code`.
  void reset(int64_t stream_id, uint64_t app_error_code);
  // STOP_SENDING only: we keep sending, the server should stop.
  void stop_reading(int64_t stream_id, uint64_t app_error_code);
  // Bytes received on the stream and not yet taken.
  size_t available(int64_t stream_id) const;
  std::vector<uint8_t> take(int64_t stream_id);
  // The server finished (FIN) or reset the stream; no more bytes will come.
  bool peer_finished(int64_t stream_id) const;
  bool peer_reset(int64_t stream_id) const;
  // The application error code of the server's RESET_STREAM, if it sent one.
  std::optional<uint64_t> peer_reset_code(int64_t stream_id) const;
  // ngtcp2 is done with the stream: both directions ended (FINs, resets, or a STOP_SENDING from
  // the server, which makes ngtcp2 reset our side).
  bool stream_closed(int64_t stream_id) const;
  // Unacknowledged bytes we sent on the stream.
  size_t unacked(int64_t stream_id) const;

  // Sends CONNECTION_CLOSE with an application error code and stops. Idempotent.
  void close(uint64_t app_error_code = 0, const std::string& reason = "");
  // Drops the connection without telling the server (as a crashed client would).
  void drop();
  // Starts a TLS key update (after the handshake is confirmed). False if ngtcp2 refused.
  bool initiate_key_update();
  // Rebinds to a new local UDP port and tells ngtcp2 (the server sees a migration).
  bool migrate();

  // Processes whatever arrives within `timeout`, runs due timers, writes. False once closed.
  bool poll(std::chrono::milliseconds timeout);
  // Polls until `pred` holds (true) or `timeout` passes / the connection closes (false).
  bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

  // Own-loop integration.
  int fd() const;
  Timestamp next_timeout() const;
  void on_readable();
  void on_timer();

  // ngtcp2 callbacks (trampolines only).
  int cb_recv_stream_data(uint32_t flags, int64_t stream_id, std::span<const uint8_t> data);
  int cb_acked_stream_data_offset(int64_t stream_id, uint64_t offset, uint64_t datalen);
  int cb_stream_close(int64_t stream_id);
  int cb_stream_reset(int64_t stream_id, uint64_t app_error_code);
  int cb_handshake_completed();
  int cb_recv_retry();
  int cb_recv_version_negotiation();
  int cb_get_new_connection_id(ngtcp2_cid* cid, uint8_t* token, size_t cidlen);
  int cb_recv_new_token(std::span<const uint8_t> token);
  int cb_recv_stateless_reset();
  void cb_qlog(uint32_t flags, const void* data, size_t len);
  ngtcp2_conn* cb_get_conn() const { return conn_; }

 private:
  struct Stream {
    SendBuffer send;
    bool fin_requested = false;
    bool fin_sent = false;
    std::vector<uint8_t> received;
    bool peer_finished = false;
    bool peer_reset = false;
    std::optional<uint64_t> reset_code;
    bool closed = false;
  };

  bool start();
  Timestamp now() const { return clock_.now(); }
  void read_datagrams();
  bool handle_read_error(int rv);
  void write_packets();
  void finish_closed(const std::string& why);
  Stream* find(int64_t id);
  const Stream* find(int64_t id) const;

  QuicClientOptions options_;
  QuicClock& clock_;
  std::shared_ptr<const TlsClientContext> tls_ctx_;
  std::unique_ptr<UdpSocket> socket_;
  SockAddr remote_;
  ngtcp2_conn* conn_ = nullptr;
  gnutls_session_t tls_ = nullptr;
  ngtcp2_crypto_conn_ref conn_ref_{};
  std::map<int64_t, Stream> streams_;
  bool handshake_done_ = false;
  bool closed_ = false;
  int retries_ = 0;
  int version_negotiations_ = 0;
  std::vector<uint8_t> new_token_;
  bool stateless_reset_ = false;
  std::string error_;
  std::optional<CloseInfo> close_info_;
  std::vector<uint8_t> rx_;
  std::vector<uint8_t> tx_;
  FILE* qlog_ = nullptr;
};

}  // namespace mquictt::quic
