#pragma once
// BrokerImpl: the state behind Broker (pimpl). Owns the Router, RetainedStore, SessionRegistry,
// DeadlineQueue and the non-owning table of live ProtocolHandlers; implements routing (fan-out),
// session attach / detach (takeover, clean start, will, expiry) and every timer.
//
// Routing a PUBLISH (route()):
//   1. RETAIN: RetainedStore::set (empty payload deletes).
//   2. Router::match -> one Delivery per session (+ one per shared group). Shared groups prefer
//      members that are connected and not slow (`eligible`); if none is, the Router still picks
//      one and its session queues the message.
//   3. Per delivery: Authenticator::authorize_delivery, then
//        connected session -> ProtocolHandler::deliver (send now or queue, see protocol_handler.h)
//        offline session   -> its queue: QoS 1/2 always, QoS 0 only with queue_qos0_messages;
//                             a full queue drops the new message (counted).
//   Delivery QoS = min(message QoS, granted QoS); RETAIN is kept only with Retain As Published
//   (retained-on-subscribe deliveries always carry RETAIN=1).
// Publishing is never nested: a publish triggered while a fan-out runs (a will of a client
// kicked for overflow) is queued and routed right after the current one.
//
// Memory bounds (the backpressure policy in one place):
//   - inbound: FrameSplitter limit (max_packet_size_bytes), QoS 2 ids <= receive_maximum per
//     connection, a connection above the high watermark stops being read;
//   - outbound per session: inflight <= send window, queue <= max_queued_messages /
//     max_queued_bytes (set at least one of them: 0/0 means unbounded), QoS 0 to a slow client
//     is dropped, a full queue drops the newest or disconnects the client (OverflowPolicy);
//   - encodings: one SharedBytes per (version, retain) for plain QoS 0 fan-out; every other
//     delivery is encoded for its subscriber (a QoS 1/2 frame differs at least in its packet id;
//     aliases and subscription ids differ too). Topic, payload and properties are copied into
//     one codec::Publish per fan-out, not per subscriber.
//
// shutdown(): DISCONNECT 0x8B to MQTT 5 clients, close everything. Wills are not published (every
// subscriber is being disconnected as well) and sessions are left as they are.
//
// Timers (DeadlineQueue): connect timeout and keepalive per connection (keepalive re-arms lazily:
// when it fires early it re-schedules at last packet + 1.5 x keep alive, so packets cost no timer
// work); will delay, session expiry and queued-message expiry per session; one timer for the
// earliest retained-message expiry.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <spdlog/logger.h>

#include "broker/authenticator.h"
#include "broker/broker.h"
#include "broker/deadline_queue.h"
#include "broker/message.h"
#include "broker/outgoing.h"
#include "broker/protocol_handler.h"
#include "broker/retained_store.h"
#include "broker/router.h"
#include "broker/session_registry.h"
#include "codec/packet.h"

namespace mquictt::broker {

// Encodings shared by the subscribers of one fan-out (one message at one instant). Only plain
// QoS 0 frames are shared: no packet id, no subscription ids, no topic alias -- the same bytes
// for every such subscriber of one protocol version and RETAIN value.
// Every other delivery of the fan-out reuses `base` (topic, payload, properties copied once) and
// rewrites only its per-subscriber fields before encoding.
struct FanoutContext {
  SharedBytes qos0[2][2];  // [v5 ? 1 : 0][retain ? 1 : 0]
  std::optional<codec::Publish> base;
};

class BrokerImpl {
 public:
  BrokerImpl(BrokerConfig config, Clock& clock);
  ~BrokerImpl();
  BrokerImpl(const BrokerImpl&) = delete;
  BrokerImpl& operator=(const BrokerImpl&) = delete;

  // --- Broker API ---
  std::unique_ptr<ByteStreamHandler> accept(ByteStream& stream, const ListenerInfo& listener);
  void tick();
  std::optional<TimeMs> next_deadline() const { return timers_.next(); }
  void flush();
  void shutdown();
  void set_config(BrokerConfig config);
  BrokerStats stats() const;
  void set_authenticator(std::shared_ptr<Authenticator> auth);

  // --- For ProtocolHandler ---
  TimeMs now() const { return clock_.now_ms(); }
  Authenticator& authenticator() { return *auth_; }
  Router& router() { return router_; }
  DeadlineQueue& timers() { return timers_; }
  BrokerStats& counters() { return counters_; }
  spdlog::logger& log() { return *log_; }

  struct Attached {
    Session* session = nullptr;
    bool session_present = false;
  };
  // Binds `h` to the session of `client_id`: takes it over from a connected handler (0x8E),
  // ends it first on clean start, or creates it. Cancels a pending will and expiry.
  Attached attach(ProtocolHandler& h, const std::string& client_id, bool clean_start,
                  uint32_t expiry_s, std::optional<codec::Will> will);
  // Unbinds `h` from `s` when its connection ended: publishes or schedules the will (if
  // `will_allowed`, else discards it), ends the session if its expiry is 0, else schedules expiry.
  void detach(ProtocolHandler& h, Session& s, bool will_allowed);
  // A client id no session uses: auto_id_prefix + 16 hex digits.
  std::string assign_client_id();
  // Routes a message (see header comment). Returns the number of deliveries, or nullopt if the
  // message was queued behind a running fan-out.
  std::optional<size_t> publish(MessagePtr msg);
  // Retained messages matching a new subscription, delivered to `h` on the subscription's
  // `stream` (RETAIN=1).
  void send_retained(ProtocolHandler& h, std::string_view filter, uint8_t granted_qos,
                     std::optional<uint32_t> subscription_id, StreamTag stream);
  // A tag for a new data stream, never handed out before (see StreamTag in message.h).
  StreamTag next_stream_tag() { return next_stream_tag_++; }
  // (Re)arms the session's queued-message expiry timer for its earliest expiring message.
  void arm_queue_expiry(Session& s);
  // The connection is gone (on_closed or destruction): drop it from every table.
  void forget(ProtocolHandler& h);
  // The handler stopped reading or has messages waiting for the stream: flush() re-checks it.
  void mark_blocked(ProtocolHandler& h) { blocked_.insert(h.id()); }
  void unmark_blocked(ProtocolHandler& h) { blocked_.erase(h.id()); }

 private:
  ProtocolHandler* online(SessionId id) const;
  size_t route(const MessagePtr& msg);
  void enqueue_offline(Session& s, Outgoing&& o);
  void publish_will(Session& s);
  void end_session(Session& s);
  // Keeps one timer at the retained store's earliest expiry.
  void arm_retained_expiry();

  std::shared_ptr<const BrokerConfig> config_;
  Clock& clock_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<Authenticator> auth_;
  Router router_;
  RetainedStore retained_;
  SessionRegistry sessions_;
  DeadlineQueue timers_;
  BrokerStats counters_;

  uint64_t next_connection_id_ = 1;
  StreamTag next_stream_tag_ = kControlStream + 1;
  std::unordered_map<uint64_t, ProtocolHandler*> connections_;  // every live handler
  std::unordered_map<SessionId, ProtocolHandler*> online_;      // connected sessions
  std::unordered_map<std::string, size_t> listener_connections_;
  std::unordered_set<uint64_t> blocked_;

  std::vector<Delivery> deliveries_;  // scratch of route()
  std::function<bool(SessionId)> eligible_;
  bool routing_ = false;
  std::vector<MessagePtr> pending_publishes_;

  TimerId retained_timer_ = kNoTimer;
  TimeMs retained_timer_at_ = 0;
  uint64_t id_seed_;
};

}  // namespace mquictt::broker
