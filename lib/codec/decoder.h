#pragma once
// decode(): one complete MQTT control packet frame (fixed header + body, as produced by
// FrameSplitter) -> Packet, or an Error whose `reason` is the MQTT 5 reason code the server must
// send (CONNACK reason before CONNECT is accepted, else DISCONNECT reason). Pure function.
//
// Error mapping (MQTT 5 §4.13): structural damage (truncation, trailing bytes, bad UTF-8,
// reserved flag bits, QoS 3, bad remaining length) is 0x81 Malformed Packet; well-formed but
// illegal content (packet id 0, duplicate property, wildcard in a topic name, will flags
// inconsistent, ...) is 0x82 Protocol Error unless the spec names another code (0x84 unsupported
// protocol version, 0x85 client identifier not valid, 0x8F topic filter invalid, 0x90 topic name
// invalid). For MQTT 3.1.1 the same Error is returned; the caller closes the connection (3.1.1 has
// no DISCONNECT from the server) except for CONNACK-able CONNECT errors (see peek_connect_level).
//
// Spec table (rule -> reason code, per version) is at the top of decoder.cc; the tests are
// tests/unit/codec/decoder_test.cc and the golden catalogue tests/data/packets/.

#include <cstdint>
#include <optional>
#include <span>

#include "codec/packet.h"
#include "util/result.h"

namespace mquictt::codec {

// `version` is the connection's negotiated version; it is ignored for CONNECT (which carries its
// own). AUTH under 3.1.1 is 0x81 Malformed: type 15 is reserved there.
Result<Packet> decode(std::span<const uint8_t> frame, ProtocolVersion version);

// For a frame whose type is CONNECT: the protocol level byte if the frame is long enough to hold
// it and the protocol name is "MQTT" (levels 4, 5) — lets the server answer a bad CONNECT with a
// CONNACK in the client's own version. nullopt otherwise. Any level byte is returned (3, 6, ...)
// when the name is "MQTT"; the caller picks the CONNACK form. Needs only the frame's prefix.
std::optional<uint8_t> peek_connect_level(std::span<const uint8_t> frame);

}  // namespace mquictt::codec
