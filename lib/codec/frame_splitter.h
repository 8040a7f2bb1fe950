#pragma once
// Incremental MQTT frame splitter. Bytes go in as they arrive (one at a time, or many packets at
// once); complete frames (fixed header + remaining length + body) come out. It enforces the
// maximum packet size as soon as the remaining length is known, before any body byte is
// buffered, and rejects a remaining length longer than 4 bytes.
//
// Errors (sticky: once failed, the splitter stays failed):
//   0x81 Malformed Packet  remaining length varint longer than 4 bytes
//   0x95 Packet Too Large  fixed header + remaining length + body > max_packet_size
//
// Ownership: the splitter owns its buffer. A frame span returned by next() stays valid until the
// next call to feed() or next(). consumed_total() counts bytes of frames handed out: a transport
// with flow-control credit (QUIC) returns credit only for those bytes.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "util/result.h"

namespace mquictt::codec {

inline constexpr uint32_t kMaxRemainingLength = 268'435'455;
inline constexpr uint32_t kMaxPacketSizeLimit = kMaxRemainingLength + 5;

class FrameSplitter {
 public:
  explicit FrameSplitter(uint32_t max_packet_size = kMaxPacketSizeLimit)
      : max_packet_size_(max_packet_size) {}

  // Changes the limit (e.g. after CONNECT negotiation). Applies to frames not yet started.
  void set_max_packet_size(uint32_t bytes) { max_packet_size_ = bytes; }
  uint32_t max_packet_size() const { return max_packet_size_; }

  // Appends bytes. Returns the error as soon as a header proves the frame invalid; in that case
  // the offending bytes are not buffered.
  Result<void> feed(std::span<const uint8_t> bytes);

  // The next complete frame, nullopt if more bytes are needed, or the sticky error.
  Result<std::optional<std::span<const uint8_t>>> next();

  // Bytes buffered but not yet returned as frames.
  size_t buffered() const { return buf_.size() - head_; }
  // Total bytes of frames returned by next() since construction.
  uint64_t consumed_total() const { return consumed_total_; }

 private:
  // Parses the header of the frame starting at head_: nullopt = need more bytes.
  Result<std::optional<size_t>> frame_length() const;

  uint32_t max_packet_size_;
  std::vector<uint8_t> buf_;
  size_t head_ = 0;  // start of the first unreturned frame in buf_
  uint64_t consumed_total_ = 0;
  std::optional<Error> error_;
};

}  // namespace mquictt::codec
