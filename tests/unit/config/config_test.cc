#include "config/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

namespace mquictt::config {
namespace {

std::vector<std::string> messages(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& e : r.errors)
    out.push_back(e.to_string());
  return out;
}

std::string joined(const LoadResult& r) {
  std::string s;
  for (const auto& m : messages(r))
    s += m + "\n";
  return s;
}

LoadResult ok_parse(const std::string& yaml) {
  LoadResult r = parse(yaml, "t.yaml");
  EXPECT_TRUE(r.ok()) << joined(r);
  return r;
}

// ---- defaults -----------------------------------------------------------------------------------

TEST(ConfigDefaults, EmptyDocumentGivesDefaults) {
  for (const char* text : {"", "# only a comment\n", "---\n", "~\n"}) {
    LoadResult r = ok_parse(text);
    EXPECT_TRUE(r.config.listeners.empty()) << text;
    const BrokerSettings& b = r.config.broker;
    EXPECT_EQ(b.max_packet_size_bytes, 1024u * 1024u);
    EXPECT_EQ(b.message_size_limit_bytes, 0u);
    EXPECT_EQ(b.receive_maximum, 100);
    EXPECT_EQ(b.max_inflight_messages, 20);
    EXPECT_EQ(b.max_queued_messages, 1000u);
    EXPECT_EQ(b.max_queued_bytes, 0u);
    EXPECT_FALSE(b.queue_qos0_messages);
    EXPECT_EQ(b.overflow_policy, OverflowPolicy::kDropNewest);
    EXPECT_EQ(b.max_keepalive_s, 0);
    EXPECT_EQ(b.max_session_expiry_interval_s, 0xFFFFFFFFu);
    EXPECT_EQ(b.topic_alias_maximum, 10);
    EXPECT_EQ(b.max_topic_alias_outbound, 10);
    EXPECT_EQ(b.max_client_id_length, 65535u);
    EXPECT_EQ(b.connect_timeout_ms, 10'000u);
    EXPECT_EQ(b.outbound_high_watermark_bytes, 1024u * 1024u);
    EXPECT_EQ(b.outbound_low_watermark_bytes, 256u * 1024u);
    EXPECT_EQ(b.maximum_qos, 2);
    EXPECT_TRUE(b.retain_available);
    EXPECT_TRUE(b.wildcard_subscription_available);
    EXPECT_TRUE(b.subscription_identifiers_available);
    EXPECT_TRUE(b.shared_subscription_available);
    EXPECT_EQ(b.shared_strategy, SharedStrategy::kRoundRobin);
    EXPECT_TRUE(b.allow_zero_length_clientid);
    EXPECT_EQ(b.auto_id_prefix, "auto-");
    EXPECT_FALSE(b.validate_payload_format);
    EXPECT_EQ(r.config.log.level, LogLevel::kInfo);
  }
}

TEST(ConfigDefaults, EmptySectionsGiveDefaults) {
  LoadResult r = ok_parse("limits:\nmqtt:\nlog:\n");
  EXPECT_EQ(r.config.broker.receive_maximum, 100);
}

TEST(ConfigDefaults, DefaultListenerIsLoopbackOnly) {
  ListenerConfig l = default_listener();
  EXPECT_EQ(l.host, "127.0.0.1");
  EXPECT_EQ(l.port, 1883);
  EXPECT_EQ(l.bind, "127.0.0.1:1883");
  EXPECT_EQ(l.transport, Transport::kTcp);
  EXPECT_EQ(l.name, "tcp-1883");
  EXPECT_EQ(default_listener(0).bind, "127.0.0.1:0");
}

TEST(ConfigDefaults, ListenerDefaults) {
  LoadResult r = ok_parse("listeners:\n  - bind: \"0.0.0.0:1884\"\n");
  ASSERT_EQ(r.config.listeners.size(), 1u);
  const ListenerConfig& l = r.config.listeners[0];
  EXPECT_EQ(l.name, "tcp-1884");
  EXPECT_EQ(l.transport, Transport::kTcp);
  EXPECT_EQ(l.protocol, "mqtt");
  EXPECT_EQ(l.host, "0.0.0.0");
  EXPECT_EQ(l.port, 1884);
  EXPECT_FALSE(l.ipv6);
  EXPECT_EQ(l.max_connections, 0u);
  EXPECT_TRUE(l.tcp_nodelay);
  EXPECT_FALSE(l.tls.has_value());
}

// ---- every key ----------------------------------------------------------------------------------

TEST(ConfigKeys, EveryKeyIsRead) {
  LoadResult r = ok_parse(R"(
listeners:
  - name: public
    transport: tcp
    protocol: mqtt
    bind: "[::]:1883"
    max_connections: 5000
    tcp_nodelay: false
  - name: local
    bind: 127.0.0.1:1884
limits:
  max_packet_size: 65536
  message_size_limit: 60000
  receive_maximum: 50
  max_inflight_messages: 10
  max_queued_messages: 200
  max_queued_bytes: 1048576
  queue_qos0_messages: true
  overflow_policy: disconnect
  max_keepalive: 300
  max_session_expiry_interval: 86400
  topic_alias_maximum: 20
  outbound_topic_alias_maximum: 5
  max_client_id_length: 128
  connect_timeout_ms: 5000
  outbound_high_watermark_bytes: 2097152
  outbound_low_watermark_bytes: 524288
mqtt:
  maximum_qos: 1
  retain_available: false
  wildcard_subscription_available: false
  subscription_identifiers_available: false
  shared_subscriptions:
    enabled: false
    strategy: sticky
  allow_zero_length_clientid: false
  auto_id_prefix: "gen-"
  validate_payload_format: true
log:
  level: debug
)");
  ASSERT_EQ(r.config.listeners.size(), 2u);
  const ListenerConfig& a = r.config.listeners[0];
  EXPECT_EQ(a.name, "public");
  EXPECT_EQ(a.host, "::");
  EXPECT_TRUE(a.ipv6);
  EXPECT_EQ(a.port, 1883);
  EXPECT_EQ(a.bind, "[::]:1883");
  EXPECT_EQ(a.max_connections, 5000u);
  EXPECT_FALSE(a.tcp_nodelay);
  EXPECT_EQ(r.config.listeners[1].name, "local");
  EXPECT_EQ(r.config.listeners[1].port, 1884);

  const BrokerSettings& b = r.config.broker;
  EXPECT_EQ(b.max_packet_size_bytes, 65536u);
  EXPECT_EQ(b.message_size_limit_bytes, 60000u);
  EXPECT_EQ(b.receive_maximum, 50);
  EXPECT_EQ(b.max_inflight_messages, 10);
  EXPECT_EQ(b.max_queued_messages, 200u);
  EXPECT_EQ(b.max_queued_bytes, 1048576u);
  EXPECT_TRUE(b.queue_qos0_messages);
  EXPECT_EQ(b.overflow_policy, OverflowPolicy::kDisconnect);
  EXPECT_EQ(b.max_keepalive_s, 300);
  EXPECT_EQ(b.max_session_expiry_interval_s, 86400u);
  EXPECT_EQ(b.topic_alias_maximum, 20);
  EXPECT_EQ(b.max_topic_alias_outbound, 5);
  EXPECT_EQ(b.max_client_id_length, 128u);
  EXPECT_EQ(b.connect_timeout_ms, 5000u);
  EXPECT_EQ(b.outbound_high_watermark_bytes, 2097152u);
  EXPECT_EQ(b.outbound_low_watermark_bytes, 524288u);
  EXPECT_EQ(b.maximum_qos, 1);
  EXPECT_FALSE(b.retain_available);
  EXPECT_FALSE(b.wildcard_subscription_available);
  EXPECT_FALSE(b.subscription_identifiers_available);
  EXPECT_FALSE(b.shared_subscription_available);
  EXPECT_EQ(b.shared_strategy, SharedStrategy::kSticky);
  EXPECT_FALSE(b.allow_zero_length_clientid);
  EXPECT_EQ(b.auto_id_prefix, "gen-");
  EXPECT_TRUE(b.validate_payload_format);
  EXPECT_EQ(r.config.log.level, LogLevel::kDebug);
}

TEST(ConfigKeys, EnumsAcceptEveryName) {
  for (auto [text, level] : {std::pair{"trace", LogLevel::kTrace},
                             {"info", LogLevel::kInfo},
                             {"warning", LogLevel::kWarning},
                             {"error", LogLevel::kError},
                             {"critical", LogLevel::kCritical},
                             {"off", LogLevel::kOff}}) {
    EXPECT_EQ(ok_parse(std::string("log: {level: ") + text + "}").config.log.level, level);
    EXPECT_EQ(to_string(level), text);
  }
  EXPECT_EQ(
      ok_parse("mqtt: {shared_subscriptions: {strategy: random}}").config.broker.shared_strategy,
      SharedStrategy::kRandom);
  EXPECT_EQ(ok_parse("limits: {overflow_policy: drop_newest}").config.broker.overflow_policy,
            OverflowPolicy::kDropNewest);
}

TEST(ConfigKeys, BooleansAndIntegersAcceptYamlSpellings) {
  LoadResult r = ok_parse("limits: {queue_qos0_messages: True, max_keepalive: +60}\n");
  EXPECT_TRUE(r.config.broker.queue_qos0_messages);
  EXPECT_EQ(r.config.broker.max_keepalive_s, 60);
}

TEST(ConfigKeys, RangeBoundsAreInclusive) {
  LoadResult lo = ok_parse("limits: {max_packet_size: 16, receive_maximum: 1}\n");
  EXPECT_EQ(lo.config.broker.max_packet_size_bytes, 16u);
  LoadResult hi = ok_parse("limits: {max_packet_size: 268435460, receive_maximum: 65535}\n");
  EXPECT_EQ(hi.config.broker.max_packet_size_bytes, 268435460u);
  EXPECT_EQ(hi.config.broker.receive_maximum, 65535);
}

TEST(ConfigKeys, BindAddresses) {
  ListenerConfig l;
  EXPECT_FALSE(parse_bind_address("0.0.0.0:1883", l));
  EXPECT_EQ(l.host, "0.0.0.0");
  EXPECT_FALSE(l.ipv6);
  EXPECT_FALSE(parse_bind_address("[::1]:0", l));
  EXPECT_EQ(l.host, "::1");
  EXPECT_EQ(l.port, 0);
  EXPECT_TRUE(l.ipv6);
  EXPECT_TRUE(parse_bind_address("localhost:1883", l));
  EXPECT_TRUE(parse_bind_address("::1:1883", l));
  EXPECT_TRUE(parse_bind_address("[::1]1883", l));
  EXPECT_TRUE(parse_bind_address("[::1:1883", l));
  EXPECT_TRUE(parse_bind_address("1.2.3.4", l));
  EXPECT_TRUE(parse_bind_address("1.2.3.4:", l));
  EXPECT_TRUE(parse_bind_address("1.2.3.4:65536", l));
  EXPECT_TRUE(parse_bind_address("1.2.3.4:-1", l));
  EXPECT_TRUE(parse_bind_address("1.2.3.4:80x", l));
  EXPECT_TRUE(parse_bind_address(":1883", l));
  EXPECT_TRUE(parse_bind_address("[1.2.3.4]:1883", l));
}

TEST(ConfigKeys, TlsBlockIsParsedButTlsIsNotSupportedYet) {
  LoadResult r = parse(R"(listeners:
  - transport: tls
    bind: "0.0.0.0:8883"
    tls:
      cert_file: /etc/mquictt/server.crt
      key_file: /etc/mquictt/server.key
)",
                       "t.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << joined(r);
  EXPECT_EQ(r.errors[0].to_string(),
            "t.yaml:2:16: listeners[0].transport: transport 'tls' is not supported yet (only tcp "
            "and quic are)");
  ASSERT_TRUE(r.config.listeners[0].tls.has_value());
  EXPECT_EQ(r.config.listeners[0].tls->cert_file, "/etc/mquictt/server.crt");
}

TEST(ConfigKeys, WsIsNotSupportedYet) {
  LoadResult r = parse("listeners:\n  - transport: ws\n    bind: 0.0.0.0:1\n", "t.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(joined(r).find("is not supported yet"), std::string::npos) << joined(r);
}

// ---- quic listeners -----------------------------------------------------------------------------

TEST(ConfigQuic, DefaultsWithoutQuicBlock) {
  LoadResult r = ok_parse(R"(listeners:
  - transport: quic
    bind: "127.0.0.1:0"
    tls: {cert_file: c.pem, key_file: k.pem}
)");
  const ListenerConfig& l = r.config.listeners[0];
  EXPECT_EQ(l.transport, Transport::kQuic);
  EXPECT_EQ(l.name, "quic-0");
  EXPECT_FALSE(l.quic.has_value());
  QuicSettings q;
  EXPECT_EQ(q.idle_timeout_ms, 120'000u);
  EXPECT_EQ(q.handshake_timeout_ms, 10'000u);
  EXPECT_EQ(q.max_streams_per_connection, 10u);
  EXPECT_EQ(q.stream_window_bytes, 256u * 1024u);
  EXPECT_EQ(q.connection_window_bytes, 1024u * 1024u);
  EXPECT_EQ(q.node_id, 0);
  EXPECT_EQ(q.congestion_control, CongestionControl::kCubic);
  EXPECT_EQ(q.initial_rtt_ms, 333u);
  EXPECT_EQ(q.max_ack_delay_ms, 25u);
  EXPECT_EQ(q.keepalive_ms, 0u);
  EXPECT_EQ(q.retry, RetryPolicy::kNever);
  EXPECT_TRUE(q.qlog_dir.empty());
  EXPECT_TRUE(q.static_secret_file.empty());
  EXPECT_TRUE(q.gso);
}

TEST(ConfigQuic, EveryKey) {
  LoadResult r = ok_parse(R"(listeners:
  - name: q
    transport: quic
    bind: "[::1]:14567"
    max_connections: 50
    tls:
      cert_file: /etc/mquictt/server.crt
      key_file: /etc/mquictt/server.key
      ca_file: /etc/mquictt/ca.crt
      require_certificate: true
      use_identity_as_username: true
    quic:
      idle_timeout_ms: 0
      handshake_timeout_ms: 5000
      max_streams_per_connection: 4
      stream_window_bytes: 65536
      connection_window_bytes: 131072
      node_id: 7
      congestion_control: bbr
      initial_rtt_ms: 100
      max_ack_delay_ms: 10
      keepalive_ms: 15000
      retry: always
      qlog_dir: /tmp/qlog
      static_secret_file: /etc/mquictt/quic.secret
      gso: false
)");
  const ListenerConfig& l = r.config.listeners[0];
  EXPECT_TRUE(l.ipv6);
  EXPECT_EQ(l.host, "::1");
  EXPECT_EQ(l.port, 14567);
  ASSERT_TRUE(l.tls.has_value());
  EXPECT_TRUE(l.tls->require_certificate);
  EXPECT_TRUE(l.tls->use_identity_as_username);
  ASSERT_TRUE(l.quic.has_value());
  const QuicSettings& q = *l.quic;
  EXPECT_EQ(q.idle_timeout_ms, 0u);
  EXPECT_EQ(q.handshake_timeout_ms, 5000u);
  EXPECT_EQ(q.max_streams_per_connection, 4u);
  EXPECT_EQ(q.stream_window_bytes, 65536u);
  EXPECT_EQ(q.connection_window_bytes, 131072u);
  EXPECT_EQ(q.node_id, 7);
  EXPECT_EQ(q.congestion_control, CongestionControl::kBbr);
  EXPECT_EQ(q.initial_rtt_ms, 100u);
  EXPECT_EQ(q.max_ack_delay_ms, 10u);
  EXPECT_EQ(q.keepalive_ms, 15000u);
  EXPECT_EQ(q.retry, RetryPolicy::kAlways);
  EXPECT_EQ(q.qlog_dir, "/tmp/qlog");
  EXPECT_EQ(q.static_secret_file, "/etc/mquictt/quic.secret");
  EXPECT_FALSE(q.gso);
}

TEST(ConfigQuic, RetryWhenHandshakesAbove) {
  LoadResult r = ok_parse(R"(listeners:
  - transport: quic
    bind: "127.0.0.1:1"
    tls: {cert_file: c.pem, key_file: k.pem}
    quic:
      retry: {when_handshakes_above: 100}
)");
  ASSERT_TRUE(r.config.listeners[0].quic.has_value());
  EXPECT_EQ(r.config.listeners[0].quic->retry, RetryPolicy::kAboveHandshakes);
  EXPECT_EQ(r.config.listeners[0].quic->retry_handshakes_above, 100u);
}

TEST(ConfigQuic, SessionTicketsAndEarlyData) {
  LoadResult defaults = ok_parse(R"(listeners:
  - transport: quic
    bind: "127.0.0.1:1"
    tls: {cert_file: c.pem, key_file: k.pem}
)");
  const QuicSettings d = defaults.config.listeners[0].quic.value_or(QuicSettings{});
  EXPECT_TRUE(d.session_tickets);
  EXPECT_EQ(d.ticket_lifetime_s, 21600u);
  EXPECT_TRUE(d.early_data.enabled);
  EXPECT_EQ(d.early_data.max_publish_qos, 0);
  EXPECT_EQ(d.early_data.anti_replay_window_ms, 10000u);

  LoadResult r = ok_parse(R"(listeners:
  - transport: quic
    bind: "127.0.0.1:1"
    tls: {cert_file: c.pem, key_file: k.pem}
    quic:
      session_tickets: false
      ticket_lifetime_s: 3600
      early_data: {enabled: false, max_publish_qos: 1, anti_replay_window_ms: 5000}
)");
  const QuicSettings& q = *r.config.listeners[0].quic;
  EXPECT_FALSE(q.session_tickets);
  EXPECT_EQ(q.ticket_lifetime_s, 3600u);
  EXPECT_FALSE(q.early_data.enabled);
  EXPECT_EQ(q.early_data.max_publish_qos, 1);
  EXPECT_EQ(q.early_data.anti_replay_window_ms, 5000u);

  LoadResult bad = parse(R"(listeners:
  - transport: quic
    bind: "127.0.0.1:1"
    tls: {cert_file: c.pem, key_file: k.pem}
    quic:
      ticket_lifetime_s: 700000
      early_data: {max_publish_qos: 3, replay: 1}
)",
                         "e.yaml");
  EXPECT_EQ(messages(bad),
            (std::vector<std::string>{
                "e.yaml:6:26: listeners[0].quic.ticket_lifetime_s: expected an integer between "
                "60 and 604800, got \"700000\"",
                "e.yaml:7:37: listeners[0].quic.early_data.max_publish_qos: expected an integer "
                "between 0 and 2, got \"3\"",
                "e.yaml:7:40: listeners[0].quic.early_data.replay: unknown key",
            }));
}

TEST(ConfigQuic, PortDefaultsTo14567ForQuicOnly) {
  LoadResult r = ok_parse(R"(listeners:
  - bind: "127.0.0.1"
    transport: quic
    tls: {cert_file: c.pem, key_file: k.pem}
  - transport: quic
    name: q6
    bind: "[::]"
    tls: {cert_file: c.pem, key_file: k.pem}
)");
  EXPECT_EQ(r.config.listeners[0].port, 14567);
  EXPECT_EQ(r.config.listeners[0].bind, "127.0.0.1:14567");
  EXPECT_EQ(r.config.listeners[0].name, "quic-14567");
  EXPECT_EQ(r.config.listeners[1].port, 14567);
  EXPECT_TRUE(r.config.listeners[1].ipv6);
  EXPECT_EQ(r.config.listeners[1].bind, "[::]:14567");

  LoadResult tcp = parse("listeners:\n  - bind: \"127.0.0.1\"\n", "b.yaml");
  EXPECT_EQ(messages(tcp), std::vector<std::string>{
                               "b.yaml:2:11: listeners[0].bind: expected \"address:port\", e.g. "
                               "\"0.0.0.0:1883\" or \"[::]:1883\""});
}

// A TCP and a QUIC listener may share a port number: one is TCP, the other UDP.
TEST(ConfigQuic, SamePortAsTcpIsFine) {
  ok_parse(R"(listeners:
  - bind: "127.0.0.1:1883"
  - transport: quic
    bind: "127.0.0.1:1883"
    tls: {cert_file: c.pem, key_file: k.pem}
)");
}

TEST(ConfigQuic, Errors) {
  LoadResult r = parse(R"(listeners:
  - transport: quic
    bind: "127.0.0.1:0"
    quic:
      idle_timeout: 5
      node_id: 256
      congestion_control: vegas
      retry: sometimes
      max_ack_delay_ms: 16384
  - bind: "127.0.0.1:0"
    name: t
    quic: {}
  - transport: quic
    name: q2
    bind: "127.0.0.1:0"
    tls: {cert_file: c.pem, key_file: k.pem}
    quic:
      retry: {when: 3}
)",
                       "q.yaml");
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{
                "q.yaml:5:7: listeners[0].quic.idle_timeout: unknown key (did you mean "
                "'idle_timeout_ms'?)",
                "q.yaml:6:16: listeners[0].quic.node_id: expected an integer between 0 and 255, "
                "got \"256\"",
                "q.yaml:7:27: listeners[0].quic.congestion_control: expected one of cubic, reno, "
                "bbr, got \"vegas\"",
                "q.yaml:8:14: listeners[0].quic.retry: expected one of never, always, got "
                "\"sometimes\"",
                "q.yaml:9:25: listeners[0].quic.max_ack_delay_ms: expected an integer between 0 "
                "and 16383, got \"16384\"",
                "q.yaml:12:11: listeners[1].quic: quic settings need transport: quic",
                "q.yaml:18:14: listeners[2].quic.retry: expected never, always or "
                "{when_handshakes_above: N}",
                "q.yaml:18:15: listeners[2].quic.retry.when: unknown key (did you mean "
                "'when_handshakes_above'?)",
            }));
}

// ---- unknown keys -------------------------------------------------------------------------------

TEST(ConfigErrors, UnknownKeyWithSuggestion) {
  LoadResult r = parse("limits:\n  max_packet_sise: 100\n", "broker.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(),
            "broker.yaml:2:3: limits.max_packet_sise: unknown key (did you mean "
            "'max_packet_size'?)");
}

TEST(ConfigErrors, UnknownKeyWithoutSuggestion) {
  LoadResult r = parse("limits:\n  completely_different: 1\n", "b.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(), "b.yaml:2:3: limits.completely_different: unknown key");
}

TEST(ConfigErrors, KeyInTheWrongSectionNamesTheRightOne) {
  LoadResult r = parse("max_packet_size: 100\nlimits:\n  maximum_qos: 1\n", "b.yaml");
  ASSERT_EQ(r.errors.size(), 2u) << joined(r);
  EXPECT_EQ(r.errors[0].to_string(),
            "b.yaml:1:1: max_packet_size: unknown key here (did you mean "
            "'limits.max_packet_size'?)");
  EXPECT_EQ(r.errors[1].to_string(),
            "b.yaml:3:3: limits.maximum_qos: unknown key here (did you mean "
            "'mqtt.maximum_qos'?)");
}

TEST(ConfigErrors, UnknownTopLevelSection) {
  LoadResult r = parse("limit:\n  max_packet_size: 100\n", "b.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(), "b.yaml:1:1: limit: unknown key (did you mean 'limits'?)");
}

TEST(ConfigErrors, UnknownListenerAndNestedKeys) {
  LoadResult r = parse(R"(listeners:
  - bind: 0.0.0.0:1883
    adress: x
mqtt:
  shared_subscriptions:
    stratgy: random
)",
                       "b.yaml");
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{
                "b.yaml:3:5: listeners[0].adress: unknown key",
                "b.yaml:6:5: mqtt.shared_subscriptions.stratgy: unknown key (did you mean "
                "'strategy'?)"}));
}

TEST(ConfigErrors, DuplicateKey) {
  LoadResult r = parse("limits:\n  receive_maximum: 10\n  receive_maximum: 20\n", "b.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << joined(r);
  EXPECT_EQ(r.errors[0].to_string(), "b.yaml:3:3: limits.receive_maximum: duplicate key");
}

TEST(ConfigErrors, EnumSuggestion) {
  LoadResult r = parse("log:\n  level: warn\n", "b.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(),
            "b.yaml:2:10: log.level: expected one of trace, debug, info, warning, error, "
            "critical, off, got \"warn\" (did you mean 'warning'?)");
}

// ---- wrong types --------------------------------------------------------------------------------

TEST(ConfigErrors, WrongTypes) {
  LoadResult r = parse(R"(limits:
  max_packet_size: big
  receive_maximum: "100"
  queue_qos0_messages: yes
  max_keepalive: [1, 2]
  max_inflight_messages: 1.5
  max_queued_messages:
mqtt:
  auto_id_prefix: {a: 1}
  shared_subscriptions: round_robin
log: debug
)",
                       "b.yaml");
  EXPECT_EQ(
      messages(r),
      (std::vector<std::string>{
          "b.yaml:2:20: limits.max_packet_size: expected an integer between 16 and 268435460, "
          "got \"big\"",
          "b.yaml:3:20: limits.receive_maximum: expected an integer between 1 and 65535, got "
          "\"100\"",
          "b.yaml:4:24: limits.queue_qos0_messages: expected true or false, got \"yes\"",
          "b.yaml:5:18: limits.max_keepalive: expected an integer between 0 and 65535, got a "
          "list",
          "b.yaml:6:26: limits.max_inflight_messages: expected an integer between 1 and 65535, "
          "got \"1.5\"",
          "b.yaml:7:3: limits.max_queued_messages: expected an integer between 0 and 4294967295, "
          "got nothing",
          "b.yaml:9:19: mqtt.auto_id_prefix: expected a string, got a mapping",
          "b.yaml:10:25: mqtt.shared_subscriptions: expected a mapping, got \"round_robin\"",
          "b.yaml:11:6: log: expected a mapping, got \"debug\"",
      }));
}

TEST(ConfigErrors, WrongShapes) {
  EXPECT_EQ(
      messages(parse("- a\n- b\n", "b.yaml")),
      (std::vector<std::string>{"b.yaml:1:1: expected a mapping at the top level, got a list"}));
  EXPECT_EQ(messages(parse("listeners: {bind: 1.2.3.4:1}\n", "b.yaml")),
            (std::vector<std::string>{
                "b.yaml:1:12: listeners: expected a list of listeners, got a mapping"}));
  EXPECT_EQ(messages(parse("listeners: []\n", "b.yaml")),
            (std::vector<std::string>{"b.yaml:1:12: listeners: expected at least one listener "
                                      "(omit 'listeners' for the default 127.0.0.1:1883)"}));
  EXPECT_EQ(messages(parse("listeners:\n  - 1883\n", "b.yaml")),
            (std::vector<std::string>{
                "b.yaml:2:5: listeners[0]: expected a mapping with at least 'bind', got "
                "\"1883\""}));
}

// ---- out of range -------------------------------------------------------------------------------

TEST(ConfigErrors, OutOfRange) {
  LoadResult r = parse(R"(limits:
  max_packet_size: 15
  receive_maximum: 0
  max_keepalive: 65536
  max_client_id_length: 22
  connect_timeout_ms: -1
  max_session_expiry_interval: 4294967296
  max_queued_bytes: 99999999999999999999999
mqtt:
  maximum_qos: 3
  auto_id_prefix: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)",
                       "b.yaml");
  EXPECT_EQ(
      messages(r),
      (std::vector<std::string>{
          "b.yaml:2:20: limits.max_packet_size: expected an integer between 16 and 268435460, "
          "got \"15\"",
          "b.yaml:3:20: limits.receive_maximum: expected an integer between 1 and 65535, got "
          "\"0\"",
          "b.yaml:4:18: limits.max_keepalive: expected an integer between 0 and 65535, got "
          "\"65536\"",
          "b.yaml:5:25: limits.max_client_id_length: expected an integer between 23 and 65535, "
          "got \"22\"",
          "b.yaml:6:23: limits.connect_timeout_ms: expected an integer between 100 and 3600000, "
          "got \"-1\"",
          "b.yaml:7:32: limits.max_session_expiry_interval: expected an integer between 0 and "
          "4294967295, got \"4294967296\"",
          "b.yaml:8:21: limits.max_queued_bytes: expected an integer between 0 and "
          "1099511627776, got \"99999999999999999999999\"",
          "b.yaml:10:16: mqtt.maximum_qos: expected an integer between 0 and 2, got \"3\"",
          "b.yaml:11:19: mqtt.auto_id_prefix: must be at most 64 characters",
      }));
}

TEST(ConfigErrors, BadListeners) {
  LoadResult r = parse(R"(listeners:
  - name: "bad name"
    bind: "localhost:1883"
  - transport: udp
    bind: 0.0.0.0:1883
    max_connections: lots
  - name: x
)",
                       "b.yaml");
  EXPECT_EQ(
      messages(r),
      (std::vector<std::string>{
          "b.yaml:2:11: listeners[0].name: expected 1 to 64 letters, digits, '-', '_' or '.', "
          "got \"bad name\"",
          "b.yaml:3:11: listeners[0].bind: 'localhost' is not a numeric IPv4 address (host "
          "names are not resolved)",
          "b.yaml:4:16: listeners[1].transport: expected one of tcp, tls, quic, ws, got \"udp\" "
          "(did you mean 'tcp'?)",
          "b.yaml:6:22: listeners[1].max_connections: expected an integer between 0 and "
          "4294967295, got \"lots\"",
          "b.yaml:7:5: listeners[2]: missing required key 'bind' (e.g. bind: \"0.0.0.0:1883\")",
      }));
}

// ---- cross-field checks -------------------------------------------------------------------------

TEST(ConfigValidate, WatermarksMustBeOrdered) {
  LoadResult r = parse(
      "limits:\n  outbound_high_watermark_bytes: 65536\n  outbound_low_watermark_bytes: 65536\n",
      "b.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(),
            "b.yaml:3:33: limits.outbound_low_watermark_bytes: must be lower than "
            "limits.outbound_high_watermark_bytes (65536)");
}

TEST(ConfigValidate, LowWatermarkAboveDefaultHigh) {
  LoadResult r = parse("limits:\n  outbound_low_watermark_bytes: 2000000\n", "b.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].mark.line, 2);
}

TEST(ConfigValidate, DuplicateListenerNamesAndAddresses) {
  LoadResult r = parse(R"(listeners:
  - name: a
    bind: 0.0.0.0:1883
  - name: a
    bind: 0.0.0.0:1883
  - bind: 127.0.0.1:0
  - bind: 127.0.0.1:0
)",
                       "b.yaml");
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{
                "b.yaml:4:11: listeners[1].name: duplicate listener name 'a' (also used by "
                "listeners[0])",
                "b.yaml:5:11: listeners[1].bind: address 0.0.0.0:1883 is already used by "
                "listeners[0]",
                "b.yaml:7:5: listeners[3]: duplicate listener name 'tcp-0' (also used by "
                "listeners[2])",
            }));
}

TEST(ConfigValidate, TlsSettingsOnTcpListener) {
  LoadResult r = parse(R"(listeners:
  - bind: 0.0.0.0:1883
    tls:
      cert_file: a
      require_certificate: true
)",
                       "b.yaml");
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{
                "b.yaml:4:7: listeners[0].tls: tls settings need transport: tls or quic",
                "b.yaml:5:28: listeners[0].tls.require_certificate: needs tls.ca_file to verify "
                "client certificates",
            }));
}

TEST(ConfigValidate, UseIdentityAsUsernameNeedsCaFile) {
  LoadResult r = parse(R"(listeners:
  - bind: 127.0.0.1:14567
    transport: quic
    tls:
      cert_file: a
      key_file: b
      use_identity_as_username: true
)",
                       "b.yaml");
  EXPECT_EQ(messages(r), (std::vector<std::string>{
                             "b.yaml:7:33: listeners[0].tls.use_identity_as_username: needs "
                             "tls.ca_file to verify client certificates",
                         }));
}

TEST(ConfigValidate, ValidateWorksOnHandBuiltConfig) {
  Config c;
  c.listeners.push_back(default_listener(1883));
  c.listeners.push_back(default_listener(1883));
  auto errors = validate(c);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].to_string(),
            "<config>: listeners[1]: duplicate listener name 'tcp-1883' (also used by "
            "listeners[0])");
  EXPECT_EQ(errors[1].path, "listeners[1].bind");
}

// ---- many errors at once ------------------------------------------------------------------------

TEST(ConfigErrors, AllErrorsAreReportedInDocumentOrder) {
  LoadResult r = parse(R"(# comment line 1
listeners:
  - name: main
    bind: 0.0.0.0:99999
    tcp_nodelay: maybe

limits:
  max_packet_size: 10
  recieve_maximum: 10
  outbound_high_watermark_bytes: 4096
  outbound_low_watermark_bytes: 8192

mqtt:
  maximum_qos: two
  retain_avaliable: true

log:
  level: loud
  file: /var/log/x
)",
                       "broker.yaml");
  EXPECT_EQ(messages(r),
            (std::vector<std::string>{
                "broker.yaml:4:11: listeners[0].bind: port must be a number between 0 and 65535",
                "broker.yaml:5:18: listeners[0].tcp_nodelay: expected true or false, got \"maybe\"",
                "broker.yaml:8:20: limits.max_packet_size: expected an integer between 16 and "
                "268435460, got \"10\"",
                "broker.yaml:9:3: limits.recieve_maximum: unknown key (did you mean "
                "'receive_maximum'?)",
                "broker.yaml:11:33: limits.outbound_low_watermark_bytes: must be lower than "
                "limits.outbound_high_watermark_bytes (4096)",
                "broker.yaml:14:16: mqtt.maximum_qos: expected an integer between 0 and 2, got "
                "\"two\"",
                "broker.yaml:15:3: mqtt.retain_avaliable: unknown key (did you mean "
                "'retain_available'?)",
                "broker.yaml:18:10: log.level: expected one of trace, debug, info, warning, error, "
                "critical, off, got \"loud\"",
                "broker.yaml:19:3: log.file: unknown key",
            }));
}

TEST(ConfigErrors, SyntaxErrorHasPosition) {
  LoadResult r = parse("limits:\n  max_packet_size: [1, 2\n", "b.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].file, "b.yaml");
  EXPECT_GT(r.errors[0].mark.line, 0);
  EXPECT_NE(r.errors[0].message.find("invalid YAML"), std::string::npos);
}

TEST(ConfigErrors, MissingFile) {
  LoadResult r = load_file("/nonexistent/dir/mquictt.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(),
            "/nonexistent/dir/mquictt.yaml: cannot open the configuration file: No such file or "
            "directory");
}

// ---- shipped files ------------------------------------------------------------------------------

TEST(ConfigFiles, ShippedConfigsAreValid) {
  for (const char* name : {"mquictt.yaml", "minimal.yaml"}) {
    std::string path = std::string(MQUICTT_SOURCE_DIR) + "/config/" + name;
    LoadResult r = load_file(path);
    EXPECT_TRUE(r.ok()) << path << ":\n" << joined(r);
  }
}

// The annotated default file must state the built-in defaults, or it would lie to its readers.
TEST(ConfigFiles, DefaultFileMatchesBuiltInDefaults) {
  LoadResult r = load_file(std::string(MQUICTT_SOURCE_DIR) + "/config/mquictt.yaml");
  ASSERT_TRUE(r.ok()) << joined(r);
  Config defaults;
  const BrokerSettings& a = r.config.broker;
  const BrokerSettings& b = defaults.broker;
  EXPECT_EQ(a.max_packet_size_bytes, b.max_packet_size_bytes);
  EXPECT_EQ(a.message_size_limit_bytes, b.message_size_limit_bytes);
  EXPECT_EQ(a.receive_maximum, b.receive_maximum);
  EXPECT_EQ(a.max_inflight_messages, b.max_inflight_messages);
  EXPECT_EQ(a.max_queued_messages, b.max_queued_messages);
  EXPECT_EQ(a.max_queued_bytes, b.max_queued_bytes);
  EXPECT_EQ(a.queue_qos0_messages, b.queue_qos0_messages);
  EXPECT_EQ(a.overflow_policy, b.overflow_policy);
  EXPECT_EQ(a.max_keepalive_s, b.max_keepalive_s);
  EXPECT_EQ(a.max_session_expiry_interval_s, b.max_session_expiry_interval_s);
  EXPECT_EQ(a.topic_alias_maximum, b.topic_alias_maximum);
  EXPECT_EQ(a.max_topic_alias_outbound, b.max_topic_alias_outbound);
  EXPECT_EQ(a.max_client_id_length, b.max_client_id_length);
  EXPECT_EQ(a.connect_timeout_ms, b.connect_timeout_ms);
  EXPECT_EQ(a.outbound_high_watermark_bytes, b.outbound_high_watermark_bytes);
  EXPECT_EQ(a.outbound_low_watermark_bytes, b.outbound_low_watermark_bytes);
  EXPECT_EQ(a.maximum_qos, b.maximum_qos);
  EXPECT_EQ(a.retain_available, b.retain_available);
  EXPECT_EQ(a.wildcard_subscription_available, b.wildcard_subscription_available);
  EXPECT_EQ(a.subscription_identifiers_available, b.subscription_identifiers_available);
  EXPECT_EQ(a.shared_subscription_available, b.shared_subscription_available);
  EXPECT_EQ(a.shared_strategy, b.shared_strategy);
  EXPECT_EQ(a.allow_zero_length_clientid, b.allow_zero_length_clientid);
  EXPECT_EQ(a.auto_id_prefix, b.auto_id_prefix);
  EXPECT_EQ(a.validate_payload_format, b.validate_payload_format);
  EXPECT_EQ(r.config.log.level, defaults.log.level);
}

std::string read_source_file(const std::string& rel) {
  std::ifstream in(std::string(MQUICTT_SOURCE_DIR) + "/" + rel);
  EXPECT_TRUE(in) << rel;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// docs/config.md documents every key the loader accepts, by full path.
TEST(ConfigFiles, ReferenceDocumentsEveryKey) {
  std::string doc = read_source_file("docs/config.md");
  auto keys = known_keys();
  EXPECT_GT(keys.size(), 30u);
  for (const auto& key : keys) {
    EXPECT_NE(doc.find("`" + key + "`"), std::string::npos) << key;
  }
}

// config/mquictt.yaml shows every key (listener keys included, TLS ones commented out).
TEST(ConfigFiles, DefaultFileShowsEveryKey) {
  std::string text = read_source_file("config/mquictt.yaml");
  for (const auto& key : known_keys()) {
    std::string leaf = key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1);
    EXPECT_NE(text.find(leaf + ":"), std::string::npos) << key;
  }
}

}  // namespace
}  // namespace mquictt::config
