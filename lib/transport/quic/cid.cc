#include "transport/quic/cid.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace mquictt::quic {

CidKey::CidKey(const uint8_t* data, size_t len) {
  len_ = static_cast<uint8_t>(std::min<size_t>(len, NGTCP2_MAX_CIDLEN));
  if (len_ != 0) std::memcpy(data_.data(), data, len_);
}

ngtcp2_cid CidKey::to_ngtcp2() const {
  ngtcp2_cid cid;
  ngtcp2_cid_init(&cid, data_.data(), len_);
  return cid;
}

std::string CidKey::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(len_ * 2);
  for (size_t i = 0; i < len_; ++i) {
    s += kDigits[data_[i] >> 4];
    s += kDigits[data_[i] & 0xf];
  }
  return s;
}

size_t CidKeyHash::operator()(const CidKey& k) const noexcept {
  // FNV-1a. Server CIDs are random after the node id byte, so this spreads well; client-chosen
  // initial DCIDs could be crafted to collide, which only costs that client a slower lookup.
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t b : k.bytes()) {
    h ^= b;
    h *= 0x100000001b3ull;
  }
  return static_cast<size_t>(h);
}

void secure_random(std::span<uint8_t> out) {
  if (out.empty()) return;
  if (gnutls_rnd(GNUTLS_RND_RANDOM, out.data(), out.size()) != 0) {
    throw std::runtime_error("gnutls_rnd failed");
  }
}

ngtcp2_cid CidGenerator::generate(size_t length) const {
  length = std::clamp<size_t>(length, 1, NGTCP2_MAX_CIDLEN);
  ngtcp2_cid cid{};
  cid.datalen = length;
  cid.data[0] = node_id_;
  random_(std::span<uint8_t>(cid.data + 1, length - 1));
  return cid;
}

}  // namespace mquictt::quic
