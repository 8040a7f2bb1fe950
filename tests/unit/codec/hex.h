#pragma once
// The codec tests' names for the shared hex helpers in tests/common/hex.h.

#include "common/hex.h"

namespace mquictt::codec_test {

using test::frame;
using test::hex;
using test::norm_hex;
using test::to_hex;
inline std::vector<uint8_t> bytes(std::string_view s) {
  return test::bytes_of(s);
}

}  // namespace mquictt::codec_test
