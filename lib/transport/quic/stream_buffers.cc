#include "transport/quic/stream_buffers.h"

#include <algorithm>
#include <cstring>

namespace mquictt::quic {

void SendBuffer::append(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return;
  written_ += bytes.size();
  // Fill the last owned chunk first: its capacity is fixed, so appending never moves bytes that
  // ngtcp2 may already reference.
  if (!chunks_.empty() && !chunks_.back().shared) {
    Chunk& last = chunks_.back();
    size_t n = std::min(bytes.size(), last.capacity - last.size);
    if (n != 0) {
      std::memcpy(last.owned.get() + last.size, bytes.data(), n);
      last.size += n;
      bytes = bytes.subspan(n);
    }
  }
  if (bytes.empty()) return;
  Chunk c;
  c.capacity = std::max(bytes.size(), kChunkCapacity);
  c.owned = std::make_unique<uint8_t[]>(c.capacity);
  std::memcpy(c.owned.get(), bytes.data(), bytes.size());
  c.size = bytes.size();
  chunks_.push_back(std::move(c));
}

void SendBuffer::append_shared(broker::SharedBytes frame) {
  if (!frame || frame->empty()) return;
  if (frame->size() <= kCopySharedBelow) return append(*frame);
  Chunk c;
  c.size = frame->size();
  c.shared = std::move(frame);
  written_ += c.size;
  chunks_.push_back(std::move(c));
}

size_t SendBuffer::peek_unsent(ngtcp2_vec* vecs, size_t max) const {
  size_t n = 0;
  size_t offset = send_offset_;
  for (size_t i = send_index_; i < chunks_.size() && n < max; ++i) {
    const Chunk& c = chunks_[i];
    if (offset < c.size) {
      // ngtcp2_vec has a non-const base, but ngtcp2 only reads stream data through it.
      vecs[n].base = const_cast<uint8_t*>(c.data() + offset);
      vecs[n].len = c.size - offset;
      ++n;
    }
    offset = 0;
  }
  return n;
}

void SendBuffer::mark_sent(size_t n) {
  n = std::min(n, unsent());
  sent_ += n;
  while (n > 0) {
    const Chunk& c = chunks_[send_index_];
    if (send_offset_ == c.size) {
      // Used up (it stays current until then, so that bytes appended to it are found here).
      // n <= unsent() guarantees a later chunk exists.
      ++send_index_;
      send_offset_ = 0;
      continue;
    }
    size_t take = std::min(n, c.size - send_offset_);
    send_offset_ += take;
    n -= take;
  }
}

void SendBuffer::ack(uint64_t offset, uint64_t len) {
  uint64_t end = std::min(offset + len, sent_);
  if (end <= acked_) return;
  acked_ = end;
  while (!chunks_.empty()) {
    const Chunk& front = chunks_.front();
    // Only chunks that are complete: fully acknowledged, and (owned ones) either full or not the
    // chunk still being filled. A partly filled last chunk keeps receiving appends.
    bool acked_whole = base_ + front.size <= acked_;
    bool last = chunks_.size() == 1;
    if (!acked_whole || (last && !front.shared && front.size < front.capacity)) break;
    base_ += front.size;
    chunks_.pop_front();
    if (send_index_ > 0) {
      --send_index_;
    } else {
      send_offset_ = 0;
    }
  }
}

void SendBuffer::clear() {
  chunks_.clear();
  base_ = written_;
  sent_ = written_;
  acked_ = written_;
  send_index_ = 0;
  send_offset_ = 0;
}

bool SendBuffer::rewind() {
  if (acked_ != 0) return false;
  sent_ = 0;
  send_index_ = 0;
  send_offset_ = 0;
  return true;
}

std::span<const uint8_t> InboundBuffer::on_received(std::span<const uint8_t> bytes, bool reading) {
  received_ += bytes.size();
  if (reading && parked_.empty()) return bytes;
  parked_.insert(parked_.end(), bytes.begin(), bytes.end());
  return {};
}

std::vector<uint8_t> InboundBuffer::take_parked() {
  std::vector<uint8_t> out;
  out.swap(parked_);
  return out;
}

uint64_t InboundBuffer::consume(size_t n) {
  uint64_t credit = std::min<uint64_t>(n, received_ - consumed_);
  consumed_ += credit;
  return credit;
}

}  // namespace mquictt::quic
