#pragma once
// One QUIC stream of a server connection, as a broker::ByteStream.
//
// The control stream (the client's first bidirectional stream, id 0) gets its ByteStreamHandler
// from Broker::accept(); every other client bidirectional stream (a data stream, EMQX's
// multi-stream mode) gets one from the control stream's handler (ByteStreamHandler::add_stream())
// or is reset if that refuses it. See quic_connection.h for what closing each kind means.
//
// Ownership: the QuicConnection owns its streams; a stream owns its handler. The connection
// drives everything; the ByteStream methods below never call ngtcp2 and never call back into the
// handler: they change state and ask the connection to act on the next loop iteration
// (ByteStream's "never re-entrantly" rule, and ngtcp2's "no API calls from inside callbacks").
//
// Handler callbacks, all from the connection (never from inside a ByteStream method):
//   on_data()      from ngtcp2's recv_stream_data while reading, or from the connection's write
//                  event for bytes parked while reading was paused;
//   on_writable()  after acknowledgements bring pending_bytes() to the low watermark after it
//                  exceeded the high one;
//   on_closed()    exactly once, from the ConnectionSet's reap, as the last call.
//
// pending_bytes() counts every byte the stream holds: not yet sent *and* sent but unacknowledged,
// because ngtcp2 retransmits from our buffer (stream_buffers.h); that is the memory a slow client
// costs us, which is what the broker's watermarks are for.

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "broker/byte_stream.h"
#include "transport/quic/stream_buffers.h"

namespace mquictt::quic {

class QuicConnection;

class QuicStream final : public broker::ByteStream {
 public:
  QuicStream(QuicConnection& conn, int64_t id) : conn_(conn), id_(id) {}
  ~QuicStream() override = default;
  QuicStream(const QuicStream&) = delete;
  QuicStream& operator=(const QuicStream&) = delete;

  // broker::ByteStream
  void write(std::span<const uint8_t> bytes) override;
  void write_shared(broker::SharedBytes frame) override;
  size_t pending_bytes() const override { return send_.buffered(); }
  void set_reading(bool enabled) override;
  void close() override;
  void abort() override { abort_with_error(0); }
  // Control stream: like abort() (the connection closes with application error 0). Data stream:
  // RESET_STREAM + STOP_SENDING with `app_error_code`; the connection goes on.
  void abort_with_error(uint64_t app_error_code) override;
  std::string describe() const override;
  std::string tls_identity() const override;
  // Until the handshake completes, stream data can only be 0-RTT (the client's 1-RTT packets
  // cannot be decrypted before).
  bool early_data() const override;
  // MQTT events in the connection's qlog (docs/qlog.md), with this stream's id.
  bool tracing() const override;
  void trace(const broker::PacketTrace& packet) override;

  int64_t id() const { return id_; }

 private:
  friend class QuicConnection;

  QuicConnection& conn_;
  int64_t id_;
  std::unique_ptr<broker::ByteStreamHandler> handler_;
  SendBuffer send_;
  InboundBuffer inbound_;
  bool reading_ = true;         // set_reading()
  bool local_closed_ = false;   // close() or abort() was called: no more writes or deliveries
  bool fin_requested_ = false;  // close(): send FIN after the queued bytes
  bool fin_sent_ = false;       // ngtcp2 took the FIN
  bool peer_finished_ = false;  // FIN or RESET_STREAM from the peer
  bool reset_ = false;          // we reset it (or are about to): nothing more goes out
  uint64_t reset_code_ = 0;     // the application error code of our reset
  bool above_high_ = false;     // pending_bytes() exceeded the high watermark
  bool closed_ = false;         // ngtcp2 closed the stream (both directions done or reset)
  bool opened_by_peer_callback_ = false;  // ngtcp2 called stream_open for it (credit bookkeeping)
  // on_closed() still to be delivered by the reap, and its cause.
  bool close_pending_ = false;
  broker::CloseCause cause_ = broker::CloseCause::kLocal;
};

}  // namespace mquictt::quic
