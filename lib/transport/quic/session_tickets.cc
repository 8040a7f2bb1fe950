#include "transport/quic/session_tickets.h"

#include <gnutls/crypto.h>

#include <stdexcept>

namespace mquictt::quic {

namespace {

// GnuTLS prefixes the key with the 12-byte start of its current recording window; we key on the
// PSK binder alone, so a replay is also caught right after GnuTLS starts a new window.
constexpr size_t kWindowPrefix = 12;

int anti_replay_add(void* ptr, time_t expires, const gnutls_datum_t* key,
                    const gnutls_datum_t*) noexcept {
  return static_cast<SessionTickets*>(ptr)->cb_add(expires, key);
}

void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<uint8_t>(v >> shift));
}

}  // namespace

SessionTickets::SessionTickets(const SessionTicketOptions& options, std::span<const uint8_t> secret,
                               const EarlyDataLimits& limits)
    : options_(options), base_(secret.begin(), secret.end()), limits_(limits) {
  if (base_.empty()) {
    base_.resize(32);
    if (gnutls_rnd(GNUTLS_RND_KEY, base_.data(), base_.size()) != 0) {
      throw std::runtime_error("gnutls_rnd failed");
    }
  }
  derive_key();
  if (gnutls_anti_replay_init(&anti_replay_) != 0) {
    throw std::runtime_error("gnutls_anti_replay_init failed");
  }
  gnutls_anti_replay_set_window(anti_replay_, options_.anti_replay_window_ms);
  gnutls_anti_replay_set_add_function(anti_replay_, anti_replay_add);
  gnutls_anti_replay_set_ptr(anti_replay_, this);
}

SessionTickets::~SessionTickets() {
  gnutls_anti_replay_deinit(anti_replay_);
  gnutls_memset(key_.data(), 0, key_.size());
  gnutls_memset(base_.data(), 0, base_.size());
}

void SessionTickets::derive_key() {
  static constexpr std::string_view kLabel = "mquictt ticket key v1";
  std::vector<uint8_t> text(kLabel.begin(), kLabel.end());
  put_u64(text, limits_.max_data);
  put_u64(text, limits_.max_stream_data);
  put_u64(text, limits_.max_streams_bidi);
  if (gnutls_hmac_fast(GNUTLS_MAC_SHA512, base_.data(), base_.size(), text.data(), text.size(),
                       key_.data()) != 0) {
    throw std::runtime_error("cannot derive the session ticket key");
  }
}

void SessionTickets::set_limits(const EarlyDataLimits& limits) {
  if (limits == limits_) return;
  limits_ = limits;
  derive_key();
}

unsigned int SessionTickets::session_flags() const {
  // QUIC sends the ticket itself after the handshake (QuicConnection) and has no
  // EndOfEarlyData message (RFC 9001 8.3).
  unsigned int flags = GNUTLS_NO_AUTO_SEND_TICKET;
  if (options_.early_data) flags |= GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA;
  return flags;
}

bool SessionTickets::configure(gnutls_session_t session) const {
  gnutls_datum_t key{const_cast<uint8_t*>(key_.data()), static_cast<unsigned int>(key_.size())};
  // GnuTLS copies the key into the session.
  if (gnutls_session_ticket_enable_server(session, &key) != 0) return false;
  gnutls_db_set_cache_expiration(session, static_cast<int>(options_.ticket_lifetime_s));
  if (options_.early_data) {
    gnutls_anti_replay_enable(session, anti_replay_);
    // RFC 9001 4.6.1: QUIC requires max_early_data_size 0xffffffff in the ticket; QUIC flow
    // control, not TLS, limits the early data.
    if (gnutls_record_set_max_early_data_size(session, 0xffffffffu) != 0) return false;
  }
  return true;
}

int SessionTickets::cb_add(time_t expires, const gnutls_datum_t* key) {
  const time_t window_s = static_cast<time_t>(options_.anti_replay_window_ms / 1000);
  const time_t now = expires - window_s;  // GnuTLS passes now + window
  while (!expiry_.empty() && expiry_.front().first < now) {
    seen_.erase(expiry_.front().second);
    expiry_.pop_front();
  }
  if (key->size <= kWindowPrefix) return GNUTLS_E_DB_ERROR;
  const std::string_view id(reinterpret_cast<const char*>(key->data) + kWindowPrefix,
                            key->size - kWindowPrefix);
  if (seen_.count(id)) {
    ++replays_;
    return GNUTLS_E_DB_ENTRY_EXISTS;
  }
  if (seen_.size() >= options_.max_replay_entries) {
    ++record_full_;  // fail safe: no record, no early data
    return GNUTLS_E_DB_ERROR;
  }
  // The deque owns the bytes, the set views them (deque push/pop keep other elements in place).
  expiry_.emplace_back(expires + window_s + 1, std::string(id));
  seen_.insert(expiry_.back().second);
  return 0;
}

}  // namespace mquictt::quic
