#include "connect_rate.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "codec/decoder.h"
#include "common.h"
#include "link.h"
#include "net.h"
#include "timer_heap.h"
#include "wire.h"

namespace mquictt::loadgen {

namespace {

constexpr uint64_t kWakeTag = ~uint64_t{0};
constexpr int64_t kHandshakeTimeoutNs = 10 * kNsPerSec;
// After DISCONNECT the broker should close its side; this long is plenty on loopback.
constexpr int64_t kCloseTimeoutNs = kNsPerSec;
// A failed connect() (e.g. ephemeral ports exhausted) is retried after this pause.
constexpr int64_t kRetryNs = kNsPerMs;
constexpr int64_t kIdleWaitNs = 50 * kNsPerMs;

struct Shared {
  Shared(const Options& o, const Endpoint& e, bool idle_mode)
      : opt(o), ep(e), idle(idle_mode), links(o.link, e) {}
  void fail(const std::string& msg) {
    std::lock_guard lock(mu);
    if (first_error.empty()) first_error = msg;
    failed.store(true);
  }

  const Options& opt;
  Endpoint ep;
  bool idle;
  LinkFactory links;
  std::atomic<Phase> phase{Phase::kSetup};
  int64_t t_measure = 0;  // published by the kRun store
  int64_t t_end = 0;
  std::atomic<uint64_t> up{0};  // idle: connections that have their CONNACK
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::string first_error;
};

struct Stats {
  uint64_t handshakes_total = 0;
  uint64_t handshakes_window = 0;
  uint64_t failures = 0;
  uint64_t close_timeouts = 0;
  Histogram handshake;
};

class Worker {
 public:
  // `slots`: connections this worker drives (connect-rate: concurrently, again and again;
  // idle: once each, at most `parallel` handshakes at a time).
  Worker(Shared& shared, int index, size_t slots, size_t parallel)
      : shared_(shared),
        opt_(shared.opt),
        index_(index),
        parallel_(parallel),
        slots_(slots),
        timers_(slots),
        disconnect_(encode_disconnect(shared.opt.version)) {
    poller_.add(wakeup_.fd(), EPOLLIN, kWakeTag);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void run();
  void wake() { wakeup_.signal(); }
  Stats stats;

 private:
  enum class St : uint8_t { kFree, kConnecting, kWaitConnAck, kWaitClose, kHeld, kDone };
  struct Slot {
    Conn conn;
    St st = St::kFree;
    int64_t t0 = 0;
    int64_t deadline = 0;
    int64_t retry_at = 0;
  };

  void start(size_t si, int64_t now);
  void finish(size_t si) {
    slots_[si].conn.close();
    slots_[si].st = shared_.idle ? St::kDone : St::kFree;
    rearm(si);
  }
  void rearm(size_t si) { timers_.arm(si, slots_[si].conn.next_timer_ns()); }
  void failure(size_t si, const std::string& why);
  void on_event(uint64_t tag, uint32_t events, int64_t now);  // then re-arms the slot's timer
  void handle_event(size_t si, uint32_t events, int64_t now);
  void on_connack(size_t si, std::span<const uint8_t> frame, int64_t now);
  void shutdown_all();

  Shared& shared_;
  const Options& opt_;
  int index_;
  size_t parallel_;
  Poller poller_;
  WakeFd wakeup_;
  std::vector<Slot> slots_;
  TimerHeap timers_;  // QUIC links' protocol timers
  std::vector<uint8_t> disconnect_;
  size_t next_idle_ = 0;  // idle: next slot to open
  size_t handshaking_ = 0;
  uint64_t counter_ = 0;
};

void Worker::failure(size_t si, const std::string& why) {
  ++stats.failures;
  if (handshaking_ > 0 && (slots_[si].st == St::kConnecting || slots_[si].st == St::kWaitConnAck)) {
    --handshaking_;
  }
  slots_[si].conn.close();
  slots_[si].st = St::kFree;
  rearm(si);
  if (shared_.idle) shared_.fail(why);
}

void Worker::start(size_t si, int64_t now) {
  Slot& s = slots_[si];
  std::string err;
  auto link = shared_.links.open(err);
  if (!link) {
    ++stats.failures;
    s.retry_at = now + kRetryNs;
    if (shared_.idle) shared_.fail(err);
    return;
  }
  s.conn.attach(std::move(link), poller_, si);
  rearm(si);
  s.st = St::kConnecting;
  s.t0 = now;
  s.deadline = now + kHandshakeTimeoutNs;
  ++handshaking_;
}

void Worker::on_connack(size_t si, std::span<const uint8_t> frame, int64_t now) {
  Slot& s = slots_[si];
  auto d = codec::decode(frame, opt_.version);
  auto* ack = d.ok() ? std::get_if<codec::ConnAck>(&*d) : nullptr;
  if (ack == nullptr || ack->reason != 0) {
    failure(si, "CONNACK missing or refused");
    return;
  }
  --handshaking_;
  ++stats.handshakes_total;
  if (shared_.idle) {
    s.st = St::kHeld;
    shared_.up.fetch_add(1);
    return;
  }
  if (now >= shared_.t_measure && now < shared_.t_end) {
    ++stats.handshakes_window;
    stats.handshake.record(static_cast<uint64_t>(now - s.t0));
  }
  // A well-behaved client: DISCONNECT, half-close, wait for the broker to close.
  s.conn.append(disconnect_);
  if (!s.conn.flush(poller_, si)) {
    finish(si);
    return;
  }
  s.conn.shutdown_write();
  s.st = St::kWaitClose;
  s.deadline = now + kCloseTimeoutNs;
}

void Worker::on_event(uint64_t tag, uint32_t events, int64_t now) {
  if (tag == kWakeTag) {
    wakeup_.drain();
    return;
  }
  auto si = static_cast<size_t>(tag);
  handle_event(si, events, now);
  rearm(si);
}

void Worker::handle_event(size_t si, uint32_t events, int64_t now) {
  Slot& s = slots_[si];
  if (s.conn.fd() < 0) return;
  if (s.st == St::kConnecting) {
    std::string err;
    int r = s.conn.advance(events, poller_, si, err);
    if (r == 0) return;
    if (r < 0) {
      failure(si, err);
      return;
    }
    std::string id = "lgc" + std::to_string(::getpid()) + "-" + std::to_string(index_) + "-" +
                     std::to_string(counter_++);
    s.conn.append(encode_connect(id, opt_.version, opt_.keepalive));
    if (!s.conn.flush(poller_, si)) {
      failure(si, "send CONNECT failed");
      return;
    }
    s.st = St::kWaitConnAck;
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    for (;;) {
      long n = s.conn.read_chunk();
      if (n < 0) {
        if (s.st == St::kWaitClose) {
          finish(si);
        } else if (s.st == St::kHeld) {
          shared_.fail("an idle connection was closed by the broker");
          finish(si);
        } else {
          failure(si, "connection closed during the handshake");
        }
        return;
      }
      if (n == 0) break;
      for (;;) {
        auto f = s.conn.splitter().next();
        if (!f.ok() || !*f) break;
        if (s.st == St::kWaitConnAck) {
          on_connack(si, **f, now);
          if (s.conn.fd() < 0) return;
        }
        // Anything after CONNACK (nothing is expected) is ignored.
      }
    }
  }
  if ((events & EPOLLOUT) && s.conn.fd() >= 0 && !s.conn.flush(poller_, si)) {
    failure(si, "send failed");
  }
}

void Worker::shutdown_all() {
  for (size_t si = 0; si < slots_.size(); ++si) {
    Slot& s = slots_[si];
    if (s.conn.fd() < 0) continue;
    if (s.st == St::kHeld) {
      s.conn.append(disconnect_);
      s.conn.flush(poller_, si);
    }
    s.conn.close();
  }
}

void Worker::run() {
  std::array<epoll_event, 256> events{};
  for (;;) {
    int64_t now = now_ns();
    Phase phase = shared_.phase.load(std::memory_order_acquire);
    if (phase == Phase::kStop) break;
    // QUIC protocol timers first: a connection one of them finishes (e.g. the broker's
    // CONNECTION_CLOSE read after an ACK timer) frees its slot for the start loop below, instead
    // of idling until the next poll timeout.
    timers_.run_due(now, [&](size_t si) {
      slots_[si].conn.on_timer();
      on_event(si, EPOLLIN, now);  // notices a connection the timer closed, reads what came
    });
    int64_t timeout = kIdleWaitNs;
    if (phase == Phase::kRun) {
      if (shared_.idle) {
        while (handshaking_ < parallel_ && next_idle_ < slots_.size())
          start(next_idle_++, now);
      } else if (now < shared_.t_end) {
        for (size_t si = 0; si < slots_.size(); ++si) {
          Slot& s = slots_[si];
          if (s.st != St::kFree) continue;
          if (s.retry_at > now) {
            timeout = std::min(timeout, s.retry_at - now);
            continue;
          }
          start(si, now);
          if (s.st == St::kFree) timeout = std::min(timeout, kRetryNs);
        }
      }
      for (size_t si = 0; si < slots_.size(); ++si) {
        Slot& s = slots_[si];
        if (s.st != St::kConnecting && s.st != St::kWaitConnAck && s.st != St::kWaitClose) continue;
        if (now >= s.deadline) {
          if (s.st == St::kWaitClose) {
            ++stats.close_timeouts;
            finish(si);
          } else {
            failure(si, "handshake timed out");
          }
        } else {
          timeout = std::min(timeout, s.deadline - now);
        }
      }
    }
    int64_t next_timer = timers_.next();
    if (next_timer != TimerHeap::kNever) {
      timeout = std::min(timeout, std::max<int64_t>(0, next_timer - now));
    }
    int n = poller_.wait(events, timeout);
    now = now_ns();
    for (int i = 0; i < n; ++i) {
      on_event(events[static_cast<size_t>(i)].data.u64, events[static_cast<size_t>(i)].events, now);
    }
  }
  shutdown_all();
}

void sleep_until_ns(int64_t t) {
  int64_t d = t - now_ns();
  if (d > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(d));
}

// Splits `total` over `parts` as evenly as possible.
size_t share(size_t total, size_t parts, size_t index) {
  return total / parts + (index < total % parts ? 1 : 0);
}

struct Pool {
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  void start() {
    for (auto& w : workers)
      threads.emplace_back([&w] { w->run(); });
  }
  void wake_all() {
    for (auto& w : workers)
      w->wake();
  }
  void stop(Shared& shared) {
    shared.phase.store(Phase::kStop, std::memory_order_release);
    wake_all();
    for (auto& t : threads)
      t.join();
    threads.clear();
  }
};

}  // namespace

Report run_connect_rate(const Options& opt) {
  Report r;
  r.opt = opt;
  Endpoint ep;
  if (!make_endpoint(opt.host, opt.port, opt.allow_remote, ep, r.error)) return r;
  Shared shared(opt, ep, false);
  Pool pool;
  auto threads = static_cast<size_t>(opt.threads);
  auto conc = static_cast<size_t>(opt.concurrency);
  for (size_t t = 0; t < threads; ++t) {
    size_t n = share(conc, threads, t);
    pool.workers.push_back(std::make_unique<Worker>(shared, static_cast<int>(t), n, n));
  }
  pool.start();
  int64_t t_start = now_ns();
  shared.t_measure = t_start + seconds_to_ns(opt.warmup_s);
  shared.t_end = shared.t_measure + seconds_to_ns(opt.duration_s);
  shared.phase.store(Phase::kRun, std::memory_order_release);
  pool.wake_all();
  sleep_until_ns(shared.t_measure);
  double cpu0 = self_cpu_seconds();
  double bcpu0 = opt.broker_pid ? read_cpu_seconds(opt.broker_pid) : -1;
  int64_t wall0 = now_ns();
  sleep_until_ns(shared.t_end);
  double wall = static_cast<double>(now_ns() - wall0) / 1e9;
  r.loadgen_cpu_pct = 100.0 * (self_cpu_seconds() - cpu0) / wall;
  double bcpu1 = opt.broker_pid ? read_cpu_seconds(opt.broker_pid) : -1;
  if (bcpu0 >= 0 && bcpu1 >= 0) r.broker_cpu_pct = 100.0 * (bcpu1 - bcpu0) / wall;
  pool.stop(shared);

  r.measured_s = opt.duration_s;
  for (auto& w : pool.workers) {
    r.handshakes_total += w->stats.handshakes_total;
    r.handshakes_window += w->stats.handshakes_window;
    r.connect_failures += w->stats.failures;
    r.close_timeouts += w->stats.close_timeouts;
    r.handshake_ns.merge(w->stats.handshake);
  }
  if (r.close_timeouts > 0) {
    r.notes.push_back(std::to_string(r.close_timeouts) +
                      " connection(s) not closed by the broker within 1 s of DISCONNECT");
  }
  return r;
}

Report run_idle(const Options& opt, const std::atomic<bool>& interrupted) {
  Report r;
  r.opt = opt;
  Endpoint ep;
  if (!make_endpoint(opt.host, opt.port, opt.allow_remote, ep, r.error)) return r;
  uint64_t fd_limit = raise_fd_limit();
  auto total = static_cast<size_t>(opt.connections);
  if (fd_limit < total + 64) {
    r.error = "open-file limit " + std::to_string(fd_limit) + " is too low for " +
              std::to_string(total) + " connections";
    return r;
  }
  Shared shared(opt, ep, true);
  Pool pool;
  auto threads = static_cast<size_t>(opt.threads);
  for (size_t t = 0; t < threads; ++t) {
    pool.workers.push_back(std::make_unique<Worker>(
        shared, static_cast<int>(t), share(total, threads, t),
        std::max<size_t>(1, share(static_cast<size_t>(opt.concurrency), threads, t))));
  }
  pool.start();
  if (opt.broker_pid) r.rss_before_kb = read_rss_kb(opt.broker_pid);
  int64_t t0 = now_ns();
  shared.phase.store(Phase::kRun, std::memory_order_release);
  pool.wake_all();
  // Generous: 10,000 QUIC handshakes took up to 64 s on a loaded 2-CPU machine.
  int64_t deadline = t0 + 60 * kNsPerSec + static_cast<int64_t>(total) * 10 * kNsPerMs;
  while (!shared.failed.load() && shared.up.load() < total && now_ns() < deadline &&
         !interrupted.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  r.connections_up = shared.up.load();
  r.connect_all_s = static_cast<double>(now_ns() - t0) / 1e9;
  if (shared.failed.load() || r.connections_up < total) {
    pool.stop(shared);
    r.error = shared.failed.load() ? shared.first_error
                                   : "only " + std::to_string(r.connections_up) + " of " +
                                         std::to_string(total) + " connections came up";
    return r;
  }
  // Let the broker finish any per-connection work triggered by the handshakes.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  if (opt.broker_pid) r.rss_after_kb = read_rss_kb(opt.broker_pid);
  if (!opt.ready_file.empty()) std::ofstream(opt.ready_file) << r.connections_up << "\n";
  int64_t hold_end = now_ns() + seconds_to_ns(opt.duration_s);
  while (now_ns() < hold_end && !interrupted.load() && !shared.failed.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pool.stop(shared);
  if (shared.failed.load()) r.notes.push_back("during the hold: " + shared.first_error);
  r.measured_s = opt.duration_s;
  return r;
}

}  // namespace mquictt::loadgen
