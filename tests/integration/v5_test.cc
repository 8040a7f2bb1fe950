// Byte-exact black-box tests of mquicttd over TCP, MQTT 5.0. Expected frames are written by hand
// from the MQTT 5 specification (section numbers in comments) and the default config.

#include <thread>

#include "codec/decoder.h"
#include "common/hex.h"
#include "integration/broker_test_base.h"

namespace mquictt::test {
namespace {

// CONNECT v5, clean start, keepalive 60, no properties (§3.1).
constexpr const char* kConnectC1 = "10 0f 00 04 4d 51 54 54 05 02 00 3c 00 00 02 63 31";  // "c1"
constexpr const char* kConnectP1 = "10 0f 00 04 4d 51 54 54 05 02 00 3c 00 00 02 70 31";  // "p1"
constexpr const char* kConnectS1 = "10 0f 00 04 4d 51 54 54 05 02 00 3c 00 00 02 73 31";  // "s1"
// CONNACK with the default config's properties (§3.2.2.3): Receive Maximum 100 (21 00 64),
// Topic Alias Maximum 10 (22 00 0a), Maximum Packet Size 1048576 (27 00 10 00 00). Maximum QoS,
// Retain Available and the *-Available flags are absent because they equal the spec defaults.
constexpr const char* kConnAck = "20 0e 00 00 0b 21 00 64 22 00 0a 27 00 10 00 00";
constexpr const char* kConnAckPresent = "20 0e 01 00 0b 21 00 64 22 00 0a 27 00 10 00 00";

class V5 : public BrokerTest {
 protected:
  std::unique_ptr<RawClient> connected(const char* connect_hex, const char* connack = kConnAck) {
    auto c = client();
    c->send_hex(connect_hex);
    EXPECT_TRUE(c->expect_hex(connack));
    return c;
  }
  // A PINGREQ round trip proves every earlier packet on this connection was processed and that
  // nothing was sent before the PINGRESP.
  ::testing::AssertionResult ping(RawClient& c) {
    c.send_hex("c0 00");
    return c.expect_hex("d0 00");
  }
};

TEST_F(V5, SubscriptionIdentifierAndUserPropertyForwarded) {
  auto sub = connected(kConnectS1);
  // SUBSCRIBE pid 1, Subscription Identifier 5, "a/+" QoS 1 (§3.8.2.1.2).
  sub->send_hex("82 0b 00 01 02 0b 05 00 03 61 2f 2b 01");
  ASSERT_TRUE(sub->expect_hex("90 04 00 01 00 01"));
  auto pub = connected(kConnectP1);
  // QoS 0 "a/b" with User Property k=v, payload "hi".
  pub->send_hex("30 0f 00 03 61 2f 62 07 26 00 01 6b 00 01 76 68 69");
  // Delivered with the subscription id first (ascending property ids), then the user property.
  EXPECT_TRUE(sub->expect_hex("30 11 00 03 61 2f 62 09 0b 05 26 00 01 6b 00 01 76 68 69"));
}

TEST_F(V5, RequestResponsePropertiesAndShortPuback) {
  auto sub = connected(kConnectS1);
  sub->send_hex("82 0b 00 01 02 0b 05 00 03 61 2f 2b 01");
  ASSERT_TRUE(sub->expect_hex("90 04 00 01 00 01"));
  auto pub = connected(kConnectP1);
  // QoS 1 pid 7, Response Topic "r/x", Correlation Data 01 02 (§4.10).
  pub->send_hex("32 15 00 03 61 2f 62 00 07 0b 08 00 03 72 2f 78 09 00 02 01 02 68 69");
  EXPECT_TRUE(pub->expect_hex("40 02 00 07"));  // reason 0, no properties: short form (§3.4.2.1)
  EXPECT_TRUE(sub->expect_hex(
      "32 17 00 03 61 2f 62 00 01 0d 08 00 03 72 2f 78 09 00 02 01 02 0b 05 68 69"));
  sub->send_hex("40 02 00 01");
  EXPECT_TRUE(ping(*sub));
}

TEST_F(V5, NoLocal) {
  auto c = connected(kConnectC1);
  c->send_hex("82 09 00 01 00 00 03 6e 2f 74 04");  // "n/t" QoS 0, No Local (§3.8.3.1)
  ASSERT_TRUE(c->expect_hex("90 04 00 01 00 00"));
  c->send_hex("30 07 00 03 6e 2f 74 00 78");
  EXPECT_TRUE(ping(*c));
}

TEST_F(V5, RetainHandlingAndRetainAsPublished) {
  auto pub = connected(kConnectP1);
  pub->send_hex("31 07 00 03 72 2f 31 00 78");  // retained "r/1" = "x"
  ASSERT_TRUE(ping(*pub));

  auto a = connected(kConnectS1);
  // Retain Handling 1: send retained only if the subscription is new (§3.8.3.1).
  a->send_hex("82 09 00 01 00 00 03 72 2f 31 10");
  EXPECT_TRUE(a->expect_hex("90 04 00 01 00 00"));
  EXPECT_TRUE(a->expect_hex("31 07 00 03 72 2f 31 00 78"));
  a->send_hex("82 09 00 02 00 00 03 72 2f 31 10");
  EXPECT_TRUE(a->expect_hex("90 04 00 02 00 00"));
  EXPECT_TRUE(ping(*a));

  auto b = connected(kConnectC1);
  b->send_hex("82 09 00 01 00 00 03 72 2f 31 20");  // Retain Handling 2: never
  EXPECT_TRUE(b->expect_hex("90 04 00 01 00 00"));
  EXPECT_TRUE(ping(*b));
  // Retain As Published (0x08) on "r/#" keeps RETAIN=1 on live delivery; without it RETAIN=0.
  b->send_hex("82 09 00 02 00 00 03 72 2f 23 28");
  EXPECT_TRUE(b->expect_hex("90 04 00 02 00 00"));
  EXPECT_TRUE(ping(*b));
  pub->send_hex("31 07 00 03 72 2f 31 00 79");
  EXPECT_TRUE(a->expect_hex("30 07 00 03 72 2f 31 00 79"));
  EXPECT_TRUE(b->expect_hex("31 07 00 03 72 2f 31 00 79"));
}

TEST_F(V5, SharedSubscriptionGetsNoRetainedMessages) {
  auto pub = connected(kConnectP1);
  pub->send_hex("31 07 00 03 72 2f 31 00 78");
  ASSERT_TRUE(ping(*pub));
  auto s = connected(kConnectS1);
  s->send_hex("82 12 00 01 00 00 0c 24 73 68 61 72 65 2f 67 2f 72 2f 31 00");  // $share/g/r/1
  EXPECT_TRUE(s->expect_hex("90 04 00 01 00 00"));
  EXPECT_TRUE(ping(*s));  // §4.8.2: retained messages are not sent to shared subscriptions
}

TEST_F(V5, InboundTopicAlias) {
  auto sub = connected(kConnectS1);
  sub->send_hex("82 09 00 01 00 00 03 61 2f 62 00");
  ASSERT_TRUE(sub->expect_hex("90 04 00 01 00 00"));
  auto pub = connected(kConnectP1);
  pub->send_hex("30 0b 00 03 61 2f 62 03 23 00 01 68 69");  // sets alias 1 = "a/b" (§3.3.2.3.4)
  pub->send_hex("30 08 00 00 03 23 00 01 68 6a");           // empty topic, alias 1
  EXPECT_TRUE(sub->expect_hex("30 08 00 03 61 2f 62 00 68 69"));
  EXPECT_TRUE(sub->expect_hex("30 08 00 03 61 2f 62 00 68 6a"));
  pub->send_hex("30 08 00 00 03 23 00 02 68 69");  // alias 2 never set: Protocol Error
  EXPECT_TRUE(pub->expect_hex("e0 01 82"));
  EXPECT_TRUE(pub->expect_closed());

  auto pub2 = connected(kConnectC1);
  pub2->send_hex("30 0b 00 03 61 2f 62 03 23 00 0b 68 69");  // alias 11 > maximum 10
  EXPECT_TRUE(pub2->expect_hex("e0 01 94"));
  EXPECT_TRUE(pub2->expect_closed());
}

TEST_F(V5, OutboundTopicAliasWhenClientAllowsIt) {
  // "s1" with Topic Alias Maximum 5 (22 00 05).
  auto sub = connected("10 12 00 04 4d 51 54 54 05 02 00 3c 03 22 00 05 00 02 73 31");
  sub->send_hex("82 09 00 01 00 00 03 61 2f 62 00");
  ASSERT_TRUE(sub->expect_hex("90 04 00 01 00 00"));
  auto pub = connected(kConnectP1);
  pub->send_hex("30 08 00 03 61 2f 62 00 68 69");
  pub->send_hex("30 08 00 03 61 2f 62 00 68 6a");
  // First delivery carries topic and alias 1; the second only the alias (§3.3.2.3.4).
  EXPECT_TRUE(sub->expect_hex("30 0b 00 03 61 2f 62 03 23 00 01 68 69"));
  EXPECT_TRUE(sub->expect_hex("30 08 00 00 03 23 00 01 68 6a"));
}

TEST_F(V5, MaximumPacketSizeBothDirections) {
  // "s1" with Maximum Packet Size 20 (27 00 00 00 14).
  auto sub = connected("10 14 00 04 4d 51 54 54 05 02 00 3c 05 27 00 00 00 14 00 02 73 31");
  sub->send_hex("82 09 00 01 00 00 03 61 2f 62 00");
  ASSERT_TRUE(sub->expect_hex("90 04 00 01 00 00"));
  auto pub = connected(kConnectP1);
  // 30-byte payload: the delivery would exceed 20 bytes, so it is not sent (§3.1.2.11.4).
  std::string big = "30 24 00 03 61 2f 62 00";
  for (int i = 0; i < 30; ++i)
    big += " 41";
  pub->send_hex(big);
  pub->send_hex("30 08 00 03 61 2f 62 00 68 69");
  EXPECT_TRUE(sub->expect_hex("30 08 00 03 61 2f 62 00 68 69"));

  // A packet larger than our 1 MiB limit: DISCONNECT 0x95 as soon as the length is read.
  pub->send_hex("30 80 80 80 01");  // remaining length 2097152
  EXPECT_TRUE(pub->expect_hex("e0 01 95"));
  EXPECT_TRUE(pub->expect_closed());
}

TEST_F(V5, OutboundFlowControlHonoursReceiveMaximum) {
  // "s1" with Receive Maximum 1 (21 00 01).
  auto sub = connected("10 12 00 04 4d 51 54 54 05 02 00 3c 03 21 00 01 00 02 73 31");
  sub->send_hex("82 09 00 01 00 00 03 61 2f 62 01");
  ASSERT_TRUE(sub->expect_hex("90 04 00 01 00 01"));
  auto pub = connected(kConnectP1);
  pub->send_hex("32 0a 00 03 61 2f 62 00 01 00 6d 31");
  pub->send_hex("32 0a 00 03 61 2f 62 00 02 00 6d 32");
  EXPECT_TRUE(pub->expect_hex("40 02 00 01"));
  EXPECT_TRUE(pub->expect_hex("40 02 00 02"));
  EXPECT_TRUE(sub->expect_hex("32 0a 00 03 61 2f 62 00 01 00 6d 31"));
  EXPECT_TRUE(sub->expect_silence());  // window full (§4.9)
  sub->send_hex("40 02 00 01");
  EXPECT_TRUE(sub->expect_hex("32 0a 00 03 61 2f 62 00 02 00 6d 32"));
}

TEST_F(V5, InboundReceiveMaximumExceeded) {
  auto pub = connected(kConnectP1);
  // 101 QoS 2 PUBLISHes without PUBREL: the 101st exceeds Receive Maximum 100 (§3.3.4).
  for (int id = 1; id <= 101; ++id) {
    std::vector<uint8_t> f = from_hex("34 08 00 03 61 2f 62 00 00 00");
    f[7] = static_cast<uint8_t>(id >> 8);
    f[8] = static_cast<uint8_t>(id);
    pub->send(f);
  }
  for (int id = 1; id <= 100; ++id) {
    auto frame = pub->read_frame();
    ASSERT_TRUE(frame.has_value()) << id;
    ASSERT_EQ((*frame)[0], 0x50) << id;  // PUBREC
  }
  EXPECT_TRUE(pub->expect_hex("e0 01 93"));
  EXPECT_TRUE(pub->expect_closed());
}

TEST_F(V5, TakeoverSendsSessionTakenOver) {
  auto first = connected(kConnectC1);
  auto second = connected(kConnectC1);
  EXPECT_TRUE(first->expect_hex("e0 01 8e"));  // §3.1.4-3
  EXPECT_TRUE(first->expect_closed());
  EXPECT_TRUE(ping(*second));
}

// CONNECT v5 "c9" with will "w/t" = "bye" (flags 0x06), no properties.
constexpr const char* kConnectWill =
    "10 1a 00 04 4d 51 54 54 05 06 00 3c 00 00 02 63 39 00 00 03 77 2f 74 00 03 62 79 65";
constexpr const char* kWillDelivery = "30 09 00 03 77 2f 74 00 62 79 65";

TEST_F(V5, WillOnDisconnectWithWillMessageOnly) {
  auto sub = connected(kConnectS1);
  sub->send_hex("82 09 00 01 00 00 03 77 2f 23 00");
  ASSERT_TRUE(sub->expect_hex("90 04 00 01 00 00"));
  auto a = connected(kConnectWill);
  a->send_hex("e0 01 00");  // normal disconnection: will discarded (§3.14.4)
  EXPECT_TRUE(a->expect_closed());
  EXPECT_TRUE(ping(*sub));
  auto b = connected(kConnectWill);
  b->send_hex("e0 01 04");  // Disconnect with Will Message (§3.14.2.1)
  EXPECT_TRUE(b->expect_closed());
  EXPECT_TRUE(sub->expect_hex(kWillDelivery));
}

// "c9", Session Expiry 10 s, will "w/t" = "bye" with Will Delay Interval 1 s (§3.1.3.2.2).
constexpr const char* kConnectDelayedWill =
    "10 24 00 04 4d 51 54 54 05 06 00 3c 05 11 00 00 00 0a 00 02 63 39 05 18 00 00 00 01 00 03 "
    "77 2f 74 00 03 62 79 65";

TEST_F(V5, WillDelayInterval) {
  auto sub = connected(kConnectS1);
  sub->send_hex("82 09 00 01 00 00 03 77 2f 23 00");
  ASSERT_TRUE(sub->expect_hex("90 04 00 01 00 00"));
  auto c = connected(kConnectDelayedWill);
  c->close();
  EXPECT_TRUE(sub->expect_silence(600ms));          // not before the delay
  EXPECT_TRUE(sub->expect_hex(kWillDelivery, 2s));  // then sent, without the delay property
}

TEST_F(V5, ReconnectWithinWillDelayCancelsWill) {
  auto sub = connected(kConnectS1);
  sub->send_hex("82 09 00 01 00 00 03 77 2f 23 00");
  ASSERT_TRUE(sub->expect_hex("90 04 00 01 00 00"));
  auto c = connected(kConnectDelayedWill);
  c->close();
  // Reconnect (clean start 0, so the session is resumed) within the delay.
  auto again = connected(
      "10 24 00 04 4d 51 54 54 05 04 00 3c 05 11 00 00 00 0a 00 02 63 39 05 18 00 00 00 01 00 03 "
      "77 2f 74 00 03 62 79 65",
      kConnAckPresent);
  EXPECT_TRUE(sub->expect_silence(1500ms));
}

TEST_F(V5, SessionExpiry) {
  // "p1", clean start 0, Session Expiry Interval 1 s (11 00 00 00 01).
  constexpr const char* kConnect =
      "10 14 00 04 4d 51 54 54 05 00 00 3c 05 11 00 00 00 01 00 02 70 31";
  auto c = connected(kConnect);
  c->send_hex("82 09 00 01 00 00 03 71 2f 31 01");
  ASSERT_TRUE(c->expect_hex("90 04 00 01 00 01"));
  c->send_hex("e0 00");
  ASSERT_TRUE(c->expect_closed());
  auto back = connected(kConnect, kConnAckPresent);  // within the interval: session present
  back->send_hex("e0 00");
  ASSERT_TRUE(back->expect_closed());
  std::this_thread::sleep_for(1500ms);
  auto late = connected(kConnect, kConnAck);  // expired (§3.1.2.11.2): session present 0
}

TEST_F(V5, MessageExpiryWhileQueued) {
  constexpr const char* kConnect =
      "10 14 00 04 4d 51 54 54 05 00 00 3c 05 11 00 00 00 3c 00 02 70 31";  // expiry 60 s
  auto c = connected(kConnect);
  c->send_hex("82 09 00 01 00 00 03 71 2f 31 01");
  ASSERT_TRUE(c->expect_hex("90 04 00 01 00 01"));
  c->send_hex("e0 00");
  ASSERT_TRUE(c->expect_closed());

  auto pub = connected(kConnectS1);
  // QoS 1 "q/1" with Message Expiry Interval 1 s (02 00 00 00 01), then one with 100 s.
  pub->send_hex("32 0f 00 03 71 2f 31 00 01 05 02 00 00 00 01 6d 31");
  pub->send_hex("32 0f 00 03 71 2f 31 00 02 05 02 00 00 00 64 6d 32");
  EXPECT_TRUE(pub->expect_hex("40 02 00 01"));
  EXPECT_TRUE(pub->expect_hex("40 02 00 02"));
  std::this_thread::sleep_for(1300ms);

  auto back = connected(kConnect, kConnAckPresent);
  auto p = back->read_packet(codec::ProtocolVersion::kV5);
  ASSERT_TRUE(p.has_value());
  auto* publish = std::get_if<codec::Publish>(&*p);
  ASSERT_NE(publish, nullptr);
  EXPECT_EQ(std::string(publish->payload.begin(), publish->payload.end()), "m2");  // m1 expired
  ASSERT_TRUE(publish->props.message_expiry_interval.has_value());
  EXPECT_LE(*publish->props.message_expiry_interval, 99u);  // counted down (§3.3.2.3.3)
  EXPECT_GE(*publish->props.message_expiry_interval, 97u);
}

TEST_F(V5, UnsubscribeWithoutSubscriptionReturns0x11) {
  auto c = connected(kConnectC1);
  c->send_hex("a2 08 00 02 00 00 03 7a 2f 7a");
  EXPECT_TRUE(c->expect_hex("b0 04 00 02 00 11"));  // No subscription existed (§3.11.3)
}

TEST_F(V5, UnknownAuthenticationMethodRejected) {
  auto c = client();
  // Authentication Method "SCRM" (15 00 04 53 43 52 4d) with no authenticator configured.
  c->send_hex("10 16 00 04 4d 51 54 54 05 02 00 3c 07 15 00 04 53 43 52 4d 00 02 63 31");
  EXPECT_TRUE(c->expect_hex("20 03 00 8c 00"));  // Bad authentication method (§4.12)
  EXPECT_TRUE(c->expect_closed());
}

TEST_F(V5, MalformedInputGetsReasonCodeAndOthersKeepWorking) {
  auto good = connected(kConnectS1);
  struct Case {
    const char* frame;
    const char* disconnect;
  } cases[] = {
      {"36 09 00 03 61 2f 62 00 01 68 69", "e0 01 81"},     // QoS 3 (§3.3.1.2)
      {"30 08 00 03 61 2f 2b 00 68 69", "e0 01 90"},        // wildcard in topic name (§3.3.2.1)
      {"32 08 00 03 61 2f 62 00 00 00", "e0 01 82"},        // packet id 0 (§2.2.1)
      {"30 0a 00 03 61 2f 62 02 7f 00 68 69", "e0 01 81"},  // unknown property 0x7f
      {"30 08 00 03 61 c0 80 00 68 69", "e0 01 81"},        // over-long UTF-8 in the topic
      {"a2 03 00 01 00", "e0 01 82"},                       // UNSUBSCRIBE without filters
      {"f1 00", "e0 01 81"},                                // AUTH with flags
  };
  for (const auto& tc : cases) {
    auto bad = connected(kConnectP1);
    bad->send_hex(tc.frame);
    EXPECT_TRUE(bad->expect_hex(tc.disconnect)) << tc.frame;
    EXPECT_TRUE(bad->expect_closed()) << tc.frame;
  }
  auto bad_connect = client();
  bad_connect->send_hex("10 0f 00 04 4d 51 54 54 05 03 00 3c 00 00 02 63 31");  // reserved bit
  EXPECT_TRUE(bad_connect->expect_hex("20 03 00 81 00"));
  EXPECT_TRUE(bad_connect->expect_closed());
  auto bad_version = client();
  bad_version->send_hex("10 0f 00 04 4d 51 54 54 07 02 00 3c 00 00 02 63 31");
  // Level 7 is neither 3.1.1 nor 5, so the client's CONNACK format is unknown; like mosquitto we
  // answer in the 3.1.1 form (0x01 unacceptable protocol version), which every client parses.
  EXPECT_TRUE(bad_version->expect_hex("20 02 00 01"));
  EXPECT_TRUE(bad_version->expect_closed());
  EXPECT_TRUE(ping(*good));
}

TEST_F(V5, AssignedClientIdentifier) {
  auto c = client();
  c->send_hex("10 0d 00 04 4d 51 54 54 05 02 00 3c 00 00 00");  // empty client id
  auto p = c->read_packet(codec::ProtocolVersion::kV5);
  ASSERT_TRUE(p.has_value());
  auto* ack = std::get_if<codec::ConnAck>(&*p);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->reason, 0);
  ASSERT_TRUE(ack->props.assigned_client_identifier.has_value());  // §3.2.2.3.7
  EXPECT_TRUE(ack->props.assigned_client_identifier->starts_with("auto-"));
}

class V5ServerKeepAlive : public V5 {
  std::string extra_config() const override { return "limits:\n  max_keepalive: 10\n"; }
};

TEST_F(V5ServerKeepAlive, KeepAliveIsCappedWithServerKeepAlive) {
  auto c = client();
  c->send_hex(kConnectC1);  // asks for 60 s
  // Server Keep Alive 10 (13 00 0a) is added (§3.2.2.3.14).
  EXPECT_TRUE(c->expect_hex("20 11 00 00 0e 13 00 0a 21 00 64 22 00 0a 27 00 10 00 00"));
}

class V5PayloadFormat : public V5 {
  std::string extra_config() const override { return "mqtt:\n  validate_payload_format: true\n"; }
};

TEST_F(V5PayloadFormat, InvalidUtf8PayloadRejected) {
  auto pub = connected(kConnectP1);
  // QoS 1 with Payload Format Indicator 1 (01 01) and payload ff: PUBACK 0x99 (§3.3.2.3.2).
  pub->send_hex("32 0b 00 03 61 2f 62 00 05 02 01 01 ff");
  EXPECT_TRUE(pub->expect_hex("40 03 00 05 99"));
}

}  // namespace
}  // namespace mquictt::test
