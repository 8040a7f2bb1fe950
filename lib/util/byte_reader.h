#pragma once
// Bounds-checked big-endian cursor over a byte span. Every read returns a Result; a read past the
// end is a Malformed Packet (MQTT 5 reason 0x81). The reader never owns the bytes.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "util/result.h"

namespace mquictt {

inline constexpr uint8_t kReasonMalformed = 0x81;

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool empty() const { return pos_ == data_.size(); }

  Result<uint8_t> u8() {
    if (remaining() < 1) return Error{kReasonMalformed, "truncated byte"};
    return data_[pos_++];
  }
  Result<uint16_t> u16() {
    if (remaining() < 2) return Error{kReasonMalformed, "truncated two-byte integer"};
    uint16_t v = static_cast<uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  Result<uint32_t> u32() {
    if (remaining() < 4) return Error{kReasonMalformed, "truncated four-byte integer"};
    uint32_t v = (uint32_t{data_[pos_]} << 24) | (uint32_t{data_[pos_ + 1]} << 16) |
                 (uint32_t{data_[pos_ + 2]} << 8) | uint32_t{data_[pos_ + 3]};
    pos_ += 4;
    return v;
  }
  // Variable Byte Integer: at most 4 bytes, value <= 268,435,455. Non-minimal encodings (e.g.
  // 0x80 0x00) are accepted, as the spec only requires the minimal form from senders.
  Result<uint32_t> varint() {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      if (remaining() < 1) return Error{kReasonMalformed, "truncated variable byte integer"};
      uint8_t b = data_[pos_++];
      value |= uint32_t{b & 0x7Fu} << (7 * i);
      if ((b & 0x80) == 0) return value;
    }
    return Error{kReasonMalformed, "variable byte integer longer than 4 bytes"};
  }
  // Two-byte length prefix followed by that many bytes.
  Result<std::span<const uint8_t>> binary() {
    auto len = u16();
    if (!len) return len.error();
    return bytes(*len);
  }
  // Like binary(), viewed as characters. UTF-8 validation is the caller's (codec) job.
  Result<std::string_view> string() {
    auto b = binary();
    if (!b) return b.error();
    return std::string_view(reinterpret_cast<const char*>(b->data()), b->size());
  }
  Result<std::span<const uint8_t>> bytes(size_t n) {
    if (remaining() < n) return Error{kReasonMalformed, "truncated data"};
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  std::span<const uint8_t> rest() {
    auto s = data_.subspan(pos_);
    pos_ = data_.size();
    return s;
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

}  // namespace mquictt
