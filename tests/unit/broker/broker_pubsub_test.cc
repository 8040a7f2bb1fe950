// PUBLISH / SUBSCRIBE flows through the broker, as wire bytes: QoS 0/1/2 both directions,
// retained messages, subscription options, properties, aliases, size limits and the PUBLISH
// error paths.
#include "broker_test_util.h"

namespace mquictt::broker::test {
namespace {

using PubSubTest = BrokerTest;

// SUBSCRIBE "a/b" (packet id 1): v3.1.1 with QoS byte, v5 with options byte.
std::string sub_v4(uint8_t qos) {
  return "82 08 00 01 00 03 61 2f 62 " + to_hex(std::vector<uint8_t>{qos});
}
std::string sub_v5(uint8_t options) {
  return "82 09 00 01 00 00 03 61 2f 62 " + to_hex(std::vector<uint8_t>{options});
}

TEST_F(PubSubTest, Qos0V311) {
  auto sub = connect(connect_v4('1'), kConnAckV4);
  sub->send(sub_v4(0));
  EXPECT_EQ(sub->recv(), norm("90 03 00 01 00"));
  auto pub = connect(connect_v4('2'), kConnAckV4);
  pub->send("30 07 00 03 61 2f 62 68 69");
  EXPECT_EQ(pub->recv(), "");
  EXPECT_EQ(sub->recv(), norm("30 07 00 03 61 2f 62 68 69"));
  const BrokerStats st = broker().stats();
  EXPECT_EQ(st.messages_received, 1u);
  EXPECT_EQ(st.messages_sent, 1u);
  EXPECT_EQ(st.subscriptions, 1u);
}

TEST_F(PubSubTest, Qos0V5ToV311AndBack) {
  auto sub4 = connect(connect_v4('1'), kConnAckV4);
  sub4->send(sub_v4(0));
  sub4->recv();
  auto sub5 = connect(connect_v5('2'), kConnAckV5);
  sub5->send(sub_v5(0));
  EXPECT_EQ(sub5->recv(), norm("90 04 00 01 00 00"));
  auto pub = connect(connect_v5('3'), kConnAckV5);
  pub->send("30 08 00 03 61 2f 62 00 68 69");
  EXPECT_EQ(sub4->recv(), norm("30 07 00 03 61 2f 62 68 69"));
  EXPECT_EQ(sub5->recv(), norm("30 08 00 03 61 2f 62 00 68 69"));
}

TEST_F(PubSubTest, Qos1BothDirections) {
  auto sub = connect(connect_v4('1'), kConnAckV4);
  sub->send(sub_v4(1));
  EXPECT_EQ(sub->recv(), norm("90 03 00 01 01"));
  auto pub = connect(connect_v4('2'), kConnAckV4);
  pub->send("32 09 00 03 61 2f 62 00 07 68 69");
  EXPECT_EQ(pub->recv(), norm("40 02 00 07"));
  EXPECT_EQ(sub->recv(), norm("32 09 00 03 61 2f 62 00 01 68 69"));
  sub->send("40 02 00 01");
  pub->send("32 09 00 03 61 2f 62 00 08 68 69");
  EXPECT_EQ(pub->recv(), norm("40 02 00 08"));
  EXPECT_EQ(sub->recv(), norm("32 09 00 03 61 2f 62 00 02 68 69"));
}

TEST_F(PubSubTest, QosIsDowngradedToGranted) {
  auto sub = connect(connect_v4('1'), kConnAckV4);
  sub->send(sub_v4(0));
  sub->recv();
  auto pub = connect(connect_v4('2'), kConnAckV4);
  pub->send("34 09 00 03 61 2f 62 00 07 68 69");
  EXPECT_EQ(pub->recv(), norm("50 02 00 07"));
  EXPECT_EQ(sub->recv(), norm("30 07 00 03 61 2f 62 68 69"));
}

TEST_F(PubSubTest, GrantedQosCappedByMaximumQos) {
  config.maximum_qos = 1;
  auto sub = connect(connect_v4('1'), kConnAckV4);
  sub->send(sub_v4(2));
  EXPECT_EQ(sub->recv(), norm("90 03 00 01 01"));
}

TEST_F(PubSubTest, Qos2BothDirectionsV5) {
  auto sub = connect(connect_v5('1'), kConnAckV5);
  sub->send(sub_v5(2));
  EXPECT_EQ(sub->recv(), norm("90 04 00 01 00 02"));
  auto pub = connect(connect_v5('2'), kConnAckV5);
  pub->send("34 0a 00 03 61 2f 62 00 07 00 68 69");
  EXPECT_EQ(pub->recv(), norm("50 02 00 07"));
  EXPECT_EQ(sub->recv(), norm("34 0a 00 03 61 2f 62 00 01 00 68 69"));
  pub->send("62 02 00 07");
  EXPECT_EQ(pub->recv(), norm("70 02 00 07"));
  sub->send("50 02 00 01");
  EXPECT_EQ(sub->recv(), norm("62 02 00 01"));
  sub->send("70 02 00 01");
  EXPECT_EQ(sub->recv(), "");
  EXPECT_FALSE(sub->stream.closed);
  EXPECT_FALSE(pub->stream.closed);
}

TEST_F(PubSubTest, InboundQos2DuplicateIsNotRoutedTwice) {
  auto sub = connect(connect_v4('1'), kConnAckV4);
  sub->send(sub_v4(0));
  sub->recv();
  auto pub = connect(connect_v4('2'), kConnAckV4);
  pub->send("34 09 00 03 61 2f 62 00 07 68 69");
  EXPECT_EQ(pub->recv(), norm("50 02 00 07"));
  EXPECT_EQ(sub->recv(), norm("30 07 00 03 61 2f 62 68 69"));
  pub->send("3c 09 00 03 61 2f 62 00 07 68 69");  // DUP resend before PUBREL
  EXPECT_EQ(pub->recv(), norm("50 02 00 07"));
  EXPECT_EQ(sub->recv(), "");
  pub->send("62 02 00 07");
  EXPECT_EQ(pub->recv(), norm("70 02 00 07"));
  // After PUBREL the id is free: the same id is a new message.
  pub->send("34 09 00 03 61 2f 62 00 07 68 69");
  EXPECT_EQ(sub->recv(), norm("30 07 00 03 61 2f 62 68 69"));
}

TEST_F(PubSubTest, PubrelForUnknownIdGetsPubcomp92) {
  auto c5 = connect(connect_v5('1'), kConnAckV5);
  c5->send("62 02 00 09");
  EXPECT_EQ(c5->recv(), norm("70 03 00 09 92"));
  auto c4 = connect(connect_v4('2'), kConnAckV4);
  c4->send("62 02 00 09");
  EXPECT_EQ(c4->recv(), norm("70 02 00 09"));
}

TEST_F(PubSubTest, PubrecForUnknownIdGetsPubrel92) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  c->send("50 02 00 09");
  EXPECT_EQ(c->recv(), norm("62 03 00 09 92"));
}

TEST_F(PubSubTest, PubackForQos2MessageIsProtocolError) {
  auto sub = connect(connect_v5('1'), kConnAckV5);
  sub->send(sub_v5(2));
  sub->recv();
  auto pub = connect(connect_v5('2'), kConnAckV5);
  pub->send("34 0a 00 03 61 2f 62 00 07 00 68 69");
  sub->recv();
  sub->send("40 02 00 01");
  EXPECT_EQ(sub->recv(), norm("e0 01 82"));
  EXPECT_TRUE(sub->stream.closed);
}

TEST_F(PubSubTest, PubrecWithErrorEndsTheFlow) {
  auto sub = connect(connect_v5('1'), kConnAckV5);
  sub->send(sub_v5(2));
  sub->recv();
  auto pub = connect(connect_v5('2'), kConnAckV5);
  pub->send("34 0a 00 03 61 2f 62 00 07 00 68 69");
  sub->recv();
  sub->send("50 03 00 01 80");  // refused
  EXPECT_EQ(sub->recv(), "");   // no PUBREL
  sub->send("70 02 00 01");     // a PUBCOMP now refers to nothing: ignored
  EXPECT_FALSE(sub->stream.closed);
}

TEST_F(PubSubTest, NoMatchingSubscribersV5) {
  auto pub = connect(connect_v5('1'), kConnAckV5);
  pub->send("32 0a 00 03 61 2f 62 00 07 00 68 69");
  EXPECT_EQ(pub->recv(), norm("40 03 00 07 10"));
  pub->send("34 0a 00 03 61 2f 62 00 08 00 68 69");
  EXPECT_EQ(pub->recv(), norm("50 03 00 08 10"));
  pub->send("62 02 00 08");
  EXPECT_EQ(pub->recv(), norm("70 02 00 08"));
}

// --- Retained messages ---

TEST_F(PubSubTest, RetainedMessageSentOnSubscribe) {
  auto pub = connect(connect_v4('1'), kConnAckV4);
  pub->send("31 07 00 03 61 2f 62 68 69");
  auto sub = connect(connect_v4('2'), kConnAckV4);
  sub->send(sub_v4(1));
  EXPECT_EQ(sub->recv(), norm("90 03 00 01 01  31 07 00 03 61 2f 62 68 69"));
  EXPECT_EQ(broker().stats().retained_messages, 1u);
}

TEST_F(PubSubTest, RetainedQosIsMinOfStoredAndGranted) {
  auto pub = connect(connect_v4('1'), kConnAckV4);
  pub->send("33 09 00 03 61 2f 62 00 05 68 69");
  EXPECT_EQ(pub->recv(), norm("40 02 00 05"));
  auto sub = connect(connect_v4('2'), kConnAckV4);
  sub->send(sub_v4(2));
  EXPECT_EQ(sub->recv(), norm("90 03 00 01 02  33 09 00 03 61 2f 62 00 01 68 69"));
}

TEST_F(PubSubTest, EmptyRetainedPayloadDeletes) {
  auto pub = connect(connect_v4('1'), kConnAckV4);
  pub->send("31 07 00 03 61 2f 62 68 69");
  pub->send("31 05 00 03 61 2f 62");
  EXPECT_EQ(broker().stats().retained_messages, 0u);
  auto sub = connect(connect_v4('2'), kConnAckV4);
  sub->send(sub_v4(0));
  EXPECT_EQ(sub->recv(), norm("90 03 00 01 00"));
}

TEST_F(PubSubTest, RetainFlagClearedOnLiveDeliveryUnlessRetainAsPublished) {
  auto plain = connect(connect_v5('1'), kConnAckV5);
  plain->send(sub_v5(0x00));
  plain->recv();
  auto rap = connect(connect_v5('2'), kConnAckV5);
  rap->send(sub_v5(0x08));
  rap->recv();
  auto v4 = connect(connect_v4('3'), kConnAckV4);
  v4->send(sub_v4(0));
  v4->recv();
  auto pub = connect(connect_v5('4'), kConnAckV5);
  pub->send("31 08 00 03 61 2f 62 00 68 69");
  EXPECT_EQ(plain->recv(), norm("30 08 00 03 61 2f 62 00 68 69"));
  EXPECT_EQ(rap->recv(), norm("31 08 00 03 61 2f 62 00 68 69"));
  EXPECT_EQ(v4->recv(), norm("30 07 00 03 61 2f 62 68 69"));
}

TEST_F(PubSubTest, RetainHandling) {
  auto pub = connect(connect_v5('1'), kConnAckV5);
  pub->send("31 08 00 03 61 2f 62 00 68 69");
  auto sub = connect(connect_v5('2'), kConnAckV5);
  // Retain Handling 1: only when the subscription is new.
  sub->send(sub_v5(0x10));
  EXPECT_EQ(sub->recv(), norm("90 04 00 01 00 00  31 08 00 03 61 2f 62 00 68 69"));
  sub->send(sub_v5(0x10));
  EXPECT_EQ(sub->recv(), norm("90 04 00 01 00 00"));
  // Retain Handling 0: every time.
  sub->send(sub_v5(0x00));
  EXPECT_EQ(sub->recv(), norm("90 04 00 01 00 00  31 08 00 03 61 2f 62 00 68 69"));
  // Retain Handling 2: never.
  auto sub2 = connect(connect_v5('3'), kConnAckV5);
  sub2->send(sub_v5(0x20));
  EXPECT_EQ(sub2->recv(), norm("90 04 00 01 00 00"));
}

TEST_F(PubSubTest, NoRetainedMessagesForSharedSubscriptions) {
  auto pub = connect(connect_v5('1'), kConnAckV5);
  pub->send("31 08 00 03 61 2f 62 00 68 69");
  auto sub = connect(connect_v5('2'), kConnAckV5);
  // "$share/g/a/b"
  sub->send("82 12 00 01 00 00 0c 24 73 68 61 72 65 2f 67 2f 61 2f 62 00");
  EXPECT_EQ(sub->recv(), norm("90 04 00 01 00 00"));
}

TEST_F(PubSubTest, RetainedMessageExpires) {
  auto pub = connect(connect_v5('1'), kConnAckV5);
  // retained, Message Expiry Interval 5 s
  pub->send("31 0d 00 03 61 2f 62 05 02 00 00 00 05 68 69");
  advance(2000);
  auto sub = connect(connect_v5('2'), kConnAckV5);
  sub->send(sub_v5(0));
  EXPECT_EQ(sub->recv(), norm("90 04 00 01 00 00  31 0d 00 03 61 2f 62 05 02 00 00 00 03 68 69"));
  ASSERT_TRUE(broker().next_deadline().has_value());
  advance(3000);
  EXPECT_EQ(broker().stats().retained_messages, 0u);
}

// --- Subscription options and identifiers ---

TEST_F(PubSubTest, NoLocal) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  c->send(sub_v5(0x05));  // QoS 1, No Local
  c->recv();
  c->send("32 0a 00 03 61 2f 62 00 07 00 68 69");
  EXPECT_EQ(c->recv(), norm("40 03 00 07 10"));  // routed to nobody
  auto other = connect(connect_v5('2'), kConnAckV5);
  other->send("30 08 00 03 61 2f 62 00 68 69");
  EXPECT_EQ(c->recv(), norm("30 08 00 03 61 2f 62 00 68 69"));
}

TEST_F(PubSubTest, SubscriptionIdentifierIsForwarded) {
  auto sub = connect(connect_v5('1'), kConnAckV5);
  sub->send("82 0b 00 01 02 0b 05 00 03 61 2f 62 00");
  EXPECT_EQ(sub->recv(), norm("90 04 00 01 00 00"));
  auto pub = connect(connect_v5('2'), kConnAckV5);
  pub->send("30 08 00 03 61 2f 62 00 68 69");
  EXPECT_EQ(sub->recv(), norm("30 0a 00 03 61 2f 62 02 0b 05 68 69"));
}

TEST_F(PubSubTest, OverlappingSubscriptionsDeliverOnceWithAllIdentifiers) {
  auto sub = connect(connect_v5('1'), kConnAckV5);
  sub->send("82 0b 00 01 02 0b 05 00 03 61 2f 62 00");
  sub->recv();
  sub->send("82 09 00 02 02 0b 07 00 01 23 01");  // "#" QoS 1, id 7
  sub->recv();
  auto pub = connect(connect_v5('2'), kConnAckV5);
  pub->send("32 0a 00 03 61 2f 62 00 07 00 68 69");
  EXPECT_EQ(sub->recv(), norm("32 0e 00 03 61 2f 62 00 01 04 0b 05 0b 07 68 69"));
}

TEST_F(PubSubTest, PropertiesArePassedThrough) {
  auto sub = connect(connect_v5('1'), kConnAckV5);
  sub->send(sub_v5(0));
  sub->recv();
  auto pub = connect(connect_v5('2'), kConnAckV5);
  // payload format 1, content type "t", response topic "r", correlation data "c", user ("k","v")
  const std::string props = "01 01 03 00 01 74 08 00 01 72 09 00 01 63 26 00 01 6b 00 01 76";
  pub->send("30 1d 00 03 61 2f 62 15 " + props + " 68 69");
  EXPECT_EQ(sub->recv(), norm("30 1d 00 03 61 2f 62 15 " + props + " 68 69"));
}

TEST_F(PubSubTest, MessageExpiryIsForwardedAsRemainingTime) {
  auto sub = connect(connect_v5('1'), kConnAckV5);
  sub->send(sub_v5(0));
  sub->recv();
  auto pub = connect(connect_v5('2'), kConnAckV5);
  pub->send("30 0d 00 03 61 2f 62 05 02 00 00 00 0a 68 69");
  EXPECT_EQ(sub->recv(), norm("30 0d 00 03 61 2f 62 05 02 00 00 00 0a 68 69"));
}

TEST_F(PubSubTest, SubackFailureCodes) {
  config.wildcard_subscription_available = false;
  config.shared_subscription_available = false;
  auto c = connect(connect_v5('1'), "20 07 00 00 04 28 00 2a 00");
  // "a/+" | "$share/g/a" | "a/b" QoS 2
  c->send(
      "82 1c 00 01 00 00 03 61 2f 2b 00 00 0a 24 73 68 61 72 65 2f 67 2f 61 00 00 03 61 2f 62 02");
  EXPECT_EQ(c->recv(), norm("90 06 00 01 00 a2 9e 02"));
  auto c4 = connect(connect_v4('2'), kConnAckV4);
  c4->send("82 08 00 01 00 03 61 2f 2b 00");
  EXPECT_EQ(c4->recv(), norm("90 03 00 01 80"));
}

TEST_F(PubSubTest, SubscriptionIdentifiersDisabled) {
  config.subscription_identifiers_available = false;
  auto c = connect(connect_v5('1'), "20 05 00 00 02 29 00");
  c->send("82 0b 00 01 02 0b 05 00 03 61 2f 62 00");
  EXPECT_EQ(c->recv(), norm("90 04 00 01 00 a1"));
}

TEST_F(PubSubTest, InvalidFilterEndsConnection) {
  // The codec rejects the whole SUBSCRIBE (0x8F) for a malformed filter.
  auto c = connect(connect_v5('1'), kConnAckV5);
  c->send("82 0a 00 01 00 00 04 61 2f 62 23 00");  // "a/b#"
  EXPECT_EQ(c->recv(), norm("e0 01 8f"));
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(PubSubTest, NoLocalOnSharedSubscriptionIsProtocolError) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  c->send("82 12 00 01 00 00 0c 24 73 68 61 72 65 2f 67 2f 61 2f 62 04");
  EXPECT_EQ(c->recv(), norm("e0 01 82"));
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(PubSubTest, Unsubscribe) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  c->send(sub_v5(0));
  c->recv();
  // UNSUBSCRIBE "a/b", "x"
  c->send("a2 0b 00 02 00 00 03 61 2f 62 00 01 78");
  EXPECT_EQ(c->recv(), norm("b0 05 00 02 00 00 11"));
  EXPECT_EQ(broker().stats().subscriptions, 0u);
  auto c4 = connect(connect_v4('2'), kConnAckV4);
  c4->send("a2 05 00 03 00 01 78");
  EXPECT_EQ(c4->recv(), norm("b0 02 00 03"));
}

TEST_F(PubSubTest, SharedSubscriptionRoundRobin) {
  auto a = connect(connect_v5('1'), kConnAckV5);
  auto b = connect(connect_v5('2'), kConnAckV5);
  const std::string share = "82 12 00 01 00 00 0c 24 73 68 61 72 65 2f 67 2f 61 2f 62 00";
  a->send(share);
  b->send(share);
  a->recv();
  b->recv();
  auto pub = connect(connect_v5('3'), kConnAckV5);
  for (int i = 0; i < 4; ++i)
    pub->send("30 08 00 03 61 2f 62 00 68 69");
  const std::string one = norm("30 08 00 03 61 2f 62 00 68 69");
  EXPECT_EQ(a->recv(), one + " " + one);
  EXPECT_EQ(b->recv(), one + " " + one);
}

// --- PUBLISH errors ---

TEST_F(PubSubTest, PublishToSysIsRefused) {
  auto sub = connect(connect_v5('1'), kConnAckV5);
  sub->send("82 07 00 01 00 00 01 23 00");  // "#" does not match $SYS anyway
  sub->recv();
  auto c = connect(connect_v5('2'), kConnAckV5);
  c->send("32 0d 00 06 24 53 59 53 2f 78 00 07 00 68 69");
  EXPECT_EQ(c->recv(), norm("40 03 00 07 87"));
  auto c4 = connect(connect_v4('3'), kConnAckV4);
  c4->send("32 0c 00 06 24 53 59 53 2f 78 00 07 68 69");
  EXPECT_EQ(c4->recv(), norm("40 02 00 07"));
  EXPECT_EQ(broker().stats().retained_messages, 0u);
}

TEST_F(PubSubTest, PublishQosAboveMaximum) {
  config.maximum_qos = 1;
  auto c = connect(connect_v5('1'), "20 05 00 00 02 24 01");
  c->send("34 0a 00 03 61 2f 62 00 07 00 68 69");
  EXPECT_EQ(c->recv(), norm("e0 01 9b"));
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(PubSubTest, RetainNotAvailable) {
  config.retain_available = false;
  auto c = connect(connect_v5('1'), "20 05 00 00 02 25 00");
  c->send("31 08 00 03 61 2f 62 00 68 69");
  EXPECT_EQ(c->recv(), norm("e0 01 9a"));
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(PubSubTest, PayloadFormatValidation) {
  config.validate_payload_format = true;
  auto c = connect(connect_v5('1'), kConnAckV5);
  c->send("32 0b 00 03 61 2f 62 00 01 02 01 01 ff");
  EXPECT_EQ(c->recv(), norm("40 03 00 01 99"));
  c->send("32 0b 00 03 61 2f 62 00 02 02 01 01 41");  // valid UTF-8 (no subscribers)
  EXPECT_EQ(c->recv(), norm("40 03 00 02 10"));
  c->send("30 09 00 03 61 2f 62 02 01 01 ff");
  EXPECT_EQ(c->recv(), norm("e0 01 99"));
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(PubSubTest, MessageSizeLimit) {
  config.message_size_limit_bytes = 1;
  auto c = connect(connect_v5('1'), kConnAckV5);
  c->send("32 0a 00 03 61 2f 62 00 01 00 68 69");
  EXPECT_EQ(c->recv(), norm("40 03 00 01 97"));
}

TEST_F(PubSubTest, ReceiveMaximumExceeded) {
  config.receive_maximum = 2;
  auto c = connect(connect_v5('1'), "20 06 00 00 03 21 00 02");
  c->send("34 0a 00 03 61 2f 62 00 01 00 68 69");
  c->send("34 0a 00 03 61 2f 62 00 02 00 68 69");
  EXPECT_EQ(c->recv(), norm("50 03 00 01 10 50 03 00 02 10"));
  c->send("62 02 00 01");  // releasing one frees a slot
  EXPECT_EQ(c->recv(), norm("70 02 00 01"));
  c->send("34 0a 00 03 61 2f 62 00 03 00 68 69");
  EXPECT_EQ(c->recv(), norm("50 03 00 03 10"));
  c->send("34 0a 00 03 61 2f 62 00 04 00 68 69");
  EXPECT_EQ(c->recv(), norm("e0 01 93"));
  EXPECT_TRUE(c->stream.closed);
}

// --- Topic aliases ---

TEST_F(PubSubTest, InboundTopicAlias) {
  config.topic_alias_maximum = 2;
  auto sub = connect(connect_v5('1'), "20 06 00 00 03 22 00 02");
  sub->send(sub_v5(0));
  sub->recv();
  auto pub = connect(connect_v5('2'), "20 06 00 00 03 22 00 02");
  pub->send("30 0b 00 03 61 2f 62 03 23 00 01 68 69");  // sets alias 1
  pub->send("30 08 00 00 03 23 00 01 68 69");           // uses it
  const std::string one = norm("30 08 00 03 61 2f 62 00 68 69");
  EXPECT_EQ(sub->recv(), one + " " + one);
  pub->send("30 08 00 00 03 23 00 02 68 69");  // alias 2 never set
  EXPECT_EQ(pub->recv(), norm("e0 01 82"));
  EXPECT_TRUE(pub->stream.closed);
}

TEST_F(PubSubTest, InboundTopicAliasOutOfRange) {
  config.topic_alias_maximum = 2;
  auto pub = connect(connect_v5('1'), "20 06 00 00 03 22 00 02");
  pub->send("30 0b 00 03 61 2f 62 03 23 00 03 68 69");
  EXPECT_EQ(pub->recv(), norm("e0 01 94"));
  auto pub0 = connect(connect_v5('2'), "20 06 00 00 03 22 00 02");
  pub0->send("30 0b 00 03 61 2f 62 03 23 00 00 68 69");
  EXPECT_EQ(pub0->recv(), norm("e0 01 94"));
}

TEST_F(PubSubTest, TopicAliasesDisabledRejectAnyAlias) {
  auto pub = connect(connect_v5('1'), kConnAckV5);
  pub->send("30 0b 00 03 61 2f 62 03 23 00 01 68 69");
  EXPECT_EQ(pub->recv(), norm("e0 01 94"));
}

TEST_F(PubSubTest, OutboundTopicAlias) {
  auto sub = connect(connect_v5('1', true, "22 00 05"), kConnAckV5);
  sub->send(sub_v5(0));
  sub->recv();
  auto pub = connect(connect_v5('2'), kConnAckV5);
  pub->send("30 08 00 03 61 2f 62 00 68 69");
  pub->send("30 08 00 03 61 2f 62 00 68 69");
  EXPECT_EQ(sub->recv(),
            norm("30 0b 00 03 61 2f 62 03 23 00 01 68 69  30 08 00 00 03 23 00 01 68 69"));
}

TEST_F(PubSubTest, OutboundTopicAliasLimitedByConfig) {
  config.max_topic_alias_outbound = 0;
  auto sub = connect(connect_v5('1', true, "22 00 05"), kConnAckV5);
  sub->send(sub_v5(0));
  sub->recv();
  auto pub = connect(connect_v5('2'), kConnAckV5);
  pub->send("30 08 00 03 61 2f 62 00 68 69");
  EXPECT_EQ(sub->recv(), norm("30 08 00 03 61 2f 62 00 68 69"));
}

TEST_F(PubSubTest, PerSubscriberFieldsDoNotLeakAcrossOneFanOut) {
  auto alias = connect(connect_v5('1', true, "22 00 05"), kConnAckV5, "alias");
  alias->send(sub_v5(1));
  alias->recv();
  auto ids = connect(connect_v5('2'), kConnAckV5, "ids");
  ids->send("82 0b 00 01 02 0b 09 00 03 61 2f 62 01");
  ids->recv();
  auto v4 = connect(connect_v4('3'), kConnAckV4, "v4");
  v4->send(sub_v4(1));
  v4->recv();
  auto pub = connect(connect_v5('4'), kConnAckV5);
  pub->send("32 0a 00 03 61 2f 62 00 01 00 68 69");
  pub->send("32 0a 00 03 61 2f 62 00 02 00 68 69");
  EXPECT_EQ(alias->recv(), norm("32 0d 00 03 61 2f 62 00 01 03 23 00 01 68 69 "
                                "32 0a 00 00 00 02 03 23 00 01 68 69"));
  EXPECT_EQ(ids->recv(), norm("32 0c 00 03 61 2f 62 00 01 02 0b 09 68 69 "
                              "32 0c 00 03 61 2f 62 00 02 02 0b 09 68 69"));
  EXPECT_EQ(v4->recv(), norm("32 09 00 03 61 2f 62 00 01 68 69 32 09 00 03 61 2f 62 00 02 68 69"));
}

// --- Maximum Packet Size ---

TEST_F(PubSubTest, InboundPacketTooLarge) {
  config.max_packet_size_bytes = 20;
  auto c = connect(connect_v5('1'), "20 08 00 00 05 27 00 00 00 14");
  auto other = connect(connect_v5('2'), "20 08 00 00 05 27 00 00 00 14");
  other->send(sub_v5(0));
  other->recv();
  c->send("30 13 00 03 61 2f 62 00 68 69 68 69 68 69 68 69 68 69 68 69 68");  // 21 bytes
  EXPECT_EQ(c->recv(), norm("e0 01 95"));
  EXPECT_TRUE(c->stream.closed);
  // The other client is unaffected.
  auto pub = connect(connect_v5('3'), "20 08 00 00 05 27 00 00 00 14");
  pub->send("30 08 00 03 61 2f 62 00 68 69");
  EXPECT_EQ(other->recv(), norm("30 08 00 03 61 2f 62 00 68 69"));
}

TEST_F(PubSubTest, OutboundMessageTooLargeForSubscriberIsSkipped) {
  auto sub = connect(connect_v5('1', true, "27 00 00 00 0c"), kConnAckV5);  // max 12 bytes
  sub->send(sub_v5(1));
  sub->recv();
  auto pub = connect(connect_v5('2'), kConnAckV5);
  pub->send("30 0c 00 03 61 2f 62 00 68 65 6c 6c 6f 21");  // 14 bytes out: skipped
  EXPECT_EQ(sub->recv(), "");
  pub->send("32 0a 00 03 61 2f 62 00 01 00 68 69");  // QoS 1, 12 bytes: fits
  EXPECT_EQ(sub->recv(), norm("32 0a 00 03 61 2f 62 00 01 00 68 69"));
  EXPECT_EQ(broker().stats().messages_dropped, 1u);
}

// --- Malformed input ---

TEST_F(PubSubTest, MalformedPacketDisconnectsOnlyThatClient) {
  auto sub = connect(connect_v5('1'), kConnAckV5);
  sub->send(sub_v5(0));
  sub->recv();
  auto bad = connect(connect_v5('2'), kConnAckV5);
  bad->send("36 0a 00 03 61 2f 62 00 07 00 68 69");  // QoS 3
  EXPECT_EQ(bad->recv(), norm("e0 01 81"));
  EXPECT_TRUE(bad->stream.closed);
  bad->send("30 08 00 03 61 2f 62 00 68 69");  // ignored after close
  EXPECT_EQ(sub->recv(), "");
  auto bad4 = connect(connect_v4('3'), kConnAckV4);
  bad4->send("30 03 00 05 61");  // topic length beyond the frame
  EXPECT_EQ(bad4->recv(), "");
  EXPECT_TRUE(bad4->stream.closed);
  auto pub = connect(connect_v5('4'), kConnAckV5);
  pub->send("30 08 00 03 61 2f 62 00 68 69");
  EXPECT_EQ(sub->recv(), norm("30 08 00 03 61 2f 62 00 68 69"));
}

TEST_F(PubSubTest, ServerOnlyPacketFromClientIsProtocolError) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  c->send("d0 00");  // PINGRESP
  EXPECT_EQ(c->recv(), norm("e0 01 82"));
}

TEST_F(PubSubTest, SeveralPacketsInOneRead) {
  auto c = open();
  c->send(connect_v4('1') + " " + sub_v4(0) + " 30 07 00 03 61 2f 62 68 69 c0 00");
  EXPECT_EQ(c->recv(),
            norm(std::string(kConnAckV4) + " 90 03 00 01 00 30 07 00 03 61 2f 62 68 69 d0 00"));
}

}  // namespace
}  // namespace mquictt::broker::test
