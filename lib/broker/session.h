#pragma once
// Session: the MQTT state that belongs to a client id and may outlive a network connection
// (MQTT 5 §4.1). Connection-scoped state (keepalive, topic aliases, send quota, negotiated
// limits) is NOT here -- see connection_state.h; on resume it is rebuilt from the new CONNECT.
//
//   held here                                   lifetime
//   client id, SessionId                        whole session
//   session expiry interval (seconds)           updated by every CONNECT and by DISCONNECT
//   outbound inflight window (QoS 1/2 sender)   resent on reconnect
//   outbound queue (offline + overflow)         bounded, expiring
//   inbound QoS 2 packet ids (receiver)         until PUBREL
//   will message of the current / last connection, pending until published or cancelled
//   timer handles (will delay, expiry, queue)   bookkeeping for the broker's DeadlineQueue
// Subscriptions live in the Router, keyed by SessionId and StreamTag (one source of truth).
//
// Expiry semantics (MQTT 5 §3.1.2.11): 0 = ends when the connection closes; 0xFFFFFFFF = never;
// 3.1.1 clean session 0 maps to 0xFFFFFFFF (capped by max_session_expiry_interval_s), clean
// session 1 to 0.
//
// Ownership: SessionRegistry owns Sessions. A connected ProtocolHandler holds a non-owning pointer
// to its Session; a Session is destroyed only while no connection is attached to it.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "broker/deadline_queue.h"
#include "broker/inflight.h"
#include "broker/message.h"
#include "broker/message_queue.h"
#include "codec/packet.h"

namespace mquictt::broker {

inline constexpr uint32_t kSessionNeverExpires = 0xFFFFFFFF;

class Session {
 public:
  Session(SessionId id, std::string client_id) : id_(id), client_id_(std::move(client_id)) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  SessionId id() const { return id_; }
  const std::string& client_id() const { return client_id_; }

  uint32_t expiry_interval_s() const { return expiry_interval_s_; }
  void set_expiry_interval_s(uint32_t s) { expiry_interval_s_ = s; }
  // Absolute time the session ends if it stays disconnected from `disconnected_at`.
  std::optional<TimeMs> expiry_deadline(TimeMs disconnected_at) const {
    if (expiry_interval_s_ == kSessionNeverExpires) return std::nullopt;
    return disconnected_at + static_cast<TimeMs>(expiry_interval_s_) * 1000;
  }

  OutboundInflight& inflight() { return inflight_; }
  const OutboundInflight& inflight() const { return inflight_; }
  MessageQueue& queue() { return queue_; }
  const MessageQueue& queue() const { return queue_; }
  InboundQos2& inbound_qos2() { return inbound_qos2_; }

  // Will of the current connection (set at CONNECT), or of the last one while its delay runs.
  std::unique_ptr<codec::Will>& will() { return will_; }

  // DeadlineQueue handles owned by the broker's scheduling code.
  TimerId will_timer = kNoTimer;
  TimerId expiry_timer = kNoTimer;
  TimerId queue_timer = kNoTimer;
  TimeMs queue_timer_at = 0;  // when queue_timer fires (valid if queue_timer != kNoTimer)

  // Drops everything a clean start discards (the id and client id stay).
  void reset_state() {
    inflight_.clear();
    queue_.clear();
    inbound_qos2_.clear();
    will_.reset();
  }

 private:
  SessionId id_;
  std::string client_id_;
  uint32_t expiry_interval_s_ = 0;
  OutboundInflight inflight_;
  MessageQueue queue_;
  InboundQos2 inbound_qos2_;
  std::unique_ptr<codec::Will> will_;  // heap: most sessions have none
};

}  // namespace mquictt::broker
