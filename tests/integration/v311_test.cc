// Byte-exact black-box tests of mquicttd over TCP, MQTT 3.1.1. Every expected frame below was
// written by hand from the MQTT 3.1.1 specification (section numbers in comments).

#include <iostream>

#include "integration/broker_test_base.h"

namespace mquictt::test {
namespace {

// CONNECT, clean session, keepalive 60 (§3.1): "MQTT" level 4, flags 0x02.
constexpr const char* kConnectC1 = "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 63 31";  // "c1"
constexpr const char* kConnectC2 = "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 63 32";  // "c2"
constexpr const char* kConnAckOk = "20 02 00 00";

using V311 = BrokerTest;

TEST_F(V311, ConnectAndPing) {
  auto c = client();
  c->send_hex(kConnectC1);
  EXPECT_TRUE(c->expect_hex(kConnAckOk));
  c->send_hex("c0 00");                 // PINGREQ §3.12
  EXPECT_TRUE(c->expect_hex("d0 00"));  // PINGRESP §3.13
  c->send_hex("e0 00");                 // DISCONNECT §3.14
  EXPECT_TRUE(c->expect_closed());
}

TEST_F(V311, SubscribePublishQos0And1) {
  auto sub = client();
  sub->send_hex(kConnectC1);
  ASSERT_TRUE(sub->expect_hex(kConnAckOk));
  // SUBSCRIBE pid 1, "a/b" QoS 1 (§3.8) -> SUBACK granted 1 (§3.9).
  sub->send_hex("82 08 00 01 00 03 61 2f 62 01");
  ASSERT_TRUE(sub->expect_hex("90 03 00 01 01"));

  auto pub = client();
  pub->send_hex(kConnectC2);
  ASSERT_TRUE(pub->expect_hex(kConnAckOk));
  // QoS 0 PUBLISH "a/b" "hi" is delivered at QoS 0.
  pub->send_hex("30 07 00 03 61 2f 62 68 69");
  EXPECT_TRUE(sub->expect_hex("30 07 00 03 61 2f 62 68 69"));
  // QoS 1 PUBLISH pid 7 -> PUBACK pid 7; delivered at QoS 1 with the broker's first pid (1).
  pub->send_hex("32 09 00 03 61 2f 62 00 07 68 69");
  EXPECT_TRUE(pub->expect_hex("40 02 00 07"));
  EXPECT_TRUE(sub->expect_hex("32 09 00 03 61 2f 62 00 01 68 69"));
  sub->send_hex("40 02 00 01");
  // UNSUBSCRIBE pid 2 "a/b" (§3.10) -> UNSUBACK (§3.11); later publishes are not delivered.
  sub->send_hex("a2 07 00 02 00 03 61 2f 62");
  EXPECT_TRUE(sub->expect_hex("b0 02 00 02"));
  pub->send_hex("30 07 00 03 61 2f 62 68 69");
  EXPECT_TRUE(sub->expect_silence());
}

TEST_F(V311, Qos2BothDirections) {
  auto sub = client();
  sub->send_hex(kConnectC1);
  ASSERT_TRUE(sub->expect_hex(kConnAckOk));
  sub->send_hex("82 08 00 01 00 03 61 2f 62 02");
  ASSERT_TRUE(sub->expect_hex("90 03 00 01 02"));

  auto pub = client();
  pub->send_hex(kConnectC2);
  ASSERT_TRUE(pub->expect_hex(kConnAckOk));
  // Inbound QoS 2 (§4.3.3): PUBLISH -> PUBREC, PUBREL -> PUBCOMP.
  pub->send_hex("34 09 00 03 61 2f 62 00 09 68 69");
  EXPECT_TRUE(pub->expect_hex("50 02 00 09"));
  // A duplicate of the same packet id before PUBREL must not be delivered twice.
  pub->send_hex("3c 09 00 03 61 2f 62 00 09 68 69");
  EXPECT_TRUE(pub->expect_hex("50 02 00 09"));
  pub->send_hex("62 02 00 09");
  EXPECT_TRUE(pub->expect_hex("70 02 00 09"));

  // Outbound QoS 2: exactly one delivery.
  EXPECT_TRUE(sub->expect_hex("34 09 00 03 61 2f 62 00 01 68 69"));
  sub->send_hex("50 02 00 01");
  EXPECT_TRUE(sub->expect_hex("62 02 00 01"));
  sub->send_hex("70 02 00 01");
  EXPECT_TRUE(sub->expect_silence());
}

TEST_F(V311, RetainedMessageSentOnSubscribeAndDeleted) {
  auto pub = client();
  pub->send_hex(kConnectC2);
  ASSERT_TRUE(pub->expect_hex(kConnAckOk));
  pub->send_hex("31 06 00 03 72 2f 31 78");  // retained "r/1" = "x"
  pub->send_hex("c0 00");
  ASSERT_TRUE(pub->expect_hex("d0 00"));  // the publish was processed before the ping

  auto sub = client();
  sub->send_hex(kConnectC1);
  ASSERT_TRUE(sub->expect_hex(kConnAckOk));
  sub->send_hex("82 08 00 01 00 03 72 2f 23 00");  // "r/#" QoS 0
  EXPECT_TRUE(sub->expect_hex("90 03 00 01 00"));
  EXPECT_TRUE(sub->expect_hex("31 06 00 03 72 2f 31 78"));  // retained flag set (§3.3.1.3)

  // A live delivery of a retained publish to an existing subscriber has RETAIN=0 in 3.1.1.
  pub->send_hex("31 06 00 03 72 2f 31 79");
  EXPECT_TRUE(sub->expect_hex("30 06 00 03 72 2f 31 79"));
  // Zero-length retained payload deletes it (§3.3.1.3).
  pub->send_hex("31 05 00 03 72 2f 31");
  EXPECT_TRUE(sub->expect_hex("30 05 00 03 72 2f 31"));
  auto sub2 = client();
  sub2->send_hex("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 63 33");
  ASSERT_TRUE(sub2->expect_hex(kConnAckOk));
  sub2->send_hex("82 08 00 01 00 03 72 2f 23 00");
  EXPECT_TRUE(sub2->expect_hex("90 03 00 01 00"));
  EXPECT_TRUE(sub2->expect_silence());
}

// CONNECT "c9" with will "w/t" = "bye" QoS 0, clean session (flags 0x06).
constexpr const char* kConnectWithWill =
    "10 18 00 04 4d 51 54 54 04 06 00 3c 00 02 63 39 00 03 77 2f 74 00 03 62 79 65";

TEST_F(V311, WillSentOnAbruptCloseNotOnDisconnect) {
  auto sub = client();
  sub->send_hex(kConnectC1);
  ASSERT_TRUE(sub->expect_hex(kConnAckOk));
  sub->send_hex("82 08 00 01 00 03 77 2f 23 00");  // "w/#"
  ASSERT_TRUE(sub->expect_hex("90 03 00 01 00"));

  auto graceful = client();
  graceful->send_hex(kConnectWithWill);
  ASSERT_TRUE(graceful->expect_hex(kConnAckOk));
  graceful->send_hex("e0 00");
  EXPECT_TRUE(graceful->expect_closed());
  EXPECT_TRUE(sub->expect_silence());

  auto abrupt = client();
  abrupt->send_hex(kConnectWithWill);
  ASSERT_TRUE(abrupt->expect_hex(kConnAckOk));
  abrupt->close();
  EXPECT_TRUE(sub->expect_hex("30 08 00 03 77 2f 74 62 79 65"));
}

TEST_F(V311, KeepaliveTimeoutClosesAndSendsWill) {
  auto sub = client();
  sub->send_hex(kConnectC1);
  ASSERT_TRUE(sub->expect_hex(kConnAckOk));
  sub->send_hex("82 08 00 01 00 03 77 2f 23 00");
  ASSERT_TRUE(sub->expect_hex("90 03 00 01 00"));

  // Same will CONNECT but keepalive 1 s: closed after 1.5 s of silence (§3.1.2.10).
  auto idle = client();
  idle->send_hex("10 18 00 04 4d 51 54 54 04 06 00 01 00 02 63 39 00 03 77 2f 74 00 03 62 79 65");
  ASSERT_TRUE(idle->expect_hex(kConnAckOk));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle->expect_closed(4s));
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 1400ms);
  EXPECT_TRUE(sub->expect_hex("30 08 00 03 77 2f 74 62 79 65"));
}

TEST_F(V311, PersistentSessionQueuesQos1WhileOffline) {
  // "p1", clean session 0 (flags 0x00).
  constexpr const char* kConnectP1 = "10 0e 00 04 4d 51 54 54 04 00 00 3c 00 02 70 31";
  {
    auto p = client();
    p->send_hex(kConnectP1);
    ASSERT_TRUE(p->expect_hex(kConnAckOk));        // no session yet
    p->send_hex("82 08 00 01 00 03 71 2f 31 01");  // "q/1" QoS 1
    ASSERT_TRUE(p->expect_hex("90 03 00 01 01"));
    p->send_hex("e0 00");
    ASSERT_TRUE(p->expect_closed());
  }
  auto pub = client();
  pub->send_hex(kConnectC2);
  ASSERT_TRUE(pub->expect_hex(kConnAckOk));
  pub->send_hex("32 09 00 03 71 2f 31 00 05 6d 31");  // "q/1" = "m1", QoS 1
  ASSERT_TRUE(pub->expect_hex("40 02 00 05"));
  pub->send_hex("30 07 00 03 71 2f 31 6d 30");  // QoS 0 is not queued by default
  pub->send_hex("c0 00");
  ASSERT_TRUE(pub->expect_hex("d0 00"));

  auto p = client();
  p->send_hex(kConnectP1);
  EXPECT_TRUE(p->expect_hex("20 02 01 00"));  // session present (§3.2.2.2)
  EXPECT_TRUE(p->expect_hex("32 09 00 03 71 2f 31 00 01 6d 31"));
  // Not acked: after a reconnect it is resent with DUP (§4.4).
  p->close();
  auto p2 = client();
  p2->send_hex(kConnectP1);
  EXPECT_TRUE(p2->expect_hex("20 02 01 00"));
  EXPECT_TRUE(p2->expect_hex("3a 09 00 03 71 2f 31 00 01 6d 31"));
  p2->send_hex("40 02 00 01");
  EXPECT_TRUE(p2->expect_silence());
}

TEST_F(V311, TakeoverClosesFirstConnection) {
  auto first = client();
  first->send_hex(kConnectC1);
  ASSERT_TRUE(first->expect_hex(kConnAckOk));
  auto second = client();
  second->send_hex(kConnectC1);
  EXPECT_TRUE(second->expect_hex(kConnAckOk));
  EXPECT_TRUE(first->expect_closed());  // 3.1.1 has no server DISCONNECT (§3.1.4-2)
  second->send_hex("c0 00");
  EXPECT_TRUE(second->expect_hex("d0 00"));
}

TEST_F(V311, EmptyClientIdWithPersistentSessionRejected) {
  auto c = client();
  // Client id "" with clean session 0 -> CONNACK 0x02 identifier rejected (§3.1.3-8).
  c->send_hex("10 0c 00 04 4d 51 54 54 04 00 00 3c 00 00");
  EXPECT_TRUE(c->expect_hex("20 02 00 02"));
  EXPECT_TRUE(c->expect_closed());
  // With clean session 1 the server assigns an id.
  auto d = client();
  d->send_hex("10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00");
  EXPECT_TRUE(d->expect_hex(kConnAckOk));
}

TEST_F(V311, UnsupportedProtocolLevelGetsConnack01) {
  auto c = client();
  c->send_hex("10 0e 00 04 4d 51 54 54 06 02 00 3c 00 02 63 31");  // level 6
  EXPECT_TRUE(c->expect_hex("20 02 00 01"));
  EXPECT_TRUE(c->expect_closed());
}

TEST_F(V311, FirstPacketMustBeConnect) {
  auto c = client();
  c->send_hex("c0 00");
  EXPECT_TRUE(c->expect_closed());
}

TEST_F(V311, MalformedPacketClosesOnlyThatClient) {
  auto good = client();
  good->send_hex(kConnectC1);
  ASSERT_TRUE(good->expect_hex(kConnAckOk));

  auto bad = client();
  bad->send_hex(kConnectC2);
  ASSERT_TRUE(bad->expect_hex(kConnAckOk));
  bad->send_hex("36 09 00 03 61 2f 62 00 01 68 69");  // PUBLISH QoS 3 (§3.3.1.2)
  EXPECT_TRUE(bad->expect_closed());
  EXPECT_TRUE(daemon_.wait_for_log("c2", 2s));

  auto bad2 = client();
  bad2->send_hex("10 0e 00 04 4d 51 54 54 04 03 00 3c 00 02 63 33");  // reserved flag bit set
  EXPECT_TRUE(bad2->expect_closed());

  auto bad3 = client();
  bad3->send_hex(kConnectC2);
  ASSERT_TRUE(bad3->expect_hex(kConnAckOk));
  bad3->send_hex("82 08 00 01 00 03 61 23 62 01");  // SUBSCRIBE "a#b": invalid filter
  EXPECT_TRUE(bad3->expect_closed());

  good->send_hex("c0 00");
  EXPECT_TRUE(good->expect_hex("d0 00"));
}

TEST_F(V311, SecondConnectIsProtocolViolation) {
  auto c = client();
  c->send_hex(kConnectC1);
  ASSERT_TRUE(c->expect_hex(kConnAckOk));
  c->send_hex(kConnectC1);
  EXPECT_TRUE(c->expect_closed());  // §3.1.0-2
}

}  // namespace
}  // namespace mquictt::test
