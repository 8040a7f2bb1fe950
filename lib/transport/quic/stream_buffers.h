#pragma once
// The two per-stream buffers of a QUIC stream, free of sockets and ngtcp2 state so they are unit
// tested on their own (tests/unit/transport/quic_stream_buffers_test.cc).
//
// SendBuffer: ngtcp2 does not copy stream data. Bytes handed to ngtcp2_conn_writev_stream must
// stay at the same address until ngtcp2 reports them acknowledged (acked_stream_data_offset),
// because lost packets are retransmitted from them. So the buffer is a deque of chunks that never
// move or grow beyond their fixed capacity, released from the front only when fully acknowledged.
//
//   acked() <= sent() <= written()      (stream offsets, in bytes)
//   [0, acked)        acknowledged and released
//   [acked, sent)     handed to ngtcp2, kept for retransmission
//   [sent, written)   not yet handed to ngtcp2 (peek_unsent / mark_sent)
//
// InboundBuffer: flow-control credit is returned to the peer only for bytes the MQTT layer has
// consumed. While the MQTT layer has reading paused (ByteStream::set_reading(false)), arriving
// bytes are parked here and no credit is returned for them, so the peer runs out of window and
// stops: backpressure reaches the client instead of growing our memory without bound.

#include <ngtcp2/ngtcp2.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "broker/byte_stream.h"

namespace mquictt::quic {

class SendBuffer {
 public:
  // Small writes are packed into chunks of this capacity (one MQTT PUBLISH is often tens of
  // bytes); a write larger than this gets a chunk of its own, exactly sized.
  static constexpr size_t kChunkCapacity = 16 * 1024;
  // Shared frames at most this long are copied into the packing chunk (fewer, fuller vecs).
  static constexpr size_t kCopySharedBelow = 512;

  void append(std::span<const uint8_t> bytes);
  void append_shared(broker::SharedBytes frame);

  uint64_t written() const { return written_; }
  uint64_t sent() const { return sent_; }
  uint64_t acked() const { return acked_; }
  // Not yet handed to ngtcp2.
  size_t unsent() const { return static_cast<size_t>(written_ - sent_); }
  // Held in memory: unsent plus sent-but-unacknowledged.
  size_t buffered() const { return static_cast<size_t>(written_ - acked_); }
  size_t chunk_count() const { return chunks_.size(); }

  // Describes up to `max` vecs of unsent data starting at sent(); returns how many were filled.
  // The memory stays valid until the bytes are acknowledged.
  size_t peek_unsent(ngtcp2_vec* vecs, size_t max) const;
  // ngtcp2 took `n` more bytes (n <= unsent()).
  void mark_sent(size_t n);
  // ngtcp2 reports [offset, offset + len) acknowledged. ngtcp2 reports ranges in increasing order
  // without overlap; anything at or below acked() is ignored. Releases fully acknowledged chunks.
  void ack(uint64_t offset, uint64_t len);
  // Drops everything (stream reset or closed); offsets stay where they are.
  void clear();
  // Everything becomes unsent again, from offset 0 (a client's 0-RTT data the server rejected:
  // the stream starts over). False, and nothing changes, if any byte was acknowledged.
  bool rewind();

 private:
  struct Chunk {
    broker::SharedBytes shared;        // either a shared frame...
    std::unique_ptr<uint8_t[]> owned;  // ...or owned bytes with a fixed capacity
    size_t size = 0;
    size_t capacity = 0;  // owned only; 0 for shared chunks (never appended to)
    const uint8_t* data() const { return shared ? shared->data() : owned.get(); }
  };

  std::deque<Chunk> chunks_;
  uint64_t base_ = 0;  // stream offset of chunks_.front()'s first byte
  uint64_t written_ = 0;
  uint64_t sent_ = 0;
  uint64_t acked_ = 0;
  // Where sent_ lies: chunks_[send_index_], send_offset_ bytes into it.
  size_t send_index_ = 0;
  size_t send_offset_ = 0;
};

class InboundBuffer {
 public:
  // Bytes arrived from the peer. If `reading` and nothing is parked, returns them for immediate
  // delivery (no copy). Otherwise parks a copy (keeping order) and returns an empty span.
  std::span<const uint8_t> on_received(std::span<const uint8_t> bytes, bool reading);
  // Hands out everything parked (for delivery once reading resumes).
  std::vector<uint8_t> take_parked();
  size_t parked() const { return parked_.size(); }

  // The MQTT layer consumed `n` delivered bytes: returns the credit to give back (n).
  uint64_t consume(size_t n);
  // Parked bytes plus delivered-but-unconsumed ones: the credit being withheld from the peer.
  uint64_t withheld() const { return received_ - consumed_; }
  uint64_t received() const { return received_; }
  uint64_t consumed() const { return consumed_; }

 private:
  std::vector<uint8_t> parked_;
  uint64_t received_ = 0;
  uint64_t consumed_ = 0;
};

}  // namespace mquictt::quic
