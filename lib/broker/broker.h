#pragma once
// Composition root of the MQTT core (no sockets, no event loop). Owns the router, retained store,
// session registry and live connections' protocol state. Transport code calls it from the one
// loop thread:
//
//   auto handler = broker.accept(stream, listener);   // new TCP socket / TLS session / QUIC conn
//   stream events -> handler->on_data / on_writable / on_closed
//   more streams of a QUIC connection -> handler->add_stream(stream) -> their own handlers
//   each loop wake-up: broker.tick() when next_deadline() is due, then broker.flush()
//
// Ownership: the transport connection owns its ByteStream and the returned handler; the broker
// keeps only non-owning references to live handlers and forgets them in on_closed().

#include <cstdint>
#include <memory>
#include <optional>

#include "broker/broker_config.h"
#include "broker/byte_stream.h"
#include "util/clock.h"

namespace mquictt::broker {

class Authenticator;
class BrokerImpl;

struct BrokerStats {
  uint64_t clients_connected = 0;
  uint64_t sessions = 0;
  uint64_t subscriptions = 0;
  uint64_t retained_messages = 0;
  uint64_t messages_received = 0;  // PUBLISH in
  uint64_t messages_sent = 0;      // PUBLISH out
  uint64_t messages_dropped = 0;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
};

class Broker {
 public:
  Broker(BrokerConfig config, Clock& clock);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Creates the MQTT endpoint for a newly accepted byte stream. `stream` must outlive the handler
  // up to and including the handler's on_closed() call.
  std::unique_ptr<ByteStreamHandler> accept(ByteStream& stream, const ListenerInfo& listener);

  // Runs everything due at clock.now_ms(): connect timeouts, keepalive, will delay, session and
  // message expiry. Cheap when nothing is due.
  void tick();
  // Earliest clock time at which tick() has work, or nullopt if none is scheduled.
  std::optional<TimeMs> next_deadline() const;
  // End of a loop iteration: sends work batched during it (e.g. acks completed after a store
  // commit). Idempotent.
  void flush();

  // Graceful stop: DISCONNECT 0x8B (Server shutting down) to MQTT 5 clients, close every stream.
  void shutdown();

  // Replaces the config used for *new* connections (SIGHUP reload).
  void set_config(BrokerConfig config);

  BrokerStats stats() const;

  // Authentication / authorization hooks (see authenticator.h). nullptr restores the default
  // (allow everything, no enhanced authentication methods). Applies to new CONNECTs and to every
  // later publish / subscribe / delivery check.
  void set_authenticator(std::shared_ptr<Authenticator> auth);

 private:
  std::unique_ptr<BrokerImpl> impl_;
};

}  // namespace mquictt::broker
