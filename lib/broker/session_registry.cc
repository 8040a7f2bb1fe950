#include "broker/session_registry.h"

#include <cassert>

namespace mquictt::broker {

Session* SessionRegistry::find(SessionId id) {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.get();
}

Session* SessionRegistry::find_by_client_id(std::string_view client_id) {
  auto it = by_client_id_.find(client_id);
  return it == by_client_id_.end() ? nullptr : find(it->second);
}

Session& SessionRegistry::create(std::string client_id) {
  assert(!by_client_id_.count(client_id));
  const SessionId id = (uint64_t{shard_} << 48) | (++counter_ & 0xFFFF'FFFF'FFFFULL);
  auto session = std::make_unique<Session>(id, std::move(client_id));
  Session& ref = *session;
  by_client_id_.emplace(std::string_view(ref.client_id()), id);
  by_id_.emplace(id, std::move(session));
  return ref;
}

void SessionRegistry::erase(SessionId id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  by_client_id_.erase(it->second->client_id());
  by_id_.erase(it);
}

void SessionRegistry::for_each(const std::function<void(Session&)>& fn) {
  for (auto& [id, s] : by_id_)
    fn(*s);
}

}  // namespace mquictt::broker
