#pragma once
// Golden MQTT frames (hex, tests/common/hex.h) shared by the integration tests over several
// transports. Wire bytes are the contract: each constant is written out, not encoded by our codec.

namespace mquictt::test {

// MQTT 3.1.1 CONNECT, clean session, keep alive 60, client ids "q1", "q2", "t1", "m1", "p1".
inline constexpr const char* kConnectQ1 = "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 71 31";
inline constexpr const char* kConnectQ2 = "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 71 32";
inline constexpr const char* kConnectT1 = "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 74 31";
inline constexpr const char* kConnectM1 = "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 6d 31";
inline constexpr const char* kConnectP1 = "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 70 31";
// CONNACK, session present 0, accepted (3.1.1).
inline constexpr const char* kConnAckOk = "20 02 00 00";
inline constexpr const char* kPingReq = "c0 00";
inline constexpr const char* kPingResp = "d0 00";

}  // namespace mquictt::test
