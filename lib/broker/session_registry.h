#pragma once
// SessionRegistry: owns every Session, indexed by SessionId and by client id.
//
// SessionIds are process-unique and never reused: the top 16 bits hold a shard number (always 0
// while the broker runs one loop; a multi-loop broker gives each loop its own shard so ids stay
// unique without coordination) and the low 48 bits a counter.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "broker/session.h"
#include "broker/string_hash.h"

namespace mquictt::broker {

class SessionRegistry {
 public:
  explicit SessionRegistry(uint16_t shard = 0) : shard_(shard) {}

  Session* find(SessionId id);
  Session* find_by_client_id(std::string_view client_id);
  // Creates a session for `client_id`, which must not have one.
  Session& create(std::string client_id);
  // Destroys the session (no connection may be attached).
  void erase(SessionId id);

  size_t size() const { return by_id_.size(); }
  void for_each(const std::function<void(Session&)>& fn);

 private:
  uint16_t shard_;
  uint64_t counter_ = 0;
  std::unordered_map<SessionId, std::unique_ptr<Session>> by_id_;
  // Keys view the owning Session's client_id(): sessions live in unique_ptrs, so the view stays
  // valid until erase() removes both entries (one copy of each id instead of two).
  std::unordered_map<std::string_view, SessionId> by_client_id_;
};

}  // namespace mquictt::broker
