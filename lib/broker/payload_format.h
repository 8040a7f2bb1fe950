#pragma once
// Payload Format Indicator = 1 check (MQTT 5 §3.3.2.3.2): the payload must be well-formed UTF-8
// per RFC 3629 -- no over-long forms, no surrogates, nothing above U+10FFFF. Unlike MQTT UTF-8
// *strings* (util/utf8.h), U+0000 is allowed in a payload.

#include <cstdint>
#include <span>

namespace mquictt::broker {

bool well_formed_utf8(std::span<const uint8_t> bytes);

}  // namespace mquictt::broker
