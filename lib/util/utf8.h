#pragma once
// MQTT UTF-8 string rules (MQTT 5 §1.5.4, 3.1.1 §1.5.3): well-formed UTF-8 (RFC 3629), so no
// over-long encodings, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, and no U+0000.
// Other control characters and non-characters are allowed (the spec lets receivers accept them).

#include <string_view>

namespace mquictt {

bool valid_mqtt_utf8(std::string_view s);

}  // namespace mquictt
