#pragma once
// Thin RAII layer over libev. Everything runs on the thread that owns the EvLoop.
//
// Pattern (the ngtcp2 example server's): a watcher is a *member* of the object it serves, its
// `data` is that object, and its callback is a one-line trampoline in an anonymous namespace of the
// owner's .cc that casts `data` and calls one noexcept member function:
//
//   void readcb(struct ev_loop*, ev_io* w, int) noexcept {
//     static_cast<TcpConnection*>(w->data)->on_readable();
//   }
//
// Watchers stop themselves in their destructor, so an object cannot be called back after it is
// gone. They are neither copyable nor movable: libev keeps pointers to them while active.

#include <ev.h>

namespace mquictt::transport {

// Owns one libev loop (ev_loop_new, not the default loop, so tests can run several).
class EvLoop {
 public:
  EvLoop();  // throws std::runtime_error if libev cannot create a loop
  ~EvLoop();
  EvLoop(const EvLoop&) = delete;
  EvLoop& operator=(const EvLoop&) = delete;

  struct ev_loop* raw() const {
    return loop_;
  }

  // Runs until break_loop() or until no active watcher is left.
  void run();
  // One iteration; with `block` it waits for at least one event. For tests.
  void run_once(bool block = true);
  // Makes run() return after the current iteration.
  void break_loop();
  // Cached loop time in seconds (libev's ev_now).
  double now() const { return ev_now(loop_); }

 private:
  struct ev_loop* loop_;
};

// Common part of every watcher type. W is the libev struct, Start/Stop its functions.
template <typename W, void (*Start)(struct ev_loop*, W*), void (*Stop)(struct ev_loop*, W*)>
class Watcher {
 public:
  using Callback = void (*)(struct ev_loop*, W*, int);

  Watcher(EvLoop& loop, Callback cb, void* data) : loop_(loop.raw()) {
    ev_init(&w_, cb);
    w_.data = data;
  }
  ~Watcher() { stop(); }
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  void start() {
    if (!active()) Start(loop_, &w_);
  }
  // Also clears a pending (already triggered, not yet invoked) event. Idempotent.
  void stop() { Stop(loop_, &w_); }
  bool active() const { return ev_is_active(&w_); }
  // libev priorities run from EV_MINPRI (-2) to EV_MAXPRI (2); only set while stopped.
  void set_priority(int priority) {
    bool was_active = active();
    stop();
    ev_set_priority(&w_, priority);
    if (was_active) start();
  }

 protected:
  struct ev_loop* loop_;
  W w_;
};

class IoWatcher : public Watcher<ev_io, ev_io_start, ev_io_stop> {
 public:
  using Watcher::Watcher;
  // Sets fd and EV_READ / EV_WRITE; keeps the active state.
  void set(int fd, int events) {
    bool was_active = active();
    stop();
    ev_io_set(&w_, fd, events);
    if (was_active) start();
  }
};

class TimerWatcher : public Watcher<ev_timer, ev_timer_start, ev_timer_stop> {
 public:
  using Watcher::Watcher;
  // (Re)starts as a one-shot timer firing `after_s` seconds from the loop's cached now.
  void start_after(double after_s) {
    stop();
    ev_timer_set(&w_, after_s, 0.);
    start();
  }
};

class SignalWatcher : public Watcher<ev_signal, ev_signal_start, ev_signal_stop> {
 public:
  // A signal can be watched by one loop of the process at a time (libev rule).
  SignalWatcher(EvLoop& loop, int signum, Callback cb, void* data) : Watcher(loop, cb, data) {
    ev_signal_set(&w_, signum);
  }
};

// Runs right before the loop blocks for I/O, once per iteration.
class PrepareWatcher : public Watcher<ev_prepare, ev_prepare_start, ev_prepare_stop> {
 public:
  using Watcher::Watcher;
};

// Runs right after the loop wakes up from I/O polling, once per iteration.
class CheckWatcher : public Watcher<ev_check, ev_check_start, ev_check_stop> {
 public:
  using Watcher::Watcher;
};

// Runs once per iteration while active and keeps the loop from blocking.
class IdleWatcher : public Watcher<ev_idle, ev_idle_start, ev_idle_stop> {
 public:
  using Watcher::Watcher;
};

// Wakes the loop from another thread: send() is the only thread-safe call here.
class AsyncWatcher : public Watcher<ev_async, ev_async_start, ev_async_stop> {
 public:
  using Watcher::Watcher;
  void send() { ev_async_send(loop_, &w_); }
};

}  // namespace mquictt::transport
