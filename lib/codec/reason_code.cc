#include "codec/reason_code.h"

#include "codec/packet.h"

namespace mquictt::codec {

std::string_view reason_name(uint8_t code) {
  switch (code) {
    // 0x00 is also "Normal disconnection" and "Granted QoS 0"; the name is context-free.
    case 0x00:
      return "Success";
    case 0x01:
      return "Granted QoS 1";
    case 0x02:
      return "Granted QoS 2";
    case 0x04:
      return "Disconnect with Will Message";
    case 0x10:
      return "No matching subscribers";
    case 0x11:
      return "No subscription existed";
    case 0x18:
      return "Continue authentication";
    case 0x19:
      return "Re-authenticate";
    case 0x80:
      return "Unspecified error";
    case 0x81:
      return "Malformed Packet";
    case 0x82:
      return "Protocol Error";
    case 0x83:
      return "Implementation specific error";
    case 0x84:
      return "Unsupported Protocol Version";
    case 0x85:
      return "Client Identifier not valid";
    case 0x86:
      return "Bad User Name or Password";
    case 0x87:
      return "Not authorized";
    case 0x88:
      return "Server unavailable";
    case 0x89:
      return "Server busy";
    case 0x8A:
      return "Banned";
    case 0x8B:
      return "Server shutting down";
    case 0x8C:
      return "Bad authentication method";
    case 0x8D:
      return "Keep Alive timeout";
    case 0x8E:
      return "Session taken over";
    case 0x8F:
      return "Topic Filter invalid";
    case 0x90:
      return "Topic Name invalid";
    case 0x91:
      return "Packet Identifier in use";
    case 0x92:
      return "Packet Identifier not found";
    case 0x93:
      return "Receive Maximum exceeded";
    case 0x94:
      return "Topic Alias invalid";
    case 0x95:
      return "Packet too large";
    case 0x96:
      return "Message rate too high";
    case 0x97:
      return "Quota exceeded";
    case 0x98:
      return "Administrative action";
    case 0x99:
      return "Payload format invalid";
    case 0x9A:
      return "Retain not supported";
    case 0x9B:
      return "QoS not supported";
    case 0x9C:
      return "Use another server";
    case 0x9D:
      return "Server moved";
    case 0x9E:
      return "Shared Subscriptions not supported";
    case 0x9F:
      return "Connection rate exceeded";
    case 0xA0:
      return "Maximum connect time";
    case 0xA1:
      return "Subscription Identifiers not supported";
    case 0xA2:
      return "Wildcard Subscriptions not supported";
    default:
      return "Unknown";
  }
}

uint8_t to_v311_connack(uint8_t v5_reason) {
  switch (v5_reason) {
    case rc::kSuccess:
      return rc311::kAccepted;
    case rc::kUnsupportedProtocolVersion:
      return rc311::kUnacceptableProtocolVersion;
    case rc::kClientIdentifierNotValid:
      return rc311::kIdentifierRejected;
    case rc::kBadUserNameOrPassword:
      return rc311::kBadUserNameOrPassword;
    // Refusals about who the client is.
    case rc::kNotAuthorized:
    case rc::kBanned:
    case rc::kBadAuthenticationMethod:
      return rc311::kNotAuthorized;
    // Refusals about the server's state: 3.1.1 can only say "MQTT service unavailable".
    case rc::kUnspecifiedError:
    case rc::kImplementationSpecificError:
    case rc::kServerUnavailable:
    case rc::kServerBusy:
    case rc::kQuotaExceeded:
    case rc::kUseAnotherServer:
    case rc::kServerMoved:
    case rc::kConnectionRateExceeded:
      return rc311::kServerUnavailable;
    // Malformed/protocol errors, Packet too large, Topic Name invalid (will topic), Payload format
    // invalid, Retain/QoS not supported: 3.1.1 says to close the connection without a CONNACK.
    default:
      return 0xFF;
  }
}

// Lives here rather than in a packet.cc so the explicit source list in CMakeLists.txt stays as is.
const char* packet_type_name(PacketType t) {
  switch (t) {
    case PacketType::kConnect:
      return "CONNECT";
    case PacketType::kConnAck:
      return "CONNACK";
    case PacketType::kPublish:
      return "PUBLISH";
    case PacketType::kPubAck:
      return "PUBACK";
    case PacketType::kPubRec:
      return "PUBREC";
    case PacketType::kPubRel:
      return "PUBREL";
    case PacketType::kPubComp:
      return "PUBCOMP";
    case PacketType::kSubscribe:
      return "SUBSCRIBE";
    case PacketType::kSubAck:
      return "SUBACK";
    case PacketType::kUnsubscribe:
      return "UNSUBSCRIBE";
    case PacketType::kUnsubAck:
      return "UNSUBACK";
    case PacketType::kPingReq:
      return "PINGREQ";
    case PacketType::kPingResp:
      return "PINGRESP";
    case PacketType::kDisconnect:
      return "DISCONNECT";
    case PacketType::kAuth:
      return "AUTH";
  }
  return "UNKNOWN";
}

}  // namespace mquictt::codec
