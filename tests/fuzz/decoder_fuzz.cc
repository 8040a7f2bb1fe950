// libFuzzer target: decode() under both protocol versions. Whatever decodes must survive a round
// trip: encode it, check encoded_size(), decode the bytes again and get the same packet, and
// encoding that gives the same bytes (the encoder's output is canonical). Any mismatch aborts,
// which libFuzzer reports as a crash with the input saved.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <variant>
#include <vector>

#include "codec/decoder.h"
#include "codec/encoder.h"
#include "codec/packet.h"

namespace {

using mquictt::codec::Connect;
using mquictt::codec::Packet;
using mquictt::codec::ProtocolVersion;

[[noreturn]] void fail(const char* what, ProtocolVersion v, const Packet& p,
                       const std::vector<uint8_t>& bytes) {
  std::fprintf(stderr, "decoder_fuzz: %s (version %d, packet %s)\n  re-encoded:", what,
               static_cast<int>(v), mquictt::codec::packet_type_name(packet_type(p)));
  for (uint8_t b : bytes)
    std::fprintf(stderr, " %02x", b);
  std::fprintf(stderr, "\n");
  std::abort();
}

void round_trip(std::span<const uint8_t> in, ProtocolVersion v) {
  auto decoded = mquictt::codec::decode(in, v);
  if (!decoded.ok()) {
    // Every rejection must carry a failure reason code (>= 0x80).
    if (decoded.error().reason < 0x80) {
      std::fprintf(stderr, "decoder_fuzz: error with reason 0x%02x\n", decoded.error().reason);
      std::abort();
    }
    return;
  }
  const Packet& p = decoded.value();
  // A CONNECT is encoded in the version it carries, whatever the connection's version.
  ProtocolVersion ev = v;
  if (const auto* c = std::get_if<Connect>(&p)) ev = c->version;

  std::vector<uint8_t> bytes = mquictt::codec::encode(p, ev);
  if (mquictt::codec::encoded_size(p, ev) != bytes.size())
    fail("encoded_size mismatch", ev, p, bytes);
  if (bytes.size() > in.size() + 8 && bytes.size() > 2 * in.size()) {
    // Re-encoding never grows a packet much: fields are copied, short forms only shrink it.
    fail("re-encoded packet much larger than the input", ev, p, bytes);
  }
  auto again = mquictt::codec::decode(bytes, v);
  if (!again.ok()) fail("re-encoded packet does not decode", ev, p, bytes);
  if (!(again.value() == p)) fail("re-encoded packet decodes to a different packet", ev, p, bytes);
  if (mquictt::codec::encode(again.value(), ev) != bytes)
    fail("encoding is not stable", ev, p, bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  round_trip(in, ProtocolVersion::kV311);
  round_trip(in, ProtocolVersion::kV5);
  (void)mquictt::codec::peek_connect_level(in);
  return 0;
}
