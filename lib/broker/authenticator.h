#pragma once
// Authentication and authorization hooks of the MQTT core. The broker calls them synchronously on
// the loop thread; an implementation that needs I/O (LDAP, HTTP) must answer from a cache or
// reject -- asynchronous decisions are a later extension (the CONNECT path already has a
// "pending" state for the AUTH exchange, which is where it would hook in).
//
// Call order per connection:
//   CONNECT without Authentication Method  -> authenticate(info)            (once)
//   CONNECT with Authentication Method     -> start_auth(method, info)      (nullptr = unsupported:
//                                             CONNACK 0x8C Bad authentication method)
//                                          -> AuthExchange::step(data)      (CONNECT's data, then
//                                             every AUTH 0x18 until kSuccess or kFail)
//   AUTH 0x19 (re-authentication, MQTT 5)  -> start_auth(same method, info) -> step(...)
//   every PUBLISH from the client          -> authorize_publish
//   every SUBSCRIBE entry                  -> authorize_subscribe
//   every delivery to a subscriber         -> authorize_delivery
//
// Ownership: Broker holds a shared_ptr to the Authenticator; an AuthExchange is owned by the
// connection that started it and destroyed when the exchange ends or the connection closes.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codec/packet.h"

namespace mquictt::broker {

// Who is connecting / connected. Views point into the connection's state; don't keep them.
struct ClientInfo {
  std::string_view client_id;
  const std::optional<std::string>* username = nullptr;  // as sent in CONNECT (may be absent)
  const std::optional<std::vector<uint8_t>>* password = nullptr;  // CONNECT only; null later
  std::string_view listener;                                      // ListenerInfo::name
  std::string_view peer;                                          // ByteStream::describe()
  std::string_view tls_identity;  // verified certificate CN, empty if none
  codec::ProtocolVersion version = codec::ProtocolVersion::kV5;
};

// Outcome of one authentication step. `reason` is an MQTT 5 reason code: 0x00 success, else the
// CONNACK / DISCONNECT reason (e.g. 0x86 Bad user name or password, 0x87 Not authorized).
struct AuthStep {
  enum class Kind : uint8_t { kSuccess, kContinue, kFail };
  Kind kind = Kind::kFail;
  uint8_t reason = 0x87;
  std::vector<uint8_t> data;  // Authentication Data to send (AUTH 0x18 or CONNACK / AUTH 0x00)

  static AuthStep success(std::vector<uint8_t> d = {}) { return {Kind::kSuccess, 0, std::move(d)}; }
  static AuthStep next(std::vector<uint8_t> d) { return {Kind::kContinue, 0x18, std::move(d)}; }
  static AuthStep fail(uint8_t reason) { return {Kind::kFail, reason, {}}; }
};

// One enhanced-authentication conversation (SASL-like), MQTT 5 §4.12.
class AuthExchange {
 public:
  virtual ~AuthExchange() = default;
  // `data` is the Authentication Data of the CONNECT (first step) or of an AUTH packet.
  virtual AuthStep step(std::span<const uint8_t> data) = 0;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;

  // Plain CONNECT (user name / password / certificate identity). 0x00 accepts; otherwise the
  // MQTT 5 CONNACK reason (mapped to a 3.1.1 return code for 3.1.1 clients).
  virtual uint8_t authenticate(const ClientInfo& /*info*/) { return 0x00; }

  // Enhanced authentication; nullptr means the method is not supported.
  virtual std::unique_ptr<AuthExchange> start_auth(std::string_view /*method*/,
                                                   const ClientInfo& /*info*/) {
    return nullptr;
  }

  virtual bool authorize_publish(const ClientInfo& /*info*/, std::string_view /*topic*/,
                                 uint8_t /*qos*/, bool /*retain*/) {
    return true;
  }
  // `filter` is the full filter, including any "$share/<group>/" prefix.
  virtual bool authorize_subscribe(const ClientInfo& /*info*/, std::string_view /*filter*/,
                                   uint8_t /*qos*/) {
    return true;
  }
  // Called per subscriber at delivery time (ACLs may change while a subscription lives).
  virtual bool authorize_delivery(std::string_view /*subscriber_client_id*/,
                                  std::string_view /*topic*/) {
    return true;
  }
};

// The default: everybody may connect, publish and subscribe; no enhanced auth methods.
class AllowAllAuthenticator final : public Authenticator {};

}  // namespace mquictt::broker
