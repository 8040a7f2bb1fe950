#pragma once
// A listening TCP socket and the connections accepted on it.
//
// Ownership: TcpListener owns the listening fd, its ev_io, and (through its ConnectionSet) every
// TcpConnection it accepted. Destroying it terminates those connections; each handler gets
// on_closed(kLocal) first. So it must be destroyed before whatever the handlers point into
// (the Broker), and before the EvLoop.
//
// Accepting: up to kAcceptBatch connections per readable event (fairness against connected
// clients). On EMFILE/ENFILE (out of descriptors) accepting pauses for kAcceptPauseS seconds
// instead of spinning on a listening socket that stays readable. With max_connections reached,
// new connections are accepted and closed at once, so clients fail fast instead of waiting in
// the backlog.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "broker/byte_stream.h"
#include "transport/connection_set.h"
#include "transport/ev_loop.h"
#include "transport/tcp/tcp_connection.h"

namespace mquictt::transport {

struct TcpListenerOptions {
  std::string name;  // for logs
  std::string host;  // numeric IPv4 or IPv6 address, no brackets
  uint16_t port = 0;
  bool ipv6 = false;  // IPv6 sockets are IPV6_V6ONLY, so "[::]" and "0.0.0.0" can coexist
  bool tcp_nodelay = true;
  uint32_t max_connections = 0;  // 0 = unlimited
  int backlog = 1024;
  TcpConnectionOptions connection;
};

class TcpListener {
 public:
  static constexpr int kAcceptBatch = 64;
  static constexpr double kAcceptPauseS = 0.5;

  // Creates the MQTT side of an accepted stream (normally Broker::accept with this listener's
  // ListenerInfo). Returning null refuses the stream.
  using AcceptFn = std::function<std::unique_ptr<broker::ByteStreamHandler>(broker::ByteStream&)>;

  // Binds and listens (not yet accepting: see start()). Throws std::runtime_error naming the
  // address on failure, e.g. "cannot listen on tcp 127.0.0.1:1883: Address already in use".
  TcpListener(EvLoop& loop, TcpListenerOptions options, AcceptFn accept);
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  void start();
  // Closes the listening socket; accepted connections stay (graceful shutdown).
  void stop_accepting();

  const std::string& name() const { return options_.name; }
  // The bound address with the real port: "127.0.0.1:43121", "[::]:1883".
  const std::string& local_address() const { return local_address_; }
  uint16_t port() const { return port_; }

  size_t connection_count() const { return connections_.size(); }
  ConnectionSet& connections() { return connections_; }
  // For connections accepted from now on (config reload).
  void set_connection_options(const TcpConnectionOptions& options) {
    options_.connection = options;
  }

  // libev entry points (trampolines only).
  void on_acceptable() noexcept;
  void on_resume() noexcept;

 private:
  void accept_one(int fd, const std::string& peer);

  EvLoop& loop_;
  TcpListenerOptions options_;
  AcceptFn accept_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string local_address_;
  ConnectionSet connections_;  // emptied first thing in ~TcpListener
  IoWatcher accept_io_;
  TimerWatcher resume_;
  uint64_t refused_ = 0;  // over max_connections, for the log
};

}  // namespace mquictt::transport
