#pragma once
// A QUIC listener: one UDP socket, the connections reached through it, and everything that
// happens before a packet belongs to a connection.
//
// Per readable event, up to kMaxDatagramsPerEvent datagrams (fairness against everything else on
// the loop). For each: ngtcp2_pkt_decode_version_cid, then
//   - an unsupported version: Version Negotiation (only for datagrams of >= 1200 bytes, which a
//     client's Initial must be, so we cannot be used as an amplifier);
//   - a DCID in the CID map: that connection (routing is by CID, never by address: clients
//     migrate and NATs rebind);
//   - an unknown DCID on a long-header Initial: ngtcp2_accept, the Retry policy and the
//     connection limit, then a new QuicConnection;
//   - an unknown DCID on a short-header packet: a Stateless Reset (smaller than the packet that
//     triggered it, RFC 9000 10.3), so a client of a restarted server learns fast that its
//     connection is gone; only recognised after a restart if the static secret is configured.
//
// Ownership: the listener owns the socket, its ev_io, the CID map and (through its ConnectionSet)
// every QuicConnection. Destroying it terminates the connections (each sends CONNECTION_CLOSE
// once; each handler gets on_closed() first), so it must go before the Broker and the EvLoop.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/byte_stream.h"
#include "transport/connection_set.h"
#include "transport/ev_loop.h"
#include "transport/quic/cid.h"
#include "transport/quic/quic_clock.h"
#include "transport/quic/quic_connection.h"
#include "transport/quic/quic_tls.h"
#include "transport/quic/session_tickets.h"
#include "transport/quic/udp_socket.h"

namespace mquictt::quic {

enum class RetryMode : uint8_t { kNever, kAlways, kAboveHandshakes };

struct QuicListenerOptions {
  std::string name;  // for logs
  std::string host;  // numeric IPv4 or IPv6 address, no brackets
  uint16_t port = 0;
  bool ipv6 = false;
  uint32_t max_connections = 0;  // 0 = unlimited
  TlsServerFiles tls;
  QuicTransportOptions transport;
  uint8_t node_id = 0;
  RetryMode retry = RetryMode::kNever;
  uint32_t retry_handshakes_above = 0;
  // Key material for stateless reset tokens and Retry / NEW_TOKEN tokens (>= 32 bytes). Empty:
  // 32 random bytes per process (a restarted server then cannot reset its predecessor's
  // connections or accept its tokens).
  std::vector<uint8_t> static_secret;
  // UDP GSO for the connections' write bursts (UdpSocket::set_gso). lib/config turns it on by
  // default; off here so that tests opt in.
  bool gso = false;
  // Session tickets (resumption, and 0-RTT if early_data); nullopt = none. The ticket key
  // derives from static_secret, so with it tickets survive a restart (SessionTickets).
  std::optional<SessionTicketOptions> session_tickets = SessionTicketOptions{};
};

// The transport parameters 0-RTT clients remember, as the listener advertises them.
EarlyDataLimits early_data_limits(const QuicTransportOptions& options);

class QuicListener final : public ConnectionHost {
 public:
  static constexpr int kMaxDatagramsPerEvent = 64;
  // How long a Retry token stays valid, in nanoseconds.
  static constexpr Timestamp kRetryTokenLifetime = 10 * kNanosPerSecond;
  // How long a NEW_TOKEN token stays valid.
  static constexpr Timestamp kNewTokenLifetime = 3600 * kNanosPerSecond;

  using AcceptFn = std::function<std::unique_ptr<broker::ByteStreamHandler>(broker::ByteStream&)>;

  // Loads the TLS files and binds (not yet reading: see start()). Throws std::runtime_error
  // naming the address or file on failure.
  QuicListener(transport::EvLoop& loop, QuicListenerOptions options, AcceptFn accept,
               QuicClock& clock = monotonic_clock());
  ~QuicListener() override;
  QuicListener(const QuicListener&) = delete;
  QuicListener& operator=(const QuicListener&) = delete;

  void start();
  // No new connections from now on; existing ones keep the socket until they are gone, and skip
  // their closing/draining periods (graceful shutdown).
  void stop_accepting();

  const std::string& name() const { return options_.name; }
  // The bound address with the real port: "127.0.0.1:43121", "[::]:14567".
  std::string local_address() const { return socket_.local_address().to_string(); }
  uint16_t port() const { return socket_.local_address().port(); }
  size_t connection_count() const { return connections_.size(); }
  transport::ConnectionSet& connections() { return connections_; }
  size_t handshakes_in_progress() const { return handshakes_; }
  // For connections accepted from now on (config reload: watermarks, windows). Changed flow
  // control limits also change the ticket key (SessionTickets), so no 0-RTT client can exceed
  // them.
  void set_transport_options(const QuicTransportOptions& options);
  // nullptr when tickets are off.
  const SessionTickets* tickets() const { return tickets_.get(); }
  // Handshakes that resumed a session / accepted 0-RTT (counted when they complete).
  uint64_t resumed_handshakes() const { return resumed_; }
  uint64_t early_data_handshakes() const { return early_data_; }
  // ClientHellos whose early data TLS accepted (counted at once; a replayed first flight that
  // never completes its handshake counts here, unless anti-replay refused it).
  uint64_t early_data_accepted() const { return early_accepted_; }
  // Certificate reload: loads `files` into a new TLS context for connections accepted from now
  // on; existing connections keep theirs. On failure (`error` names the file and GnuTLS's reason)
  // the current context stays.
  bool reload_tls(const TlsServerFiles& files, std::string* error);

  // libev entry point (trampoline only).
  void on_readable() noexcept;

  // ConnectionHost
  bool associate_cid(const ngtcp2_cid& cid, QuicConnection& conn) override;
  void dissociate_cid(const ngtcp2_cid& cid, QuicConnection& conn) override;
  ngtcp2_cid new_cid(size_t length) override { return cids_.generate(length); }
  bool stateless_reset_token(const ngtcp2_cid& cid, uint8_t* token) override;
  std::vector<uint8_t> new_token(const sockaddr* remote, socklen_t remote_len) override;
  UdpSocket& socket() override { return socket_; }
  QuicClock& clock() override { return clock_; }
  const SessionTickets* session_tickets() const override { return tickets_.get(); }
  std::unique_ptr<broker::ByteStreamHandler> accept_stream(broker::ByteStream& s) override;
  void handshake_completed(QuicConnection& conn) override;
  void connection_gone(QuicConnection& conn) override;
  bool shutting_down() const override { return !accepting_; }

 private:
  void handle_datagram(const Datagram& d);
  void accept_new(const Datagram& d);
  bool retry_wanted() const;
  void send_version_negotiation(const ngtcp2_version_cid& vc, const Datagram& d);
  void send_retry(const ngtcp2_pkt_hd& hd, const Datagram& d);
  void send_stateless_close(const ngtcp2_pkt_hd& hd, const Datagram& d, uint64_t error_code);
  void send_stateless_reset(std::span<const uint8_t> dcid, const Datagram& d);
  void send_raw(const Datagram& d, std::span<const uint8_t> bytes);

  transport::EvLoop& loop_;
  QuicListenerOptions options_;
  AcceptFn accept_;
  QuicClock& clock_;
  // Shared with every connection created from it (QuicConnection::create).
  std::shared_ptr<const TlsServerContext> tls_;
  UdpSocket socket_;
  CidGenerator cids_;
  CidMap<QuicConnection> cid_map_;
  std::vector<uint8_t> secret_;
  // Outlives every connection's TLS session: declared before connections_, destroyed after.
  std::unique_ptr<SessionTickets> tickets_;
  uint64_t resumed_ = 0;
  uint64_t early_data_ = 0;
  uint64_t early_accepted_ = 0;
  size_t handshakes_ = 0;  // connections created whose handshake has not completed
  bool accepting_ = true;
  uint64_t refused_ = 0;                  // over max_connections, for the log
  transport::ConnectionSet connections_;  // emptied first thing in ~QuicListener
  transport::IoWatcher read_io_;
};

}  // namespace mquictt::quic
