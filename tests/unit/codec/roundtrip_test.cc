// decode(encode(p)) == p for every packet type in both versions, with and without properties
// (every property type appears at least once), and encode(decode(bytes)) == bytes for canonical
// frames; non-canonical but valid frames re-encode to the canonical form.

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "codec/decoder.h"
#include "codec/encoder.h"
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

// Property sets, one per context, that together use all 27 MQTT 5 properties.
Properties connect_props() {
  Properties p;
  p.session_expiry_interval = 3600;
  p.authentication_method = "SCRAM-SHA-1";
  p.authentication_data = Bytes{1, 2, 3};
  p.request_problem_information = 0;
  p.request_response_information = 1;
  p.receive_maximum = 100;
  p.topic_alias_maximum = 10;
  p.user_properties = {{"a", "1"}, {"b", "2"}, {"a", "3"}};
  p.maximum_packet_size = 1048576;
  return p;
}

Properties will_props() {
  Properties p;
  p.payload_format_indicator = 1;
  p.message_expiry_interval = 86400;
  p.content_type = "text/plain";
  p.response_topic = "resp/x";
  p.correlation_data = Bytes{0x00, 0x01, 0xff};
  p.will_delay_interval = 30;
  p.user_properties = {{"w", "1"}};
  return p;
}

Properties connack_props() {
  Properties p;
  p.session_expiry_interval = 0;
  p.assigned_client_identifier = "auto-1";
  p.server_keep_alive = 120;
  p.authentication_method = "m";
  p.authentication_data = Bytes{9};
  p.response_information = "ri/";
  p.server_reference = "other:1883";
  p.reason_string = "welcome";
  p.receive_maximum = 65535;
  p.topic_alias_maximum = 0;
  p.maximum_qos = 1;
  p.retain_available = 1;
  p.user_properties = {{"s", "v"}};
  p.maximum_packet_size = 268435460;
  p.wildcard_subscription_available = 0;
  p.subscription_identifier_available = 1;
  p.shared_subscription_available = 0;
  return p;
}

Properties publish_props() {
  Properties p;
  p.payload_format_indicator = 0;
  p.message_expiry_interval = 0;
  p.content_type = "";
  p.response_topic = "r";
  p.correlation_data = Bytes{};
  p.subscription_identifiers = {1, 128, 268435455};
  p.topic_alias = 65535;
  p.user_properties = {{"\xc3\xa9t\xc3\xa9", "\xe2\x82\xac"}, {"", ""}};
  return p;
}

Properties reason_props() {  // PUBACK family, SUBACK, UNSUBACK
  Properties p;
  p.reason_string = "because";
  p.user_properties = {{"k", "v"}};
  return p;
}

Properties subscribe_props() {
  Properties p;
  p.subscription_identifiers = {268435455};
  p.user_properties = {{"k", "v"}};
  return p;
}

Properties user_only() {
  Properties p;
  p.user_properties = {{"k", "v"}, {"k", "w"}};
  return p;
}

Properties disconnect_props() {
  Properties p;
  p.session_expiry_interval = 0xFFFFFFFF;
  p.server_reference = "s2";
  p.reason_string = "bye";
  p.user_properties = {{"k", "v"}};
  return p;
}

Properties auth_props() {
  Properties p;
  p.authentication_method = "SCRAM-SHA-1";
  p.authentication_data = Bytes{0xde, 0xad};
  p.reason_string = "step 2";
  p.user_properties = {{"k", "v"}};
  return p;
}

template <typename T>
Packet ack(uint16_t id, uint8_t reason = 0, Properties props = {}) {
  T a;
  a.packet_id = id;
  a.reason = reason;
  a.props = std::move(props);
  return a;
}

Bytes all_byte_values() {
  Bytes b(256);
  for (int i = 0; i < 256; ++i)
    b[i] = static_cast<uint8_t>(i);
  return b;
}

std::vector<Packet> packets_v311() {
  std::vector<Packet> v;
  {
    Connect c;
    c.version = k4;
    c.client_id = "client-1";
    v.push_back(c);
    c.clean_start = false;
    c.keep_alive = 0;
    c.will = Will{"will/topic", all_byte_values(), 2, true, {}};
    c.username = "user";
    c.password = Bytes{0x00, 0xff};
    v.push_back(c);
    c.will = Will{"w", {}, 1, false, {}};
    c.password.reset();
    v.push_back(c);
    c.client_id = "";
    c.clean_start = true;
    v.push_back(c);
  }
  for (uint8_t r = 0; r <= 5; ++r)
    v.push_back(ConnAck{false, r, {}});
  v.push_back(ConnAck{true, 0, {}});
  {
    Publish p;
    p.topic = "a/b/c";
    v.push_back(p);
    p.payload = all_byte_values();
    p.retain = true;
    v.push_back(p);
    p.qos = 1;
    p.packet_id = 1;
    v.push_back(p);
    p.qos = 2;
    p.dup = true;
    p.packet_id = 65535;
    p.topic = "$SYS/\xe2\x82\xac/ /";
    v.push_back(p);
  }
  v.push_back(ack<PubAck>(1));
  v.push_back(ack<PubRec>(2));
  v.push_back(ack<PubRel>(3));
  v.push_back(ack<PubComp>(65535));
  {
    Subscribe s;
    s.packet_id = 7;
    s.subscriptions = {{"a/+/c", {0, false, false, 0}},
                       {"#", {1, false, false, 0}},
                       {"$share/g/x", {2, false, false, 0}}};
    v.push_back(s);
  }
  v.push_back(SubAck{7, {0x00, 0x01, 0x02, 0x80}, {}});
  v.push_back(Unsubscribe{8, {"a/+/c", "#", "/"}, {}});
  v.push_back(UnsubAck{8, {}, {}});
  v.push_back(PingReq{});
  v.push_back(PingResp{});
  v.push_back(Disconnect{});
  return v;
}

std::vector<Packet> packets_v5() {
  std::vector<Packet> v;
  {
    Connect c;
    c.client_id = "client-1";
    v.push_back(c);  // no properties
    c.props = connect_props();
    c.will = Will{"will/topic", all_byte_values(), 2, true, will_props()};
    c.username = "user";
    c.password = Bytes{0x00, 0xff};
    v.push_back(c);
    c.will = Will{"w", {}, 1, false, {}};  // will without properties
    c.username.reset();                    // password without user name: allowed in v5
    c.clean_start = false;
    c.client_id = "";
    v.push_back(c);
  }
  v.push_back(ConnAck{});
  v.push_back(ConnAck{true, 0, {}});
  v.push_back(ConnAck{false, rc::kBadUserNameOrPassword, {}});
  v.push_back(ConnAck{false, 0, connack_props()});
  {
    Publish p;
    p.topic = "a/b/c";
    v.push_back(p);
    p.payload = all_byte_values();
    p.qos = 1;
    p.dup = true;
    p.packet_id = 1;
    v.push_back(p);
    p.qos = 2;
    p.retain = true;
    p.props = publish_props();
    v.push_back(p);
    Publish alias;
    alias.props.topic_alias = 1;
    alias.payload = bytes("aliased");
    v.push_back(alias);
  }
  v.push_back(ack<PubAck>(1));
  v.push_back(ack<PubAck>(2, rc::kQuotaExceeded));
  v.push_back(ack<PubAck>(3, rc::kPayloadFormatInvalid, reason_props()));
  v.push_back(ack<PubAck>(4, 0, reason_props()));
  v.push_back(ack<PubRec>(5));
  v.push_back(ack<PubRec>(6, rc::kNoMatchingSubscribers, reason_props()));
  v.push_back(ack<PubRel>(7));
  v.push_back(ack<PubRel>(8, rc::kPacketIdentifierNotFound));
  v.push_back(ack<PubComp>(9, 0, reason_props()));
  v.push_back(ack<PubComp>(10, rc::kPacketIdentifierNotFound, reason_props()));
  {
    Subscribe s;
    s.packet_id = 7;
    // Every legal option combination: QoS 0-2 x No Local x Retain As Published x Retain Handling.
    for (uint8_t qos = 0; qos <= 2; ++qos) {
      for (int nl = 0; nl <= 1; ++nl) {
        for (int rap = 0; rap <= 1; ++rap) {
          for (uint8_t rh = 0; rh <= 2; ++rh) {
            s.subscriptions.push_back({"t/" + std::to_string(s.subscriptions.size()) + "/#",
                                       {qos, nl == 1, rap == 1, rh}});
          }
        }
      }
    }
    s.subscriptions.push_back({"$share/group/a/+", {1, false, true, 1}});
    v.push_back(s);
    s.props = subscribe_props();
    v.push_back(s);
  }
  {
    std::vector<uint8_t> all = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
    v.push_back(SubAck{7, all, {}});
    v.push_back(SubAck{7, {0x02}, reason_props()});
  }
  v.push_back(Unsubscribe{8, {"a/+/c", "#"}, {}});
  v.push_back(Unsubscribe{8, {"$share/g/#"}, user_only()});
  v.push_back(UnsubAck{8, {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91}, {}});
  v.push_back(UnsubAck{8, {0x11}, reason_props()});
  v.push_back(PingReq{});
  v.push_back(PingResp{});
  v.push_back(Disconnect{});
  v.push_back(Disconnect{rc::kDisconnectWithWill, {}});
  v.push_back(Disconnect{rc::kSessionTakenOver, disconnect_props()});
  v.push_back(Disconnect{0, disconnect_props()});
  v.push_back(Auth{});
  v.push_back(Auth{rc::kContinueAuthentication, {}});
  v.push_back(Auth{rc::kReAuthenticate, auth_props()});
  v.push_back(Auth{0, auth_props()});
  return v;
}

// The first bytes of a frame, for failure messages (some frames are megabytes long).
std::string head(const std::vector<uint8_t>& wire) {
  return to_hex(std::span(wire).first(std::min<size_t>(wire.size(), 48)));
}

void expect_round_trip(const Packet& p, ProtocolVersion v) {
  auto wire = encode(p, v);
  EXPECT_EQ(encoded_size(p, v), wire.size());
  auto back = decode(wire, v);
  ASSERT_TRUE(back.ok()) << head(wire) << ": " << back.error().detail;
  EXPECT_TRUE(*back == p) << head(wire);
  // And the bytes are stable: encoding the decoded packet again gives the same frame.
  EXPECT_TRUE(encode(*back, v) == wire) << head(wire);
}

TEST(RoundTrip, EveryPacketV311) {
  auto packets = packets_v311();
  bool seen[16] = {};
  for (const auto& p : packets) {
    SCOPED_TRACE(packet_type_name(packet_type(p)));
    seen[static_cast<int>(packet_type(p))] = true;
    expect_round_trip(p, k4);
  }
  for (int t = 1; t <= 14; ++t)
    EXPECT_TRUE(seen[t]) << t;
}

TEST(RoundTrip, EveryPacketV5) {
  auto packets = packets_v5();
  bool seen[16] = {};
  for (const auto& p : packets) {
    SCOPED_TRACE(packet_type_name(packet_type(p)));
    seen[static_cast<int>(packet_type(p))] = true;
    expect_round_trip(p, k5);
  }
  for (int t = 1; t <= 15; ++t)
    EXPECT_TRUE(seen[t]) << t;
}

TEST(RoundTrip, EveryPropertyTypeIsExercised) {
  // The property sets used by the round trips above, between them, set every property field.
  std::vector<Properties> sets = {connect_props(), will_props(),       connack_props(),
                                  publish_props(), reason_props(),     subscribe_props(),
                                  user_only(),     disconnect_props(), auth_props()};
  std::set<int> ids;
  for (const auto& p : sets) {
    if (p.payload_format_indicator) ids.insert(0x01);
    if (p.message_expiry_interval) ids.insert(0x02);
    if (p.content_type) ids.insert(0x03);
    if (p.response_topic) ids.insert(0x08);
    if (p.correlation_data) ids.insert(0x09);
    if (!p.subscription_identifiers.empty()) ids.insert(0x0B);
    if (p.session_expiry_interval) ids.insert(0x11);
    if (p.assigned_client_identifier) ids.insert(0x12);
    if (p.server_keep_alive) ids.insert(0x13);
    if (p.authentication_method) ids.insert(0x15);
    if (p.authentication_data) ids.insert(0x16);
    if (p.request_problem_information) ids.insert(0x17);
    if (p.will_delay_interval) ids.insert(0x18);
    if (p.request_response_information) ids.insert(0x19);
    if (p.response_information) ids.insert(0x1A);
    if (p.server_reference) ids.insert(0x1C);
    if (p.reason_string) ids.insert(0x1F);
    if (p.receive_maximum) ids.insert(0x21);
    if (p.topic_alias_maximum) ids.insert(0x22);
    if (p.topic_alias) ids.insert(0x23);
    if (p.maximum_qos) ids.insert(0x24);
    if (p.retain_available) ids.insert(0x25);
    if (!p.user_properties.empty()) ids.insert(0x26);
    if (p.maximum_packet_size) ids.insert(0x27);
    if (p.wildcard_subscription_available) ids.insert(0x28);
    if (p.subscription_identifier_available) ids.insert(0x29);
    if (p.shared_subscription_available) ids.insert(0x2A);
  }
  EXPECT_EQ(ids.size(), 27u);
}

TEST(RoundTrip, LargeFields) {
  Publish p;
  p.qos = 1;
  p.packet_id = 42;
  p.topic = std::string(65535, 't');  // longest topic name
  p.payload.assign(70000, 0xab);      // 3-byte remaining length
  p.props.correlation_data = Bytes(65535, 0x01);
  p.props.user_properties = {{std::string(65535, 'k'), std::string(65535, 'v')}};
  expect_round_trip(p, k5);
  p.props = {};  // 3.1.1 has no properties
  expect_round_trip(p, k4);
}

// Canonical hand-written frames: bytes -> packet -> the same bytes.
TEST(RoundTrip, BytesToPacketToBytes) {
  struct Case {
    ProtocolVersion v;
    const char* hex;
  };
  const Case cases[] = {
      {k4,
       "10 1e 00 04 4d 51 54 54 04 ee 00 0a 00 02 63 31 00 03 77 2f 74 00 02 62 79 00 01 75"
       "00 02 70 77"},
      {k5,
       "10 24 00 04 4d 51 54 54 05 86 00 1e 08 11 00 00 00 78 21 00 14 00 01 63 05 18 00 00"
       "00 0a 00 01 74 00 00 00 01 75"},
      {k4, "20 02 01 00"},
      {k5, "20 0a 00 00 07 13 00 0a 24 01 25 00"},
      {k4, "3b 09 00 03 61 2f 62 00 0a 68 69"},
      {k5,
       "35 1b 00 03 61 2f 62 00 01 11 01 01 02 00 00 00 3c 23 00 05 26 00 01 6b 00 01 76 68 69"},
      {k5, "30 07 00 00 03 23 00 05 78"},
      {k4, "40 02 00 01"},
      {k5, "50 03 00 02 10"},
      {k5, "62 03 00 03 92"},
      {k5, "70 08 00 04 92 04 1f 00 01 78"},
      {k4, "82 0c 00 0a 00 03 61 2f 62 01 00 01 23 02"},
      {k5, "82 0f 00 0a 02 0b 05 00 03 61 2f 62 2d 00 01 23 00"},
      {k4, "90 04 00 0a 01 80"},
      {k5, "90 09 00 0a 04 1f 00 01 78 00 97"},
      {k4, "a2 0a 00 0b 00 03 61 2f 62 00 01 23"},
      {k5, "a2 0f 00 0b 07 26 00 01 6b 00 01 76 00 03 61 2f 62"},
      {k4, "b0 02 00 0b"},
      {k5, "b0 05 00 0b 00 00 11"},
      {k4, "c0 00"},
      {k5, "d0 00"},
      {k4, "e0 00"},
      {k5, "e0 06 8b 04 1f 00 01 78"},
      {k5, "f0 0a 18 08 15 00 01 6d 16 00 01 01"},
  };
  for (const auto& c : cases) {
    auto r = decode(hex(c.hex), c.v);
    ASSERT_TRUE(r.ok()) << c.hex << ": " << r.error().detail;
    EXPECT_EQ(to_hex(encode(*r, c.v)), norm_hex(c.hex));
  }
}

// Valid but not canonical on the wire: the encoder produces the canonical form.
TEST(RoundTrip, NonCanonicalFramesReencodeCanonically) {
  struct Case {
    ProtocolVersion v;
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      // Non-minimal remaining length.
      {k4, "c0 80 00", "c0 00"},
      {k4, "40 82 00 00 01", "40 02 00 01"},
      // Properties out of identifier order.
      {k5, "30 0a 00 01 61 05 23 00 01 01 01 78", "30 0a 00 01 61 05 01 01 23 00 01 78"},
      // Long forms of the MQTT 5 defaults.
      {k5, "40 04 00 01 00 00", "40 02 00 01"},
      {k5, "40 03 00 01 00", "40 02 00 01"},
      {k5, "62 04 00 01 92 00", "62 03 00 01 92"},
      {k5, "e0 01 00", "e0 00"},
      {k5, "e0 02 00 00", "e0 00"},
      {k5, "e0 02 04 00", "e0 01 04"},
      // Non-minimal Subscription Identifier varint.
      {k5, "30 07 00 01 61 03 0b 81 00", "30 06 00 01 61 02 0b 01"},
  };
  for (const auto& c : cases) {
    auto r = decode(hex(c.in), c.v);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().detail;
    EXPECT_EQ(to_hex(encode(*r, c.v)), norm_hex(c.out)) << c.in;
  }
}

}  // namespace
}  // namespace mquictt::codec
