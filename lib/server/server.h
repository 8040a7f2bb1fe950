#pragma once
// Composition root of the daemon: one libev loop that owns the broker, the listeners and the
// timers. Everything runs on the thread that calls run(); only request_shutdown_threadsafe() may
// be called from elsewhere.
//
// Per loop iteration:
//   - I/O callbacks of listeners and connections (transport -> ByteStreamHandler -> broker);
//   - ev_prepare (just before the loop blocks): broker.flush(), then the tick timer is re-armed
//     from broker.next_deadline(), capped at kSafetyTickS so that a missed deadline is never
//     missed for long;
//   - tick timer: broker.tick().
//
// Signals (when ServerOptions::handle_signals): SIGINT/SIGTERM -> shutdown() (a second one stops
// at once); SIGHUP -> ServerOptions::reload, then apply_config(). SIGPIPE is ignored.
//
// Shutdown: listeners stop accepting, broker.shutdown() sends DISCONNECT 0x8B to MQTT 5 clients
// and closes every stream; run() returns when the last connection has flushed and closed, or
// after drain_timeout_s. Destroying the Server then terminates whatever is left (every handler
// gets on_closed() before the broker goes away).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/broker_config.h"
#include "config/config.h"
#include "transport/ev_loop.h"
#include "transport/quic/quic_listener.h"
#include "transport/tcp/tcp_listener.h"
#include "util/clock.h"

namespace mquictt::server {

// The real monotonic clock (std::chrono::steady_clock), for the broker.
class SteadyClock final : public Clock {
 public:
  TimeMs now_ms() const override;
};

struct ServerOptions {
  // Watch SIGINT/SIGTERM/SIGHUP. A signal can be watched by one loop per process, so in-process
  // tests running several servers turn this off and use request_shutdown_threadsafe().
  bool handle_signals = true;
  // SIGHUP: returns the new configuration, or nullopt to keep the running one (the callee logs
  // why). Unset: SIGHUP only logs that there is nothing to reload.
  std::function<std::optional<config::Config>()> reload;
  // Upper bound on the graceful part of shutdown, in seconds.
  double drain_timeout_s = 3.0;
};

// A listening socket as actually bound.
struct BoundListener {
  std::string name;
  std::string transport;  // "tcp" | "quic"
  std::string address;    // "127.0.0.1:43121", "[::]:1883"
  uint16_t port = 0;      // the real port, also when 0 was configured
};

// config -> broker / transport settings.
broker::BrokerConfig to_broker_config(const config::BrokerSettings& settings);
transport::TcpConnectionOptions to_connection_options(const config::BrokerSettings& settings);
// A QUIC listener's `quic:` block (defaults when absent) plus the broker's watermarks.
quic::QuicTransportOptions to_quic_options(const config::ListenerConfig& listener,
                                           const config::BrokerSettings& settings);
// A QUIC listener's `tls:` block (empty names when absent).
quic::TlsServerFiles to_tls_files(const config::ListenerConfig& listener);
// Sets the level of every logger.
void apply_log_level(config::LogLevel level);

class Server {
 public:
  static constexpr double kSafetyTickS = 1.0;

  // Creates the broker and binds every listener of `config`, which must have at least one (the
  // daemon adds the default). Throws std::runtime_error naming the address (or the certificate
  // file of a QUIC listener) when a listener cannot be set up, or when a listener's transport is
  // not implemented.
  explicit Server(const config::Config& config, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Runs the loop until shutdown has drained (or a second stop signal).
  void run();
  // Graceful stop, as on SIGTERM. Loop thread only; idempotent.
  void shutdown();
  // Same, from any thread (wakes the loop through an ev_async).
  void request_shutdown_threadsafe();
  // What SIGHUP does once a new configuration is loaded: broker settings and log level for new
  // connections, and every QUIC listener reloads its certificate, key and CA files for new
  // connections (a file that fails to load is logged and the listener keeps its current ones);
  // listeners are otherwise kept as they are (a warning names any difference).
  void apply_config(const config::Config& config);

  std::vector<BoundListener> listeners() const;
  size_t connection_count() const;
  broker::Broker& broker() { return broker_; }

  // libev entry points (trampolines only).
  void on_prepare() noexcept;
  void on_tick() noexcept;
  void on_signal(int signum) noexcept;
  void on_async() noexcept;
  void on_drain_timeout() noexcept;

 private:
  void reload();
  void reload_certificates(quic::QuicListener& l, const config::ListenerConfig& lc);

  // Declaration order is destruction order in reverse: the loop outlives every watcher, the
  // broker outlives the listeners (whose connections own handlers that point into it).
  transport::EvLoop loop_;
  SteadyClock clock_;
  ServerOptions options_;
  std::vector<config::ListenerConfig> listener_configs_;
  broker::Broker broker_;
  std::vector<std::unique_ptr<transport::TcpListener>> listeners_;
  std::vector<std::unique_ptr<quic::QuicListener>> quic_listeners_;
  transport::PrepareWatcher prepare_;
  transport::TimerWatcher tick_;
  transport::TimerWatcher drain_;
  transport::AsyncWatcher async_;
  std::vector<std::unique_ptr<transport::SignalWatcher>> signals_;
  bool shutting_down_ = false;
};

}  // namespace mquictt::server
