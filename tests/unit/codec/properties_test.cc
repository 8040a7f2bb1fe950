// MQTT 5 property blocks (MQTT 5 §2.2.2): decode_properties() per packet context, its error codes,
// and the canonical encoding (ascending identifiers, user properties and subscription identifiers
// in order). Expected bytes are written by hand from the spec tables.

#include "codec/properties.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "unit/codec/hex.h"

namespace mquictt::codec {
namespace {

using codec_test::hex;
using codec_test::norm_hex;
using codec_test::to_hex;
using C = PropertyContext;

struct Decoded {
  Result<Properties> props;
  size_t position;  // reader position afterwards
};

Decoded decode_hex(std::string_view h, C ctx) {
  auto data = hex(h);
  ByteReader r(data);
  auto p = decode_properties(r, ctx);
  return {std::move(p), r.position()};
}

Properties must_decode(std::string_view h, C ctx) {
  auto d = decode_hex(h, ctx);
  EXPECT_TRUE(d.props.ok()) << h << ": " << (d.props.ok() ? "" : d.props.error().detail);
  return d.props.ok() ? d.props.value() : Properties{};
}

// 0 when decoding unexpectedly succeeds, so EXPECT_EQ(error_of(...), 0x81) fails loudly.
uint8_t error_of(std::string_view h, C ctx) {
  auto d = decode_hex(h, ctx);
  return d.props.ok() ? 0 : d.props.error().reason;
}

std::string encode_hex(const Properties& p) {
  std::vector<uint8_t> out;
  ByteWriter w(out);
  encode_properties(p, w);
  return to_hex(out);
}

TEST(PropertiesDecode, EmptyBlock) {
  auto d = decode_hex("00 ff", C::kPublish);
  ASSERT_TRUE(d.props.ok());
  EXPECT_TRUE(d.props->empty());
  EXPECT_EQ(d.position, 1u);  // the byte after the block is not consumed
}

TEST(PropertiesDecode, PublishMessageProperties) {
  auto p = must_decode(
      "1c"
      "01 01"              // Payload Format Indicator 1
      "02 00 00 00 3c"     // Message Expiry Interval 60
      "03 00 02 74 78"     // Content Type "tx"
      "08 00 03 61 2f 62"  // Response Topic "a/b"
      "09 00 02 01 02"     // Correlation Data 01 02
      "0b 05"              // Subscription Identifier 5
      "23 00 07",          // Topic Alias 7
      C::kPublish);
  EXPECT_EQ(p.payload_format_indicator, 1);
  EXPECT_EQ(p.message_expiry_interval, 60u);
  EXPECT_EQ(p.content_type, "tx");
  EXPECT_EQ(p.response_topic, "a/b");
  EXPECT_EQ(p.correlation_data, (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(p.subscription_identifiers, (std::vector<uint32_t>{5}));
  EXPECT_EQ(p.topic_alias, 7);
}

TEST(PropertiesDecode, SubscriptionIdentifiersRepeatInPublishInWireOrder) {
  // 3, then 200 (two-byte varint c8 01), then 268435455 (ff ff ff 7f), then 1.
  auto p = must_decode("0c 0b 03 0b c8 01 0b ff ff ff 7f 0b 01", C::kPublish);
  EXPECT_EQ(p.subscription_identifiers, (std::vector<uint32_t>{3, 200, 268435455, 1}));
}

TEST(PropertiesDecode, UserPropertiesKeepWireOrderAndDuplicates) {
  auto p = must_decode(
      "14"
      "26 00 01 62 00 01 32"  // b=2
      "26 00 01 61 00 01 31"  // a=1
      "26 00 01 62 00 00",    // b="" (same key again is allowed)
      C::kConnect);
  ASSERT_EQ(p.user_properties.size(), 3u);
  EXPECT_EQ(p.user_properties[0], (UserProperty{"b", "2"}));
  EXPECT_EQ(p.user_properties[1], (UserProperty{"a", "1"}));
  EXPECT_EQ(p.user_properties[2], (UserProperty{"b", ""}));
}

TEST(PropertiesDecode, ConnectProperties) {
  auto p = must_decode(
      "1d"
      "11 00 00 01 2c"   // Session Expiry Interval 300
      "15 00 01 6d"      // Authentication Method "m"
      "16 00 02 aa bb"   // Authentication Data aa bb
      "17 00"            // Request Problem Information 0
      "19 01"            // Request Response Information 1
      "21 00 0a"         // Receive Maximum 10
      "22 00 05"         // Topic Alias Maximum 5
      "27 00 01 00 00",  // Maximum Packet Size 65536
      C::kConnect);
  EXPECT_EQ(p.session_expiry_interval, 300u);
  EXPECT_EQ(p.authentication_method, "m");
  EXPECT_EQ(p.authentication_data, (std::vector<uint8_t>{0xaa, 0xbb}));
  EXPECT_EQ(p.request_problem_information, 0);
  EXPECT_EQ(p.request_response_information, 1);
  EXPECT_EQ(p.receive_maximum, 10);
  EXPECT_EQ(p.topic_alias_maximum, 5);
  EXPECT_EQ(p.maximum_packet_size, 65536u);
}

TEST(PropertiesDecode, ConnAckProperties) {
  auto p = must_decode(
      "22"
      "12 00 02 69 64"  // Assigned Client Identifier "id"
      "13 00 1e"        // Server Keep Alive 30
      "1a 00 01 72"     // Response Information "r"
      "1c 00 01 73"     // Server Reference "s"
      "1f 00 02 6f 6b"  // Reason String "ok"
      "24 01"           // Maximum QoS 1
      "25 00"           // Retain Available 0
      "28 01"           // Wildcard Subscription Available 1
      "29 00"           // Subscription Identifier Available 0
      "2a 01"           // Shared Subscription Available 1
      "22 00 00",       // Topic Alias Maximum 0 (legal: no aliases)
      C::kConnAck);
  EXPECT_EQ(p.assigned_client_identifier, "id");
  EXPECT_EQ(p.server_keep_alive, 30);
  EXPECT_EQ(p.response_information, "r");
  EXPECT_EQ(p.server_reference, "s");
  EXPECT_EQ(p.reason_string, "ok");
  EXPECT_EQ(p.maximum_qos, 1);
  EXPECT_EQ(p.retain_available, 0);
  EXPECT_EQ(p.wildcard_subscription_available, 1);
  EXPECT_EQ(p.subscription_identifier_available, 0);
  EXPECT_EQ(p.shared_subscription_available, 1);
  EXPECT_EQ(p.topic_alias_maximum, 0);
}

TEST(PropertiesDecode, WillProperties) {
  auto p = must_decode("07 18 00 00 00 0a 01 00", C::kWill);
  EXPECT_EQ(p.will_delay_interval, 10u);
  EXPECT_EQ(p.payload_format_indicator, 0);
}

TEST(PropertiesDecode, OrderOnTheWireDoesNotMatter) {
  auto a = must_decode("05 23 00 01 01 01", C::kPublish);
  auto b = must_decode("05 01 01 23 00 01", C::kPublish);
  EXPECT_EQ(a, b);
}

// The allowed-packet matrix of MQTT 5 §2.2.2.2, written out independently of properties.cc.
TEST(PropertiesAllowed, MatchesSpecTable) {
  const std::map<uint8_t, std::set<C>> table = {
      {0x01, {C::kPublish, C::kWill}},
      {0x02, {C::kPublish, C::kWill}},
      {0x03, {C::kPublish, C::kWill}},
      {0x08, {C::kPublish, C::kWill}},
      {0x09, {C::kPublish, C::kWill}},
      {0x0B, {C::kPublish, C::kSubscribe}},
      {0x11, {C::kConnect, C::kConnAck, C::kDisconnect}},
      {0x12, {C::kConnAck}},
      {0x13, {C::kConnAck}},
      {0x15, {C::kConnect, C::kConnAck, C::kAuth}},
      {0x16, {C::kConnect, C::kConnAck, C::kAuth}},
      {0x17, {C::kConnect}},
      {0x18, {C::kWill}},
      {0x19, {C::kConnect}},
      {0x1A, {C::kConnAck}},
      {0x1C, {C::kConnAck, C::kDisconnect}},
      {0x1F, {C::kConnAck, C::kPubAck, C::kSubAck, C::kUnsubAck, C::kDisconnect, C::kAuth}},
      {0x21, {C::kConnect, C::kConnAck}},
      {0x22, {C::kConnect, C::kConnAck}},
      {0x23, {C::kPublish}},
      {0x24, {C::kConnAck}},
      {0x25, {C::kConnAck}},
      {0x26,
       {C::kConnect, C::kWill, C::kConnAck, C::kPublish, C::kPubAck, C::kSubscribe, C::kSubAck,
        C::kUnsubscribe, C::kUnsubAck, C::kDisconnect, C::kAuth}},
      {0x27, {C::kConnect, C::kConnAck}},
      {0x28, {C::kConnAck}},
      {0x29, {C::kConnAck}},
      {0x2A, {C::kConnAck}},
  };
  const C all[] = {C::kConnect,  C::kWill,       C::kConnAck, C::kPublish,
                   C::kPubAck,   C::kSubscribe,  C::kSubAck,  C::kUnsubscribe,
                   C::kUnsubAck, C::kDisconnect, C::kAuth};
  for (int id = 0; id < 256; ++id) {
    auto it = table.find(static_cast<uint8_t>(id));
    for (C ctx : all) {
      bool expected = it != table.end() && it->second.count(ctx) > 0;
      EXPECT_EQ(property_allowed(static_cast<uint8_t>(id), ctx), expected)
          << "id " << id << " ctx " << static_cast<int>(ctx);
    }
  }
}

TEST(PropertiesDecode, UnknownIdentifierIsMalformed) {
  for (const char* h :
       {"02 00 00", "02 04 00", "02 2b 00", "02 7f 00", "03 80 01 00", "02 ff 00"}) {
    EXPECT_EQ(error_of(h, C::kPublish), 0x81) << h;
  }
}

TEST(PropertiesDecode, PropertyNotAllowedOnPacketIsMalformed) {
  EXPECT_EQ(error_of("03 23 00 01", C::kConnect), 0x81);        // Topic Alias in CONNECT
  EXPECT_EQ(error_of("02 0b 01", C::kConnect), 0x81);           // Subscription Id in CONNECT
  EXPECT_EQ(error_of("05 18 00 00 00 01", C::kPublish), 0x81);  // Will Delay in PUBLISH
  EXPECT_EQ(error_of("05 11 00 00 00 01", C::kWill), 0x81);     // Session Expiry in will
  EXPECT_EQ(error_of("05 11 00 00 00 01", C::kPubAck), 0x81);
  EXPECT_EQ(error_of("04 1f 00 01 78", C::kPublish), 0x81);  // Reason String in PUBLISH
  EXPECT_EQ(error_of("04 1f 00 01 78", C::kSubscribe), 0x81);
  EXPECT_EQ(error_of("04 1f 00 01 78", C::kUnsubscribe), 0x81);
  EXPECT_EQ(error_of("02 24 01", C::kConnect), 0x81);  // Maximum QoS in CONNECT
  EXPECT_EQ(error_of("02 17 01", C::kConnAck), 0x81);
  EXPECT_EQ(error_of("04 15 00 01 6d", C::kDisconnect), 0x81);
  EXPECT_EQ(error_of("04 1c 00 01 73", C::kAuth), 0x81);
}

TEST(PropertiesDecode, DuplicateNonRepeatableIsProtocolError) {
  EXPECT_EQ(error_of("04 01 01 01 01", C::kPublish), 0x82);
  EXPECT_EQ(error_of("0a 11 00 00 00 01 11 00 00 00 02", C::kConnect), 0x82);
  EXPECT_EQ(error_of("06 21 00 01 21 00 01", C::kConnAck), 0x82);
  EXPECT_EQ(error_of("08 1f 00 01 78 1f 00 01 79", C::kPubAck), 0x82);
  EXPECT_EQ(error_of("08 15 00 01 6d 15 00 01 6d", C::kAuth), 0x82);
  EXPECT_EQ(error_of("06 09 00 00 09 00 00", C::kWill), 0x82);
  EXPECT_EQ(error_of("06 23 00 01 23 00 02", C::kPublish), 0x82);
  // Subscription Identifier may repeat only in PUBLISH.
  EXPECT_EQ(error_of("04 0b 01 0b 02", C::kSubscribe), 0x82);
}

TEST(PropertiesDecode, OutOfRangeValuesAreProtocolErrors) {
  EXPECT_EQ(error_of("02 01 02", C::kPublish), 0x82);     // Payload Format Indicator 2
  EXPECT_EQ(error_of("02 17 02", C::kConnect), 0x82);     // Request Problem Information 2
  EXPECT_EQ(error_of("02 19 02", C::kConnect), 0x82);     // Request Response Information 2
  EXPECT_EQ(error_of("02 24 02", C::kConnAck), 0x82);     // Maximum QoS 2
  EXPECT_EQ(error_of("02 25 02", C::kConnAck), 0x82);     // Retain Available 2
  EXPECT_EQ(error_of("02 28 ff", C::kConnAck), 0x82);     // Wildcard Subscription Available
  EXPECT_EQ(error_of("02 29 02", C::kConnAck), 0x82);     // Subscription Identifier Available
  EXPECT_EQ(error_of("02 2a 02", C::kConnAck), 0x82);     // Shared Subscription Available
  EXPECT_EQ(error_of("03 21 00 00", C::kConnect), 0x82);  // Receive Maximum 0
  EXPECT_EQ(error_of("03 21 00 00", C::kConnAck), 0x82);
  EXPECT_EQ(error_of("05 27 00 00 00 00", C::kConnect), 0x82);  // Maximum Packet Size 0
  EXPECT_EQ(error_of("03 23 00 00", C::kPublish), 0x94);        // Topic Alias 0: §3.3.4 names 0x94
  EXPECT_EQ(error_of("02 0b 00", C::kPublish), 0x82);           // Subscription Identifier 0
  EXPECT_EQ(error_of("02 0b 00", C::kSubscribe), 0x82);
  EXPECT_EQ(error_of("03 0b 80 00", C::kSubscribe), 0x82);  // 0, non-minimally encoded
}

TEST(PropertiesDecode, BoundaryValuesAccepted) {
  EXPECT_EQ(must_decode("03 21 ff ff", C::kConnect).receive_maximum, 65535);
  EXPECT_EQ(must_decode("05 27 ff ff ff ff", C::kConnect).maximum_packet_size, 0xFFFFFFFFu);
  EXPECT_EQ(must_decode("03 23 ff ff", C::kPublish).topic_alias, 65535);
  EXPECT_EQ(must_decode("02 0b 01", C::kSubscribe).subscription_identifiers,
            (std::vector<uint32_t>{1}));
}

TEST(PropertiesDecode, TruncationIsMalformed) {
  EXPECT_EQ(error_of("", C::kPublish), 0x81);                   // no property length
  EXPECT_EQ(error_of("05 01 01", C::kPublish), 0x81);           // length beyond the data
  EXPECT_EQ(error_of("80 80 80 80 01", C::kPublish), 0x81);     // 5-byte property length
  EXPECT_EQ(error_of("03 02 00 00 00 00", C::kPublish), 0x81);  // u32 crosses the block end
  EXPECT_EQ(error_of("01 02", C::kPublish), 0x81);              // identifier without value
  EXPECT_EQ(error_of("02 21 00", C::kConnect), 0x81);           // half a two-byte integer
  EXPECT_EQ(error_of("04 03 00 05 61", C::kPublish), 0x81);     // string longer than the block
  EXPECT_EQ(error_of("02 03 00", C::kPublish), 0x81);           // string length cut in half
  EXPECT_EQ(error_of("05 26 00 01 6b 00", C::kPublish), 0x81);  // user property without value
  EXPECT_EQ(error_of("04 26 00 01 6b", C::kPublish), 0x81);
  EXPECT_EQ(error_of("02 0b 80", C::kPublish), 0x81);              // varint cut off
  EXPECT_EQ(error_of("06 0b 80 80 80 80 01", C::kPublish), 0x81);  // 5-byte subscription id
  EXPECT_EQ(error_of("03 09 00 02", C::kPublish), 0x81);           // binary cut off
}

TEST(PropertiesDecode, InvalidUtf8IsMalformed) {
  EXPECT_EQ(error_of("04 03 00 01 ff", C::kPublish), 0x81);           // content type: 0xff
  EXPECT_EQ(error_of("05 03 00 02 c0 af", C::kPublish), 0x81);        // over-long '/'
  EXPECT_EQ(error_of("06 1f 00 03 ed a0 80", C::kPubAck), 0x81);      // surrogate U+D800
  EXPECT_EQ(error_of("04 1f 00 01 00", C::kDisconnect), 0x81);        // U+0000
  EXPECT_EQ(error_of("07 26 00 01 00 00 01 76", C::kPublish), 0x81);  // key U+0000
  EXPECT_EQ(error_of("07 26 00 01 6b 00 01 80", C::kPublish), 0x81);  // value: lone continuation
  EXPECT_EQ(error_of("04 15 00 01 fe", C::kConnect), 0x81);           // auth method
  EXPECT_EQ(error_of("04 12 00 01 ff", C::kConnAck), 0x81);           // assigned client id
  EXPECT_EQ(error_of("04 1a 00 01 ff", C::kConnAck), 0x81);           // response information
  EXPECT_EQ(error_of("04 1c 00 01 ff", C::kConnAck), 0x81);           // server reference
  EXPECT_EQ(error_of("04 08 00 01 ff", C::kWill), 0x81);              // response topic
  // Binary data is not UTF-8 checked.
  EXPECT_EQ(must_decode("05 09 00 02 00 ff", C::kPublish).correlation_data,
            (std::vector<uint8_t>{0x00, 0xff}));
  // Multi-byte UTF-8 is fine: U+00E9, U+20AC, U+1F600.
  EXPECT_EQ(must_decode("0c 03 00 09 c3 a9 e2 82 ac f0 9f 98 80", C::kPublish).content_type,
            "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}

TEST(PropertiesDecode, ResponseTopicMustBeATopicName) {
  EXPECT_EQ(error_of("06 08 00 03 61 2f 2b", C::kPublish), 0x82);  // "a/+"
  EXPECT_EQ(error_of("04 08 00 01 23", C::kWill), 0x82);           // "#"
  EXPECT_EQ(error_of("03 08 00 00", C::kPublish), 0x82);           // ""
}

TEST(PropertiesDecode, AuthenticationDataNeedsMethodInConnect) {
  EXPECT_EQ(error_of("04 16 00 01 01", C::kConnect), 0x82);
  EXPECT_TRUE(must_decode("08 16 00 01 01 15 00 01 6d", C::kConnect).authentication_data);
}

TEST(PropertiesDecode, AuthPropertyBlockNeedsMethod) {
  EXPECT_EQ(error_of("00", C::kAuth), 0x82);
  EXPECT_EQ(error_of("04 16 00 01 01", C::kAuth), 0x82);
  EXPECT_EQ(error_of("04 1f 00 01 78", C::kAuth), 0x82);
  EXPECT_EQ(must_decode("04 15 00 01 6d", C::kAuth).authentication_method, "m");
  // CONNACK may carry Authentication Data alone (only CONNECT and AUTH have the rule).
  EXPECT_TRUE(must_decode("04 16 00 01 01", C::kConnAck).authentication_data);
}

TEST(PropertiesDecode, MalformedWinsOverDuplicateWithinOneProperty) {
  // Second Receive Maximum is both a duplicate and truncated: truncation is reported.
  EXPECT_EQ(error_of("05 21 00 01 21 00", C::kConnect), 0x81);
}

TEST(PropertiesEncode, EveryPropertyInAscendingIdentifierOrder) {
  Properties p;
  // Assigned in scrambled order: the encoder must sort by identifier regardless.
  p.shared_subscription_available = 1;
  p.user_properties = {{"a", "b"}, {"a", "c"}};
  p.payload_format_indicator = 1;
  p.maximum_packet_size = 1024;
  p.message_expiry_interval = 60;
  p.content_type = "ct";
  p.response_topic = "r";
  p.correlation_data = std::vector<uint8_t>{0xaa};
  p.subscription_identifiers = {1, 200};
  p.session_expiry_interval = 16;
  p.assigned_client_identifier = "id";
  p.server_keep_alive = 30;
  p.authentication_method = "m";
  p.authentication_data = std::vector<uint8_t>{0x01};
  p.request_problem_information = 0;
  p.will_delay_interval = 5;
  p.request_response_information = 1;
  p.response_information = "ri";
  p.server_reference = "s";
  p.reason_string = "rs";
  p.receive_maximum = 10;
  p.topic_alias_maximum = 5;
  p.topic_alias = 3;
  p.maximum_qos = 1;
  p.retain_available = 0;
  p.wildcard_subscription_available = 1;
  p.subscription_identifier_available = 0;
  const char* expected =
      "6b"
      "01 01"
      "02 00 00 00 3c"
      "03 00 02 63 74"
      "08 00 01 72"
      "09 00 01 aa"
      "0b 01 0b c8 01"
      "11 00 00 00 10"
      "12 00 02 69 64"
      "13 00 1e"
      "15 00 01 6d"
      "16 00 01 01"
      "17 00"
      "18 00 00 00 05"
      "19 01"
      "1a 00 02 72 69"
      "1c 00 01 73"
      "1f 00 02 72 73"
      "21 00 0a"
      "22 00 05"
      "23 00 03"
      "24 01"
      "25 00"
      "26 00 01 61 00 01 62"
      "26 00 01 61 00 01 63"
      "27 00 00 04 00"
      "28 01"
      "29 00"
      "2a 01";
  EXPECT_EQ(encode_hex(p), norm_hex(expected));
  EXPECT_EQ(properties_content_size(p), 0x6bu);
  EXPECT_EQ(properties_encoded_size(p), 0x6cu);
}

TEST(PropertiesEncode, EmptyIsASingleZeroByte) {
  EXPECT_EQ(encode_hex(Properties{}), "00");
  EXPECT_EQ(properties_content_size(Properties{}), 0u);
  EXPECT_EQ(properties_encoded_size(Properties{}), 1u);
  EXPECT_TRUE(Properties{}.empty());
}

TEST(PropertiesEncode, EmptyReflectsEveryField) {
  Properties p;
  p.topic_alias_maximum = 0;  // present with value 0 is not empty
  EXPECT_FALSE(p.empty());
  Properties q;
  q.user_properties.emplace_back("", "");
  EXPECT_FALSE(q.empty());
  Properties s;
  s.subscription_identifiers.push_back(1);
  EXPECT_FALSE(s.empty());
}

TEST(PropertiesEncode, LongBlockUsesTwoBytePropertyLength) {
  Properties p;
  p.reason_string = std::string(200, 'x');  // 1 + 2 + 200 = 203 = 0xcb -> varint cb 01
  std::vector<uint8_t> out;
  ByteWriter w(out);
  encode_properties(p, w);
  ASSERT_EQ(out.size(), 2u + 203u);
  EXPECT_EQ(to_hex(std::span(out).first(5)), "cb 01 1f 00 c8");
  EXPECT_EQ(properties_encoded_size(p), out.size());
}

TEST(PropertiesEncode, SubscriptionIdentifierVarintSizes) {
  Properties p;
  p.subscription_identifiers = {127, 128, 16383, 16384, 2097151, 2097152, 268435455};
  EXPECT_EQ(encode_hex(p), norm_hex("1a"
                                    "0b 7f"
                                    "0b 80 01"
                                    "0b ff 7f"
                                    "0b 80 80 01"
                                    "0b ff ff 7f"
                                    "0b 80 80 80 01"
                                    "0b ff ff ff 7f"));
  EXPECT_EQ(properties_content_size(p), 0x1au);
}

TEST(PropertiesRoundTrip, DecodeEncodeIsIdentityForCanonicalBlocks) {
  struct Case {
    const char* hex;
    C ctx;
  };
  const Case cases[] = {
      {"0c 01 01 02 00 00 00 3c 0b 05 23 00 07", C::kPublish},
      {"0d 11 00 00 00 0a 21 00 14 27 00 00 10 00", C::kConnect},
      {"12 1f 00 02 6f 6b 26 00 01 61 00 01 62 26 00 01 61 00 00", C::kSubAck},
      {"07 18 00 00 00 0a 01 00", C::kWill},
  };
  for (const auto& c : cases) {
    auto p = must_decode(c.hex, c.ctx);
    // Will: 01 sorts before 18, so this one is not canonical on the wire; compare canonical.
    if (c.ctx == C::kWill) {
      EXPECT_EQ(encode_hex(p), norm_hex("07 01 00 18 00 00 00 0a"));
    } else {
      EXPECT_EQ(encode_hex(p), norm_hex(c.hex));
    }
  }
}

}  // namespace
}  // namespace mquictt::codec
