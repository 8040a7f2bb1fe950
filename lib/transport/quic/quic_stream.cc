#include "transport/quic/quic_stream.h"

#include "transport/quic/quic_connection.h"

namespace mquictt::quic {

void QuicStream::write(std::span<const uint8_t> bytes) {
  if (local_closed_ || bytes.empty()) return;
  send_.append(bytes);
  conn_.stream_written(*this);
}

void QuicStream::write_shared(broker::SharedBytes frame) {
  if (local_closed_ || !frame || frame->empty()) return;
  send_.append_shared(std::move(frame));
  conn_.stream_written(*this);
}

void QuicStream::set_reading(bool enabled) {
  const bool resumed = enabled && !reading_;
  reading_ = enabled;
  // Parked bytes are delivered from the connection's next write event, not from here: a
  // ByteStream method never calls back into the handler.
  if (resumed && inbound_.parked() != 0) conn_.stream_resumed();
}

void QuicStream::close() {
  if (local_closed_) return;
  local_closed_ = true;
  fin_requested_ = true;
  conn_.stream_close_requested(*this);
}

void QuicStream::abort_with_error(uint64_t app_error_code) {
  if (local_closed_ && !fin_requested_) return;
  local_closed_ = true;
  reset_code_ = app_error_code;
  // The send buffer is kept: ngtcp2 may still reference sent bytes until the connection closes.
  conn_.stream_abort_requested(*this);
}

std::string QuicStream::describe() const {
  return conn_.describe_stream(id_);
}

bool QuicStream::early_data() const {
  return !conn_.handshake_done();
}

std::string QuicStream::tls_identity() const {
  return conn_.tls_identity();
}

bool QuicStream::tracing() const {
  return conn_.tracing();
}

void QuicStream::trace(const broker::PacketTrace& packet) {
  conn_.trace_packet(id_, packet);
}

}  // namespace mquictt::quic
