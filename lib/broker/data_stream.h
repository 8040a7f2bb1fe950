#pragma once
// The streams of one MQTT connection as the protocol handler sees them.
//
// StreamEndpoint: one byte stream of the connection with its own frame splitter -- the control
// stream (the stream Broker::accept() got, tag kControlStream) or a data stream. Frames are split
// per stream: bytes of two streams never mix, and a broken frame breaks only its own stream.
//
// DataStreamHandler: the ByteStreamHandler of a data stream (MQTT over QUIC multi-stream mode,
// EMQX semantics; the rules are in protocol_handler.h "Streams"). It holds no MQTT state: it
// forwards its stream's events to the connection's ProtocolHandler, which does everything.
//
// Ownership: the transport owns a DataStreamHandler (ProtocolHandler::add_stream() returns it),
// exactly like the control stream's ProtocolHandler. The two reference each other without
// owning: the ProtocolHandler keeps the live data streams in a table and cuts the link (detach())
// when it lets a stream go or is destroyed itself; a DataStreamHandler that still has its link
// when it gets on_closed() or is destroyed tells the ProtocolHandler, which forgets it. So either
// may go first, and no call ever reaches a destroyed object.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "broker/byte_stream.h"
#include "broker/message.h"
#include "codec/frame_splitter.h"

namespace mquictt::broker {

class ProtocolHandler;

struct StreamEndpoint {
  StreamEndpoint(ByteStream& s, StreamTag t, uint32_t max_packet_size)
      : stream(s), tag(t), tracing(s.tracing()), splitter(max_packet_size) {}

  ByteStream& stream;
  const StreamTag tag;
  const bool tracing;  // stream.tracing(), asked once: packets go to stream.trace()
  codec::FrameSplitter splitter;
  // False once a data stream was let go (closed after an error, or the peer ended it): its
  // remaining input is ignored. The control stream's life is the connection's (state_).
  bool open = true;
  // A frame that arrived as early data and may not be processed before the handshake completes
  // (protocol_handler.h "Early data"): it and everything behind it on this stream wait. Null when
  // nothing is held (the common case costs one pointer).
  std::unique_ptr<std::vector<uint8_t>> held;
};

class DataStreamHandler final : public ByteStreamHandler {
 public:
  DataStreamHandler(ProtocolHandler& conn, ByteStream& stream, StreamTag tag,
                    uint32_t max_packet_size)
      : conn_(&conn), ep_(stream, tag, max_packet_size) {}
  ~DataStreamHandler() override;
  DataStreamHandler(const DataStreamHandler&) = delete;
  DataStreamHandler& operator=(const DataStreamHandler&) = delete;

  // --- ByteStreamHandler (add_stream() keeps its default: streams are opened on the connection,
  // not on a data stream) ---
  void on_data(std::span<const uint8_t> bytes) override;
  void on_writable() override;
  void on_closed(CloseCause cause) override;
  void on_early_data_confirmed() override;

  // --- For ProtocolHandler ---
  StreamEndpoint& endpoint() { return ep_; }
  const StreamEndpoint& endpoint() const { return ep_; }
  StreamTag tag() const { return ep_.tag; }
  bool attached() const { return conn_ != nullptr; }
  // The connection let this stream go (or is being destroyed): later events are ignored.
  void detach() {
    conn_ = nullptr;
    ep_.open = false;
  }

 private:
  ProtocolHandler* conn_;  // null once detached
  StreamEndpoint ep_;
};

}  // namespace mquictt::broker
