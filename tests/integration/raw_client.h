#pragma once
// A raw-bytes MQTT client over TCP for black-box tests: sends exactly the bytes it is given and
// reads whole frames back (split with the codec's FrameSplitter), so tests assert the wire.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codec/frame_splitter.h"
#include "codec/packet.h"

namespace mquictt::test {

using namespace std::chrono_literals;

class RawClient {
 public:
  RawClient() = default;
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connect(uint16_t port);
  void send(std::span<const uint8_t> bytes);
  void send_hex(std::string_view hex);
  void send_packet(const codec::Packet& p, codec::ProtocolVersion v);
  // Half-close or close the socket abruptly (no DISCONNECT).
  void close();

  // Next complete frame, or nullopt on timeout / close.
  std::optional<std::vector<uint8_t>> read_frame(std::chrono::milliseconds timeout = 5s);
  // Next frame decoded under `v`.
  std::optional<codec::Packet> read_packet(codec::ProtocolVersion v,
                                           std::chrono::milliseconds timeout = 5s);
  // The next frame equals `hex` exactly.
  ::testing::AssertionResult expect_hex(std::string_view hex,
                                        std::chrono::milliseconds timeout = 5s);
  // The server closes the connection within `timeout` (after any frames; those are returned).
  ::testing::AssertionResult expect_closed(std::chrono::milliseconds timeout = 5s);
  // Nothing arrives within `window` (connection still open).
  ::testing::AssertionResult expect_silence(std::chrono::milliseconds window = 300ms);

  bool closed() const { return eof_; }

 private:
  // Reads once from the socket into the splitter; false on timeout/EOF.
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  bool eof_ = false;
  codec::FrameSplitter splitter_;
};

// Convenience: raw CONNECT for `client_id` in version v with clean start and keepalive 60.
std::vector<uint8_t> connect_bytes(const std::string& client_id, codec::ProtocolVersion v,
                                   bool clean = true, uint16_t keepalive = 60);

}  // namespace mquictt::test
