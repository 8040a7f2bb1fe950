#include "server/server.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "log/log.h"

namespace mquictt::server {

namespace {

void preparecb(struct ev_loop*, ev_prepare* w, int) noexcept {
  static_cast<Server*>(w->data)->on_prepare();
}

void tickcb(struct ev_loop*, ev_timer* w, int) noexcept {
  static_cast<Server*>(w->data)->on_tick();
}

void draincb(struct ev_loop*, ev_timer* w, int) noexcept {
  static_cast<Server*>(w->data)->on_drain_timeout();
}

void asynccb(struct ev_loop*, ev_async* w, int) noexcept {
  static_cast<Server*>(w->data)->on_async();
}

void signalcb(struct ev_loop*, ev_signal* w, int) noexcept {
  static_cast<Server*>(w->data)->on_signal(w->signum);
}

broker::SharedStrategy to_broker(config::SharedStrategy s) {
  switch (s) {
    case config::SharedStrategy::kRoundRobin:
      return broker::SharedStrategy::kRoundRobin;
    case config::SharedStrategy::kRandom:
      return broker::SharedStrategy::kRandom;
    case config::SharedStrategy::kSticky:
      return broker::SharedStrategy::kSticky;
  }
  return broker::SharedStrategy::kRoundRobin;
}

broker::OverflowPolicy to_broker(config::OverflowPolicy p) {
  switch (p) {
    case config::OverflowPolicy::kDropNewest:
      return broker::OverflowPolicy::kDropNewest;
    case config::OverflowPolicy::kDisconnect:
      return broker::OverflowPolicy::kDisconnect;
  }
  return broker::OverflowPolicy::kDropNewest;
}

ngtcp2_cc_algo to_ngtcp2(config::CongestionControl c) {
  switch (c) {
    case config::CongestionControl::kCubic:
      return NGTCP2_CC_ALGO_CUBIC;
    case config::CongestionControl::kReno:
      return NGTCP2_CC_ALGO_RENO;
    case config::CongestionControl::kBbr:
      return NGTCP2_CC_ALGO_BBR;
  }
  return NGTCP2_CC_ALGO_CUBIC;
}

quic::RetryMode to_quic(config::RetryPolicy r) {
  switch (r) {
    case config::RetryPolicy::kNever:
      return quic::RetryMode::kNever;
    case config::RetryPolicy::kAlways:
      return quic::RetryMode::kAlways;
    case config::RetryPolicy::kAboveHandshakes:
      return quic::RetryMode::kAboveHandshakes;
  }
  return quic::RetryMode::kNever;
}

// What a reload cannot change without rebinding.
bool same_listener(const config::ListenerConfig& a, const config::ListenerConfig& b) {
  return a.name == b.name && a.transport == b.transport && a.host == b.host && a.port == b.port &&
         a.max_connections == b.max_connections && a.tcp_nodelay == b.tcp_nodelay;
}

std::unique_ptr<quic::QuicListener> make_quic_listener(transport::EvLoop& loop,
                                                       broker::Broker& broker,
                                                       const config::ListenerConfig& lc,
                                                       const config::BrokerSettings& settings) {
  const config::QuicSettings q = lc.quic.value_or(config::QuicSettings{});
  quic::QuicListenerOptions o;
  o.name = lc.name;
  o.host = lc.host;
  o.port = lc.port;
  o.ipv6 = lc.ipv6;
  o.max_connections = lc.max_connections;
  o.tls = to_tls_files(lc);
  o.transport = to_quic_options(lc, settings);
  o.node_id = q.node_id;
  o.retry = to_quic(q.retry);
  o.retry_handshakes_above = q.retry_handshakes_above;
  o.gso = q.gso;
  if (!q.static_secret_file.empty()) {
    std::ifstream in(q.static_secret_file, std::ios::binary);
    o.static_secret.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) o.static_secret.clear();
    if (o.static_secret.size() < 32) {
      throw std::runtime_error("listener " + lc.name + ": quic.static_secret_file " +
                               q.static_secret_file +
                               ": cannot read at least 32 bytes (e.g. head -c 32 /dev/urandom)");
    }
  }
  if (q.session_tickets) {
    quic::SessionTicketOptions t;
    t.early_data = q.early_data.enabled;
    t.ticket_lifetime_s = q.ticket_lifetime_s;
    t.anti_replay_window_ms = q.early_data.anti_replay_window_ms;
    o.session_tickets = t;
  } else {
    o.session_tickets.reset();
  }
  broker::ListenerInfo info{lc.name, "quic", lc.max_connections,
                            lc.tls && lc.tls->use_identity_as_username};
  info.early_data_max_publish_qos = q.early_data.max_publish_qos;
  try {
    return std::make_unique<quic::QuicListener>(
        loop, std::move(o),
        [&broker, info](broker::ByteStream& s) { return broker.accept(s, info); });
  } catch (const std::runtime_error& e) {
    // Certificate errors do not name the listener by themselves; bind errors name the address.
    throw std::runtime_error("listener " + lc.name + ": " + e.what());
  }
}

}  // namespace

TimeMs SteadyClock::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

broker::BrokerConfig to_broker_config(const config::BrokerSettings& s) {
  broker::BrokerConfig c;
  c.max_packet_size_bytes = s.max_packet_size_bytes;
  c.receive_maximum = s.receive_maximum;
  c.topic_alias_maximum = s.topic_alias_maximum;
  c.maximum_qos = s.maximum_qos;
  c.retain_available = s.retain_available;
  c.wildcard_subscription_available = s.wildcard_subscription_available;
  c.subscription_identifiers_available = s.subscription_identifiers_available;
  c.shared_subscription_available = s.shared_subscription_available;
  c.max_keepalive_s = s.max_keepalive_s;
  c.max_session_expiry_interval_s = s.max_session_expiry_interval_s;
  c.connect_timeout_ms = s.connect_timeout_ms;
  c.max_topic_alias_outbound = s.max_topic_alias_outbound;
  c.allow_zero_length_clientid = s.allow_zero_length_clientid;
  c.auto_id_prefix = s.auto_id_prefix;
  c.max_client_id_length = s.max_client_id_length;
  c.max_inflight_messages = s.max_inflight_messages;
  c.max_queued_messages = s.max_queued_messages;
  c.max_queued_bytes = s.max_queued_bytes;
  c.queue_qos0_messages = s.queue_qos0_messages;
  c.overflow_policy = to_broker(s.overflow_policy);
  c.outbound_high_watermark_bytes = s.outbound_high_watermark_bytes;
  c.outbound_low_watermark_bytes = s.outbound_low_watermark_bytes;
  c.shared_strategy = to_broker(s.shared_strategy);
  c.validate_payload_format = s.validate_payload_format;
  c.message_size_limit_bytes = s.message_size_limit_bytes;
  return c;
}

transport::TcpConnectionOptions to_connection_options(const config::BrokerSettings& s) {
  transport::TcpConnectionOptions o;
  o.high_watermark_bytes = s.outbound_high_watermark_bytes;
  o.low_watermark_bytes = s.outbound_low_watermark_bytes;
  return o;
}

quic::TlsServerFiles to_tls_files(const config::ListenerConfig& lc) {
  quic::TlsServerFiles f;
  if (lc.tls) {
    f.cert_file = lc.tls->cert_file;
    f.key_file = lc.tls->key_file;
    f.ca_file = lc.tls->ca_file;
    f.require_certificate = lc.tls->require_certificate;
  }
  return f;
}

quic::QuicTransportOptions to_quic_options(const config::ListenerConfig& listener,
                                           const config::BrokerSettings& settings) {
  const config::QuicSettings q = listener.quic.value_or(config::QuicSettings{});
  quic::QuicTransportOptions o;
  o.idle_timeout = quic::Timestamp{q.idle_timeout_ms} * quic::kNanosPerMilli;
  o.handshake_timeout = quic::Timestamp{q.handshake_timeout_ms} * quic::kNanosPerMilli;
  o.max_streams_bidi = q.max_streams_per_connection;
  o.stream_window_bytes = q.stream_window_bytes;
  o.connection_window_bytes = q.connection_window_bytes;
  o.congestion_control = to_ngtcp2(q.congestion_control);
  o.initial_rtt = quic::Timestamp{q.initial_rtt_ms} * quic::kNanosPerMilli;
  o.max_ack_delay = quic::Timestamp{q.max_ack_delay_ms} * quic::kNanosPerMilli;
  o.keepalive = quic::Timestamp{q.keepalive_ms} * quic::kNanosPerMilli;
  o.qlog_dir = q.qlog_dir;
  o.high_watermark_bytes = settings.outbound_high_watermark_bytes;
  o.low_watermark_bytes = settings.outbound_low_watermark_bytes;
  return o;
}

void apply_log_level(config::LogLevel level) {
  spdlog::level::level_enum l = spdlog::level::info;
  switch (level) {
    case config::LogLevel::kTrace:
      l = spdlog::level::trace;
      break;
    case config::LogLevel::kDebug:
      l = spdlog::level::debug;
      break;
    case config::LogLevel::kInfo:
      l = spdlog::level::info;
      break;
    case config::LogLevel::kWarning:
      l = spdlog::level::warn;
      break;
    case config::LogLevel::kError:
      l = spdlog::level::err;
      break;
    case config::LogLevel::kCritical:
      l = spdlog::level::critical;
      break;
    case config::LogLevel::kOff:
      l = spdlog::level::off;
      break;
  }
  log::set_level(l);
}

Server::Server(const config::Config& config, ServerOptions options)
    : options_(std::move(options)),
      listener_configs_(config.listeners),
      broker_(to_broker_config(config.broker), clock_),
      prepare_(loop_, preparecb, this),
      tick_(loop_, tickcb, this),
      drain_(loop_, draincb, this),
      async_(loop_, asynccb, this) {
  // Writes use MSG_NOSIGNAL; this covers everything else (e.g. stderr on a closed pipe).
  std::signal(SIGPIPE, SIG_IGN);

  if (config.listeners.empty()) throw std::runtime_error("no listener configured");
  const auto conn_options = to_connection_options(config.broker);
  for (const auto& lc : config.listeners) {
    if (lc.transport == config::Transport::kQuic) {
      quic_listeners_.push_back(make_quic_listener(loop_, broker_, lc, config.broker));
      continue;
    }
    if (lc.transport != config::Transport::kTcp) {
      throw std::runtime_error("listener " + lc.name + ": transport " +
                               std::string(config::to_string(lc.transport)) +
                               " is not supported yet");
    }
    transport::TcpListenerOptions o;
    o.name = lc.name;
    o.host = lc.host;
    o.port = lc.port;
    o.ipv6 = lc.ipv6;
    o.tcp_nodelay = lc.tcp_nodelay;
    o.max_connections = lc.max_connections;
    o.connection = conn_options;
    broker::ListenerInfo info{lc.name, "tcp", lc.max_connections};
    listeners_.push_back(std::make_unique<transport::TcpListener>(
        loop_, std::move(o),
        [this, info](broker::ByteStream& s) { return broker_.accept(s, info); }));
  }

  prepare_.set_priority(EV_MINPRI);  // after everything else of the iteration
  prepare_.start();
  async_.start();
  if (options_.handle_signals) {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      auto w = std::make_unique<transport::SignalWatcher>(loop_, sig, signalcb, this);
      w->start();
      signals_.push_back(std::move(w));
    }
  }
}

Server::~Server() {
  if (options_.handle_signals) {
    // The loop is over: from here the process only tears down and exits. Stopping the watchers
    // restores the default actions, so a late SIGTERM (e.g. a supervisor's second one) would kill
    // the process mid-teardown and turn a clean exit into "killed by signal". Blocked, it stays
    // pending and is never delivered.
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGHUP})
      sigaddset(&set, sig);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
  // Connections first (handlers -> on_closed -> broker), while the broker is still alive.
  listeners_.clear();
  quic_listeners_.clear();
}

void Server::run() {
  for (auto& l : listeners_)
    l->start();
  for (auto& l : quic_listeners_)
    l->start();
  loop_.run();
}

std::vector<BoundListener> Server::listeners() const {
  std::vector<BoundListener> out;
  for (const auto& l : listeners_)
    out.push_back({l->name(), "tcp", l->local_address(), l->port()});
  for (const auto& l : quic_listeners_)
    out.push_back({l->name(), "quic", l->local_address(), l->port()});
  return out;
}

size_t Server::connection_count() const {
  size_t n = 0;
  for (const auto& l : listeners_)
    n += l->connection_count();
  for (const auto& l : quic_listeners_)
    n += l->connection_count();
  return n;
}

void Server::on_prepare() noexcept {
  try {
    broker_.flush();
    if (shutting_down_ && connection_count() == 0) {
      loop_.break_loop();
      return;
    }
    // The timer is computed against libev's cached time; refresh it so that time spent in this
    // iteration's callbacks does not make the timer fire early.
    ev_now_update(loop_.raw());
    double delay = kSafetyTickS;
    if (auto next = broker_.next_deadline()) {
      double until = static_cast<double>(*next - clock_.now_ms()) / 1000.0;
      // 1 ms floor: a deadline the broker failed to clear costs a slow tick, not a busy loop.
      delay = std::clamp(until, 0.001, kSafetyTickS);
    }
    tick_.start_after(delay);
  } catch (const std::exception& e) {
    log::main()->error("broker flush failed: {}", e.what());
    tick_.start_after(kSafetyTickS);
  }
}

void Server::on_tick() noexcept {
  try {
    broker_.tick();
  } catch (const std::exception& e) {
    log::main()->error("broker tick failed: {}", e.what());
  }
}

void Server::on_signal(int signum) noexcept {
  try {
    if (signum == SIGHUP) return reload();
    if (shutting_down_) {
      log::main()->warn("{} again: stopping now", strsignal(signum));
      loop_.break_loop();
      return;
    }
    log::main()->info("{}: shutting down", strsignal(signum));
    shutdown();
  } catch (const std::exception& e) {
    log::main()->error("signal {}: {}", signum, e.what());
    loop_.break_loop();
  }
}

void Server::on_async() noexcept {
  try {
    shutdown();
  } catch (const std::exception& e) {
    log::main()->error("shutdown failed: {}", e.what());
    loop_.break_loop();
  }
}

void Server::on_drain_timeout() noexcept {
  log::main()->warn("shutdown: {} connection(s) still open after {} s; closing them",
                    connection_count(), options_.drain_timeout_s);
  loop_.break_loop();
}

void Server::request_shutdown_threadsafe() {
  async_.send();
}

void Server::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  for (auto& l : listeners_)
    l->stop_accepting();
  for (auto& l : quic_listeners_)
    l->stop_accepting();
  broker_.shutdown();
  // The broker closes the streams it knows; this catches any it does not (e.g. refused ones,
  // QUIC connections still in their handshake).
  for (auto& l : listeners_)
    l->connections().close_all();
  for (auto& l : quic_listeners_)
    l->connections().close_all();
  drain_.start_after(options_.drain_timeout_s);
  // Signal watchers stay: a second SIGINT/SIGTERM stops at once.
  async_.stop();
}

void Server::reload() {
  if (!options_.reload) {
    log::main()->info("SIGHUP: no configuration file to reload");
    return;
  }
  log::main()->info("SIGHUP: reloading the configuration");
  auto config = options_.reload();
  if (!config) {
    log::main()->warn("reload failed; keeping the running configuration");
    return;
  }
  apply_config(*config);
}

void Server::reload_certificates(quic::QuicListener& l, const config::ListenerConfig& lc) {
  // The files are read again even if their names did not change: renewing a certificate usually
  // rewrites them in place.
  std::string error;
  if (l.reload_tls(to_tls_files(lc), &error)) {
    log::main()->info("listener {}: TLS certificate reloaded from {} (new connections)", l.name(),
                      lc.tls ? lc.tls->cert_file : "");
  } else {
    log::main()->error("listener {}: {}; keeping the current certificate", l.name(), error);
  }
}

void Server::apply_config(const config::Config& config) {
  broker_.set_config(to_broker_config(config.broker));
  const auto conn_options = to_connection_options(config.broker);
  for (auto& l : listeners_)
    l->set_connection_options(conn_options);
  for (auto& l : quic_listeners_) {
    for (const auto& lc : config.listeners) {
      if (lc.name == l->name() && lc.transport == config::Transport::kQuic) {
        l->set_transport_options(to_quic_options(lc, config.broker));
        reload_certificates(*l, lc);
      }
    }
  }
  apply_log_level(config.log.level);

  bool listeners_changed = config.listeners.size() != listener_configs_.size();
  for (size_t i = 0; !listeners_changed && i < config.listeners.size(); ++i) {
    listeners_changed = !same_listener(config.listeners[i], listener_configs_[i]);
  }
  if (listeners_changed) {
    log::main()->warn("reload: listener changes need a restart; keeping the current listeners");
  }
  log::main()->info("configuration reloaded (applies to new connections)");
}

}  // namespace mquictt::server
