#include "broker/broker_impl.h"

#include <algorithm>
#include <cassert>
#include <random>
#include <utility>

#include "codec/reason_code.h"
#include "log/log.h"

namespace mquictt::broker {

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

BrokerImpl::BrokerImpl(BrokerConfig config, Clock& clock)
    : config_(std::make_shared<const BrokerConfig>(std::move(config))),
      clock_(clock),
      log_(log::mqtt()),
      auth_(std::make_shared<AllowAllAuthenticator>()),
      router_(config_->shared_strategy),
      id_seed_(std::random_device{}()) {
  eligible_ = [this](SessionId id) {
    ProtocolHandler* h = online(id);
    return h && !h->slow();
  };
}

BrokerImpl::~BrokerImpl() {
  // Handlers may outlive the broker inside the transport until it tears them down; they must not
  // call back into freed memory.
  for (auto& [id, h] : connections_)
    h->detach_broker();
}

std::unique_ptr<ByteStreamHandler> BrokerImpl::accept(ByteStream& stream,
                                                      const ListenerInfo& listener) {
  const uint64_t id = next_connection_id_++;
  auto h = std::make_unique<ProtocolHandler>(*this, stream, listener, id, config_);
  connections_.emplace(id, h.get());
  size_t& count = listener_connections_[listener.name];
  ++count;
  if (listener.max_connections != 0 && count > listener.max_connections) {
    log_->warn("listener {}: connection limit {} reached, closing {}", listener.name,
               listener.max_connections, stream.describe());
    h->kick(codec::rc::kServerBusy, "listener connection limit", false);
  }
  return h;
}

void BrokerImpl::forget(ProtocolHandler& h) {
  if (connections_.erase(h.id()) == 0) return;
  blocked_.erase(h.id());
  auto it = listener_connections_.find(h.listener_name());
  if (it != listener_connections_.end() && it->second > 0) --it->second;
}

ProtocolHandler* BrokerImpl::online(SessionId id) const {
  auto it = online_.find(id);
  return it == online_.end() ? nullptr : it->second;
}

void BrokerImpl::set_config(BrokerConfig config) {
  config_ = std::make_shared<const BrokerConfig>(std::move(config));
}

void BrokerImpl::set_authenticator(std::shared_ptr<Authenticator> auth) {
  auth_ = auth ? std::move(auth) : std::make_shared<AllowAllAuthenticator>();
}

BrokerStats BrokerImpl::stats() const {
  BrokerStats s = counters_;
  s.clients_connected = online_.size();
  s.sessions = sessions_.size();
  s.subscriptions = router_.subscription_count();
  s.retained_messages = retained_.size();
  return s;
}

std::string BrokerImpl::assign_client_id() {
  static constexpr char kHex[] = "0123456789abcdef";
  for (;;) {
    uint64_t r = splitmix64(id_seed_);
    std::string id = config_->auto_id_prefix;
    for (int i = 0; i < 16; ++i) {
      id.push_back(kHex[r & 0xF]);
      r >>= 4;
    }
    if (!sessions_.find_by_client_id(id)) return id;
  }
}

// --- Sessions ---

BrokerImpl::Attached BrokerImpl::attach(ProtocolHandler& h, const std::string& client_id,
                                        bool clean_start, uint32_t expiry_s,
                                        std::optional<codec::Will> will) {
  Session* s = sessions_.find_by_client_id(client_id);
  if (s) {
    if (ProtocolHandler* old = online(s->id())) {
      // Takeover (MQTT 5 §3.1.4-3). The old connection's will goes out only if its session ends
      // now (clean start, or expiry 0); a session that continues was reconnected "before the
      // will delay elapsed" and its will is dropped. kick() detaches the old handler, which may
      // end the session (expiry 0) -- look it up again afterwards.
      const bool session_ends = clean_start || s->expiry_interval_s() == 0;
      const SessionId sid = s->id();
      old->kick(codec::rc::kSessionTakenOver, "session taken over", session_ends);
      s = sessions_.find(sid);
    }
  }
  if (s && clean_start) {
    end_session(*s);
    s = nullptr;
  }
  const bool present = s != nullptr;
  if (!s) {
    s = &sessions_.create(client_id);
  } else {
    // Resumed: a delayed will of the previous connection is cancelled (§3.1.3.2.2), and the
    // session no longer counts down.
    timers_.cancel_and_reset(s->will_timer);
    timers_.cancel_and_reset(s->expiry_timer);
    s->will().reset();
  }
  s->set_expiry_interval_s(expiry_s);
  s->will() = will ? std::make_unique<codec::Will>(std::move(*will)) : nullptr;
  online_[s->id()] = &h;
  return {s, present};
}

void BrokerImpl::detach(ProtocolHandler& h, Session& s, bool will_allowed) {
  auto it = online_.find(s.id());
  if (it == online_.end() || it->second != &h) return;
  online_.erase(it);
  if (!will_allowed) s.will().reset();
  const TimeMs t = now();
  if (s.expiry_interval_s() == 0) {
    end_session(s);  // publishes a will that is still there
    return;
  }
  if (s.will()) {
    const uint32_t delay =
        std::min(s.will()->props.will_delay_interval.value_or(0), s.expiry_interval_s());
    if (delay == 0) {
      publish_will(s);
    } else {
      s.will_timer =
          timers_.schedule(t + static_cast<TimeMs>(delay) * 1000, {TimerKind::kWillDelay, s.id()});
    }
  }
  if (auto at = s.expiry_deadline(t)) {
    s.expiry_timer = timers_.schedule(*at, {TimerKind::kSessionExpiry, s.id()});
  }
}

void BrokerImpl::end_session(Session& s) {
  assert(!online(s.id()));
  if (s.will()) publish_will(s);
  timers_.cancel_and_reset(s.will_timer);
  timers_.cancel_and_reset(s.expiry_timer);
  timers_.cancel_and_reset(s.queue_timer);
  router_.unsubscribe_all(s.id());
  if (log_->should_log(spdlog::level::debug)) {
    log_->debug("session ended client_id={}", s.client_id());
  }
  sessions_.erase(s.id());
}

void BrokerImpl::publish_will(Session& s) {
  timers_.cancel_and_reset(s.will_timer);
  if (!s.will()) return;
  codec::Will w = std::move(*s.will());
  s.will().reset();
  auto m = std::make_shared<Message>();
  const TimeMs t = now();
  m->topic = std::move(w.topic);
  m->payload = std::move(w.payload);
  m->qos = w.qos;
  m->retain = w.retain;
  m->received_at_ms = t;
  if (w.props.message_expiry_interval) {
    m->expires_at_ms = t + static_cast<TimeMs>(*w.props.message_expiry_interval) * 1000;
  }
  m->props.payload_format_indicator = w.props.payload_format_indicator;
  m->props.content_type = std::move(w.props.content_type);
  m->props.response_topic = std::move(w.props.response_topic);
  m->props.correlation_data = std::move(w.props.correlation_data);
  m->props.user_properties = std::move(w.props.user_properties);
  m->origin = s.id();
  if (log_->should_log(spdlog::level::debug)) {
    log_->debug("will published client_id={} topic={}", s.client_id(), m->topic);
  }
  (void)publish(std::move(m));
}

// --- Routing ---

std::optional<size_t> BrokerImpl::publish(MessagePtr msg) {
  if (routing_) {
    pending_publishes_.push_back(std::move(msg));
    return std::nullopt;
  }
  routing_ = true;
  const size_t n = route(msg);
  // Publishes queued by this fan-out (wills of clients it disconnected), and theirs.
  for (size_t i = 0; i < pending_publishes_.size(); ++i) {
    MessagePtr next = pending_publishes_[i];
    route(next);
  }
  pending_publishes_.clear();
  routing_ = false;
  return n;
}

size_t BrokerImpl::route(const MessagePtr& msg) {
  if (msg->retain) {
    retained_.set(msg);
    if (msg->expires_at_ms || retained_timer_ != kNoTimer) arm_retained_expiry();
  }
  router_.match(msg->topic, msg->origin, eligible_, deliveries_);
  // deliveries_ is not touched again until this loop ends: publishes are not nested (above),
  // and retained / subscribe work happens outside a fan-out.
  FanoutContext fx;
  size_t n = 0;
  for (Delivery& d : deliveries_) {
    Session* s = sessions_.find(d.session);
    if (!s) continue;
    if (!auth_->authorize_delivery(s->client_id(), msg->topic)) continue;
    ++n;
    Outgoing o{msg, std::min(msg->qos, d.qos), d.retain_as_published && msg->retain,
               std::move(d.subscription_ids), d.stream};
    if (ProtocolHandler* h = online(s->id())) {
      h->deliver(std::move(o), &fx);
    } else {
      enqueue_offline(*s, std::move(o));
    }
  }
  return n;
}

void BrokerImpl::enqueue_offline(Session& s, Outgoing&& o) {
  const BrokerConfig& cfg = *config_;
  if (o.qos == 0 && !cfg.queue_qos0_messages) return;  // not an error: QoS 0 isn't kept offline
  if (o.msg->expires_at_ms && o.msg->expired(now())) return;
  if (!s.queue().push(std::move(o), {cfg.max_queued_messages, cfg.max_queued_bytes})) {
    ++counters_.messages_dropped;
    return;
  }
  arm_queue_expiry(s);
}

void BrokerImpl::arm_queue_expiry(Session& s) {
  const std::optional<TimeMs> at = s.queue().earliest_expiry();
  if (!at) {
    timers_.cancel_and_reset(s.queue_timer);
    return;
  }
  if (s.queue_timer != kNoTimer && s.queue_timer_at <= *at) return;
  timers_.cancel(s.queue_timer);
  s.queue_timer = timers_.schedule(*at, {TimerKind::kQueueExpiry, s.id()});
  s.queue_timer_at = *at;
}

void BrokerImpl::send_retained(ProtocolHandler& h, std::string_view filter, uint8_t granted_qos,
                               std::optional<uint32_t> subscription_id, StreamTag stream) {
  std::vector<MessagePtr> found;
  retained_.match(filter, now(), [&found](const MessagePtr& m) { found.push_back(m); });
  for (MessagePtr& m : found) {
    if (h.state() != ProtocolHandler::State::kConnected) return;  // kicked while delivering
    if (!auth_->authorize_delivery(h.client_id(), m->topic)) continue;
    Outgoing o{std::move(m), 0, true, {}, stream};
    o.qos = std::min(o.msg->qos, granted_qos);
    if (subscription_id) o.subscription_ids.push_back(*subscription_id);
    h.deliver(std::move(o), nullptr);
  }
}

void BrokerImpl::arm_retained_expiry() {
  const std::optional<TimeMs> at = retained_.next_expiry();
  if (!at) {
    timers_.cancel_and_reset(retained_timer_);
    return;
  }
  if (retained_timer_ != kNoTimer && retained_timer_at_ == *at) return;
  timers_.cancel(retained_timer_);
  retained_timer_ = timers_.schedule(*at, {TimerKind::kRetainedExpiry, 0});
  retained_timer_at_ = *at;
}

// --- Loop hooks ---

void BrokerImpl::tick() {
  const TimeMs t = now();
  while (auto due = timers_.pop_due(t)) {
    const auto [timer, target] = *due;
    switch (target.kind) {
      case TimerKind::kConnectTimeout:
      case TimerKind::kKeepAlive: {
        auto it = connections_.find(target.id);
        if (it != connections_.end()) it->second->on_timer(target.kind, timer);
        break;
      }
      case TimerKind::kWillDelay: {
        Session* s = sessions_.find(target.id);
        if (!s || s->will_timer != timer) break;
        s->will_timer = kNoTimer;
        if (!online(s->id())) publish_will(*s);
        break;
      }
      case TimerKind::kSessionExpiry: {
        Session* s = sessions_.find(target.id);
        if (!s || s->expiry_timer != timer) break;
        s->expiry_timer = kNoTimer;
        if (!online(s->id())) {
          log_->info("session expired client_id={}", s->client_id());
          end_session(*s);
        }
        break;
      }
      case TimerKind::kQueueExpiry: {
        Session* s = sessions_.find(target.id);
        if (!s || s->queue_timer != timer) break;
        s->queue_timer = kNoTimer;
        counters_.messages_dropped += s->queue().purge_expired(t);
        arm_queue_expiry(*s);
        break;
      }
      case TimerKind::kRetainedExpiry:
        if (timer != retained_timer_) break;
        retained_timer_ = kNoTimer;
        retained_.expire(t);
        arm_retained_expiry();
        break;
    }
  }
}

void BrokerImpl::flush() {
  // Acks waiting for a store commit would be released here (none yet: no persistence).
  // Connections that stopped reading or hold queued messages because their stream was full: the
  // transport signals on_writable(), but re-checking here makes progress independent of the
  // transport's own watermarks.
  if (blocked_.empty()) return;
  std::vector<uint64_t> ids(blocked_.begin(), blocked_.end());
  for (uint64_t id : ids) {
    auto it = connections_.find(id);
    if (it == connections_.end()) {
      blocked_.erase(id);
      continue;
    }
    it->second->recheck_writable();
  }
}

void BrokerImpl::shutdown() {
  std::vector<ProtocolHandler*> all;
  all.reserve(connections_.size());
  for (auto& [id, h] : connections_)
    all.push_back(h);
  // Wills are not published: every subscriber is being disconnected too.
  for (ProtocolHandler* h : all)
    h->kick(codec::rc::kServerShuttingDown, "server shutting down", false);
  log_->info("shutdown: closed {} connections", all.size());
}

}  // namespace mquictt::broker
