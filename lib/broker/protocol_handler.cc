// ProtocolHandler: lifecycle, CONNECT / AUTH, errors, timers, input dispatch.
// PUBLISH, acks and (un)subscribe are in protocol_handler_pubsub.cc.
#include "broker/protocol_handler.h"

#include <algorithm>
#include <utility>

#include "broker/broker_impl.h"
#include "codec/decoder.h"
#include "codec/encoder.h"
#include "codec/reason_code.h"

namespace mquictt::broker {

namespace rc = codec::rc;
using codec::PacketType;

namespace {

const char* cause_name(CloseCause c) {
  switch (c) {
    case CloseCause::kLocal:
      return "closed locally";
    case CloseCause::kPeerClosed:
      return "closed by peer";
    case CloseCause::kError:
      return "transport error";
    case CloseCause::kTransportGone:
      return "transport gone";
  }
  return "closed";
}

uint32_t max_packet_size(const BrokerConfig& c) {
  return c.max_packet_size_bytes == 0 ? codec::kMaxPacketSizeLimit : c.max_packet_size_bytes;
}

}  // namespace

ProtocolHandler::ProtocolHandler(BrokerImpl& broker, ByteStream& stream,
                                 const ListenerInfo& listener, uint64_t connection_id,
                                 std::shared_ptr<const BrokerConfig> config)
    : broker_(&broker),
      id_(connection_id),
      listener_name_(listener.name),
      use_identity_as_username_(listener.use_identity_as_username),
      early_data_max_qos_(listener.early_data_max_publish_qos),
      control_(stream, kControlStream, max_packet_size(*config)) {
  cs_.config = std::move(config);
  last_packet_ms_ = broker.now();
  if (cfg().connect_timeout_ms != 0) {
    connect_timer_ = broker.timers().schedule(last_packet_ms_ + cfg().connect_timeout_ms,
                                              {TimerKind::kConnectTimeout, id_});
  }
}

ProtocolHandler::~ProtocolHandler() {
  if (broker_) {
    // Destroyed without on_closed(): the connection is gone all the same.
    end_link(true);
    broker_->forget(*this);
  }
  // Data streams the transport still has must not call back into us.
  for (DataStreamHandler* ds : std::exchange(data_streams_, {}))
    ds->detach();
}

void ProtocolHandler::detach_broker() {
  broker_ = nullptr;
  session_ = nullptr;
  state_ = State::kClosed;
}

ClientInfo ProtocolHandler::client_info() const {
  ClientInfo info;
  info.client_id = client_id_;
  info.username = &username_;
  info.listener = listener_name_;
  info.peer = peer();
  info.tls_identity = tls_identity_;
  info.version = cs_.version;
  return info;
}

bool ProtocolHandler::slow(const StreamEndpoint& ep) const {
  const uint64_t high = cs_.config->outbound_high_watermark_bytes;
  return high != 0 && ep.stream.pending_bytes() > high;
}

bool ProtocolHandler::slow() const {
  if (slow(control_)) return true;
  return std::any_of(data_streams_.begin(), data_streams_.end(),
                     [this](const DataStreamHandler* ds) { return slow(ds->endpoint()); });
}

// --- Input ---

void ProtocolHandler::on_data(std::span<const uint8_t> bytes) {
  input(control_, bytes);
}

void ProtocolHandler::input(StreamEndpoint& in, std::span<const uint8_t> bytes) {
  if (state_ == State::kClosed || !broker_ || !in.open) return;
  broker_->counters().bytes_received += bytes.size();
  if (auto fed = in.splitter.feed(bytes); !fed) {
    fail_input(in, fed.error());
    return;
  }
  process_frames(in);
  after_input();
}

void ProtocolHandler::process_frames(StreamEndpoint& in) {
  while (state_ != State::kClosed && in.open && !in.held) {
    auto next = in.splitter.next();
    if (!next) {
      fail_input(in, next.error());
      return;
    }
    if (!*next) break;
    const std::span<const uint8_t> frame = **next;
    if (in.stream.early_data() && !allowed_as_early_data(frame)) {
      // Held with everything behind it until the handshake completes ("Early data").
      in.held = std::make_unique<std::vector<uint8_t>>(frame.begin(), frame.end());
      in.stream.set_reading(false);
      if (broker_->log().should_log(spdlog::level::debug)) {
        broker_->log().debug(
            "early data: {} held until the handshake completes client_id={} "
            "stream={}",
            codec::packet_type_name(static_cast<PacketType>(frame[0] >> 4)), client_id_, in.tag);
      }
      return;
    }
    handle_frame(in, frame);
  }
}

bool ProtocolHandler::allowed_as_early_data(std::span<const uint8_t> frame) const {
  switch (static_cast<PacketType>(frame[0] >> 4)) {
    case PacketType::kConnect:
    case PacketType::kSubscribe:
    case PacketType::kUnsubscribe:
    case PacketType::kPingReq:
      return true;
    case PacketType::kPublish:
      return ((frame[0] >> 1) & 0x03) <= early_data_max_qos_;
    default:
      return false;
  }
}

void ProtocolHandler::on_early_data_confirmed() {
  release_held(control_);
}

void ProtocolHandler::release_held(StreamEndpoint& in) {
  if (!in.held || state_ == State::kClosed || !broker_ || !in.open) return;
  const std::unique_ptr<std::vector<uint8_t>> frame = std::move(in.held);
  handle_frame(in, *frame);
  process_frames(in);
  if (state_ == State::kClosed) return;
  apply_reading();
  after_input();
}

void ProtocolHandler::after_input() {
  if (state_ == State::kClosed || reading_paused_ || !slow()) return;
  // Our own output is piling up (this client publishes faster than it reads, or its
  // subscriptions fan back to it): stop reading until the streams drain.
  reading_paused_ = true;
  apply_reading();
  broker_->mark_blocked(*this);
}

void ProtocolHandler::handle_frame(StreamEndpoint& in, std::span<const uint8_t> frame) {
  last_packet_ms_ = broker_->now();  // keepalive: a frame on any stream is activity
  if (state_ == State::kAwaitConnect) {
    handle_connect_frame(frame);  // only the control stream is read before CONNACK
    return;
  }
  auto decoded = codec::decode(frame, cs_.version);
  if (!decoded) {
    fail_input(in, decoded.error());
    return;
  }
  codec::Packet& pkt = *decoded;
  const PacketType type = codec::packet_type(pkt);
  if (in.tracing) in.stream.trace(trace_of(pkt, frame.size(), false, v5()));
  if (state_ == State::kAuthenticating && type != PacketType::kAuth &&
      type != PacketType::kDisconnect) {
    fail({rc::kProtocolError, "packet other than AUTH during authentication"});
    return;
  }
  if (broker_->log().should_log(spdlog::level::trace)) {
    broker_->log().trace("recv {} client_id={} stream={}", codec::packet_type_name(type),
                         client_id_, in.tag);
  }
  if (in.tag != kControlStream && !accept_on_data_stream(in, type)) return;
  switch (type) {
    case PacketType::kConnect:
      fail({rc::kProtocolError, "second CONNECT"});
      return;
    case PacketType::kPublish:
      on_publish(in, std::move(std::get<codec::Publish>(pkt)));
      return;
    case PacketType::kPubAck:
      on_puback(in, std::get<codec::PubAck>(pkt));
      return;
    case PacketType::kPubRec:
      on_pubrec(in, std::get<codec::PubRec>(pkt));
      return;
    case PacketType::kPubRel:
      on_pubrel(in, std::get<codec::PubRel>(pkt));
      return;
    case PacketType::kPubComp:
      on_pubcomp(in, std::get<codec::PubComp>(pkt));
      return;
    case PacketType::kSubscribe:
      on_subscribe(in, std::get<codec::Subscribe>(pkt));
      return;
    case PacketType::kUnsubscribe:
      on_unsubscribe(in, std::get<codec::Unsubscribe>(pkt));
      return;
    case PacketType::kPingReq:
      send(codec::PingResp{});
      return;
    case PacketType::kDisconnect:
      on_disconnect(std::get<codec::Disconnect>(pkt));
      return;
    case PacketType::kAuth:
      on_auth(std::get<codec::Auth>(pkt));
      return;
    case PacketType::kConnAck:
    case PacketType::kSubAck:
    case PacketType::kUnsubAck:
    case PacketType::kPingResp:
      fail({rc::kProtocolError, "server-to-client packet sent by client"});
      return;
  }
}

bool ProtocolHandler::accept_on_data_stream(StreamEndpoint& in, PacketType type) {
  switch (type) {
    case PacketType::kPublish:
    case PacketType::kPubAck:
    case PacketType::kPubRec:
    case PacketType::kPubRel:
    case PacketType::kPubComp:
    case PacketType::kSubscribe:
    case PacketType::kUnsubscribe:
      return true;
    case PacketType::kPingReq:
      // PINGRESP exists on the control stream only; the PINGREQ already counted as activity.
      send(codec::PingResp{});
      return false;
    default:
      fail_input(in, {rc::kProtocolError, "packet type not allowed on a data stream"});
      return false;
  }
}

void ProtocolHandler::handle_connect_frame(std::span<const uint8_t> frame) {
  if ((frame[0] >> 4) != static_cast<uint8_t>(PacketType::kConnect)) {
    fail({rc::kProtocolError, "first packet is not CONNECT"});
    return;
  }
  auto decoded = codec::decode(frame, codec::ProtocolVersion::kV5);
  if (!decoded) {
    const Error e = decoded.error();
    if (e.reason == rc::kUnsupportedProtocolVersion) {
      // Answer in 3.1.1 form (0x01 Unacceptable protocol version): a client of another version
      // can parse that; a v5 client never gets here.
      cs_.version = codec::ProtocolVersion::kV311;
      version_known_ = true;
    } else if (auto level = codec::peek_connect_level(frame)) {
      if (*level == 4 || *level == 5) {
        cs_.version = static_cast<codec::ProtocolVersion>(*level);
        version_known_ = true;
      }
    }
    fail(e);
    return;
  }
  if (!std::holds_alternative<codec::Connect>(*decoded)) {
    fail({rc::kProtocolError, "first packet is not CONNECT"});
    return;
  }
  if (control_.tracing) {
    const bool v5 = std::get<codec::Connect>(*decoded).version == codec::ProtocolVersion::kV5;
    control_.stream.trace(trace_of(*decoded, frame.size(), false, v5));
  }
  on_connect(std::move(std::get<codec::Connect>(*decoded)));
}

// --- CONNECT and authentication ---

void ProtocolHandler::on_connect(codec::Connect&& c) {
  cs_.version = c.version;
  version_known_ = true;
  const BrokerConfig& config = cfg();
  tls_identity_ =
      control_.stream.tls_identity();  // read now: a TLS handshake may finish after accept()

  if (c.client_id.empty()) {
    if (!v5() && !c.clean_start) {
      fail({rc::kClientIdentifierNotValid, "empty client id with clean session 0"});
      return;
    }
    if (!config.allow_zero_length_clientid) {
      fail({rc::kClientIdentifierNotValid, "empty client id not allowed"});
      return;
    }
    client_id_ = broker_->assign_client_id();
    client_id_assigned_ = true;
  } else {
    if (c.client_id.size() > config.max_client_id_length) {
      fail({rc::kClientIdentifierNotValid, "client id too long"});
      return;
    }
    client_id_ = c.client_id;
  }
  username_ = c.username;
  if (use_identity_as_username_) {
    // The one place the user name is decided: everything after (authenticator, ACL hooks, logs)
    // sees the certificate's CN.
    if (tls_identity_.empty()) {
      fail({rc::kNotAuthorized, "no verified client certificate (use_identity_as_username)"});
      return;
    }
    username_ = tls_identity_;
  }

  auto negotiated = negotiate(c, config);
  if (!negotiated) {
    fail(negotiated.error());
    return;
  }
  cs_.negotiated = *negotiated;

  ClientInfo info = client_info();
  info.password = &c.password;
  if (v5() && c.props.authentication_method) {
    cs_.auth_method = *c.props.authentication_method;
    auth_ = broker_->authenticator().start_auth(*cs_.auth_method, info);
    if (!auth_) {
      fail({rc::kBadAuthenticationMethod, "authentication method not supported"});
      return;
    }
    std::vector<uint8_t> data = c.props.authentication_data.value_or(std::vector<uint8_t>{});
    pending_connect_ = std::make_unique<codec::Connect>(std::move(c));
    state_ = State::kAuthenticating;
    on_auth_step(auth_->step(data));
    return;
  }
  if (const uint8_t r = broker_->authenticator().authenticate(info); r != 0) {
    fail({r >= 0x80 ? r : rc::kNotAuthorized, "authentication failed"});
    return;
  }
  pending_connect_ = std::make_unique<codec::Connect>(std::move(c));
  accept_connect(std::nullopt);
}

void ProtocolHandler::on_auth_step(const AuthStep& step) {
  switch (step.kind) {
    case AuthStep::Kind::kContinue: {
      codec::Auth a;
      a.reason = rc::kContinueAuthentication;
      a.props.authentication_method = cs_.auth_method;
      a.props.authentication_data = step.data;
      send(a);
      return;
    }
    case AuthStep::Kind::kSuccess:
      auth_.reset();
      if (reauthenticating_) {
        reauthenticating_ = false;
        codec::Auth a;
        a.reason = rc::kSuccess;
        a.props.authentication_method = cs_.auth_method;
        if (!step.data.empty()) a.props.authentication_data = step.data;
        send(a);
        return;
      }
      accept_connect(step.data.empty() ? std::nullopt : std::optional(step.data));
      return;
    case AuthStep::Kind::kFail:
      auth_.reset();
      // A failure must carry an error reason; don't let a hook send "success" in a refusal.
      fail({step.reason >= 0x80 ? step.reason : rc::kNotAuthorized, "authentication failed"});
      return;
  }
}

void ProtocolHandler::on_auth(const codec::Auth& a) {
  const auto& method = a.props.authentication_method;
  if (!cs_.auth_method || !method || *method != *cs_.auth_method) {
    fail({rc::kProtocolError, "AUTH without the connection's authentication method"});
    return;
  }
  const std::vector<uint8_t> data = a.props.authentication_data.value_or(std::vector<uint8_t>{});
  if (state_ == State::kAuthenticating || (reauthenticating_ && auth_)) {
    if (a.reason != rc::kContinueAuthentication) {
      fail({rc::kProtocolError, "unexpected AUTH reason during authentication"});
      return;
    }
    on_auth_step(auth_->step(data));
    return;
  }
  if (a.reason != rc::kReAuthenticate) {
    fail({rc::kProtocolError, "unexpected AUTH reason"});
    return;
  }
  auth_ = broker_->authenticator().start_auth(*cs_.auth_method, client_info());
  if (!auth_) {
    fail({rc::kBadAuthenticationMethod, "authentication method no longer supported"});
    return;
  }
  reauthenticating_ = true;
  on_auth_step(auth_->step(data));
}

void ProtocolHandler::accept_connect(std::optional<std::vector<uint8_t>> auth_data) {
  codec::Connect& c = *pending_connect_;
  const BrokerConfig& config = cfg();
  if (c.will && !broker_->authenticator().authorize_publish(client_info(), c.will->topic,
                                                            c.will->qos, c.will->retain)) {
    fail({rc::kNotAuthorized, "will topic not authorized"});
    return;
  }
  broker_->timers().cancel_and_reset(connect_timer_);
  const Negotiated& n = cs_.negotiated;
  cs_.connect_session_expiry_zero = c.props.session_expiry_interval.value_or(0) == 0;
  cs_.inbound_aliases = InboundTopicAliases(v5() ? config.topic_alias_maximum : 0);
  cs_.outbound_aliases = OutboundTopicAliases(n.outbound_alias_max);

  auto attached =
      broker_->attach(*this, client_id_, c.clean_start, n.session_expiry_s, std::move(c.will));
  session_ = attached.session;
  state_ = State::kConnected;

  codec::ConnAck ack;
  ack.session_present = attached.session_present;
  ack.reason = 0;
  if (v5()) {
    ack.props = connack_properties(n, config,
                                   client_id_assigned_ ? std::optional(client_id_) : std::nullopt);
    if (cs_.auth_method) {
      ack.props.authentication_method = cs_.auth_method;
      if (auth_data) ack.props.authentication_data = std::move(auth_data);
    }
  }
  send(ack);
  broker_->log().info(
      "connected client_id={} peer={} listener={} version={} clean_start={} "
      "keep_alive={} session_present={}{}{}",
      client_id_, peer(), listener_name_, v5() ? 5 : 4, c.clean_start ? 1 : 0, n.keep_alive_s,
      attached.session_present ? 1 : 0, username_ ? " username=" : "", username_.value_or(""));
  pending_connect_.reset();
  if (n.keep_alive_s != 0) arm_keepalive(last_packet_ms_ + TimeMs{n.keep_alive_s} * 1500);
  resend_inflight();
  pump();
  activate_data_streams();
}

// --- DISCONNECT, errors, close ---

void ProtocolHandler::on_disconnect(const codec::Disconnect& d) {
  if (v5() && d.props.session_expiry_interval && session_) {
    if (cs_.connect_session_expiry_zero && *d.props.session_expiry_interval != 0) {
      fail({rc::kProtocolError, "DISCONNECT raises session expiry from 0"});
      return;
    }
    session_->set_expiry_interval_s(
        std::min(*d.props.session_expiry_interval, cfg().max_session_expiry_interval_s));
  }
  broker_->log().info("disconnected client_id={} peer={} reason={:#04x} {}", client_id_, peer(),
                      d.reason, codec::reason_name(d.reason));
  end_link(v5() && d.reason == rc::kDisconnectWithWill);
  control_.stream.close();
}

void ProtocolHandler::kick(uint8_t reason, const char* detail, bool publish_will) {
  fail(Error{reason, detail}, publish_will);
}

void ProtocolHandler::fail(const Error& e, bool publish_will) {
  if (state_ == State::kClosed) return;
  const bool connected = state_ == State::kConnected;
  if (broker_) {
    const bool routine =
        e.reason < 0x80 || e.reason == rc::kServerShuttingDown || e.reason == rc::kSessionTakenOver;
    broker_->log().log(routine ? spdlog::level::info : spdlog::level::warn,
                       "{} client_id={} peer={} reason={:#04x} {} ({})",
                       connected ? "disconnecting" : "rejecting connection", client_id_, peer(),
                       e.reason, codec::reason_name(e.reason), e.detail);
  }
  if (!connected) {
    if (version_known_) {
      if (v5()) {
        send(codec::ConnAck{false, e.reason, {}});
      } else if (const uint8_t code = e.reason == rc::kUnsupportedProtocolVersion
                                          ? codec::rc311::kUnacceptableProtocolVersion
                                          : codec::to_v311_connack(e.reason);
                 code != 0xFF) {
        send(codec::ConnAck{false, code, {}});
      }
    }
  } else if (v5()) {
    send(codec::Disconnect{e.reason, {}});
  }
  end_link(publish_will);
  control_.stream.close();
}

void ProtocolHandler::end_link(bool publish_will) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  auth_.reset();
  pending_connect_.reset();
  // The data streams end with the connection: queued replies still go out, then a FIN. Their
  // subscriptions fall back to the control stream of whichever connection resumes the session.
  for (DataStreamHandler* ds : std::exchange(data_streams_, {})) {
    if (broker_ && session_)
      broker_->router().move_stream(session_->id(), ds->tag(), kControlStream);
    ds->detach();
    ds->endpoint().stream.close();
  }
  if (!broker_) return;
  broker_->timers().cancel_and_reset(connect_timer_);
  broker_->timers().cancel_and_reset(keepalive_timer_);
  broker_->unmark_blocked(*this);
  Session* s = std::exchange(session_, nullptr);
  if (s) broker_->detach(*this, *s, publish_will);
}

// --- Data streams ---

std::unique_ptr<ByteStreamHandler> ProtocolHandler::add_stream(ByteStream& stream) {
  if (state_ == State::kClosed || !broker_) return nullptr;
  auto ds = std::make_unique<DataStreamHandler>(*this, stream, broker_->next_stream_tag(),
                                                max_packet_size(cfg()));
  data_streams_.push_back(ds.get());
  if (broker_->log().should_log(spdlog::level::debug)) {
    broker_->log().debug("data stream opened client_id={} stream={} tag={}{}", client_id_,
                         stream.describe(), ds->tag(),
                         state_ == State::kConnected ? "" : " (held until CONNACK)");
  }
  // Held before CONNACK; paused like the others under backpressure.
  if (state_ != State::kConnected || reading_paused_) stream.set_reading(false);
  return ds;
}

void ProtocolHandler::on_stream_data(DataStreamHandler& ds, std::span<const uint8_t> bytes) {
  if (state_ == State::kClosed || !broker_ || !ds.endpoint().open) return;
  if (state_ == State::kConnected) {
    input(ds.endpoint(), bytes);
    return;
  }
  // Held until CONNACK (the transport should not even deliver: reading is off). Buffer only; the
  // splitter still rejects a frame above the maximum packet size at once.
  broker_->counters().bytes_received += bytes.size();
  if (auto fed = ds.endpoint().splitter.feed(bytes); !fed) fail_data_stream(ds, fed.error());
}

void ProtocolHandler::on_stream_writable(DataStreamHandler&) {
  resume_output();
}

void ProtocolHandler::on_stream_closed(DataStreamHandler& ds, CloseCause cause) {
  if (broker_ && state_ == State::kConnected && broker_->log().should_log(spdlog::level::debug)) {
    broker_->log().debug("data stream ended client_id={} stream={} ({})", client_id_,
                         ds.endpoint().stream.describe(), cause_name(cause));
  }
  forget_data_stream(ds);
}

void ProtocolHandler::activate_data_streams() {
  if (data_streams_.empty()) return;
  apply_reading();
  // Processing may close streams (and shrink data_streams_): work on a copy, skip the detached.
  const std::vector<DataStreamHandler*> held = data_streams_;
  for (DataStreamHandler* ds : held) {
    if (state_ != State::kConnected) return;
    if (!ds->attached() || ds->endpoint().splitter.buffered() == 0) continue;
    process_frames(ds->endpoint());
  }
  after_input();
}

void ProtocolHandler::apply_reading() {
  control_.stream.set_reading(!reading_paused_ && !control_.held);
  const bool data = !reading_paused_ && state_ == State::kConnected;
  for (DataStreamHandler* ds : data_streams_)
    ds->endpoint().stream.set_reading(data && !ds->endpoint().held);
}

StreamEndpoint& ProtocolHandler::endpoint_for(StreamTag tag) {
  if (tag != kControlStream) {
    for (DataStreamHandler* ds : data_streams_) {
      if (ds->tag() == tag) return ds->endpoint();
    }
  }
  return control_;
}

void ProtocolHandler::fail_input(StreamEndpoint& in, const Error& e) {
  if (in.tag == kControlStream) {
    fail(e);
    return;
  }
  for (DataStreamHandler* ds : data_streams_) {
    if (ds->tag() == in.tag) {
      fail_data_stream(*ds, e);
      return;
    }
  }
}

void ProtocolHandler::fail_data_stream(DataStreamHandler& ds, const Error& e) {
  if (!ds.attached()) return;
  if (broker_) {
    broker_->log().log(e.reason < 0x80 ? spdlog::level::info : spdlog::level::warn,
                       "closing data stream client_id={} stream={} reason={:#04x} {} ({})",
                       client_id_, ds.endpoint().stream.describe(), e.reason,
                       codec::reason_name(e.reason), e.detail);
  }
  // Reset, not FIN: what the client sent after the bad frame was not processed.
  ds.endpoint().stream.abort_with_error(e.reason);
  forget_data_stream(ds);
}

void ProtocolHandler::forget_data_stream(DataStreamHandler& ds) {
  const StreamTag tag = ds.tag();
  ds.detach();
  if (std::erase(data_streams_, &ds) == 0) return;
  if (!broker_ || !session_ || state_ != State::kConnected) return;
  broker_->router().move_stream(session_->id(), tag, kControlStream);
  // QoS 1/2 state bound to the stream is lost (EMQX): the client cannot ack on a stream that is
  // gone, and MQTT allows a resend only on a new connection.
  std::vector<uint16_t> lost;
  for (const OutboundInflight::Entry& e : session_->inflight().entries()) {
    if (e.out.stream == tag) lost.push_back(e.packet_id);
  }
  for (uint16_t id : lost)
    session_->inflight().erase(id);
  broker_->counters().messages_dropped += lost.size();
  std::erase_if(cs_.inbound_quota, [&](const auto& entry) {
    if (entry.second != tag) return false;
    session_->inbound_qos2().release(entry.first);
    return true;
  });
  if (!lost.empty()) pump();  // the window has room again
}

void ProtocolHandler::on_closed(CloseCause cause) {
  if (state_ != State::kClosed && broker_) {
    if (state_ == State::kConnected) {
      broker_->log().info("connection lost client_id={} peer={} ({})", client_id_, peer(),
                          cause_name(cause));
    } else if (broker_->log().should_log(spdlog::level::debug)) {
      broker_->log().debug("connection closed before CONNACK peer={} ({})", peer(),
                           cause_name(cause));
    }
    end_link(true);
  }
  if (broker_) {
    broker_->forget(*this);
    broker_ = nullptr;  // forgotten: the destructor has nothing left to do
  }
}

// --- Timers and flow ---

void ProtocolHandler::arm_keepalive(TimeMs at) {
  keepalive_timer_ = broker_->timers().schedule(at, {TimerKind::kKeepAlive, id_});
}

void ProtocolHandler::on_timer(TimerKind kind, TimerId timer) {
  if (state_ == State::kClosed || !broker_) return;
  if (kind == TimerKind::kConnectTimeout && timer == connect_timer_) {
    connect_timer_ = kNoTimer;
    fail(state_ == State::kAuthenticating ? Error{rc::kNotAuthorized, "authentication timed out"}
                                          : Error{rc::kMaximumConnectTime, "no CONNECT in time"});
    return;
  }
  if (kind == TimerKind::kKeepAlive && timer == keepalive_timer_) {
    keepalive_timer_ = kNoTimer;
    const TimeMs deadline = last_packet_ms_ + TimeMs{cs_.negotiated.keep_alive_s} * 1500;
    if (broker_->now() >= deadline) {
      fail({rc::kKeepAliveTimeout, "keep alive timeout"});
    } else {
      arm_keepalive(deadline);  // packets arrived since: re-arm lazily
    }
  }
}

void ProtocolHandler::on_writable() {
  resume_output();
}

void ProtocolHandler::recheck_writable() {
  if (state_ == State::kClosed || !broker_) return;
  // Hysteresis: resume only once the streams drained below the low watermark, so a connection
  // hovering at the high mark doesn't flip between paused and reading on every loop iteration.
  const uint64_t low = cfg().outbound_low_watermark_bytes;
  if (control_.stream.pending_bytes() > low) return;
  for (const DataStreamHandler* ds : data_streams_) {
    if (ds->endpoint().stream.pending_bytes() > low) return;
  }
  resume_output();
}

void ProtocolHandler::resume_output() {
  if (state_ == State::kClosed || !broker_) return;
  if (slow()) return;
  if (reading_paused_) {
    reading_paused_ = false;
    apply_reading();
  }
  broker_->unmark_blocked(*this);
  pump();  // marks us blocked again if a stream fills up
}

// --- Output ---

void ProtocolHandler::write_frame(StreamEndpoint& out, std::span<const uint8_t> bytes) {
  if (broker_) broker_->counters().bytes_sent += bytes.size();
  out.stream.write(bytes);
}

void ProtocolHandler::send(StreamEndpoint& out, const codec::Packet& p) {
  const std::vector<uint8_t> bytes = codec::encode(p, cs_.version);
  if (out.tracing) out.stream.trace(trace_of(p, bytes.size(), true, v5()));
  write_frame(out, bytes);
}

void ProtocolHandler::send_durable_ack(StreamEndpoint& out, const codec::Packet& p) {
  // The single exit of acks that confirm state the broker took over (PUBACK, PUBREC, PUBCOMP,
  // SUBACK, UNSUBACK). With a persistent store the ack is parked here until the commit and sent
  // from Broker::flush(); in memory, the state is "durable" once this call happens.
  send(out, p);
}

}  // namespace mquictt::broker
