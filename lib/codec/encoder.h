#pragma once
// encode(): Packet -> exact wire bytes (fixed header + body) appended to `out`. The packet must be
// valid for `version` (the encoder does not validate; the decoder does). encoded_size() returns the
// exact number of bytes encode() appends, so callers can check a peer's Maximum Packet Size
// before encoding.
//
// CONNECT is encoded in its own `Connect::version` (protocol level byte and layout); the `version`
// argument is ignored for it, mirroring decode(), which takes the version from the CONNECT itself.
//
// MQTT 5 short forms used (as the spec allows and most brokers do):
//  - PUBACK/PUBREC/PUBREL/PUBCOMP: reason and property length omitted when reason == 0 and no
//    properties; property length omitted when there are no properties.
//  - DISCONNECT/AUTH: empty body when reason == 0 and no properties; property length omitted
//    when there are no properties.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "codec/packet.h"

namespace mquictt::codec {

void encode(const Packet& p, ProtocolVersion version, std::vector<uint8_t>& out);
std::vector<uint8_t> encode(const Packet& p, ProtocolVersion version);

// Whole frame size: fixed header + remaining length varint + body.
size_t encoded_size(const Packet& p, ProtocolVersion version);

}  // namespace mquictt::codec
