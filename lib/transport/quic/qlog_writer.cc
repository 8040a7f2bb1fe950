#include "transport/quic/qlog_writer.h"

#include <ngtcp2/ngtcp2.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace mquictt::quic {

namespace {

// qlog's convention for names: lower case ("packet_type":"publish").
const char* type_name(codec::PacketType t) {
  switch (t) {
    case codec::PacketType::kConnect:
      return "connect";
    case codec::PacketType::kConnAck:
      return "connack";
    case codec::PacketType::kPublish:
      return "publish";
    case codec::PacketType::kPubAck:
      return "puback";
    case codec::PacketType::kPubRec:
      return "pubrec";
    case codec::PacketType::kPubRel:
      return "pubrel";
    case codec::PacketType::kPubComp:
      return "pubcomp";
    case codec::PacketType::kSubscribe:
      return "subscribe";
    case codec::PacketType::kSubAck:
      return "suback";
    case codec::PacketType::kUnsubscribe:
      return "unsubscribe";
    case codec::PacketType::kUnsubAck:
      return "unsuback";
    case codec::PacketType::kPingReq:
      return "pingreq";
    case codec::PacketType::kPingResp:
      return "pingresp";
    case codec::PacketType::kDisconnect:
      return "disconnect";
    case codec::PacketType::kAuth:
      return "auth";
  }
  return "unknown";
}

// Length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629: no over-long forms, no
// surrogates, nothing above U+10FFFF), or 0 if it is not one. s[0] >= 0x80.
size_t utf8_sequence(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  const uint8_t c = b(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // over-long
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // over-long
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

template <typename Int>
void append_number(std::string& out, Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// ,"key":
void append_key(std::string& out, const char* key) {
  out += ",\"";
  out += key;
  out += "\":";
}

void append_bool(std::string& out, const char* key, bool v) {
  append_key(out, key);
  out += v ? "true" : "false";
}

void append_uint(std::string& out, const char* key, uint64_t v) {
  append_key(out, key);
  append_number(out, v);
}

// ,"key":[e0,e1,...] with `element(out, item)` writing each element.
template <typename Range, typename Fn>
void append_array(std::string& out, const char* key, const Range& items, Fn element) {
  append_key(out, key);
  out += '[';
  bool first = true;
  for (const auto& item : items) {
    if (!first) out += ',';
    first = false;
    element(out, item);
  }
  out += ']';
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x80) {
      if (const size_t n = utf8_sequence(s.substr(i)); n != 0) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER for one bad byte
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

void append_mqtt_record(std::string& out, uint64_t time_ms, int64_t stream_id,
                        const broker::PacketTrace& p) {
  out += "\x1e{\"time\":";
  append_number(out, time_ms);
  out += p.sent ? ",\"name\":\"mqtt:packet_sent\"" : ",\"name\":\"mqtt:packet_received\"";
  out += ",\"data\":{\"stream_id\":";
  append_number(out, stream_id);
  append_key(out, "packet_type");
  out += '"';
  out += type_name(p.type);
  out += '"';
  append_uint(out, "length", p.length);
  if (p.packet_id) append_uint(out, "packet_id", *p.packet_id);
  if (p.protocol_version) {  // CONNECT
    append_key(out, "client_id");
    append_json_string(out, p.client_id);
    append_uint(out, "protocol_version", *p.protocol_version);
    append_bool(out, "clean_start", p.clean_start);
    append_uint(out, "keep_alive", p.keep_alive);
  }
  if (p.type == codec::PacketType::kConnAck) append_bool(out, "session_present", p.session_present);
  if (p.qos) {  // PUBLISH
    append_key(out, "topic");
    append_json_string(out, p.topic);
    append_uint(out, "qos", *p.qos);
    append_bool(out, "dup", p.dup);
    append_bool(out, "retain", p.retain);
    if (p.topic_alias) append_uint(out, "topic_alias", *p.topic_alias);
    append_uint(out, "payload_length", p.payload_length);
  }
  if (!p.subscriptions.empty()) {
    append_array(out, "subscriptions", p.subscriptions, [](std::string& o, const auto& sub) {
      o += "{\"topic_filter\":";
      append_json_string(o, sub.filter);
      append_uint(o, "qos", sub.options.qos);
      o += '}';
    });
  }
  if (!p.filters.empty()) {
    append_array(out, "topic_filters", p.filters,
                 [](std::string& o, const std::string& f) { append_json_string(o, f); });
  }
  if (p.reason_code) append_uint(out, "reason_code", *p.reason_code);
  if (p.type == codec::PacketType::kSubAck || p.type == codec::PacketType::kUnsubAck) {
    append_array(out, "reason_codes", p.reason_codes,
                 [](std::string& o, uint8_t rc) { append_number(o, rc); });
  }
  out += "}}\n";
}

std::unique_ptr<QlogWriter> QlogWriter::open(const std::string& path, Timestamp reference,
                                             std::string* error) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    *error = std::strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<QlogWriter>(new QlogWriter(f, reference));
}

QlogWriter::~QlogWriter() {
  close();
}

void QlogWriter::close() {
  if (file_) std::fclose(file_);
  file_ = nullptr;
}

void QlogWriter::write_ngtcp2(uint32_t flags, const void* data, size_t len) {
  if (!file_) return;
  if (len != 0 && std::fwrite(data, 1, len, file_) != len) close();
  if (flags & NGTCP2_QLOG_WRITE_FLAG_FIN) close();
}

void QlogWriter::write_packet(Timestamp ts, int64_t stream_id, const broker::PacketTrace& packet) {
  if (!file_) return;
  // ngtcp2 writes (ts - initial_ts) / NGTCP2_MILLISECONDS: the same truncation here.
  const uint64_t time_ms = ts > reference_ ? (ts - reference_) / kNanosPerMilli : 0;
  record_.clear();
  append_mqtt_record(record_, time_ms, stream_id, packet);
  if (std::fwrite(record_.data(), 1, record_.size(), file_) != record_.size()) close();
}

}  // namespace mquictt::quic
