#pragma once
// UTF-8 validation (RFC 3629): no over-long encodings, no surrogates (U+D800..U+DFFF), nothing
// above U+10FFFF.
//  - valid_mqtt_utf8: MQTT UTF-8 strings (MQTT 5 §1.5.4, 3.1.1 §1.5.3) additionally forbid
//    U+0000. Other control characters and non-characters are allowed (receivers may accept them).
//  - well_formed_utf8: payloads with Payload Format Indicator 1 (MQTT 5 §3.3.2.3.2), where
//    U+0000 is allowed.

#include <cstdint>
#include <span>
#include <string_view>

namespace mquictt {

bool valid_mqtt_utf8(std::string_view s);
bool well_formed_utf8(std::span<const uint8_t> bytes);

}  // namespace mquictt
