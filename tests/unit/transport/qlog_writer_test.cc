// QlogWriter (docs/qlog.md): JSON string escaping, the MQTT event record, and the file (ngtcp2's
// bytes verbatim, MQTT records in ngtcp2's time unit, nothing after ngtcp2's FIN).

#include "transport/quic/qlog_writer.h"

#include <gtest/gtest.h>
#include <ngtcp2/ngtcp2.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace mquictt::quic {
namespace {

std::string json(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

TEST(JsonString, PlainTextIsQuotedOnly) {
  EXPECT_EQ(json(""), R"("")");
  EXPECT_EQ(json("a/b/+/#"), R"("a/b/+/#")");
  EXPECT_EQ(json("it's </tag> ~"), R"("it's </tag> ~")");
}

TEST(JsonString, QuoteAndBackslash) {
  EXPECT_EQ(json("a\"b"), R"("a\"b")");
  EXPECT_EQ(json("a\\b"), R"("a\\b")");
  EXPECT_EQ(json("\\\""), R"("\\\"")");
}

TEST(JsonString, ControlCharacters) {
  EXPECT_EQ(json("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(json(std::string("\x00\x01\x1f\x7f", 4)), R"("\u0000\u0001\u001f\u007f")");
  EXPECT_EQ(json("\x1e"), R"("\u001e")");  // the JSON-SEQ record separator never appears raw
}

TEST(JsonString, Utf8PassesThrough) {
  EXPECT_EQ(json("caf\xC3\xA9"), "\"caf\xC3\xA9\"");                                    // U+00E9
  EXPECT_EQ(json("\xE2\x82\xAC"), "\"\xE2\x82\xAC\"");                                  // U+20AC
  EXPECT_EQ(json("\xF0\x9F\x98\x80"), "\"\xF0\x9F\x98\x80\"");                          // U+1F600
  EXPECT_EQ(json("\xEF\xBF\xBF\xF4\x8F\xBF\xBF"), "\"\xEF\xBF\xBF\xF4\x8F\xBF\xBF\"");  // max
}

TEST(JsonString, MalformedUtf8BecomesReplacementCharacters) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(json("a\xFF"), "\"a" + r + "\"");
  EXPECT_EQ(json("\xC3"), "\"" + r + "\"");                          // truncated
  EXPECT_EQ(json("\xC0\xAF"), "\"" + r + r + "\"");                  // over-long '/'
  EXPECT_EQ(json("\xE0\x80\xAF"), "\"" + r + r + r + "\"");          // over-long, 3 bytes
  EXPECT_EQ(json("\xED\xA0\x80"), "\"" + r + r + r + "\"");          // surrogate U+D800
  EXPECT_EQ(json("\xF4\x90\x80\x80"), "\"" + r + r + r + r + "\"");  // above U+10FFFF
  EXPECT_EQ(json("\x80x"), "\"" + r + "x\"");                        // lone continuation byte
}

TEST(MqttRecord, PublishReceived) {
  broker::PacketTrace t;
  t.type = codec::PacketType::kPublish;
  t.length = 14;
  t.packet_id = 7;
  t.topic = "a/\"b";
  t.qos = 1;
  t.retain = true;
  t.topic_alias = 3;
  t.payload_length = 2;
  std::string out;
  append_mqtt_record(out, 12, 4, t);
  EXPECT_EQ(out,
            "\x1e"
            R"({"time":12,"name":"mqtt:packet_received","data":{"stream_id":4,)"
            R"("packet_type":"publish","length":14,"packet_id":7,"topic":"a/\"b","qos":1,)"
            R"("dup":false,"retain":true,"topic_alias":3,"payload_length":2}})"
            "\n");
}

TEST(MqttRecord, SubscribeSubackConnackDisconnect) {
  const std::vector<codec::Subscription> subs{{"x/#", {1}}, {"y\\", {2}}};
  broker::PacketTrace s;
  s.type = codec::PacketType::kSubscribe;
  s.length = 20;
  s.packet_id = 2;
  s.subscriptions = subs;
  std::string out;
  append_mqtt_record(out, 0, 0, s);
  EXPECT_EQ(out,
            "\x1e"
            R"({"time":0,"name":"mqtt:packet_received","data":{"stream_id":0,)"
            R"("packet_type":"subscribe","length":20,"packet_id":2,"subscriptions":)"
            R"([{"topic_filter":"x/#","qos":1},{"topic_filter":"y\\","qos":2}]}})"
            "\n");

  const std::vector<uint8_t> codes{1, 0x80};
  broker::PacketTrace a;
  a.sent = true;
  a.type = codec::PacketType::kSubAck;
  a.length = 6;
  a.packet_id = 2;
  a.reason_codes = codes;
  out.clear();
  append_mqtt_record(out, 1, 0, a);
  EXPECT_EQ(out,
            "\x1e"
            R"({"time":1,"name":"mqtt:packet_sent","data":{"stream_id":0,)"
            R"("packet_type":"suback","length":6,"packet_id":2,"reason_codes":[1,128]}})"
            "\n");

  broker::PacketTrace c;
  c.sent = true;
  c.type = codec::PacketType::kConnAck;
  c.length = 5;
  c.reason_code = 0x87;
  out.clear();
  append_mqtt_record(out, 1, 0, c);
  EXPECT_EQ(out,
            "\x1e"
            R"({"time":1,"name":"mqtt:packet_sent","data":{"stream_id":0,)"
            R"("packet_type":"connack","length":5,"session_present":false,)"
            R"("reason_code":135}})"
            "\n");

  broker::PacketTrace d;
  d.type = codec::PacketType::kDisconnect;
  d.length = 3;
  d.reason_code = 4;
  out.clear();
  append_mqtt_record(out, 2, 0, d);
  EXPECT_EQ(out,
            "\x1e"
            R"({"time":2,"name":"mqtt:packet_received","data":{"stream_id":0,)"
            R"("packet_type":"disconnect","length":3,"reason_code":4}})"
            "\n");
}

TEST(QlogWriter, Ngtcp2BytesVerbatimMqttInMillisecondsNothingAfterFin) {
  char tmpl[] = "/tmp/mquictt-qlogw-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/c.sqlog";
  std::string error;
  EXPECT_EQ(QlogWriter::open(std::string(tmpl) + "/no/such/dir/c.sqlog", 0, &error), nullptr);
  EXPECT_FALSE(error.empty());

  const Timestamp ref = 5 * kNanosPerSecond;
  auto w = QlogWriter::open(path, ref, &error);
  ASSERT_NE(w, nullptr) << error;
  EXPECT_TRUE(w->is_open());
  const std::string header = "\x1e{\"qlog_version\":\"0.3\"}\n";
  w->write_ngtcp2(NGTCP2_QLOG_WRITE_FLAG_NONE, header.data(), header.size());
  broker::PacketTrace ping;
  ping.type = codec::PacketType::kPingReq;
  ping.length = 2;
  w->write_packet(ref + 3 * kNanosPerMilli - 1, 8, ping);  // 2.999999 ms: truncated like ngtcp2
  w->write_ngtcp2(NGTCP2_QLOG_WRITE_FLAG_FIN, nullptr, 0);
  EXPECT_FALSE(w->is_open());
  w->write_packet(ref + kNanosPerSecond, 8, ping);  // dropped
  w.reset();

  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, header +
                      "\x1e"
                      R"({"time":2,"name":"mqtt:packet_received","data":{"stream_id":8,)"
                      R"("packet_type":"pingreq","length":2}})"
                      "\n");
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
}

}  // namespace
}  // namespace mquictt::quic
