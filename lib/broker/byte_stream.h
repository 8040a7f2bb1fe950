#pragma once
// The single seam between transports and MQTT. A transport (TCP socket, TLS session, QUIC stream)
// implements ByteStream; the MQTT layer implements ByteStreamHandler. Neither side knows anything
// else about the other: no fds, no ngtcp2, no libev here.
//
// A connection is usually one stream. MQTT over QUIC may have more (EMQX's data streams): the
// transport gets the handler of the first stream from Broker::accept() and asks that handler for
// the handler of every further stream the peer opens (ByteStreamHandler::add_stream()).
//
// Ownership and call order:
//  - The transport owns the ByteStream and the ByteStreamHandler it was given for it (from
//    Broker::accept() or add_stream()); every stream of a connection has its own pair.
//  - Callbacks into the handler happen on the loop thread, never re-entrantly from inside a
//    ByteStream method call (write()/close() never call back synchronously).
//  - on_closed() is the last call the handler receives; after it the ByteStream* is dangling.
//  - The handler must not destroy the transport from inside a callback; it calls close() and the
//    transport's owner removes it after the callback unwinds.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "broker/packet_trace.h"

namespace mquictt::broker {

using SharedBytes = std::shared_ptr<const std::vector<uint8_t>>;

enum class CloseCause : uint8_t {
  kLocal,          // we called close()
  kPeerClosed,     // orderly EOF / FIN from the peer
  kError,          // socket / TLS / QUIC error
  kTransportGone,  // the whole connection went away (e.g. QUIC connection closed)
};

class ByteStream {
 public:
  virtual ~ByteStream() = default;

  // Queues bytes to send; never blocks. Bytes written after close() are dropped.
  virtual void write(std::span<const uint8_t> bytes) = 0;
  // Same, sharing an already-encoded frame (one encoded PUBLISH serves many subscribers).
  virtual void write_shared(SharedBytes frame) { write(*frame); }
  // Bytes accepted by write() but not yet handed to the kernel / QUIC stack.
  virtual size_t pending_bytes() const = 0;
  // Backpressure: false stops on_data() deliveries (and, for QUIC, credit) until set back.
  virtual void set_reading(bool enabled) = 0;
  // Flushes what is queued (best effort, bounded by the transport's linger time), then closes.
  virtual void close() = 0;
  // Closes immediately, discarding queued bytes.
  virtual void abort() = 0;
  // abort() with an error code the peer sees, where the transport has one (QUIC: RESET_STREAM
  // and STOP_SENDING carrying `app_error_code`); elsewhere just abort(). The broker passes MQTT 5
  // reason codes (0x81 Malformed Packet, 0x95 Packet Too Large, 0x82 Protocol Error, ...).
  virtual void abort_with_error(uint64_t app_error_code) {
    (void)app_error_code;
    abort();
  }
  // For logs: "tcp 127.0.0.1:50312", "quic 1a2b3c4d/0".
  virtual std::string describe() const = 0;
  // Identity from a verified client certificate (CN), empty if none. Used for
  // use_identity_as_username.
  virtual std::string tls_identity() const { return {}; }
  // True while what on_data() delivers may be a replay: the bytes came as TLS 1.3 early data
  // (QUIC 0-RTT) and the handshake that proves the peer is live and holds the keys has not
  // completed. An attacker can resend a captured 0-RTT flight, but such a connection never
  // completes its handshake. When it completes, every stream's handler gets
  // on_early_data_confirmed() (if it received anything before); a connection that dies first
  // only gets on_closed(). Transports without early data always return false.
  virtual bool early_data() const { return false; }
  // Packet tracing (MQTT over QUIC: events in the connection's qlog, docs/qlog.md). The broker
  // asks tracing() once, when it takes the stream; if true it calls trace() for every MQTT packet
  // received or sent on the stream (packet_trace.h), otherwise never: no cost when off.
  virtual bool tracing() const { return false; }
  virtual void trace(const PacketTrace& packet) { (void)packet; }
};

class ByteStreamHandler {
 public:
  virtual ~ByteStreamHandler() = default;
  // Bytes arrived in order. The handler takes all of them (it buffers partial frames).
  virtual void on_data(std::span<const uint8_t> bytes) = 0;
  // pending_bytes() dropped below the transport's low watermark after being above the high one.
  virtual void on_writable() = 0;
  // Last call; see above.
  virtual void on_closed(CloseCause cause) = 0;
  // The handshake completed: bytes delivered while early_data() was true are confirmed (not a
  // replay), and early_data() is false from now on. Same call rules as on_writable().
  virtual void on_early_data_confirmed() {}
  // The peer opened another stream of this handler's connection (MQTT over QUIC data streams).
  // Returns its handler, which the transport owns and drives under the same rules as this one
  // (`stream` outlives it up to its on_closed()), or nullptr to refuse the stream (the transport
  // then resets it). Never called from inside one of this handler's own callbacks. The handlers
  // may reference each other; each must cope with the other being destroyed first.
  virtual std::unique_ptr<ByteStreamHandler> add_stream(ByteStream& stream) {
    (void)stream;
    return nullptr;
  }
};

}  // namespace mquictt::broker
