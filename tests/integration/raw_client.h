#pragma once
// A raw-bytes MQTT client for black-box tests: sends exactly the bytes it is given and reads whole
// frames back (split with the codec's FrameSplitter), so tests assert the wire. It speaks TCP
// (connect) or MQTT over QUIC (connect_quic: the control stream of a QUIC connection, ALPN mqtt);
// everything after connecting is the same for both.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "codec/frame_splitter.h"
#include "codec/packet.h"
#include "transport/quic/quic_client.h"

namespace mquictt::test {

using namespace std::chrono_literals;

class RawClient {
 public:
  RawClient() = default;
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connect(uint16_t port);
  // QUIC to 127.0.0.1:port, verifying the test CA, and opens the control stream. `tweak` may
  // adjust the client options (ALPN, certificates, ...) before connecting.
  bool connect_quic(uint16_t port,
                    const std::function<void(quic::QuicClientOptions&)>& tweak = nullptr);
  // 0-RTT: starts a QUIC connection (`tweak` sets QuicClientOptions::resumption), opens the
  // control stream and returns before the handshake completes. send_early() queues bytes without
  // waiting for their acknowledgement (which cannot come before the handshake).
  bool begin_quic(uint16_t port, const std::function<void(quic::QuicClientOptions&)>& tweak);
  void send_early(std::span<const uint8_t> bytes);
  int64_t stream_id() const { return stream_; }
  // The QUIC connection (nullptr for TCP), e.g. to inspect how it was closed.
  quic::QuicClient* quic() { return quic_.get(); }
  void send(std::span<const uint8_t> bytes);
  void send_hex(std::string_view hex);
  void send_packet(const codec::Packet& p, codec::ProtocolVersion v);
  // Close the socket abruptly (no DISCONNECT). Over QUIC: CONNECTION_CLOSE with application
  // error 0 (the server sees the connection vanish, as with a TCP close).
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
  // Loopback, the test CA, then `tweak`.
  static quic::QuicClientOptions quic_options(
      uint16_t port, const std::function<void(quic::QuicClientOptions&)>& tweak);
  // Reads once from the socket into the splitter; false on timeout/EOF.
  bool fill(std::chrono::steady_clock::time_point deadline);

  bool fill_quic(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::unique_ptr<quic::QuicClient> quic_;
  int64_t stream_ = -1;
  bool eof_ = false;
  codec::FrameSplitter splitter_;
};

// Convenience: raw CONNECT for `client_id` in version v with clean start and keepalive 60.
std::vector<uint8_t> connect_bytes(const std::string& client_id, codec::ProtocolVersion v,
                                   bool clean = true, uint16_t keepalive = 60);

}  // namespace mquictt::test
