#include "codec/frame_splitter.h"

#include <cstdint>

#include <algorithm>

#include "codec/reason_code.h"

// Error ordering: when a feed() carries complete frames followed by a bad header, feed() reports
// the error at once, and next() still hands out the complete frames that preceded it before
// returning the (sticky) error. Packets are processed in order, so a caller that keeps reading
// acts on everything the peer sent before the damage, as MQTT requires; a caller that closes on
// the feed() error simply drops them.

namespace mquictt::codec {

namespace {

constexpr uint8_t kMalformed = rc::kMalformedPacket;
constexpr uint8_t kPacketTooLarge = rc::kPacketTooLarge;

// Parses the fixed header at the start of `bytes`. Returns the whole frame length (header +
// remaining length varint + body), nullopt if the header is still incomplete, or an error.
// The limit is checked here, from the header alone, so an oversized body is never buffered.
Result<std::optional<size_t>> parse_header(std::span<const uint8_t> bytes, uint32_t max_size) {
  uint32_t remaining = 0;
  // bytes[0] is the type/flags byte; the varint starts at bytes[1] and has at most 4 bytes.
  for (size_t i = 0; i < 4; ++i) {
    if (1 + i >= bytes.size()) return std::optional<size_t>{};
    uint8_t b = bytes[1 + i];
    remaining |= uint32_t{b & 0x7Fu} << (7 * i);
    if ((b & 0x80) == 0) {
      uint64_t total = 1 + (i + 1) + uint64_t{remaining};
      if (total > max_size) return Error{kPacketTooLarge, "packet exceeds maximum packet size"};
      return std::optional<size_t>{static_cast<size_t>(total)};
    }
  }
  // The fourth varint byte still has its continuation bit: the encoding would need a fifth byte
  // (MQTT 5 §1.5.5 allows four), so fail now rather than wait for it.
  return Error{kMalformed, "remaining length longer than 4 bytes"};
}

}  // namespace

// Headers already in the buffer passed the limit in force when they completed; a later
// set_max_packet_size() applies only to frames not yet started, so re-parsing them uses the
// protocol maximum (which no parsed header can exceed).
Result<std::optional<size_t>> FrameSplitter::frame_length() const {
  return parse_header(std::span<const uint8_t>(buf_).subspan(head_), kMaxPacketSizeLimit);
}

Result<void> FrameSplitter::feed(std::span<const uint8_t> bytes) {
  if (error_) return *error_;

  // Spans from next() expire here too, so reclaim the consumed prefix (same rule as in next()).
  if (head_ > 0 && head_ >= buf_.size() - head_) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }

  // Find the start of the first incomplete frame; complete frames were checked when their header
  // arrived. This walks only frames not yet taken with next(): none or one for a caller that
  // drains after every feed.
  size_t pos = head_;
  // Length of the frame starting at pos once its header is known, else kNoLength. (A sentinel
  // rather than std::optional: g++ 12 at -O3 reports a false maybe-uninitialized on the latter.)
  constexpr size_t kNoLength = SIZE_MAX;
  size_t len = kNoLength;
  while (pos < buf_.size()) {
    auto h = parse_header(std::span<const uint8_t>(buf_).subspan(pos), kMaxPacketSizeLimit);
    if (!h.ok()) return h.error();  // unreachable: a failing header is never kept
    if (!*h || pos + **h > buf_.size()) {
      len = h->value_or(kNoLength);
      break;
    }
    pos += **h;
  }

  size_t in = 0;
  while (in < bytes.size()) {
    if (len == kNoLength) {
      // Header incomplete: take one byte at a time (at most 5) so an invalid header is detected
      // before any byte after it is buffered.
      buf_.push_back(bytes[in++]);
      auto h = parse_header(std::span<const uint8_t>(buf_).subspan(pos), max_packet_size_);
      if (!h.ok()) {
        buf_.resize(pos);  // drop the offending header; complete frames before it stay readable
        error_ = h.error();
        return h.error();
      }
      len = h->value_or(kNoLength);
      if (len != kNoLength && pos + len == buf_.size()) {  // zero-length body: frame complete
        pos += len;
        len = kNoLength;
      }
      continue;
    }
    size_t want = pos + len - buf_.size();
    size_t take = std::min(want, bytes.size() - in);
    buf_.insert(buf_.end(), bytes.begin() + static_cast<std::ptrdiff_t>(in),
                bytes.begin() + static_cast<std::ptrdiff_t>(in + take));
    in += take;
    if (take == want) {
      pos += len;
      len = kNoLength;
    }
  }
  return ok();
}

Result<std::optional<std::span<const uint8_t>>> FrameSplitter::next() {
  using Frame = std::optional<std::span<const uint8_t>>;
  // The previous frame's span expires now, so consumed bytes can be released. Erasing only when
  // the consumed prefix is at least as large as what remains keeps the copying amortised O(1)
  // per byte even when many small frames arrive in one feed.
  if (head_ == buf_.size()) {
    // Drained: give the memory back. Most connections are idle most of the time, and an idle
    // connection should hold no buffer (one allocation per read burst is cheap by comparison).
    std::vector<uint8_t>().swap(buf_);
    head_ = 0;
  } else if (head_ > 0 && head_ >= buf_.size() - head_) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }

  if (head_ < buf_.size()) {
    auto h = frame_length();
    if (h.ok() && *h && head_ + **h <= buf_.size()) {
      std::span<const uint8_t> frame(buf_.data() + head_, **h);
      head_ += **h;
      consumed_total_ += **h;
      return Frame{frame};
    }
  }
  // feed() cuts the buffer at the start of the frame that failed, so once the complete frames
  // before it are handed out, the error is all that is left.
  if (error_) return *error_;
  return Frame{};
}

}  // namespace mquictt::codec
