// ProtocolHandler: PUBLISH in both directions, the QoS 1/2 acks, SUBSCRIBE and UNSUBSCRIBE.
//
// Inbound PUBLISH checks, in order (MQTT 5 reason codes; 3.1.1 closes instead of DISCONNECT and
// acks without a reason):
//   QoS > maximum_qos                          DISCONNECT 0x9B QoS not supported
//   RETAIN and !retain_available               DISCONNECT 0x9A Retain not supported
//   topic alias 0 / > maximum, unknown alias   DISCONNECT 0x94 / 0x82 (topic_aliases.h)
//   QoS 2 with a packet id still pending       duplicate: PUBREC again, not routed again
//   new QoS 2 beyond our Receive Maximum       DISCONNECT 0x93 Receive Maximum exceeded
//   topic "$SYS" or "$SYS/..."                 not routed; QoS > 0: ack 0x87 Not authorized
//                                              (clients may not write the broker's own tree)
//   payload > message_size_limit_bytes         not routed; QoS > 0: ack 0x97 Quota exceeded
//   format indicator 1, payload not UTF-8      QoS 0: DISCONNECT 0x99; QoS > 0: ack 0x99
//     (only with validate_payload_format)
//   Authenticator::authorize_publish false     not routed; QoS > 0: ack 0x87
//   routed to nobody (MQTT 5)                  ack 0x10 No matching subscribers
//
// Outbound PUBLISH: Message Expiry Interval is the remaining lifetime (rounded up; a message that
// expired before it was first sent is dropped, one resent after reconnect carries at least 1 s);
// a PUBLISH larger than the client's Maximum Packet Size is discarded as if delivered (MQTT 5
// §3.1.2.11.4), judged with the topic and a topic alias property (the worst case) so the alias
// table never records an alias the client didn't get.
//
// Reason strings and user properties are never added to acks, SUBACK / UNSUBACK or DISCONNECT
// (details go to the log instead), so an ack never needs shrinking to fit the client's Maximum
// Packet Size, and Request Problem Information = 0 is honoured trivially.
#include <algorithm>
#include <utility>

#include "broker/broker_impl.h"
#include "broker/protocol_handler.h"
#include "codec/encoder.h"
#include "codec/reason_code.h"
#include "codec/topic.h"
#include "util/utf8.h"

namespace mquictt::broker {

namespace rc = codec::rc;

namespace {

bool is_sys_topic(std::string_view topic) {
  return topic == "$SYS" || topic.starts_with("$SYS/");
}

bool has_wildcard(std::string_view filter) {
  return filter.find_first_of("+#") != std::string_view::npos;
}

constexpr size_t kTopicAliasPropertySize = 3;  // identifier + two-byte integer

}  // namespace

// --- Inbound PUBLISH ---

void ProtocolHandler::on_publish(StreamEndpoint& in, codec::Publish&& p) {
  const BrokerConfig& config = cfg();
  if (p.qos > config.maximum_qos) {
    fail_input(in, {rc::kQosNotSupported, "PUBLISH QoS above maximum"});
    return;
  }
  if (p.retain && !config.retain_available) {
    fail_input(in, {rc::kRetainNotSupported, "retain not available"});
    return;
  }
  if (v5()) {
    if (auto r = cs_.inbound_aliases.resolve(p.topic, p.props.topic_alias); !r) {
      fail_input(in, r.error());
      return;
    }
  } else if (p.topic.empty()) {
    fail_input(in, {rc::kProtocolError, "empty topic"});
    return;
  }
  const uint8_t qos = p.qos;
  const uint16_t packet_id = p.packet_id;
  if (qos == 2) {
    if (session_->inbound_qos2().pending(packet_id)) {
      send_durable_ack(in, codec::PubRec{{packet_id, 0, {}}});
      return;
    }
    if (v5() && cs_.inbound_quota.size() >= config.receive_maximum) {
      fail_input(
          in, {rc::kReceiveMaximumExceeded, "more QoS 2 PUBLISH in flight than Receive Maximum"});
      return;
    }
  }
  ++broker_->counters().messages_received;

  uint8_t reason = publish_reason(p);
  if (reason == rc::kPayloadFormatInvalid && qos == 0) {
    fail_input(in, {rc::kPayloadFormatInvalid, "payload is not UTF-8"});
    return;
  }
  if (reason == 0) {
    const std::optional<size_t> routed = broker_->publish(make_message(std::move(p)));
    if (routed && *routed == 0) reason = rc::kNoMatchingSubscribers;
  } else {
    ++broker_->counters().messages_dropped;
  }
  if (state_ != State::kConnected) return;  // routing back to ourselves can't fail us, but be safe
  const uint8_t wire_reason = v5() ? reason : 0;
  if (qos == 1) {
    send_durable_ack(in, codec::PubAck{{packet_id, wire_reason, {}}});
  } else if (qos == 2) {
    if (wire_reason < 0x80) {
      session_->inbound_qos2().begin(packet_id);
      cs_.inbound_quota.emplace(packet_id, in.tag);  // counted against Receive Maximum in v5
    }
    send_durable_ack(in, codec::PubRec{{packet_id, wire_reason, {}}});
  }
}

uint8_t ProtocolHandler::publish_reason(const codec::Publish& p) const {
  const BrokerConfig& config = cfg();
  if (is_sys_topic(p.topic)) return rc::kNotAuthorized;
  if (config.message_size_limit_bytes != 0 && p.payload.size() > config.message_size_limit_bytes) {
    return rc::kQuotaExceeded;
  }
  if (config.validate_payload_format && p.props.payload_format_indicator.value_or(0) == 1 &&
      !well_formed_utf8(p.payload)) {
    return rc::kPayloadFormatInvalid;
  }
  if (!broker_->authenticator().authorize_publish(client_info(), p.topic, p.qos, p.retain)) {
    return rc::kNotAuthorized;
  }
  return 0;
}

MessagePtr ProtocolHandler::make_message(codec::Publish&& p) const {
  auto m = std::make_shared<Message>();
  const TimeMs t = broker_->now();
  m->topic = std::move(p.topic);
  m->payload = std::move(p.payload);
  m->qos = p.qos;
  m->retain = p.retain;
  m->received_at_ms = t;
  m->origin = session_->id();
  if (v5()) {
    if (p.props.message_expiry_interval) {
      m->expires_at_ms = t + static_cast<TimeMs>(*p.props.message_expiry_interval) * 1000;
    }
    m->props.payload_format_indicator = p.props.payload_format_indicator;
    m->props.content_type = std::move(p.props.content_type);
    m->props.response_topic = std::move(p.props.response_topic);
    m->props.correlation_data = std::move(p.props.correlation_data);
    m->props.user_properties = std::move(p.props.user_properties);
  }
  return m;
}

// --- Acks from the client (we are the sender) ---

void ProtocolHandler::on_puback(StreamEndpoint& in, const codec::PubAck& a) {
  switch (session_->inflight().on_puback(a.packet_id)) {
    case OutboundInflight::AckResult::kCompleted:
      pump();
      return;
    case OutboundInflight::AckResult::kWrongState:
      fail_input(in, {rc::kProtocolError, "PUBACK for a QoS 2 message"});
      return;
    case OutboundInflight::AckResult::kUnknown:
    case OutboundInflight::AckResult::kReleased:
      return;  // stale (e.g. acked twice): nothing to do
  }
}

void ProtocolHandler::on_pubrec(StreamEndpoint& in, const codec::PubRec& a) {
  switch (session_->inflight().on_pubrec(a.packet_id, v5() ? a.reason : 0)) {
    case OutboundInflight::AckResult::kReleased:
      send(in, codec::PubRel{{a.packet_id, 0, {}}});
      return;
    case OutboundInflight::AckResult::kCompleted:  // refused by the client
      pump();
      return;
    case OutboundInflight::AckResult::kUnknown:
      send(in, codec::PubRel{{a.packet_id, v5() ? rc::kPacketIdentifierNotFound : uint8_t{0}, {}}});
      return;
    case OutboundInflight::AckResult::kWrongState:
      fail_input(in, {rc::kProtocolError, "PUBREC for a QoS 1 message"});
      return;
  }
}

void ProtocolHandler::on_pubcomp(StreamEndpoint& in, const codec::PubComp& a) {
  switch (session_->inflight().on_pubcomp(a.packet_id)) {
    case OutboundInflight::AckResult::kCompleted:
      pump();
      return;
    case OutboundInflight::AckResult::kWrongState:
      fail_input(in, {rc::kProtocolError, "PUBCOMP before PUBREC"});
      return;
    case OutboundInflight::AckResult::kUnknown:
    case OutboundInflight::AckResult::kReleased:
      return;
  }
}

// --- PUBREL from the client (we are the QoS 2 receiver) ---

void ProtocolHandler::on_pubrel(StreamEndpoint& in, const codec::PubRel& a) {
  const bool known = session_->inbound_qos2().release(a.packet_id);
  cs_.inbound_quota.erase(a.packet_id);
  const uint8_t reason = known || !v5() ? 0 : rc::kPacketIdentifierNotFound;
  send_durable_ack(in, codec::PubComp{{a.packet_id, reason, {}}});
}

// --- SUBSCRIBE / UNSUBSCRIBE ---

void ProtocolHandler::on_subscribe(StreamEndpoint& in, const codec::Subscribe& s) {
  const BrokerConfig& config = cfg();
  std::optional<uint32_t> sub_id;
  if (!s.props.subscription_identifiers.empty()) sub_id = s.props.subscription_identifiers.front();
  // No Local on a shared subscription is a Protocol Error for the whole packet (§3.8.3.1).
  for (const codec::Subscription& sub : s.subscriptions) {
    if (sub.options.no_local && codec::is_shared(sub.filter)) {
      fail_input(in, {rc::kProtocolError, "No Local on a shared subscription"});
      return;
    }
  }
  struct RetainedWork {
    const std::string* filter;
    uint8_t qos;
  };
  std::vector<RetainedWork> retained;
  codec::SubAck ack;
  ack.packet_id = s.packet_id;
  ack.reasons.reserve(s.subscriptions.size());
  const ClientInfo info = client_info();
  const bool debug = broker_->log().should_log(spdlog::level::debug);
  for (const codec::Subscription& sub : s.subscriptions) {
    const bool shared = codec::is_shared(sub.filter);
    uint8_t code;
    if (!codec::valid_topic_filter(sub.filter)) {
      code = rc::kTopicFilterInvalid;
    } else if (shared && !config.shared_subscription_available) {
      code = rc::kSharedSubscriptionsNotSupported;
    } else if (has_wildcard(sub.filter) && !config.wildcard_subscription_available) {
      code = rc::kWildcardSubscriptionsNotSupported;
    } else if (sub_id && !config.subscription_identifiers_available) {
      code = rc::kSubscriptionIdentifiersNotSupported;
    } else if (!broker_->authenticator().authorize_subscribe(info, sub.filter, sub.options.qos)) {
      code = rc::kNotAuthorized;
    } else {
      codec::SubscriptionOptions opts = sub.options;
      opts.qos = std::min(opts.qos, config.maximum_qos);
      const bool replaced =
          broker_->router().subscribe(session_->id(), sub.filter, opts, sub_id, in.tag);
      code = opts.qos;
      // Retained messages: never to shared subscriptions; Retain Handling 0 always, 1 only for
      // a new subscription, 2 never.
      if (!shared && (opts.retain_handling == 0 || (opts.retain_handling == 1 && !replaced))) {
        retained.push_back({&sub.filter, opts.qos});
      }
    }
    if (debug) {
      broker_->log().debug("subscribe client_id={} filter={} qos={} stream={} reason={:#04x}",
                           client_id_, sub.filter, sub.options.qos, in.tag, code);
    }
    if (!v5() && code >= 0x80) code = codec::rc311::kSubackFailure;
    ack.reasons.push_back(code);
  }
  send_durable_ack(in, ack);
  for (const RetainedWork& w : retained) {
    if (state_ != State::kConnected) return;
    broker_->send_retained(*this, *w.filter, w.qos, sub_id, in.tag);
  }
}

void ProtocolHandler::on_unsubscribe(StreamEndpoint& in, const codec::Unsubscribe& u) {
  codec::UnsubAck ack;
  ack.packet_id = u.packet_id;
  for (const std::string& filter : u.filters) {
    uint8_t code;
    if (!codec::valid_topic_filter(filter)) {
      code = rc::kTopicFilterInvalid;
    } else {
      // Stream-scoped: only this stream's subscription (EMQX answers 0x11 for another stream's).
      code = broker_->router().unsubscribe(session_->id(), filter, in.tag)
                 ? rc::kSuccess
                 : rc::kNoSubscriptionExisted;
    }
    if (broker_->log().should_log(spdlog::level::debug)) {
      broker_->log().debug("unsubscribe client_id={} filter={} reason={:#04x}", client_id_, filter,
                           code);
    }
    if (v5()) ack.reasons.push_back(code);
  }
  send_durable_ack(in, ack);
}

// --- Outbound PUBLISH ---

void ProtocolHandler::deliver(Outgoing out, FanoutContext* fx) {
  if (state_ != State::kConnected) return;
  StreamEndpoint& target = endpoint_for(out.stream);
  if (out.qos == 0) {
    if (slow(target)) {
      ++broker_->counters().messages_dropped;
      broker_->mark_blocked(*this);
      return;
    }
    if (!send_publish(target, out, 0, false, fx)) ++broker_->counters().messages_dropped;
    return;
  }
  // QoS 1/2 keep their order: they go straight out only if nothing is waiting before them.
  if (session_->queue().empty() && !slow(target) &&
      session_->inflight().size() < cs_.negotiated.send_window) {
    send_in_new_slot(std::move(out), fx);
    return;
  }
  enqueue(std::move(out));
}

void ProtocolHandler::enqueue(Outgoing&& o) {
  const BrokerConfig& config = cfg();
  if (slow()) broker_->mark_blocked(*this);
  if (!session_->queue().push(std::move(o),
                              {config.max_queued_messages, config.max_queued_bytes})) {
    ++broker_->counters().messages_dropped;
    if (config.overflow_policy == OverflowPolicy::kDisconnect) {
      fail({rc::kQuotaExceeded, "subscriber queue full"});
    }
    return;
  }
  broker_->arm_queue_expiry(*session_);
}

void ProtocolHandler::send_in_new_slot(Outgoing&& o, FanoutContext* fx) {
  OutboundInflight& inflight = session_->inflight();
  const std::optional<uint16_t> packet_id = inflight.allocate_id();
  if (!packet_id) {
    session_->queue().push_front(std::move(o));
    return;
  }
  StreamEndpoint& target = endpoint_for(o.stream);
  o.stream = target.tag;  // the inflight entry belongs to the stream it actually went out on
  if (!send_publish(target, o, *packet_id, false, fx)) {
    ++broker_->counters().messages_dropped;  // too large for the client, or expired
    return;
  }
  inflight.add(*packet_id, std::move(o));
}

void ProtocolHandler::pump() {
  if (state_ != State::kConnected || !session_) return;
  MessageQueue& q = session_->queue();
  const TimeMs t = broker_->now();
  uint64_t expired = 0;
  while (!q.empty()) {
    std::optional<Outgoing> o = q.pop_front_live(t, &expired);  // skips expired ones
    if (!o) break;
    StreamEndpoint& target = endpoint_for(o->stream);
    if (slow(target)) {
      q.push_front(std::move(*o));  // one FIFO: what follows waits behind it
      broker_->mark_blocked(*this);
      break;
    }
    if (o->qos > 0 && session_->inflight().size() >= cs_.negotiated.send_window) {
      q.push_front(std::move(*o));  // QoS 0 behind it waits too: order is kept
      break;
    }
    if (o->qos == 0) {
      if (!send_publish(target, *o, 0, false, nullptr)) ++broker_->counters().messages_dropped;
    } else {
      send_in_new_slot(std::move(*o), nullptr);
    }
  }
  broker_->counters().messages_dropped += expired;
}

void ProtocolHandler::resend_inflight() {
  // On the control stream: the streams of the previous connection are gone (their tags name no
  // stream of this one), and no data stream is active before CONNACK anyway.
  std::vector<uint16_t> undeliverable;
  for (const OutboundInflight::Entry& e : session_->inflight().entries()) {
    if (e.state == OutboundInflight::State::kAwaitPubComp) {
      send(codec::PubRel{{e.packet_id, 0, {}}});
    } else if (!send_publish(control_, e.out, e.packet_id, true, nullptr)) {
      undeliverable.push_back(e.packet_id);
    }
  }
  for (uint16_t id : undeliverable)
    session_->inflight().erase(id);
  broker_->counters().messages_dropped += undeliverable.size();
}

bool ProtocolHandler::send_publish(StreamEndpoint& out, const Outgoing& o, uint16_t packet_id,
                                   bool dup, FanoutContext* fx) {
  const Message& m = *o.msg;
  const TimeMs t = broker_->now();
  if (!dup && m.expired(t)) return false;
  const uint32_t limit = cs_.negotiated.max_outbound_packet;
  // Outbound topic aliases on the control stream only (see "Streams" in protocol_handler.h).
  const bool aliases = cs_.outbound_aliases.maximum() != 0 && out.tag == kControlStream;
  const bool shareable = fx && o.qos == 0 && o.subscription_ids.empty() && !aliases;
  SharedBytes* slot = shareable ? &fx->qos0[v5() ? 1 : 0][o.retain ? 1 : 0] : nullptr;
  if (slot && *slot) {
    if (limit != 0 && (*slot)->size() > limit) return false;
    if (out.tracing) {
      // The frame of an earlier subscriber of this fan-out: QoS 0, no packet id, no alias.
      PacketTrace tr;
      tr.sent = true;
      tr.type = codec::PacketType::kPublish;
      tr.length = (*slot)->size();
      tr.topic = m.topic;
      tr.qos = o.qos;
      tr.retain = o.retain;
      tr.payload_length = m.payload.size();
      out.stream.trace(tr);
    }
    broker_->counters().bytes_sent += (*slot)->size();
    ++broker_->counters().messages_sent;
    out.stream.write_shared(*slot);
    return true;
  }

  // Topic, payload and message properties are the same for every subscriber of a fan-out: they
  // are copied into one codec::Publish per fan-out, and only the per-subscriber fields below are
  // rewritten for each encode (a resend builds its own).
  codec::Publish local;
  codec::Publish* base = &local;
  if (fx) {
    if (!fx->base) fill_publish_base(fx->base.emplace(), m, false);
    base = &*fx->base;
  } else {
    fill_publish_base(local, m, dup);
  }
  codec::Publish& p = *base;
  p.dup = dup;
  p.qos = o.qos;
  p.retain = o.retain;
  p.packet_id = packet_id;
  p.props.subscription_identifiers = o.subscription_ids;
  p.props.topic_alias.reset();
  if (limit != 0) {
    const size_t size =
        codec::encoded_size(p, cs_.version) + (aliases ? kTopicAliasPropertySize : 0);
    if (size > limit) return false;
  }
  std::string full_topic;  // holds the topic while an alias replaces it in `p`
  if (aliases) {
    if (auto choice = cs_.outbound_aliases.choose(p.topic)) {
      p.props.topic_alias = choice->alias;
      if (!choice->send_topic) full_topic.swap(p.topic);
    }
  }
  ++broker_->counters().messages_sent;
  std::vector<uint8_t> bytes = codec::encode(p, cs_.version);
  if (out.tracing) out.stream.trace(trace_of(p, bytes.size(), true, v5()));
  if (!full_topic.empty()) p.topic.swap(full_topic);
  if (slot) {
    *slot = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
    broker_->counters().bytes_sent += (*slot)->size();
    out.stream.write_shared(*slot);
    return true;
  }
  write_frame(out, bytes);
  return true;
}

void ProtocolHandler::fill_publish_base(codec::Publish& p, const Message& m, bool resend) const {
  p.topic = m.topic;
  p.payload = m.payload;
  p.props = m.props;  // ignored by the encoder for 3.1.1
  if (auto left = m.remaining_expiry_s(broker_->now())) {
    // A resend of a message that expired in flight still says "expires", not "0 = never".
    p.props.message_expiry_interval = resend ? std::max<uint32_t>(1, *left) : *left;
  }
}

}  // namespace mquictt::broker
