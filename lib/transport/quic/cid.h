#pragma once
// Connection IDs: the key packets are routed by (never the peer address, which changes with NAT
// rebinding and migration), the generator of the server's own CIDs, and the CID -> connection map.
//
// Server CIDs are kServerCidLength bytes: byte 0 is the configured node id, the rest is random.
// A CID-aware load balancer can steer by that first byte; short-header packets carry no CID
// length, so every server CID must have the same length (the listener decodes with it).

#include <ngtcp2/ngtcp2.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>

namespace mquictt::quic {

inline constexpr size_t kServerCidLength = 18;

// A CID as a value (ngtcp2_cid has padding garbage beyond datalen, so it is no map key).
class CidKey {
 public:
  CidKey() = default;
  CidKey(const uint8_t* data, size_t len);  // len is clamped to NGTCP2_MAX_CIDLEN
  explicit CidKey(const ngtcp2_cid& cid) : CidKey(cid.data, cid.datalen) {}

  std::span<const uint8_t> bytes() const { return {data_.data(), len_}; }
  size_t size() const { return len_; }
  ngtcp2_cid to_ngtcp2() const;
  std::string hex() const;

  friend bool operator==(const CidKey& a, const CidKey& b) {
    return a.len_ == b.len_ &&
           std::equal(a.data_.begin(), a.data_.begin() + a.len_, b.data_.begin());
  }

 private:
  std::array<uint8_t, NGTCP2_MAX_CIDLEN> data_{};
  uint8_t len_ = 0;
};

struct CidKeyHash {
  size_t operator()(const CidKey& k) const noexcept;
};

// Fills buffers with random bytes (gnutls_rnd by default; tests inject a deterministic one).
using RandomFn = std::function<void(std::span<uint8_t>)>;
// Cryptographically strong randomness (gnutls_rnd GNUTLS_RND_RANDOM). Throws on failure.
void secure_random(std::span<uint8_t> out);

class CidGenerator {
 public:
  explicit CidGenerator(uint8_t node_id, RandomFn random = secure_random)
      : node_id_(node_id), random_(std::move(random)) {}

  // A fresh server CID of `length` bytes (>= 1): node id, then random bytes.
  ngtcp2_cid generate(size_t length = kServerCidLength) const;
  uint8_t node_id() const { return node_id_; }

 private:
  uint8_t node_id_;
  RandomFn random_;
};

// CID -> T*. Non-owning: T registers its CIDs and must remove them before it is destroyed.
template <typename T>
class CidMap {
 public:
  // False (and no change) if the CID is already taken, by this or another connection.
  bool add(const CidKey& cid, T& owner) { return map_.emplace(cid, &owner).second; }
  // Removes the CID if `owner` holds it (a stale removal never unmaps another connection).
  void remove(const CidKey& cid, const T& owner) {
    auto it = map_.find(cid);
    if (it != map_.end() && it->second == &owner) map_.erase(it);
  }
  T* find(const CidKey& cid) const {
    auto it = map_.find(cid);
    return it == map_.end() ? nullptr : it->second;
  }
  T* find(std::span<const uint8_t> cid) const { return find(CidKey(cid.data(), cid.size())); }
  size_t size() const { return map_.size(); }

 private:
  std::unordered_map<CidKey, T*, CidKeyHash> map_;
};

}  // namespace mquictt::quic
