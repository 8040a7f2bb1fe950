// encode() byte for byte against frames written by hand from the spec (at least one per packet
// type and version), encoded_size() == encode().size(), and decode() of the same bytes giving the
// packet back.

#include "codec/encoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec/decoder.h"
#include "codec/reason_code.h"
#include "unit/codec/hex.h"

namespace mquictt::codec {
namespace {

using codec_test::bytes;
using codec_test::hex;
using codec_test::norm_hex;
using codec_test::to_hex;

constexpr ProtocolVersion k4 = ProtocolVersion::kV311;
constexpr ProtocolVersion k5 = ProtocolVersion::kV5;

template <typename T>
Packet ack(uint16_t id, uint8_t reason = 0, Properties props = {}) {
  T a;
  a.packet_id = id;
  a.reason = reason;
  a.props = std::move(props);
  return a;
}

Properties reason_string(const char* s) {
  Properties p;
  p.reason_string = s;
  return p;
}

Properties user_kv() {
  Properties p;
  p.user_properties = {{"k", "v"}};
  return p;
}

struct Example {
  std::string name;
  ProtocolVersion version;
  Packet packet;
  std::string hex;
};

std::vector<Example> examples() {
  std::vector<Example> e;

  // CONNECT ------------------------------------------------------------------------------------
  {
    Connect c;
    c.version = k4;
    c.client_id = "c";
    e.push_back({"connect 3.1.1 minimal", k4, c, "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 63"});
  }
  {
    Connect c;
    c.version = k4;
    c.keep_alive = 10;
    c.client_id = "c1";
    c.will = Will{"w/t", bytes("by"), 1, true, {}};
    c.username = "u";
    c.password = bytes("pw");
    e.push_back({"connect 3.1.1 will user password", k4, c,
                 "10 1e 00 04 4d 51 54 54 04 ee 00 0a"
                 "00 02 63 31 00 03 77 2f 74 00 02 62 79 00 01 75 00 02 70 77"});
  }
  {
    Connect c;
    c.version = k4;
    c.clean_start = false;
    c.keep_alive = 0;
    c.client_id = "c";
    c.will = Will{"t", {}, 2, false, {}};
    e.push_back({"connect 3.1.1 will QoS 2, no clean session", k4, c,
                 "10 12 00 04 4d 51 54 54 04 14 00 00 00 01 63 00 01 74 00 00"});
  }
  {
    Connect c;
    c.client_id = "c";
    e.push_back({"connect 5 minimal", k5, c, "10 0e 00 04 4d 51 54 54 05 02 00 3c 00 00 01 63"});
  }
  {
    Connect c;
    c.keep_alive = 30;
    c.client_id = "c";
    c.props.session_expiry_interval = 120;
    c.props.receive_maximum = 20;
    Will w;
    w.topic = "t";
    w.props.will_delay_interval = 10;
    c.will = w;
    c.username = "u";
    e.push_back({"connect 5 properties and will properties", k5, c,
                 "10 24 00 04 4d 51 54 54 05 86 00 1e"
                 "08 11 00 00 00 78 21 00 14"
                 "00 01 63"
                 "05 18 00 00 00 0a 00 01 74 00 00"
                 "00 01 75"});
  }
  {
    Connect c;
    c.clean_start = false;
    c.client_id = "c";
    c.password = bytes("pw");
    e.push_back({"connect 5 password without user name", k5, c,
                 "10 12 00 04 4d 51 54 54 05 40 00 3c 00 00 01 63 00 02 70 77"});
  }

  // CONNACK ------------------------------------------------------------------------------------
  e.push_back({"connack 3.1.1 session present", k4, ConnAck{true, 0, {}}, "20 02 01 00"});
  e.push_back({"connack 3.1.1 not authorized", k4, ConnAck{false, rc311::kNotAuthorized, {}},
               "20 02 00 05"});
  e.push_back({"connack 5 success", k5, ConnAck{}, "20 03 00 00 00"});
  e.push_back({"connack 5 refused", k5, ConnAck{false, rc::kNotAuthorized, {}}, "20 03 00 87 00"});
  {
    ConnAck a;
    a.props.server_keep_alive = 10;
    a.props.maximum_qos = 1;
    a.props.retain_available = 0;
    e.push_back({"connack 5 properties", k5, a, "20 0a 00 00 07 13 00 0a 24 01 25 00"});
  }

  // PUBLISH ------------------------------------------------------------------------------------
  {
    Publish p;
    p.topic = "a/b";
    p.payload = bytes("hi");
    e.push_back({"publish 3.1.1 QoS 0", k4, p, "30 07 00 03 61 2f 62 68 69"});
    e.push_back({"publish 5 QoS 0", k5, p, "30 08 00 03 61 2f 62 00 68 69"});
  }
  {
    Publish p;
    p.dup = true;
    p.qos = 1;
    p.retain = true;
    p.topic = "a/b";
    p.packet_id = 10;
    p.payload = bytes("hi");
    e.push_back({"publish 3.1.1 QoS 1 dup retain", k4, p, "3b 09 00 03 61 2f 62 00 0a 68 69"});
  }
  {
    Publish p;
    p.qos = 2;
    p.topic = "a/b";
    p.packet_id = 11;
    e.push_back({"publish 3.1.1 QoS 2 empty payload", k4, p, "34 07 00 03 61 2f 62 00 0b"});
  }
  {
    Publish p;
    p.qos = 2;
    p.retain = true;
    p.topic = "a/b";
    p.packet_id = 1;
    p.props.payload_format_indicator = 1;
    p.props.message_expiry_interval = 60;
    p.props.topic_alias = 5;
    p.props.user_properties = {{"k", "v"}};
    p.payload = bytes("hi");
    e.push_back({"publish 5 QoS 2 properties", k5, p,
                 "35 1b 00 03 61 2f 62 00 01"
                 "11 01 01 02 00 00 00 3c 23 00 05 26 00 01 6b 00 01 76"
                 "68 69"});
  }
  {
    Publish p;
    p.props.topic_alias = 5;
    p.payload = bytes("x");
    e.push_back({"publish 5 empty topic with alias", k5, p, "30 07 00 00 03 23 00 05 78"});
  }

  // PUBACK, PUBREC, PUBREL, PUBCOMP -------------------------------------------------------------
  e.push_back({"puback 3.1.1", k4, ack<PubAck>(1), "40 02 00 01"});
  e.push_back({"pubrec 3.1.1", k4, ack<PubRec>(2), "50 02 00 02"});
  e.push_back({"pubrel 3.1.1", k4, ack<PubRel>(3), "62 02 00 03"});
  e.push_back({"pubcomp 3.1.1", k4, ack<PubComp>(4), "70 02 00 04"});
  e.push_back({"puback 5 short", k5, ack<PubAck>(1), "40 02 00 01"});
  e.push_back(
      {"puback 5 reason", k5, ack<PubAck>(1, rc::kNoMatchingSubscribers), "40 03 00 01 10"});
  e.push_back({"puback 5 reason and properties", k5,
               ack<PubAck>(1, rc::kNotAuthorized, reason_string("x")),
               "40 08 00 01 87 04 1f 00 01 78"});
  e.push_back({"puback 5 success with properties", k5, ack<PubAck>(1, 0, user_kv()),
               "40 0b 00 01 00 07 26 00 01 6b 00 01 76"});
  e.push_back(
      {"pubrec 5 reason", k5, ack<PubRec>(2, rc::kNoMatchingSubscribers), "50 03 00 02 10"});
  e.push_back(
      {"pubrel 5 not found", k5, ack<PubRel>(3, rc::kPacketIdentifierNotFound), "62 03 00 03 92"});
  e.push_back({"pubrel 5 short", k5, ack<PubRel>(3), "62 02 00 03"});
  e.push_back({"pubcomp 5 short", k5, ack<PubComp>(4), "70 02 00 04"});
  e.push_back({"pubcomp 5 properties", k5, ack<PubComp>(4, 0x92, reason_string("x")),
               "70 08 00 04 92 04 1f 00 01 78"});

  // SUBSCRIBE, SUBACK ---------------------------------------------------------------------------
  {
    Subscribe s;
    s.packet_id = 10;
    s.subscriptions = {{"a/b", {1, false, false, 0}}, {"#", {2, false, false, 0}}};
    e.push_back({"subscribe 3.1.1", k4, s, "82 0c 00 0a 00 03 61 2f 62 01 00 01 23 02"});
  }
  {
    Subscribe s;
    s.packet_id = 10;
    s.props.subscription_identifiers = {5};
    s.subscriptions = {{"a/b", {1, true, true, 2}}, {"#", {0, false, false, 0}}};
    e.push_back({"subscribe 5", k5, s, "82 0f 00 0a 02 0b 05 00 03 61 2f 62 2d 00 01 23 00"});
  }
  e.push_back({"suback 3.1.1", k4, SubAck{10, {0x01, 0x80}, {}}, "90 04 00 0a 01 80"});
  e.push_back({"suback 5", k5, SubAck{10, {0x01, 0x80}, {}}, "90 05 00 0a 00 01 80"});
  e.push_back({"suback 5 properties", k5, SubAck{10, {0x00, 0x97}, reason_string("x")},
               "90 09 00 0a 04 1f 00 01 78 00 97"});

  // UNSUBSCRIBE, UNSUBACK -----------------------------------------------------------------------
  e.push_back({"unsubscribe 3.1.1", k4, Unsubscribe{11, {"a/b", "#"}, {}},
               "a2 0a 00 0b 00 03 61 2f 62 00 01 23"});
  e.push_back({"unsubscribe 5", k5, Unsubscribe{11, {"a/b"}, {}}, "a2 08 00 0b 00 00 03 61 2f 62"});
  e.push_back({"unsubscribe 5 properties", k5, Unsubscribe{11, {"a/b"}, user_kv()},
               "a2 0f 00 0b 07 26 00 01 6b 00 01 76 00 03 61 2f 62"});
  e.push_back({"unsuback 3.1.1", k4, UnsubAck{11, {}, {}}, "b0 02 00 0b"});
  e.push_back({"unsuback 5", k5, UnsubAck{11, {0x00, 0x11}, {}}, "b0 05 00 0b 00 00 11"});
  e.push_back({"unsuback 5 properties", k5, UnsubAck{11, {0x87}, reason_string("no")},
               "b0 09 00 0b 05 1f 00 02 6e 6f 87"});

  // PINGREQ, PINGRESP ---------------------------------------------------------------------------
  e.push_back({"pingreq 3.1.1", k4, PingReq{}, "c0 00"});
  e.push_back({"pingreq 5", k5, PingReq{}, "c0 00"});
  e.push_back({"pingresp 3.1.1", k4, PingResp{}, "d0 00"});
  e.push_back({"pingresp 5", k5, PingResp{}, "d0 00"});

  // DISCONNECT, AUTH ---------------------------------------------------------------------------
  e.push_back({"disconnect 3.1.1", k4, Disconnect{}, "e0 00"});
  e.push_back({"disconnect 5 normal", k5, Disconnect{}, "e0 00"});
  e.push_back({"disconnect 5 with will", k5, Disconnect{rc::kDisconnectWithWill, {}}, "e0 01 04"});
  e.push_back({"disconnect 5 properties", k5,
               Disconnect{rc::kServerShuttingDown, reason_string("x")}, "e0 06 8b 04 1f 00 01 78"});
  {
    Disconnect d;
    d.props.session_expiry_interval = 0;
    e.push_back({"disconnect 5 success with properties", k5, d, "e0 07 00 05 11 00 00 00 00"});
  }
  e.push_back({"auth 5 success", k5, Auth{}, "f0 00"});
  e.push_back({"auth 5 continue", k5, Auth{rc::kContinueAuthentication, {}}, "f0 01 18"});
  {
    Auth a;
    a.reason = rc::kReAuthenticate;
    a.props.authentication_method = "m";
    a.props.authentication_data = Bytes{0x01};
    e.push_back({"auth 5 properties", k5, a, "f0 0a 19 08 15 00 01 6d 16 00 01 01"});
  }
  return e;
}

TEST(Encode, HandWrittenFrames) {
  for (const auto& ex : examples()) {
    SCOPED_TRACE(ex.name);
    auto out = encode(ex.packet, ex.version);
    EXPECT_EQ(to_hex(out), norm_hex(ex.hex));
    EXPECT_EQ(encoded_size(ex.packet, ex.version), out.size());
  }
}

TEST(Encode, HandWrittenFramesDecodeToThePacket) {
  for (const auto& ex : examples()) {
    SCOPED_TRACE(ex.name);
    auto r = decode(hex(ex.hex), ex.version);
    ASSERT_TRUE(r.ok()) << r.error().detail;
    EXPECT_TRUE(*r == ex.packet);
  }
}

TEST(Encode, EveryPacketTypeIsCovered) {
  bool seen[2][16] = {};
  for (const auto& ex : examples()) {
    seen[ex.version == k5][static_cast<int>(packet_type(ex.packet))] = true;
  }
  for (int t = 1; t <= 15; ++t) {
    EXPECT_TRUE(seen[1][t]) << "no MQTT 5 example for type " << t;
    if (t != 15) {
      EXPECT_TRUE(seen[0][t]) << "no 3.1.1 example for type " << t;
    }
  }
}

TEST(Encode, AppendsToExistingBuffer) {
  std::vector<uint8_t> out = {0xaa};
  encode(PingReq{}, k4, out);
  encode(ack<PubAck>(7), k4, out);
  EXPECT_EQ(to_hex(out), "aa c0 00 40 02 00 07");
}

TEST(Encode, V311IgnoresProperties) {
  Publish p;
  p.topic = "a";
  p.props.topic_alias = 1;
  p.props.user_properties = {{"k", "v"}};
  EXPECT_EQ(to_hex(encode(p, k4)), "30 03 00 01 61");
  EXPECT_EQ(encoded_size(p, k4), 5u);
  // And the v5-only subscription options.
  Subscribe s;
  s.packet_id = 1;
  s.subscriptions = {{"a", {1, true, true, 2}}};
  s.props.subscription_identifiers = {3};
  EXPECT_EQ(to_hex(encode(s, k4)), "82 06 00 01 00 01 61 01");
  // And reason codes of acks / DISCONNECT.
  EXPECT_EQ(to_hex(encode(ack<PubAck>(1, 0x80, reason_string("x")), k4)), "40 02 00 01");
  EXPECT_EQ(to_hex(encode(Disconnect{0x80, reason_string("x")}, k4)), "e0 00");
  EXPECT_EQ(to_hex(encode(UnsubAck{1, {0x00}, {}}, k4)), "b0 02 00 01");
}

TEST(Encode, ConnectUsesItsOwnVersion) {
  Connect c;
  c.version = k4;
  c.client_id = "c";
  EXPECT_EQ(to_hex(encode(c, k5)), norm_hex("10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 63"));
  EXPECT_EQ(encoded_size(c, k5), 15u);
}

TEST(Encode, RemainingLengthIsAMinimalVarint) {
  struct Case {
    size_t payload;
    const char* header;  // first byte + remaining length
  };
  // Body = topic "a" (3 bytes) + payload.
  const Case cases[] = {
      {124, "30 7f"},               // 127
      {125, "30 80 01"},            // 128
      {16380, "30 ff 7f"},          // 16383
      {16381, "30 80 80 01"},       // 16384
      {2097148, "30 ff ff 7f"},     // 2097151
      {2097149, "30 80 80 80 01"},  // 2097152
  };
  for (const auto& c : cases) {
    Publish p;
    p.topic = "a";
    p.payload.assign(c.payload, 0x5a);
    auto out = encode(p, k4);
    auto header = hex(c.header);
    ASSERT_GE(out.size(), header.size());
    EXPECT_EQ(to_hex(std::span(out).first(header.size())), to_hex(header)) << c.payload;
    EXPECT_EQ(out.size(), header.size() + 3 + c.payload);
    EXPECT_EQ(encoded_size(p, k4), out.size());
    auto back = decode(out, k4);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(std::get<Publish>(*back).payload.size(), c.payload);
  }
}

TEST(Encode, PropertyLengthVarintInsidePacket) {
  // A 200-byte reason string makes the property block 203 bytes: property length cb 01.
  auto p = ack<PubAck>(1, 0x80, reason_string(std::string(200, 'r').c_str()));
  auto out = encode(p, k5);
  // Remaining length: 2 (id) + 1 (reason) + 2 (property length) + 203 = 208 = d0 01.
  EXPECT_EQ(to_hex(std::span(out).first(10)), "40 d0 01 00 01 80 cb 01 1f 00");
  EXPECT_EQ(out.size(), 3u + 208u);
  EXPECT_EQ(encoded_size(p, k5), out.size());
}

}  // namespace
}  // namespace mquictt::codec
