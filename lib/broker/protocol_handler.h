#pragma once
// ProtocolHandler: the MQTT endpoint of one network connection, sans-I/O. It takes bytes
// (on_data -> FrameSplitter -> codec::decode), time (the broker's Clock) and timer events
// (on_timer), and emits encoded frames through ByteStream::write / write_shared. It owns the
// connection-scoped state (ConnectionState); the Session it serves belongs to the
// SessionRegistry.
//
// Lifecycle (state_):
//   kAwaitConnect --CONNECT--> [kAuthenticating --AUTH...-->] kConnected --> kClosed
//   Any state --error / DISCONNECT / EOF / takeover / shutdown--> kClosed (terminal).
// After kClosed the handler ignores input and waits for on_closed(), after which the transport
// destroys it. The session link is cut at the moment kClosed is entered, not at on_closed(), so
// a taken-over or failed connection never touches the session again.
//
// Errors: peer input never throws. Every failure becomes an Error{reason} and goes to fail(),
// the only function that sends a server-initiated CONNACK-with-error or DISCONNECT:
//   before CONNACK, MQTT 5     CONNACK(reason), close
//   before CONNACK, MQTT 3.1.1 CONNACK(3.1.1 code) if one exists (0x01, 0x02, 0x04, 0x05), close
//   before any CONNECT         close
//   after CONNACK, MQTT 5      DISCONNECT(reason), close
//   after CONNACK, MQTT 3.1.1  close (3.1.1 has no server DISCONNECT)
// fail() logs one line and publishes the will (unless told otherwise, e.g. on takeover).
//
// Backpressure (connection side; the session queue is the other half, see broker_impl.h):
//   - slow(): stream pending_bytes() > outbound_high_watermark_bytes. While slow, QoS 0
//     deliveries to this client are dropped (counted in messages_dropped) and QoS 1/2 wait in
//     the session queue (bounded by max_queued_*; overflow per OverflowPolicy).
//   - After handling input, a slow connection stops reading (set_reading(false)): a publisher
//     that doesn't read its own traffic cannot make us buffer more. on_writable() (or the
//     broker's flush() seeing pending_bytes() <= outbound_low_watermark_bytes, which keeps this
//     working whatever watermarks the transport uses) resumes reading and drains the queue.
//
// Acks that confirm durable state (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK) all go through
// send_durable_ack(): today it writes at once; with a persistent store it is where an ack waits
// for the store commit and is released from Broker::flush().

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "broker/authenticator.h"
#include "broker/broker_config.h"
#include "broker/byte_stream.h"
#include "broker/connection_state.h"
#include "broker/deadline_queue.h"
#include "broker/outgoing.h"
#include "broker/session.h"
#include "codec/frame_splitter.h"
#include "codec/packet.h"
#include "util/result.h"

namespace mquictt::broker {

class BrokerImpl;
struct FanoutContext;

class ProtocolHandler final : public ByteStreamHandler {
 public:
  enum class State : uint8_t { kAwaitConnect, kAuthenticating, kConnected, kClosed };

  // `stream` must outlive the handler up to on_closed(); `broker` must outlive it or call
  // detach_broker() first.
  ProtocolHandler(BrokerImpl& broker, ByteStream& stream, const ListenerInfo& listener,
                  uint64_t connection_id, std::shared_ptr<const BrokerConfig> config);
  ~ProtocolHandler() override;
  ProtocolHandler(const ProtocolHandler&) = delete;
  ProtocolHandler& operator=(const ProtocolHandler&) = delete;

  // --- ByteStreamHandler ---
  void on_data(std::span<const uint8_t> bytes) override;
  void on_writable() override;
  void on_closed(CloseCause cause) override;

  // --- Called by BrokerImpl ---
  uint64_t id() const { return id_; }
  State state() const { return state_; }
  codec::ProtocolVersion version() const { return cs_.version; }
  const std::string& client_id() const { return client_id_; }
  const std::string& peer() const { return peer_; }
  const std::string& listener_name() const { return listener_name_; }
  bool slow() const;

  // Hands one message to this connected client: sent now, or queued in the session (see
  // "Backpressure"). `fx` shares encodings within one fan-out; may be null.
  void deliver(Outgoing out, FanoutContext* fx);
  // Server-initiated end (takeover 0x8E, shutdown 0x8B, quota 0x97, ...): fail() with `reason`.
  void kick(uint8_t reason, const char* detail, bool publish_will);
  void on_timer(TimerKind kind, TimerId timer);
  // Called from Broker::flush() for blocked connections: resumes like on_writable() once
  // pending_bytes() is at or below outbound_low_watermark_bytes.
  void recheck_writable();
  // The broker is being destroyed: forget it (later callbacks only close).
  void detach_broker();

 private:
  void handle_frame(std::span<const uint8_t> frame);
  void handle_connect_frame(std::span<const uint8_t> frame);
  void on_connect(codec::Connect&& c);
  void on_auth_step(const AuthStep& step);
  void accept_connect(std::optional<std::vector<uint8_t>> auth_data);
  void on_publish(codec::Publish&& p);
  void on_puback(const codec::PubAck& a);
  void on_pubrec(const codec::PubRec& a);
  void on_pubrel(const codec::PubRel& a);
  void on_pubcomp(const codec::PubComp& a);
  void on_subscribe(const codec::Subscribe& s);
  void on_unsubscribe(const codec::Unsubscribe& u);
  void on_disconnect(const codec::Disconnect& d);
  void on_auth(const codec::Auth& a);

  // Input-side checks of an inbound PUBLISH that end in an ack reason rather than a disconnect.
  uint8_t publish_reason(const codec::Publish& p) const;
  MessagePtr make_message(codec::Publish&& p) const;

  // Output.
  void send(const codec::Packet& p);
  void send_durable_ack(const codec::Packet& p);
  void write_frame(std::span<const uint8_t> bytes);
  // Encodes and writes one PUBLISH; false if it was discarded (too large for the client, or
  // expired). packet_id 0 for QoS 0.
  bool send_publish(const Outgoing& o, uint16_t packet_id, bool dup, FanoutContext* fx);
  // Topic, payload and forwarded properties (with the remaining Message Expiry Interval).
  void fill_publish_base(codec::Publish& p, const Message& m, bool resend) const;
  // Sends a QoS 1/2 message in a new inflight slot (caller checked the window).
  void send_in_new_slot(Outgoing&& o, FanoutContext* fx);
  void enqueue(Outgoing&& o);
  // Moves queued messages into the window / onto the wire while the client can take them.
  void pump();
  void resend_inflight();
  void after_input();
  // The stream can take more: resume reading and drain the session queue.
  void resume_output();

  // The one error path (see header comment).
  void fail(const Error& e, bool publish_will = true);
  // Enters kClosed: cuts the session link (will per `publish_will`) and cancels timers. Does not
  // log or touch the stream (callers do).
  void end_link(bool publish_will);
  void arm_keepalive(TimeMs at);
  ClientInfo client_info() const;
  bool v5() const { return cs_.version == codec::ProtocolVersion::kV5; }
  const BrokerConfig& cfg() const { return *cs_.config; }

  BrokerImpl* broker_;  // null after detach_broker()
  ByteStream& stream_;
  const uint64_t id_;
  std::string peer_;
  std::string listener_name_;
  std::string tls_identity_;
  State state_ = State::kAwaitConnect;
  bool version_known_ = false;  // cs_.version is the client's (a CONNACK can be sent)
  ConnectionState cs_;
  codec::FrameSplitter splitter_;
  Session* session_ = nullptr;  // owned by SessionRegistry; valid while kConnected
  std::string client_id_;
  std::optional<std::string> username_;
  bool client_id_assigned_ = false;
  std::unique_ptr<AuthExchange> auth_;
  std::optional<codec::Connect> pending_connect_;  // CONNECT held during the AUTH exchange
  bool reauthenticating_ = false;
  TimeMs last_packet_ms_ = 0;
  TimerId connect_timer_ = kNoTimer;
  TimerId keepalive_timer_ = kNoTimer;
  bool reading_paused_ = false;
};

}  // namespace mquictt::broker
