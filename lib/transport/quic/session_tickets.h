#pragma once
// Session resumption and 0-RTT for a QUIC listener: the session ticket master key and the
// anti-replay record shared by all of the listener's TLS sessions (docs/quic.md "0-RTT and
// resumption").
//
// Kept apart from TlsServerContext on purpose: a certificate reload replaces the TlsServerContext
// for new connections, and tickets issued before must stay valid.
//
// Ticket keys. GnuTLS takes one 64-byte master key per session (gnutls_session_ticket_enable_
// server) and rotates the key it actually uses by itself: the key of time step
// T = floor(unix_time / (3 x ticket_lifetime_s)) is SHA3-512(T || master key), and a ticket
// sealed with the current or the previous step's key is accepted (GnuTLS lib/stek.c). So the key
// in use changes every 3 x ticket_lifetime_s, a ticket is honoured for at most ticket_lifetime_s
// (the lifetime it carries) and never across more than one rotation.
// The master key is HMAC-SHA512(base, "mquictt ticket key v1" || limits), where base is the
// listener's static secret (so tickets survive a restart and work across instances sharing the
// secret) or 32 random bytes per process, and `limits` are the transport parameters a 0-RTT
// client relies on (RFC 9000 7.4.1). A change of those limits therefore changes the master key:
// older tickets no longer decrypt, the client does a full handshake and its early data is
// rejected, so it can never exceed what the server allows now.
//
// Anti-replay (RFC 8446 8): GnuTLS rejects early data whose ticket age is off by more than the
// window, or whose ticket was issued before GnuTLS's current recording period began (a period
// starts at the process start and again at the first 0-RTT attempt more than one window after
// the last start; so only tickets younger than about 1-2 windows carry early data, see
// docs/quic.md "Limitation: only young tickets carry 0-RTT"); every other
// ClientHello with early data is recorded here (by its PSK binder) for 2 x window, and a second
// one with the same binder is rejected (its 0-RTT data is dropped; the handshake may go on).
// This holds for one process: instances sharing the secret do not share this record.
//
// Ownership: the listener owns it; it must outlive every TLS session configured with it
// (gnutls_anti_replay_enable keeps a pointer). Not thread-safe (the loop thread).

#include <gnutls/gnutls.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace mquictt::quic {

struct SessionTicketOptions {
  bool early_data = true;                  // accept 0-RTT from resuming clients
  uint32_t ticket_lifetime_s = 6 * 3600;   // GnuTLS's default; keys rotate every 3 x this
  uint32_t anti_replay_window_ms = 10000;  // GnuTLS's default
  size_t max_replay_entries = 100000;      // recorded ClientHellos; beyond: early data rejected
};

// The transport parameters a 0-RTT client uses from its last connection.
struct EarlyDataLimits {
  uint64_t max_data = 0;
  uint64_t max_stream_data = 0;  // bidi local and remote
  uint64_t max_streams_bidi = 0;
  bool operator==(const EarlyDataLimits&) const = default;
};

class SessionTickets {
 public:
  static constexpr size_t kMasterKeySize = 64;  // GnuTLS's TICKET_MASTER_KEY_SIZE

  // `secret`: the listener's static secret (empty: random per process). Throws
  // std::runtime_error if GnuTLS cannot allocate its state.
  SessionTickets(const SessionTicketOptions& options, std::span<const uint8_t> secret,
                 const EarlyDataLimits& limits);
  ~SessionTickets();
  SessionTickets(const SessionTickets&) = delete;
  SessionTickets& operator=(const SessionTickets&) = delete;

  // New limits for new connections (config reload): re-derives the master key if they changed.
  void set_limits(const EarlyDataLimits& limits);

  bool early_data() const { return options_.early_data; }
  // Flags for gnutls_init of a server session using this object.
  unsigned int session_flags() const;
  // Enables tickets (and early data, anti-replay) on a server session created with
  // session_flags(). False on failure.
  bool configure(gnutls_session_t session) const;

  // Early data refused because its ClientHello had been seen before / the record was full.
  uint64_t replays_detected() const { return replays_; }
  uint64_t record_full() const { return record_full_; }
  size_t recorded() const { return seen_.size(); }

  // GnuTLS's anti-replay database (trampoline target).
  int cb_add(time_t expires, const gnutls_datum_t* key);

 private:
  void derive_key();

  SessionTicketOptions options_;
  std::vector<uint8_t> base_;  // static secret or random
  EarlyDataLimits limits_;
  std::array<uint8_t, kMasterKeySize> key_{};
  gnutls_anti_replay_t anti_replay_ = nullptr;
  // Recorded PSK binders and when each may be forgotten (GnuTLS's expiry + one window).
  std::unordered_set<std::string_view> seen_;          // views into expiry_
  std::deque<std::pair<time_t, std::string>> expiry_;  // owns the binders, oldest first
  uint64_t replays_ = 0;
  uint64_t record_full_ = 0;
};

}  // namespace mquictt::quic
