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
// Tracing: on a stream whose ByteStream::tracing() is true (asked once, when the stream is taken),
// every packet decoded from it and every packet written to it is also passed to
// ByteStream::trace() (packet_trace.h): in handle_connect_frame / handle_frame after decoding, and
// in send() / send_publish() after encoding -- the only places packets cross the seam.
//
// Acks that confirm durable state (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK) all go through
// send_durable_ack(): today it writes at once; with a persistent store it is where an ack waits
// for the store commit and is released from Broker::flush().
//
// Streams (MQTT over QUIC multi-stream mode, EMQX semantics; data_stream.h). The stream the
// handler was created for is the control stream; add_stream() takes more streams of the same
// connection ("data streams"), each with its own frame splitter and a broker-unique StreamTag.
// TCP and single-stream clients never call add_stream() and see no difference at all.
//   - Before CONNACK a data stream is held: reading is switched off (QUIC withholds its credit)
//     and anything that still arrives is only buffered. Once the CONNECT is accepted the held
//     streams are processed; if it is refused (or the connection ends) they are closed.
//   - CONNECT, CONNACK, PINGRESP, DISCONNECT and AUTH exist on the control stream only. A data
//     stream carries PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE and UNSUBSCRIBE (and the
//     server's PUBLISH, acks, SUBACK, UNSUBACK); a PINGREQ there is answered on the control
//     stream; CONNECT, DISCONNECT, AUTH or a server-to-client type there is a protocol error of
//     that stream.
//   - Every reply goes on the stream its request arrived on (PUBACK/PUBREC/PUBCOMP for a client
//     PUBLISH, PUBREL for a PUBREC, SUBACK, UNSUBACK). Deliveries of a subscription go on the
//     stream the SUBSCRIBE arrived on (Router: subscriptions are keyed by stream), or on the
//     control stream if that stream is gone. UNSUBSCRIBE removes only the subscriptions of its own
//     stream (others: 0x11 No subscription existed).
//   - Packet identifiers, the inbound topic alias table, the Receive Maximum quota and keepalive
//     are per connection: any frame on any stream counts as keepalive activity. Outbound topic
//     aliases are used on the control stream only (a stream's deliveries cannot rely on an alias
//     set up on another stream, since QUIC orders bytes per stream only).
//   - Any error caused by a data stream's input (malformed or too large frame, a packet type not
//     allowed there, any protocol violation that would otherwise be a DISCONNECT) closes only that
//     stream: ByteStream::abort_with_error(reason code); the connection and its other streams go
//     on. Errors not tied to one stream's input (keepalive, takeover, queue overflow) end the
//     connection as before.
//   - When a data stream ends before its connection (error, or the peer closed or reset it): its
//     subscriptions move to the control stream (Router::move_stream; the control stream's own
//     subscription of the same filter wins), its outbound QoS 1/2 messages in flight and its
//     inbound QoS 2 packet ids awaiting PUBREL are dropped (lost, as in EMQX). When the connection
//     ends, every subscription moves to the control stream (a resumed session delivers there
//     until the client subscribes again on a data stream), and the inflight window is resent on
//     the control stream at the next CONNECT as usual.
//   - Backpressure is per connection: if any of its streams is above the high watermark, reading
//     stops on all of them; a delivery is dropped (QoS 0) or queued (QoS 1/2) when its own stream
//     is above it. The session queue is one FIFO, so a queued message for a slow stream also
//     holds back the ones behind it.
//
// Early data (TLS 1.3 0-RTT, ByteStream::early_data()). Bytes that arrive before the transport's
// handshake completed may be a replay of another client's first flight; a replayed connection
// never completes its handshake. While a stream's input is early data, only packets whose
// effect is harmless or idempotent when replayed are processed at once:
//   CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, and PUBLISH up to the listener's
//   early_data_max_publish_qos (ListenerInfo; default 0).
// Any other packet (a PUBLISH above that QoS, the acks, DISCONNECT, AUTH) is held, in order, with
// everything behind it on its stream: reading stops on that stream (QUIC withholds its credit,
// so the flow-control window bounds what waits) until on_early_data_confirmed(), when the held
// frame and the rest are processed as usual. If the connection dies first, they are dropped with
// it. A frame's fate is decided by its first byte, before decoding; held frames are decoded (and
// rejected if malformed) once released.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "broker/authenticator.h"
#include "broker/broker_config.h"
#include "broker/byte_stream.h"
#include "broker/connection_state.h"
#include "broker/data_stream.h"
#include "broker/deadline_queue.h"
#include "broker/outgoing.h"
#include "broker/session.h"
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
  void on_early_data_confirmed() override;
  // A data stream of this connection (see "Streams"); nullptr once the connection is closed.
  std::unique_ptr<ByteStreamHandler> add_stream(ByteStream& stream) override;

  // --- Called by DataStreamHandler (only while it is attached) ---
  void on_stream_data(DataStreamHandler& ds, std::span<const uint8_t> bytes);
  void on_stream_writable(DataStreamHandler& ds);
  // The transport ended the stream (its on_closed(), or its destruction).
  void on_stream_closed(DataStreamHandler& ds, CloseCause cause);
  // The handshake completed: processes the frame held on `in` (if any) and what follows it.
  void release_held(StreamEndpoint& in);

  // --- Called by BrokerImpl ---
  uint64_t id() const { return id_; }
  State state() const { return state_; }
  codec::ProtocolVersion version() const { return cs_.version; }
  const std::string& client_id() const { return client_id_; }
  // For logs; asks the stream each time (valid up to and including on_closed()).
  std::string peer() const { return control_.stream.describe(); }
  const std::string& listener_name() const { return listener_name_; }
  // Some stream of the connection is above the high watermark.
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
  // Input of one stream: splits, then handles frames until the stream or connection closes.
  void input(StreamEndpoint& in, std::span<const uint8_t> bytes);
  void process_frames(StreamEndpoint& in);
  void handle_frame(StreamEndpoint& in, std::span<const uint8_t> frame);
  // May this frame be processed while `in` delivers early data? (see "Early data")
  bool allowed_as_early_data(std::span<const uint8_t> frame) const;
  // Allowed on a data stream? (see "Streams"); false after dealing with the packet otherwise.
  bool accept_on_data_stream(StreamEndpoint& in, codec::PacketType type);
  void handle_connect_frame(std::span<const uint8_t> frame);
  void on_connect(codec::Connect&& c);
  void on_auth_step(const AuthStep& step);
  void accept_connect(std::optional<std::vector<uint8_t>> auth_data);
  void on_publish(StreamEndpoint& in, codec::Publish&& p);
  void on_puback(StreamEndpoint& in, const codec::PubAck& a);
  void on_pubrec(StreamEndpoint& in, const codec::PubRec& a);
  void on_pubrel(StreamEndpoint& in, const codec::PubRel& a);
  void on_pubcomp(StreamEndpoint& in, const codec::PubComp& a);
  void on_subscribe(StreamEndpoint& in, const codec::Subscribe& s);
  void on_unsubscribe(StreamEndpoint& in, const codec::Unsubscribe& u);
  void on_disconnect(const codec::Disconnect& d);
  void on_auth(const codec::Auth& a);

  // Input-side checks of an inbound PUBLISH that end in an ack reason rather than a disconnect.
  uint8_t publish_reason(const codec::Publish& p) const;
  MessagePtr make_message(codec::Publish&& p) const;

  // Streams.
  // Where a delivery for `tag` goes: that data stream while it is open, else the control stream.
  StreamEndpoint& endpoint_for(StreamTag tag);
  bool slow(const StreamEndpoint& ep) const;
  // Processes the data streams held before CONNACK.
  void activate_data_streams();
  // Reading on every stream per reading_paused_ (and, for data streams, CONNACK).
  void apply_reading();
  // An error in a data stream's input: closes that stream only (see "Streams").
  void fail_data_stream(DataStreamHandler& ds, const Error& e);
  // Routes an input error to fail() (control stream) or fail_data_stream().
  void fail_input(StreamEndpoint& in, const Error& e);
  // Lets a data stream go: its subscriptions fall back to the control stream, its QoS 1/2 state
  // is dropped; `ds` is detached.
  void forget_data_stream(DataStreamHandler& ds);

  // Output. Replies go to the stream `out`; server-initiated packets (CONNACK, PINGRESP,
  // DISCONNECT, AUTH) to the control stream.
  void send(const codec::Packet& p) { send(control_, p); }
  void send(StreamEndpoint& out, const codec::Packet& p);
  void send_durable_ack(StreamEndpoint& out, const codec::Packet& p);
  void write_frame(StreamEndpoint& out, std::span<const uint8_t> bytes);
  // Encodes and writes one PUBLISH on `out`; false if it was discarded (too large for the client,
  // or expired). packet_id 0 for QoS 0.
  bool send_publish(StreamEndpoint& out, const Outgoing& o, uint16_t packet_id, bool dup,
                    FanoutContext* fx);
  // Topic, payload and forwarded properties (with the remaining Message Expiry Interval).
  void fill_publish_base(codec::Publish& p, const Message& m, bool resend) const;
  // Sends a QoS 1/2 message in a new inflight slot (caller checked the window and the stream).
  void send_in_new_slot(Outgoing&& o, FanoutContext* fx);
  void enqueue(Outgoing&& o);
  // Moves queued messages into the window / onto the wire while the client can take them.
  void pump();
  void resend_inflight();
  void after_input();
  // The streams can take more: resume reading and drain the session queue.
  void resume_output();

  // The one error path (see header comment).
  void fail(const Error& e, bool publish_will = true);
  // Enters kClosed: closes the data streams, cuts the session link (will per `publish_will`) and
  // cancels timers. Does not log or touch the control stream (callers do).
  void end_link(bool publish_will);
  void arm_keepalive(TimeMs at);
  ClientInfo client_info() const;
  bool v5() const { return cs_.version == codec::ProtocolVersion::kV5; }
  const BrokerConfig& cfg() const { return *cs_.config; }

  BrokerImpl* broker_;  // null after detach_broker()
  const uint64_t id_;
  std::string listener_name_;
  const bool use_identity_as_username_;  // ListenerInfo
  std::string tls_identity_;
  State state_ = State::kAwaitConnect;
  bool version_known_ = false;  // cs_.version is the client's (a CONNACK can be sent)
  uint8_t early_data_max_qos_;  // ListenerInfo::early_data_max_publish_qos
  ConnectionState cs_;
  StreamEndpoint control_;
  // Live data streams (owned by the transport; see data_stream.h), in the order they came.
  std::vector<DataStreamHandler*> data_streams_;
  Session* session_ = nullptr;  // owned by SessionRegistry; valid while kConnected
  std::string client_id_;
  std::optional<std::string> username_;
  bool client_id_assigned_ = false;
  std::unique_ptr<AuthExchange> auth_;
  // CONNECT held until accepted (through an AUTH exchange); heap, as it is large and short-lived.
  std::unique_ptr<codec::Connect> pending_connect_;
  bool reauthenticating_ = false;
  TimeMs last_packet_ms_ = 0;
  TimerId connect_timer_ = kNoTimer;
  TimerId keepalive_timer_ = kNoTimer;
  bool reading_paused_ = false;  // backpressure: reading is off on every stream
};

}  // namespace mquictt::broker
