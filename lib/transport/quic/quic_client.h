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

#include "transport/quic/qlog_writer.h"
#include "transport/quic/quic_clock.h"
#include "transport/quic/quic_tls.h"
#include "transport/quic/stream_buffers.h"
#include "transport/quic/udp_socket.h"

namespace mquictt::quic {

// What a client keeps from a connection to resume the next one with 0-RTT (RFC 9000 7.4.1): the
// TLS session with its ticket (gnutls_session_get_data2) and the server's transport parameters
// (encoded as in its EncryptedExtensions), which bound what may be sent before the handshake.
struct ResumptionState {
  std::vector<uint8_t> ticket;
  std::vector<uint8_t> transport_params;
};

struct QuicClientOptions {
  std::string host = "127.0.0.1";  // numeric server address
  uint16_t port = 14567;
  bool ipv6 = false;
  // Local address to bind (numeric, same family). Empty: the loopback address when the server is
  // on loopback, else the wildcard address. local_port 0 = kernel-chosen.
  std::string local_host;
  uint16_t local_port = 0;
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
  // Resume an earlier connection's session (QuicClient::resumption_state()). Streams opened and
  // written before the handshake completes then go out as 0-RTT. If the server rejects the early
  // data (restarted, ticket key changed, replay suspected), the client opens the same streams
  // again and resends their bytes in 1-RTT (early_data_rejected() reports it).
  std::optional<ResumptionState> resumption;
  // Called with every datagram sent (tests: capture a first flight to replay it).
  std::function<void(std::span<const uint8_t>)> on_datagram_sent;
  // Tests: keep the server's Handshake packets unprocessed until release_handshake(). The
  // ServerHello (an Initial packet) is processed, so a resuming client has its 0-RTT key
  // (GnuTLS 3.7 derives a client's early keys only after the ServerHello) and sends its streams
  // in 0-RTT packets, but the handshake cannot complete: the server's view of 0-RTT data held
  // "before the handshake" for as long as the test wants.
  bool hold_handshake = false;
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

  // Resumption and 0-RTT. resumption_state(): set once the server sent a session ticket (after
  // the handshake) -- the latest ticket and the server's transport parameters.
  std::optional<ResumptionState> resumption_state() const;
  // The handshake resumed the session of options.resumption (known once connected()).
  bool resumed() const;
  // The client resumed with a ticket and the server's parameters, so streams may be written
  // before the handshake completes (early_bytes_sent() says what actually went out that way).
  bool early_data_attempted() const { return early_data_attempted_; }
  // The server accepted it (known once connected()); if it did not, early_data_rejected() and
  // every stream's bytes were sent again after the handshake.
  bool early_data_accepted() const { return early_data_accepted_; }
  bool early_data_rejected() const { return early_data_rejected_; }
  // Stream bytes ngtcp2 took before the handshake completed, i.e. sent in 0-RTT packets (a
  // client has no 1-RTT keys before then, and STREAM frames never go in Initial or Handshake
  // packets).
  uint64_t early_bytes_sent(int64_t stream_id) const;
  // With options.hold_handshake: feeds the held Handshake packets and processes normally from
  // now on.
  void release_handshake();
  size_t held_packets() const { return held_.size(); }

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
  // Connection migration (RFC 9000 section 9), all keeping the connection (and so the MQTT
  // session on it). False if ngtcp2 refused (e.g. handshake not confirmed yet, or no spare
  // connection ID from the server yet) or the new socket could not be bound.
  //
  // migrate(): a new local port on the same address, switched to at once (immediate migration;
  // the server validates the new path while already using it).
  bool migrate();
  // A new local address (numeric, same family) and port (0 = kernel-chosen). validate_first:
  // ngtcp2_conn_initiate_migration: PATH_CHALLENGE on the new path while traffic stays on the
  // old one; the client switches once the PATH_RESPONSE arrives (migration_pending() until then;
  // poll() reads both sockets meanwhile). Otherwise immediate migration as migrate().
  bool migrate_to(const std::string& host, uint16_t port = 0, bool validate_first = true);
  // NAT rebinding: the socket moves to host:port but ngtcp2 is NOT told; it keeps believing in
  // its old local address, as behind a NAT that changed the mapping. The server sees packets
  // from a new address and must validate that path itself.
  bool rebind(const std::string& host, uint16_t port = 0);
  // A validating migrate_to() still waits for its PATH_RESPONSE.
  bool migration_pending() const { return probe_ != nullptr; }
  // The address the current socket is really bound to.
  const SockAddr& local_address() const { return socket_->local_address(); }
  // Path validations ngtcp2 reported (either side's migration) as succeeded / failed.
  int path_validations_succeeded() const { return path_validations_ok_; }
  int path_validations_failed() const { return path_validations_failed_; }

  // Processes whatever arrives within `timeout`, runs due timers, writes. False once closed.
  bool poll(std::chrono::milliseconds timeout);
  // Polls until `pred` holds (true) or `timeout` passes / the connection closes (false).
  bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

  // Own-loop integration (not during a validating migrate_to(): then only poll() reads the
  // probe socket).
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
  int cb_path_validation(const ngtcp2_path* path, bool succeeded);
  int cb_new_session_ticket();
  void cb_qlog(uint32_t flags, const void* data, size_t len);
  ngtcp2_conn* cb_get_conn() const { return conn_; }

 private:
  // Writes CONNECTION_CLOSE with `ccerr` and sends it once (best effort; no closing period).
  void send_connection_close(const ngtcp2_connection_close_error& ccerr);
  // A socket on host:port for migrate_to()/rebind(); nullptr (error_ set if binding failed) when
  // there is no connection to move, a validated move is still in progress, or binding fails.
  std::unique_ptr<UdpSocket> socket_for_move(const std::string& host, uint16_t port);
  struct Stream {
    SendBuffer send;
    bool fin_requested = false;
    bool fin_sent = false;
    std::vector<uint8_t> received;
    bool peer_finished = false;
    bool peer_reset = false;
    std::optional<uint64_t> reset_code;
    bool closed = false;
    uint64_t early_bytes = 0;  // taken by ngtcp2 before the handshake completed
  };

  bool start();
  Timestamp now() const { return clock_.now(); }
  void read_datagrams();
  // One datagram (or, with hold_handshake, the packets of it that may be processed now).
  bool feed(const Datagram& d);
  bool feed_packet(const Datagram& d, std::span<const uint8_t> pkt);
  bool handle_read_error(int rv);
  void write_packets();
  // The socket a packet on `local` goes out of: the probe socket for the path being validated,
  // else the current one.
  UdpSocket& socket_for(const ngtcp2_addr& local);
  // After ngtcp2 calls: promote the probe socket once ngtcp2 moved to its path, or drop it once
  // its validation failed.
  void settle_migration();
  void read_from(UdpSocket& sock);
  void finish_closed(const std::string& why);
  // The server did not take our 0-RTT data: ngtcp2 dropped the streams; open them again (same
  // ids) and resend everything from offset 0.
  bool resend_rejected_early_data();
  Stream* find(int64_t id);
  const Stream* find(int64_t id) const;

  QuicClientOptions options_;
  QuicClock& clock_;
  std::shared_ptr<const TlsClientContext> tls_ctx_;
  std::unique_ptr<UdpSocket> socket_;
  std::unique_ptr<UdpSocket> probe_;  // the new path of a validating migrate_to()
  bool probe_failed_ = false;         // its validation failed (settle_migration drops it)
  // rebind(): datagrams are presented to ngtcp2 as arriving on this (its old) local address.
  std::optional<SockAddr> nat_local_;
  int path_validations_ok_ = 0;
  int path_validations_failed_ = 0;
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
  std::vector<uint8_t> ticket_;  // the latest session ticket (session data)
  std::vector<uint8_t> server_params_;
  bool early_data_attempted_ = false;
  bool early_data_accepted_ = false;
  bool early_data_rejected_ = false;
  struct HeldPacket {
    std::vector<uint8_t> bytes;
    SockAddr local;
    SockAddr remote;
  };
  std::vector<HeldPacket> held_;  // hold_handshake: Handshake packets not yet processed
  std::string error_;
  std::optional<CloseInfo> close_info_;
  std::vector<uint8_t> rx_;
  std::vector<uint8_t> tx_;
  std::unique_ptr<QlogWriter> qlog_;  // options.qlog_path; outlives conn_ (its last record)
};

}  // namespace mquictt::quic
