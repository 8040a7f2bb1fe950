#pragma once
// Ownership of live transport connections, and their deletion outside their own callbacks.
//
// A connection never deletes itself: when it is finished (or its handler must be told it closed)
// it calls ConnectionSet::schedule_reap(*this) and returns. The set runs the reap from an ev_idle
// watcher at EV_MAXPRI, i.e. early in the next loop iteration and never inside a callback of that
// connection: reap() delivers the handler's on_closed() (exactly once) and tells the set whether
// the object may now be deleted. A connection may be reaped twice: once to release its handler
// when close() is requested (it then keeps flushing and lingering on its own), and once more to be
// deleted when its socket is finally closed.
//
// The set is per listener, so its size() is that listener's connection count. It also lends its
// connections one shared read buffer: reads are consumed synchronously by on_data(), so a single
// buffer serves every connection of the loop.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "transport/ev_loop.h"

namespace mquictt::transport {

class ConnectionSet;

// Base of the connections a ConnectionSet owns (TcpConnection; later TLS).
class OwnedConnection {
 public:
  virtual ~OwnedConnection() = default;

  // Called by the set, never from a callback of this connection. Delivers a pending on_closed()
  // and returns true once the connection is finished and may be deleted.
  virtual bool reap() = 0;
  // Closes the socket now (no flush); the next reap() then finishes. For teardown.
  virtual void terminate() = 0;
  // Graceful close (flush, then shut down), as ByteStream::close(). For server shutdown.
  virtual void close_gracefully() = 0;

 private:
  friend class ConnectionSet;
  bool reap_scheduled_ = false;
};

class ConnectionSet {
 public:
  static constexpr size_t kReadBufferSize = 64 * 1024;

  explicit ConnectionSet(EvLoop& loop);
  // Terminates and reaps whatever is left: every remaining handler gets on_closed() first.
  ~ConnectionSet();
  ConnectionSet(const ConnectionSet&) = delete;
  ConnectionSet& operator=(const ConnectionSet&) = delete;

  template <typename T>
  T& add(std::unique_ptr<T> c) {
    T& ref = *c;
    conns_.emplace(c.get(), std::move(c));
    return ref;
  }

  // Asks for c.reap() to run soon, outside the current callback. Idempotent until it runs.
  void schedule_reap(OwnedConnection& c);
  // Runs every scheduled reap now (the idle watcher does this by itself; public for teardown
  // and tests). Must not be called from a connection's callback.
  void reap_now();

  // close_gracefully() on every connection (they keep their handlers until reaped).
  void close_all();
  // terminate() and reap every connection: all handlers get on_closed(), all objects go.
  void terminate_all();

  size_t size() const { return conns_.size(); }
  std::span<uint8_t> read_buffer() { return read_buffer_; }

  void on_idle() noexcept;  // libev entry point

 private:
  IdleWatcher idle_;
  std::unordered_map<OwnedConnection*, std::unique_ptr<OwnedConnection>> conns_;
  std::vector<OwnedConnection*> scheduled_;
  std::vector<uint8_t> read_buffer_;
};

}  // namespace mquictt::transport
