// decode() and peek_connect_level(). The rule table (which input gives which reason code, with the
// spec sections) is at the top of lib/codec/decoder.cc; the tests below follow it row by row.
// Frames are hand-written from the spec; negative tests build the fixed header with frame() so the
// remaining length is always right and the asserted code comes from the rule under test.

#include "codec/decoder.h"

#include <gtest/gtest.h>

#include <string>

#include "codec/reason_code.h"
#include "unit/codec/hex.h"

namespace mquictt::codec {
namespace {

using codec_test::frame;
using codec_test::hex;

constexpr ProtocolVersion k4 = ProtocolVersion::kV311;
constexpr ProtocolVersion k5 = ProtocolVersion::kV5;

const std::string kMqtt = "00 04 4d 51 54 54 ";  // protocol name "MQTT"

Packet must(const std::string& h, ProtocolVersion v) {
  auto r = decode(hex(h), v);
  EXPECT_TRUE(r.ok()) << h << ": " << (r.ok() ? "" : r.error().detail);
  return r.ok() ? r.value() : Packet{};
}

template <typename T>
T must_as(const std::string& h, ProtocolVersion v) {
  Packet p = must(h, v);
  EXPECT_TRUE(std::holds_alternative<T>(p))
      << h << " decoded as " << packet_type_name(packet_type(p));
  return std::holds_alternative<T>(p) ? std::get<T>(p) : T{};
}

// The reason code of a rejected frame; 0 if it was accepted (0 is never an error code).
uint8_t err(const std::string& h, ProtocolVersion v) {
  auto r = decode(hex(h), v);
  return r.ok() ? 0 : r.error().reason;
}

// ---------------------------------------------------------------------------------------------
// Valid packets

TEST(DecodeConnect, V311Minimal) {
  auto c = must_as<Connect>("10 0d" + kMqtt + "04 02 00 3c 00 01 63", k4);
  EXPECT_EQ(c.version, k4);
  EXPECT_TRUE(c.clean_start);
  EXPECT_EQ(c.keep_alive, 60);
  EXPECT_EQ(c.client_id, "c");
  EXPECT_FALSE(c.will);
  EXPECT_FALSE(c.username);
  EXPECT_FALSE(c.password);
  EXPECT_TRUE(c.props.empty());
}

TEST(DecodeConnect, V311WillUserPassword) {
  // flags ee: user name, password, will retain, will QoS 1, will, clean session.
  auto c = must_as<Connect>("10 1e" + kMqtt +
                                "04 ee 00 0a"
                                "00 02 63 31"     // client id "c1"
                                "00 03 77 2f 74"  // will topic "w/t"
                                "00 02 62 79"     // will payload "by"
                                "00 01 75"        // user name "u"
                                "00 02 70 77",    // password "pw"
                            k4);
  EXPECT_EQ(c.keep_alive, 10);
  EXPECT_EQ(c.client_id, "c1");
  ASSERT_TRUE(c.will);
  EXPECT_EQ(c.will->topic, "w/t");
  EXPECT_EQ(c.will->payload, codec_test::bytes("by"));
  EXPECT_EQ(c.will->qos, 1);
  EXPECT_TRUE(c.will->retain);
  EXPECT_EQ(c.username, "u");
  EXPECT_EQ(c.password, codec_test::bytes("pw"));
}

TEST(DecodeConnect, V5WithPropertiesAndWillProperties) {
  auto c = must_as<Connect>("10 24" + kMqtt +
                                "05 86 00 1e"
                                "08 11 00 00 00 78 21 00 14"  // session expiry 120, receive max 20
                                "00 01 63"                    // client id "c"
                                "05 18 00 00 00 0a"           // will delay 10
                                "00 01 74"                    // will topic "t"
                                "00 00"                       // empty will payload
                                "00 01 75",                   // user name "u"
                            k5);
  EXPECT_EQ(c.version, k5);
  EXPECT_EQ(c.keep_alive, 30);
  EXPECT_EQ(c.props.session_expiry_interval, 120u);
  EXPECT_EQ(c.props.receive_maximum, 20);
  ASSERT_TRUE(c.will);
  EXPECT_EQ(c.will->props.will_delay_interval, 10u);
  EXPECT_EQ(c.will->topic, "t");
  EXPECT_TRUE(c.will->payload.empty());
  EXPECT_EQ(c.will->qos, 0);
  EXPECT_FALSE(c.will->retain);
  EXPECT_EQ(c.username, "u");
  EXPECT_FALSE(c.password);
}

TEST(DecodeConnect, V5PasswordWithoutUserNameIsAllowed) {
  auto c = must_as<Connect>("10 12" + kMqtt + "05 40 00 3c 00 00 01 63 00 02 70 77", k5);
  EXPECT_FALSE(c.clean_start);
  EXPECT_FALSE(c.username);
  EXPECT_EQ(c.password, codec_test::bytes("pw"));
}

TEST(DecodeConnect, VersionArgumentIsIgnored) {
  // The CONNECT carries its own level: a v5 CONNECT decodes as v5 on a "3.1.1" connection.
  auto c = must_as<Connect>("10 0e" + kMqtt + "05 02 00 3c 00 00 01 63", k4);
  EXPECT_EQ(c.version, k5);
  auto c4 = must_as<Connect>("10 0d" + kMqtt + "04 02 00 3c 00 01 63", k5);
  EXPECT_EQ(c4.version, k4);
}

TEST(DecodeConnect, EmptyClientIdAndBinaryPassword) {
  // 3.1.1 with clean session 1 and v5 with clean start 0 may both use an empty client id.
  EXPECT_EQ(must_as<Connect>(frame(0x10, kMqtt + "04 02 00 3c 00 00"), k4).client_id, "");
  EXPECT_EQ(must_as<Connect>(frame(0x10, kMqtt + "05 00 00 3c 00 00 00"), k5).client_id, "");
  // Password is binary data: NUL and 0xff are fine.
  auto c = must_as<Connect>(frame(0x10, kMqtt + "04 c2 00 3c 00 01 63 00 01 75 00 02 00 ff"), k4);
  EXPECT_EQ(c.password, (Bytes{0x00, 0xff}));
}

TEST(DecodeConnAck, V311) {
  auto a = must_as<ConnAck>("20 02 01 00", k4);
  EXPECT_TRUE(a.session_present);
  EXPECT_EQ(a.reason, 0);
  auto b = must_as<ConnAck>("20 02 00 05", k4);
  EXPECT_FALSE(b.session_present);
  EXPECT_EQ(b.reason, rc311::kNotAuthorized);
}

TEST(DecodeConnAck, V5WithProperties) {
  auto a = must_as<ConnAck>("20 0a 00 00 07 13 00 0a 24 01 25 00", k5);
  EXPECT_EQ(a.reason, 0);
  EXPECT_EQ(a.props.server_keep_alive, 10);
  EXPECT_EQ(a.props.maximum_qos, 1);
  EXPECT_EQ(a.props.retain_available, 0);
  EXPECT_EQ(must_as<ConnAck>("20 03 00 87 00", k5).reason, rc::kNotAuthorized);
}

TEST(DecodePublish, V311QoS0AndQoS1) {
  auto p = must_as<Publish>("30 07 00 03 61 2f 62 68 69", k4);
  EXPECT_FALSE(p.dup);
  EXPECT_EQ(p.qos, 0);
  EXPECT_FALSE(p.retain);
  EXPECT_EQ(p.topic, "a/b");
  EXPECT_EQ(p.packet_id, 0);
  EXPECT_EQ(p.payload, codec_test::bytes("hi"));

  auto q = must_as<Publish>("3b 09 00 03 61 2f 62 00 0a 68 69", k4);
  EXPECT_TRUE(q.dup);
  EXPECT_EQ(q.qos, 1);
  EXPECT_TRUE(q.retain);
  EXPECT_EQ(q.packet_id, 10);
  EXPECT_EQ(q.payload, codec_test::bytes("hi"));
}

TEST(DecodePublish, V311BytesThatLookLikePropertiesArePayload) {
  auto p = must_as<Publish>("30 06 00 01 61 00 01 01", k4);
  EXPECT_EQ(p.payload, (Bytes{0x00, 0x01, 0x01}));
  EXPECT_TRUE(p.props.empty());
}

TEST(DecodePublish, V5QoS2WithProperties) {
  auto p = must_as<Publish>(
      "35 1b 00 03 61 2f 62 00 01"
      "11 01 01 02 00 00 00 3c 23 00 05 26 00 01 6b 00 01 76"
      "68 69",
      k5);
  EXPECT_EQ(p.qos, 2);
  EXPECT_TRUE(p.retain);
  EXPECT_EQ(p.packet_id, 1);
  EXPECT_EQ(p.props.payload_format_indicator, 1);
  EXPECT_EQ(p.props.message_expiry_interval, 60u);
  EXPECT_EQ(p.props.topic_alias, 5);
  ASSERT_EQ(p.props.user_properties.size(), 1u);
  EXPECT_EQ(p.props.user_properties[0], (UserProperty{"k", "v"}));
  EXPECT_EQ(p.payload, codec_test::bytes("hi"));
}

TEST(DecodePublish, V5EmptyTopicWithAliasAndEmptyPayload) {
  auto p = must_as<Publish>("30 07 00 00 03 23 00 05 78", k5);
  EXPECT_EQ(p.topic, "");
  EXPECT_EQ(p.props.topic_alias, 5);
  EXPECT_EQ(p.payload, codec_test::bytes("x"));
  auto q = must_as<Publish>("30 06 00 03 61 2f 62 00", k5);
  EXPECT_TRUE(q.payload.empty());
}

TEST(DecodePublish, TopicsThatAreValidNames) {
  EXPECT_EQ(must_as<Publish>(frame(0x30, "00 01 2f"), k4).topic, "/");
  EXPECT_EQ(must_as<Publish>(frame(0x30, "00 06 24 53 59 53 2f 78"), k4).topic, "$SYS/x");
  EXPECT_EQ(must_as<Publish>(frame(0x30, "00 02 c3 a9"), k4).topic, "\xc3\xa9");
}

TEST(DecodeAcks, V311) {
  EXPECT_EQ(must_as<PubAck>("40 02 00 01", k4).packet_id, 1);
  EXPECT_EQ(must_as<PubRec>("50 02 00 02", k4).packet_id, 2);
  EXPECT_EQ(must_as<PubRel>("62 02 00 03", k4).packet_id, 3);
  EXPECT_EQ(must_as<PubComp>("70 02 ff ff", k4).packet_id, 0xffff);
}

TEST(DecodeAcks, V5ShortAndLongForms) {
  auto a = must_as<PubAck>("40 02 00 01", k5);
  EXPECT_EQ(a.reason, 0);
  EXPECT_TRUE(a.props.empty());
  EXPECT_EQ(must_as<PubAck>("40 03 00 01 10", k5).reason, rc::kNoMatchingSubscribers);
  auto b = must_as<PubAck>("40 08 00 01 87 04 1f 00 01 78", k5);
  EXPECT_EQ(b.reason, rc::kNotAuthorized);
  EXPECT_EQ(b.props.reason_string, "x");
  // Long form of the default: reason 0 and an empty property block.
  auto c = must_as<PubRec>("50 04 00 01 00 00", k5);
  EXPECT_EQ(c.reason, 0);
  EXPECT_TRUE(c.props.empty());
  EXPECT_EQ(must_as<PubRel>("62 03 00 03 92", k5).reason, rc::kPacketIdentifierNotFound);
  EXPECT_EQ(must_as<PubComp>("70 03 00 04 92", k5).reason, rc::kPacketIdentifierNotFound);
  // Every PUBACK/PUBREC reason of MQTT 5 §3.4.2.1.
  for (uint8_t r : {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99}) {
    auto h = frame(0x50, "00 01 " + codec_test::to_hex(std::vector<uint8_t>{r}));
    EXPECT_EQ(must_as<PubRec>(h, k5).reason, r);
  }
}

TEST(DecodeSubscribe, V311) {
  auto s = must_as<Subscribe>("82 0c 00 0a 00 03 61 2f 62 01 00 01 23 02", k4);
  EXPECT_EQ(s.packet_id, 10);
  ASSERT_EQ(s.subscriptions.size(), 2u);
  EXPECT_EQ(s.subscriptions[0].filter, "a/b");
  EXPECT_EQ(s.subscriptions[0].options, (SubscriptionOptions{1, false, false, 0}));
  EXPECT_EQ(s.subscriptions[1].filter, "#");
  EXPECT_EQ(s.subscriptions[1].options.qos, 2);
}

TEST(DecodeSubscribe, V5OptionsAndSubscriptionIdentifier) {
  auto s = must_as<Subscribe>("82 0f 00 0a 02 0b 05 00 03 61 2f 62 2d 00 01 23 00", k5);
  EXPECT_EQ(s.props.subscription_identifiers, (std::vector<uint32_t>{5}));
  ASSERT_EQ(s.subscriptions.size(), 2u);
  // 0x2d = Retain Handling 2, Retain As Published, No Local, QoS 1.
  EXPECT_EQ(s.subscriptions[0].options, (SubscriptionOptions{1, true, true, 2}));
  EXPECT_EQ(s.subscriptions[1].options, (SubscriptionOptions{0, false, false, 0}));
}

TEST(DecodeSubscribe, SharedSubscriptionFilter) {
  // "$share/g/a/+" with QoS 1 and Retain Handling 1.
  auto s =
      must_as<Subscribe>(frame(0x82, "00 01 00 00 0c 24 73 68 61 72 65 2f 67 2f 61 2f 2b 11"), k5);
  ASSERT_EQ(s.subscriptions.size(), 1u);
  EXPECT_EQ(s.subscriptions[0].filter, "$share/g/a/+");
  EXPECT_EQ(s.subscriptions[0].options.retain_handling, 1);
}

TEST(DecodeSubAck, BothVersions) {
  auto a = must_as<SubAck>("90 04 00 0a 01 80", k4);
  EXPECT_EQ(a.packet_id, 10);
  EXPECT_EQ(a.reasons, (std::vector<uint8_t>{0x01, 0x80}));
  auto b = must_as<SubAck>("90 09 00 0a 04 1f 00 01 78 00 97", k5);
  EXPECT_EQ(b.props.reason_string, "x");
  EXPECT_EQ(b.reasons, (std::vector<uint8_t>{0x00, 0x97}));
  auto all = must_as<SubAck>(frame(0x90, "00 01 00 00 01 02 80 83 87 8f 91 97 9e a1 a2"), k5);
  EXPECT_EQ(all.reasons.size(), 12u);
}

TEST(DecodeUnsubscribe, BothVersions) {
  auto u = must_as<Unsubscribe>("a2 0a 00 0b 00 03 61 2f 62 00 01 23", k4);
  EXPECT_EQ(u.packet_id, 11);
  EXPECT_EQ(u.filters, (std::vector<std::string>{"a/b", "#"}));
  auto v = must_as<Unsubscribe>("a2 0f 00 0b 07 26 00 01 6b 00 01 76 00 03 61 2f 62", k5);
  EXPECT_EQ(v.filters, (std::vector<std::string>{"a/b"}));
  ASSERT_EQ(v.props.user_properties.size(), 1u);
}

TEST(DecodeUnsubAck, BothVersions) {
  auto a = must_as<UnsubAck>("b0 02 00 0b", k4);
  EXPECT_EQ(a.packet_id, 11);
  EXPECT_TRUE(a.reasons.empty());
  auto b = must_as<UnsubAck>("b0 05 00 0b 00 00 11", k5);
  EXPECT_EQ(b.reasons, (std::vector<uint8_t>{0x00, 0x11}));
}

TEST(DecodePing, BothVersions) {
  for (auto v : {k4, k5}) {
    EXPECT_TRUE(std::holds_alternative<PingReq>(must("c0 00", v)));
    EXPECT_TRUE(std::holds_alternative<PingResp>(must("d0 00", v)));
  }
}

TEST(DecodeDisconnect, V311AndV5Forms) {
  EXPECT_EQ(must_as<Disconnect>("e0 00", k4), Disconnect{});
  auto a = must_as<Disconnect>("e0 00", k5);
  EXPECT_EQ(a.reason, 0);
  EXPECT_EQ(must_as<Disconnect>("e0 01 04", k5).reason, rc::kDisconnectWithWill);
  auto b = must_as<Disconnect>("e0 06 8b 04 1f 00 01 78", k5);
  EXPECT_EQ(b.reason, rc::kServerShuttingDown);
  EXPECT_EQ(b.props.reason_string, "x");
  auto c = must_as<Disconnect>("e0 07 00 05 11 00 00 00 00", k5);
  EXPECT_EQ(c.props.session_expiry_interval, 0u);
}

TEST(DecodeAuth, V5Forms) {
  EXPECT_EQ(must_as<Auth>("f0 00", k5).reason, 0);
  EXPECT_EQ(must_as<Auth>("f0 01 18", k5).reason, rc::kContinueAuthentication);
  auto a = must_as<Auth>("f0 0a 19 08 15 00 01 6d 16 00 01 01", k5);
  EXPECT_EQ(a.reason, rc::kReAuthenticate);
  EXPECT_EQ(a.props.authentication_method, "m");
  EXPECT_EQ(a.props.authentication_data, (Bytes{0x01}));
}

TEST(DecodeFrame, NonMinimalRemainingLengthAccepted) {
  // Receivers accept a non-minimal varint (only senders must be minimal).
  EXPECT_TRUE(std::holds_alternative<PingReq>(must("c0 80 00", k4)));
}

TEST(DecodeFrame, LongRemainingLength) {
  // Remaining length 205 = varint cd 01: topic "a/b" (5 bytes) + 200 payload bytes.
  std::vector<uint8_t> f = hex("30 cd 01 00 03 61 2f 62");
  f.resize(f.size() + 200, 0x41);
  auto r = decode(f, k4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<Publish>(*r).payload.size(), 200u);
}

// ---------------------------------------------------------------------------------------------
// Frame-level errors

TEST(DecodeErrors, FrameStructure) {
  EXPECT_EQ(err("", k5), 0x81);       // nothing
  EXPECT_EQ(err("c0", k5), 0x81);     // no remaining length
  EXPECT_EQ(err("30 80", k5), 0x81);  // remaining length cut off
  EXPECT_EQ(err("c0 01", k5), 0x81);  // body shorter than remaining length
  EXPECT_EQ(err("30 05 00 03 61", k5), 0x81);
  EXPECT_EQ(err("c0 00 00", k5), 0x81);  // body longer than remaining length
  EXPECT_EQ(err("40 02 00 01 00", k4), 0x81);
  EXPECT_EQ(err("30 ff ff ff ff 7f", k5), 0x81);  // 5-byte remaining length
}

TEST(DecodeErrors, ReservedPacketTypes) {
  EXPECT_EQ(err("00 00", k4), 0x81);
  EXPECT_EQ(err("00 00", k5), 0x81);
  EXPECT_EQ(err("f0 00", k4), 0x81);  // AUTH is reserved in 3.1.1
  EXPECT_EQ(err("f0 01 18", k4), 0x81);
}

TEST(DecodeErrors, FixedHeaderFlags) {
  for (auto v : {k4, k5}) {
    EXPECT_EQ(err(frame(0x11, kMqtt + "04 02 00 3c 00 01 63"), v), 0x81) << "CONNECT";
    EXPECT_EQ(err("21 02 00 00", v), 0x81) << "CONNACK";
    EXPECT_EQ(err("48 02 00 01", v), 0x81) << "PUBACK";
    EXPECT_EQ(err("51 02 00 01", v), 0x81) << "PUBREC";
    EXPECT_EQ(err("60 02 00 01", v), 0x81) << "PUBREL 0000";
    EXPECT_EQ(err("63 02 00 01", v), 0x81) << "PUBREL 0011";
    EXPECT_EQ(err("6a 02 00 01", v), 0x81) << "PUBREL 1010";
    EXPECT_EQ(err("72 02 00 01", v), 0x81) << "PUBCOMP";
    EXPECT_EQ(err("80 08 00 0a 00 03 61 2f 62 00", v), 0x81) << "SUBSCRIBE 0000";
    EXPECT_EQ(err("83 08 00 0a 00 03 61 2f 62 00", v), 0x81) << "SUBSCRIBE 0011";
    EXPECT_EQ(err("92 03 00 0a 00", v), 0x81) << "SUBACK";
    EXPECT_EQ(err("a0 07 00 0b 00 03 61 2f 62", v), 0x81) << "UNSUBSCRIBE 0000";
    EXPECT_EQ(err("a6 07 00 0b 00 03 61 2f 62", v), 0x81) << "UNSUBSCRIBE 0110";
    EXPECT_EQ(err("b1 02 00 0b", v), 0x81) << "UNSUBACK";
    EXPECT_EQ(err("c1 00", v), 0x81) << "PINGREQ";
    EXPECT_EQ(err("d8 00", v), 0x81) << "PINGRESP";
    EXPECT_EQ(err("e2 00", v), 0x81) << "DISCONNECT";
  }
  EXPECT_EQ(err("f1 00", k5), 0x81) << "AUTH";
  EXPECT_EQ(err("f8 01 18", k5), 0x81) << "AUTH";
}

TEST(DecodeErrors, PacketsWithoutBodyMustBeEmpty) {
  for (auto v : {k4, k5}) {
    EXPECT_EQ(err("c0 01 00", v), 0x81);
    EXPECT_EQ(err("d0 01 00", v), 0x81);
  }
  EXPECT_EQ(err("e0 01 00", k4), 0x81);  // 3.1.1 DISCONNECT has no reason code
}

// ---------------------------------------------------------------------------------------------
// PUBLISH

TEST(DecodeErrors, PublishFlags) {
  for (auto v : {k4, k5}) {
    EXPECT_EQ(err(frame(0x36, "00 03 61 2f 62 00 01"), v), 0x81) << "QoS 3";
    EXPECT_EQ(err(frame(0x37, "00 03 61 2f 62 00 01"), v), 0x81) << "QoS 3 + retain";
    EXPECT_EQ(err(frame(0x38, "00 03 61 2f 62 68 69"), v), 0x81) << "DUP with QoS 0";
    EXPECT_EQ(err(frame(0x39, "00 03 61 2f 62 68 69"), v), 0x81) << "DUP with QoS 0 + retain";
  }
}

TEST(DecodeErrors, PublishPacketIdentifierZero) {
  EXPECT_EQ(err(frame(0x32, "00 03 61 2f 62 00 00"), k4), 0x82);
  EXPECT_EQ(err(frame(0x34, "00 03 61 2f 62 00 00 00"), k5), 0x82);
  EXPECT_EQ(err(frame(0x32, "00 03 61 2f 62 00"), k4), 0x81);  // packet id cut in half
}

TEST(DecodeErrors, PublishTopicName) {
  for (auto v : {k4, k5}) {
    std::string props = v == k5 ? " 00" : "";
    EXPECT_EQ(err(frame(0x30, "00 03 61 2f 2b" + props), v), 0x90) << "a/+";
    EXPECT_EQ(err(frame(0x30, "00 01 23" + props), v), 0x90) << "#";
    EXPECT_EQ(err(frame(0x30, "00 03 61 2b 62" + props), v), 0x90) << "a+b";
    EXPECT_EQ(err(frame(0x30, "00 03 61 ff 62" + props), v), 0x81) << "0xff";
    EXPECT_EQ(err(frame(0x30, "00 03 61 00 62" + props), v), 0x81) << "U+0000";
    EXPECT_EQ(err(frame(0x30, "00 03 ed a0 80" + props), v), 0x81) << "surrogate";
    EXPECT_EQ(err(frame(0x30, "00 02 c0 af" + props), v), 0x81) << "over-long";
    EXPECT_EQ(err(frame(0x30, "00 05 61"), v), 0x81) << "truncated topic";
    EXPECT_EQ(err(frame(0x30, "00"), v), 0x81) << "truncated length";
  }
  EXPECT_EQ(err(frame(0x30, "00 00 68 69"), k4), 0x81) << "empty topic, 3.1.1";
  EXPECT_EQ(err(frame(0x30, "00 00 00 68 69"), k5), 0x82) << "empty topic, no alias";
  EXPECT_EQ(err(frame(0x30, "00 00 04 01 01 02 00"), k5), 0x81) << "empty topic, bad props";
}

TEST(DecodeErrors, PublishProperties) {
  EXPECT_EQ(err(frame(0x30, "00 01 61 03 23 00 00"), k5), 0x94) << "Topic Alias 0";
  EXPECT_EQ(err(frame(0x30, "00 01 61 05 11 00 00 00 01"), k5), 0x81) << "Session Expiry";
  EXPECT_EQ(err(frame(0x30, "00 01 61 05 01"), k5), 0x81) << "length past the end";
  EXPECT_EQ(err(frame(0x30, "00 01 61"), k5), 0x81) << "no property length";
  EXPECT_EQ(err(frame(0x30, "00 01 61 04 01 00 01 01"), k5), 0x82) << "duplicate PFI";
  EXPECT_EQ(err(frame(0x30, "00 01 61 06 08 00 03 61 2f 23"), k5), 0x82) << "Response Topic a/#";
  auto p = must_as<Publish>(frame(0x30, "00 01 61 04 0b 01 0b 02"), k5);
  EXPECT_EQ(p.props.subscription_identifiers, (std::vector<uint32_t>{1, 2}));
}

// ---------------------------------------------------------------------------------------------
// CONNECT

TEST(DecodeErrors, ConnectProtocolNameAndLevel) {
  // "MQIsdp" level 3 (MQTT 3.1).
  EXPECT_EQ(err(frame(0x10, "00 06 4d 51 49 73 64 70 03 02 00 3c 00 01 63"), k4), 0x84);
  EXPECT_EQ(err(frame(0x10, "00 04 4d 51 54 58 04 02 00 3c 00 01 63"), k4), 0x84);  // "MQTX"
  EXPECT_EQ(err(frame(0x10, "00 04 6d 71 74 74 04 02 00 3c 00 01 63"), k4), 0x84);  // "mqtt"
  EXPECT_EQ(err(frame(0x10, "00 00 04 02 00 3c 00 01 63"), k4), 0x84);              // ""
  for (const char* level : {"00", "03", "06", "ff"}) {
    EXPECT_EQ(err(frame(0x10, kMqtt + level + " 02 00 3c 00 01 63"), k5), 0x84) << level;
  }
  EXPECT_EQ(err(frame(0x10, "00 04 4d 51"), k4), 0x81);       // name cut off
  EXPECT_EQ(err(frame(0x10, kMqtt), k4), 0x81);               // level missing
  EXPECT_EQ(err(frame(0x10, kMqtt + "04"), k4), 0x81);        // flags missing
  EXPECT_EQ(err(frame(0x10, kMqtt + "04 02 00"), k4), 0x81);  // keep alive cut off
}

TEST(DecodeErrors, ConnectFlags) {
  for (const char* level : {"04", "05"}) {
    auto v = std::string(level) == "04" ? k4 : k5;
    std::string props = v == k5 ? " 00" : "";
    auto connect = [&](const char* flags, const std::string& payload) {
      return frame(0x10, kMqtt + level + " " + flags + " 00 3c" + props + " " + payload);
    };
    EXPECT_EQ(err(connect("03", "00 01 63"), v), 0x81) << "reserved bit";
    EXPECT_EQ(err(connect("01", "00 01 63"), v), 0x81) << "reserved bit";
    std::string will = (v == k5 ? "00 " : "") + std::string("00 01 74 00 00");
    EXPECT_EQ(err(connect("1e", "00 01 63 " + will), v), 0x81) << "will QoS 3";
    EXPECT_EQ(err(connect("0a", "00 01 63"), v), 0x82) << "will QoS 1 without will flag";
    EXPECT_EQ(err(connect("12", "00 01 63"), v), 0x82) << "will QoS 2 without will flag";
    EXPECT_EQ(err(connect("22", "00 01 63"), v), 0x82) << "will retain without will flag";
    EXPECT_EQ(err(connect("82", "00 01 63"), v), 0x81) << "user name flag, no user name";
    EXPECT_EQ(err(connect("c2", "00 01 63 00 01 75"), v), 0x81) << "password flag, no password";
    EXPECT_EQ(err(connect("06", "00 01 63"), v), 0x81) << "will flag, no will";
    EXPECT_EQ(err(connect("02", "00 01 63 00"), v), 0x81) << "trailing byte";
    EXPECT_EQ(err(connect("02", "00 01 63 00 01 75"), v), 0x81) << "user name without flag";
    EXPECT_EQ(err(connect("02", "00 01 ff"), v), 0x81) << "client id 0xff";
    EXPECT_EQ(err(connect("02", "00 02 c0 80"), v), 0x81) << "client id over-long NUL";
    EXPECT_EQ(err(connect("02", "00 01 00"), v), 0x81) << "client id U+0000";
    EXPECT_EQ(err(connect("82", "00 01 63 00 01 ff"), v), 0x81) << "user name 0xff";
    EXPECT_EQ(
        err(connect("06", "00 01 63 " + (v == k5 ? std::string("00 ") : "") + "00 01 ff 00 00"), v),
        0x81)
        << "will topic 0xff";
    EXPECT_EQ(err(connect("06", "00 01 63 " + (v == k5 ? std::string("00 ") : "") +
                                    "00 03 61 2f 2b 00 00"),
                  v),
              0x90)
        << "will topic a/+";
    EXPECT_EQ(
        err(connect("06", "00 01 63 " + (v == k5 ? std::string("00 ") : "") + "00 00 00 00"), v),
        0x90)
        << "empty will topic";
    EXPECT_EQ(
        err(connect("06", "00 01 63 " + (v == k5 ? std::string("00 ") : "") + "00 01 74 00"), v),
        0x81)
        << "will payload cut off";
  }
  // 3.1.1 forbids a password without a user name; MQTT 5 allows it.
  EXPECT_EQ(err(frame(0x10, kMqtt + "04 42 00 3c 00 01 63 00 02 70 77"), k4), 0x81);
  EXPECT_EQ(err(frame(0x10, kMqtt + "05 42 00 3c 00 00 01 63 00 02 70 77"), k5), 0);
}

TEST(DecodeErrors, ConnectEmptyClientIdWithoutCleanSession311) {
  EXPECT_EQ(err(frame(0x10, kMqtt + "04 00 00 3c 00 00"), k4), 0x85);
  EXPECT_EQ(to_v311_connack(0x85), rc311::kIdentifierRejected);
}

TEST(DecodeErrors, ConnectV5Properties) {
  auto connect = [&](const std::string& props, const std::string& will_props = "") {
    std::string flags = will_props.empty() ? "02" : "06";
    std::string will = will_props.empty() ? "" : " " + will_props + " 00 01 74 00 00";
    return frame(0x10, kMqtt + "05 " + flags + " 00 3c " + props + " 00 01 63" + will);
  };
  EXPECT_EQ(err(connect("00"), k5), 0);
  EXPECT_EQ(err(connect("00", "00"), k5), 0);
  EXPECT_EQ(err(connect("05 18 00 00 00 0a"), k5), 0x81) << "Will Delay in CONNECT properties";
  EXPECT_EQ(err(connect("00", "05 11 00 00 00 0a"), k5), 0x81) << "Session Expiry in will props";
  EXPECT_EQ(err(connect("00", "03 23 00 01"), k5), 0x81) << "Topic Alias in will props";
  EXPECT_EQ(err(connect("03 21 00 00"), k5), 0x82) << "Receive Maximum 0";
  EXPECT_EQ(err(connect("05 27 00 00 00 00"), k5), 0x82) << "Maximum Packet Size 0";
  EXPECT_EQ(err(connect("04 16 00 01 01"), k5), 0x82) << "Authentication Data without Method";
  EXPECT_EQ(err(connect("04 17 00 17 01"), k5), 0x82) << "duplicate Request Problem Info";
  EXPECT_EQ(err(connect("00", "04 01 00 01 01"), k5), 0x82) << "duplicate PFI in will";
  EXPECT_EQ(err(connect("09 11 00 00"), k5), 0x81) << "properties past the end";
  auto c = must_as<Connect>(connect("05 11 00 00 00 0a", "05 18 00 00 00 0a"), k5);
  EXPECT_EQ(c.props.session_expiry_interval, 10u);
  EXPECT_EQ(c.will->props.will_delay_interval, 10u);
}

// ---------------------------------------------------------------------------------------------
// CONNACK

TEST(DecodeErrors, ConnAck) {
  for (auto v : {k4, k5}) {
    std::string props = v == k5 ? " 00" : "";
    EXPECT_EQ(err(frame(0x20, "02 00" + props), v), 0x81) << "reserved ack flag bit 1";
    EXPECT_EQ(err(frame(0x20, "80 00" + props), v), 0x81) << "reserved ack flag bit 7";
    EXPECT_EQ(err(frame(0x20, "00"), v), 0x81) << "no return code";
  }
  EXPECT_EQ(err("20 02 00 06", k4), 0x82) << "3.1.1 return code 6";
  EXPECT_EQ(err("20 02 00 80", k4), 0x82) << "3.1.1 return code 0x80";
  EXPECT_EQ(err("20 02 01 01", k4), 0x82) << "3.1.1 session present with refusal";
  EXPECT_EQ(err("20 03 00 00 00", k4), 0x81) << "3.1.1 trailing byte";
  EXPECT_EQ(err("20 03 01 80 00", k5), 0x82) << "session present with 0x80";
  EXPECT_EQ(err("20 03 00 01 00", k5), 0x82) << "0x01 is not a CONNACK reason";
  EXPECT_EQ(err("20 03 00 8b 00", k5), 0x82) << "0x8b is not a CONNACK reason";
  EXPECT_EQ(err("20 02 00 00", k5), 0x81) << "no property length";
  EXPECT_EQ(err(frame(0x20, "00 00 02 24 02"), k5), 0x82) << "Maximum QoS 2";
  EXPECT_EQ(err(frame(0x20, "00 00 03 23 00 01"), k5), 0x81) << "Topic Alias in CONNACK";
  for (uint8_t r : {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                    0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F}) {
    EXPECT_EQ(
        must_as<ConnAck>(frame(0x20, "00 " + codec_test::to_hex(Bytes{r}) + " 00"), k5).reason, r);
  }
}

// ---------------------------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP

TEST(DecodeErrors, AckPacketIdentifierZeroAndLength) {
  for (auto v : {k4, k5}) {
    EXPECT_EQ(err("40 02 00 00", v), 0x82);
    EXPECT_EQ(err("50 02 00 00", v), 0x82);
    EXPECT_EQ(err("62 02 00 00", v), 0x82);
    EXPECT_EQ(err("70 02 00 00", v), 0x82);
    EXPECT_EQ(err("40 01 00", v), 0x81);
    EXPECT_EQ(err("40 00", v), 0x81);
  }
  EXPECT_EQ(err("40 03 00 01 00", k4), 0x81) << "3.1.1 has no reason code";
  EXPECT_EQ(err("62 03 00 01 00", k4), 0x81);
}

TEST(DecodeErrors, AckReasonCodes) {
  EXPECT_EQ(err("40 03 00 01 92", k5), 0x82) << "0x92 is not a PUBACK reason";
  EXPECT_EQ(err("50 03 00 01 01", k5), 0x82) << "0x01 is not a PUBREC reason";
  EXPECT_EQ(err("62 03 00 01 10", k5), 0x82) << "0x10 is not a PUBREL reason";
  EXPECT_EQ(err("70 03 00 01 80", k5), 0x82) << "0x80 is not a PUBCOMP reason";
  EXPECT_EQ(err("40 07 00 01 00 03 23 00 01", k5), 0x81) << "Topic Alias in PUBACK";
  EXPECT_EQ(err("40 05 00 01 00 05 1f", k5), 0x81) << "properties past the end";
  EXPECT_EQ(err("40 09 00 01 00 04 1f 00 01 78 00", k5), 0x81) << "trailing byte";
}

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE

TEST(DecodeErrors, SubscribeStructure) {
  EXPECT_EQ(err("82 02 00 0a", k4), 0x82) << "no entries, 3.1.1 (\"protocol violation\")";
  EXPECT_EQ(err("82 03 00 0a 00", k5), 0x82) << "no entries, 5";
  EXPECT_EQ(err("82 02 00 0a", k5), 0x81) << "no property length";
  EXPECT_EQ(err(frame(0x82, "00 00 00 01 61 00"), k4), 0x82) << "packet id 0";
  EXPECT_EQ(err(frame(0x82, "00 00 00 00 01 61 00"), k5), 0x82) << "packet id 0";
  EXPECT_EQ(err(frame(0x82, "00 0a 00 01 61"), k4), 0x81) << "options byte missing";
  EXPECT_EQ(err(frame(0x82, "00 0a 00 01 61 00 00"), k4), 0x81) << "half an entry";
  EXPECT_EQ(err(frame(0x82, "00 0a 00 01 ff 00"), k4), 0x81) << "filter 0xff";
  EXPECT_EQ(err(frame(0x82, "00 0a 04 0b 01 0b 02 00 01 61 00"), k5), 0x82)
      << "two Subscription Identifiers";
  EXPECT_EQ(err(frame(0x82, "00 0a 02 0b 00 00 01 61 00"), k5), 0x82) << "Subscription Id 0";
  EXPECT_EQ(err(frame(0x82, "00 0a 03 23 00 01 00 01 61 00"), k5), 0x81) << "Topic Alias";
}

TEST(DecodeErrors, SubscribeFilters) {
  for (auto v : {k4, k5}) {
    std::string props = v == k5 ? "00 " : "";
    auto sub = [&](const std::string& filter_hex) {
      return frame(0x82, "00 0a " + props + filter_hex + " 00");
    };
    EXPECT_EQ(err(sub("00 00"), v), 0x8F) << "empty filter";
    EXPECT_EQ(err(sub("00 05 61 2f 23 2f 62"), v), 0x8F) << "a/#/b";
    EXPECT_EQ(err(sub("00 02 61 23"), v), 0x8F) << "a#";
    EXPECT_EQ(err(sub("00 02 61 2b"), v), 0x8F) << "a+";
    EXPECT_EQ(err(sub("00 08 24 73 68 61 72 65 2f 67"), v), 0x8F) << "$share/g";
    EXPECT_EQ(err(sub("00 09 24 73 68 61 72 65 2f 2f 61"), v), 0x8F) << "$share//a";
    // A good first entry does not excuse a bad second one.
    EXPECT_EQ(err(frame(0x82, "00 0a " + props + "00 01 61 00 00 02 23 23 00"), v), 0x8F);
  }
}

TEST(DecodeErrors, SubscribeOptionsV311) {
  auto sub = [](const char* options) {
    return frame(0x82, std::string("00 0a 00 01 61 ") + options);
  };
  EXPECT_EQ(err(sub("03"), k4), 0x81) << "QoS 3";
  EXPECT_EQ(err(sub("04"), k4), 0x81) << "bit 2 (v5 No Local)";
  EXPECT_EQ(err(sub("10"), k4), 0x81) << "bit 4";
  EXPECT_EQ(err(sub("80"), k4), 0x81) << "bit 7";
  EXPECT_EQ(err(sub("02"), k4), 0);
}

TEST(DecodeErrors, SubscribeOptionsV5) {
  auto sub = [](const char* filter_hex, const char* options) {
    return frame(0x82, std::string("00 0a 00 ") + filter_hex + " " + options);
  };
  const char* a = "00 01 61";
  EXPECT_EQ(err(sub(a, "40"), k5), 0x81) << "reserved bit 6";
  EXPECT_EQ(err(sub(a, "80"), k5), 0x81) << "reserved bit 7";
  EXPECT_EQ(err(sub(a, "c3"), k5), 0x81) << "reserved bits win over QoS 3";
  EXPECT_EQ(err(sub(a, "03"), k5), 0x82) << "Maximum QoS 3 (MQTT 5 §3.8.3.1: Protocol Error)";
  EXPECT_EQ(err(sub(a, "30"), k5), 0x82) << "Retain Handling 3";
  EXPECT_EQ(err(sub(a, "3e"), k5), 0x82) << "Retain Handling 3 with other options";
  const char* shared = "00 0a 24 73 68 61 72 65 2f 67 2f 61";  // "$share/g/a"
  EXPECT_EQ(err(sub(shared, "04"), k5), 0x82) << "No Local on a shared subscription";
  EXPECT_EQ(err(sub(shared, "01"), k5), 0);
  EXPECT_EQ(err(sub(a, "04"), k5), 0);
  EXPECT_EQ(err(sub(a, "2e"), k5), 0);
}

// ---------------------------------------------------------------------------------------------
// SUBACK, UNSUBSCRIBE, UNSUBACK

TEST(DecodeErrors, SubAck) {
  EXPECT_EQ(err("90 03 00 0a 03", k4), 0x82) << "3.1.1 return code 3";
  EXPECT_EQ(err("90 03 00 0a 81", k4), 0x82) << "3.1.1 return code 0x81";
  EXPECT_EQ(err("90 03 00 0a 97", k4), 0x82) << "v5-only code in 3.1.1";
  EXPECT_EQ(err("90 04 00 0a 00 03", k5), 0x82) << "0x03 is not a SUBACK reason";
  EXPECT_EQ(err("90 04 00 0a 00 10", k5), 0x82) << "0x10 is not a SUBACK reason";
  EXPECT_EQ(err("90 02 00 0a", k4), 0x82) << "no return codes, 3.1.1";
  EXPECT_EQ(err("90 03 00 0a 00", k5), 0x82) << "no reason codes, 5";
  EXPECT_EQ(err("90 03 00 00 00", k4), 0x82) << "packet id 0";
  EXPECT_EQ(err("90 04 00 00 00 00", k5), 0x82) << "packet id 0";
  EXPECT_EQ(err("90 06 00 0a 02 0b 01 00", k5), 0x81) << "Subscription Id in SUBACK";
}

TEST(DecodeErrors, Unsubscribe) {
  EXPECT_EQ(err("a2 02 00 0b", k4), 0x82) << "no filters, 3.1.1";
  EXPECT_EQ(err("a2 03 00 0b 00", k5), 0x82) << "no filters, 5";
  EXPECT_EQ(err("a2 05 00 00 00 01 61", k4), 0x82) << "packet id 0";
  EXPECT_EQ(err("a2 06 00 00 00 00 01 61", k5), 0x82) << "packet id 0";
  EXPECT_EQ(err("a2 05 00 0b 00 01 ff", k4), 0x81) << "filter 0xff";
  EXPECT_EQ(err("a2 06 00 0b 00 02 23 61", k4), 0x8F) << "#a";
  EXPECT_EQ(err(frame(0xa2, "00 0b 00 00 00"), k5), 0x8F) << "empty filter";
  EXPECT_EQ(err(frame(0xa2, "00 0b 00 02 61"), k4), 0x81) << "filter cut off";
  EXPECT_EQ(err("a2 08 00 0b 02 0b 01 00 01 61", k5), 0x81) << "Subscription Id in UNSUBSCRIBE";
}

TEST(DecodeErrors, UnsubAck) {
  EXPECT_EQ(err("b0 03 00 0b 00", k4), 0x81) << "3.1.1 UNSUBACK has no payload";
  EXPECT_EQ(err("b0 02 00 00", k4), 0x82) << "packet id 0";
  EXPECT_EQ(err("b0 04 00 00 00 00", k5), 0x82) << "packet id 0";
  EXPECT_EQ(err("b0 03 00 0b 00", k5), 0x82) << "no reason codes";
  EXPECT_EQ(err("b0 04 00 0b 00 01", k5), 0x82) << "0x01 is not an UNSUBACK reason";
  EXPECT_EQ(err("b0 04 00 0b 00 10", k5), 0x82) << "0x10 is not an UNSUBACK reason";
  EXPECT_EQ(err("b0 02 00 0b", k5), 0x81) << "no property length";
  EXPECT_EQ(must_as<UnsubAck>(frame(0xb0, "00 0b 00 00 11 80 83 87 8f 91"), k5).reasons.size(), 7u);
}

// ---------------------------------------------------------------------------------------------
// DISCONNECT, AUTH

TEST(DecodeErrors, DisconnectV5) {
  EXPECT_EQ(err("e0 01 01", k5), 0x82) << "0x01 is not a DISCONNECT reason";
  EXPECT_EQ(err("e0 01 18", k5), 0x82) << "0x18 is not a DISCONNECT reason";
  EXPECT_EQ(err("e0 01 84", k5), 0x82) << "0x84 is not a DISCONNECT reason";
  EXPECT_EQ(err("e0 03 00 05 1f", k5), 0x81) << "properties past the end";
  EXPECT_EQ(err("e0 05 00 03 23 00 01", k5), 0x81) << "Topic Alias in DISCONNECT";
  EXPECT_EQ(err("e0 03 00 00 00", k5), 0x81) << "trailing byte";
  for (uint8_t r :
       {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
        0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2}) {
    EXPECT_EQ(must_as<Disconnect>(frame(0xe0, codec_test::to_hex(Bytes{r})), k5).reason, r);
  }
}

TEST(DecodeErrors, AuthV5) {
  EXPECT_EQ(err("f0 01 01", k5), 0x82) << "0x01 is not an AUTH reason";
  EXPECT_EQ(err("f0 01 80", k5), 0x82) << "0x80 is not an AUTH reason";
  EXPECT_EQ(err("f0 07 18 05 11 00 00 00 01", k5), 0x81) << "Session Expiry in AUTH";
  EXPECT_EQ(err("f0 03 18 05 15", k5), 0x81) << "properties past the end";
  EXPECT_EQ(err("f0 0a 18 08 15 00 01 6d 15 00 01 6d", k5), 0x82) << "duplicate method";
  // §3.15.2.2.2: once there is a property block, the Authentication Method must be in it.
  EXPECT_EQ(err("f0 02 18 00", k5), 0x82) << "empty property block";
  EXPECT_EQ(err("f0 02 00 00", k5), 0x82) << "long form of the empty AUTH";
  EXPECT_EQ(err("f0 06 18 04 16 00 01 78", k5), 0x82) << "data without method";
  EXPECT_EQ(must_as<Auth>("f0 06 18 04 15 00 01 6d", k5).props.authentication_method, "m");
}

// ---------------------------------------------------------------------------------------------
// Errors are found in wire order.

TEST(DecodeErrors, FirstOffendingFieldDecides) {
  // Packet id 0 (0x82) comes before the bad property block (0x81).
  EXPECT_EQ(err(frame(0x32, "00 01 61 00 00 05 01"), k5), 0x82);
  // Wildcard topic (0x90) comes before packet id 0.
  EXPECT_EQ(err(frame(0x32, "00 01 23 00 00 00"), k5), 0x90);
  // Flags (0x81) before everything in the body.
  EXPECT_EQ(err(frame(0x36, "00 01 23 00 00 00"), k5), 0x81);
}

// ---------------------------------------------------------------------------------------------
// peek_connect_level

TEST(PeekConnectLevel, Levels) {
  EXPECT_EQ(peek_connect_level(hex("10 0d" + kMqtt + "04 02 00 3c 00 01 63")), 4);
  EXPECT_EQ(peek_connect_level(hex("10 0e" + kMqtt + "05 02 00 3c 00 00 01 63")), 5);
  // Any level byte is reported when the name is "MQTT"; the caller decides what to answer.
  EXPECT_EQ(peek_connect_level(hex("10 0d" + kMqtt + "03 02 00 3c 00 01 63")), 3);
  // Only the prefix up to the level is needed.
  EXPECT_EQ(peek_connect_level(hex("10 0e" + kMqtt + "05")), 5);
}

TEST(PeekConnectLevel, NotApplicable) {
  EXPECT_EQ(peek_connect_level(hex("")), std::nullopt);
  EXPECT_EQ(peek_connect_level(hex("10")), std::nullopt);
  EXPECT_EQ(peek_connect_level(hex("10 0e 00 04 4d 51 54")), std::nullopt);
  EXPECT_EQ(peek_connect_level(hex("10 0e" + kMqtt)), std::nullopt);
  EXPECT_EQ(peek_connect_level(hex("10 0f 00 06 4d 51 49 73 64 70 03 02 00 3c 00 01 63")),
            std::nullopt);
  EXPECT_EQ(peek_connect_level(hex("20 0d" + kMqtt + "04 02 00 3c 00 01 63")), std::nullopt);
  EXPECT_EQ(peek_connect_level(hex("10 ff ff ff ff ff")), std::nullopt);
}

}  // namespace
}  // namespace mquictt::codec
