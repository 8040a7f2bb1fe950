#pragma once
// Sockets for the load generator: the loopback-only address check, non-blocking TCP connects,
// an epoll wrapper with nanosecond timeouts, and a connection with batched writes over a Link.

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "codec/frame_splitter.h"

namespace mquictt::loadgen {

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = 0;
};

// Parses a numeric address ("localhost" means 127.0.0.1). Without allow_remote only 127.0.0.1
// and ::1 are accepted: the generator must never point a flood at another machine by mistake.
bool make_endpoint(const std::string& host, uint16_t port, bool allow_remote, Endpoint& out,
                   std::string& error);

// socket() + O_NONBLOCK + TCP_NODELAY + connect(). Returns the fd (connect usually still in
// progress: wait for EPOLLOUT and call connect_result()) or -1 with errno set.
int start_connect(const Endpoint& ep);
// 0 once the connect finished, else the socket error.
int connect_result(int fd);

// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit.
uint64_t raise_fd_limit();

// An eventfd that wakes a worker's epoll loop from another thread. Owns the descriptor.
class WakeFd {
 public:
  WakeFd();
  ~WakeFd();
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;
  int fd() const { return fd_; }
  void signal();  // any thread
  void drain();   // the loop thread, on readiness

 private:
  int fd_;
};

class Poller {
 public:
  Poller();
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  void add(int fd, uint32_t events, uint64_t tag);
  void modify(int fd, uint32_t events, uint64_t tag);
  void remove(int fd);
  // Waits at most timeout_ns (< 0: forever). Returns the number of events (0 on timeout/EINTR).
  int wait(std::span<epoll_event> events, int64_t timeout_ns);

 private:
  int fd_ = -1;
  bool have_pwait2_ = true;  // epoll_pwait2 (Linux 5.11) gives sub-millisecond timeouts
};

class Link;

// One MQTT connection's byte plumbing over a Link (link.h: TCP, TLS or QUIC): an output buffer
// filled by many small appends and written with one send per flush (batched writes), and a
// FrameSplitter for the input.
class Conn {
 public:
  // Reads are 32 KiB at a time: the FrameSplitter keeps up to 64 KiB of capacity between
  // frames, so staying below that avoids reallocating its buffer on every read.
  static constexpr size_t kReadChunk = 32 * 1024;

  Conn();
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  int fd() const;  // -1 once closed
  // Takes a link that is connecting and registers it with `poller` under `tag`.
  void attach(std::unique_ptr<Link> link, Poller& poller, uint64_t tag);
  // Moves the transport handshake on after `events` (0 after a timer). Returns 1 once bytes can
  // flow (the caller sends CONNECT), 0 while it goes on, -1 on failure (`error` says why).
  int advance(uint32_t events, Poller& poller, uint64_t tag, std::string& error);
  void close();

  std::vector<uint8_t>& out() { return out_; }
  size_t pending() const { return out_.size() - out_off_; }
  void append(std::span<const uint8_t> bytes) {
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }

  // Sends pending bytes until done or the link is full; keeps EPOLLOUT registered exactly
  // while bytes are left (links that wait for EPOLLOUT only). Returns false if the connection
  // failed.
  bool flush(Poller& poller, uint64_t tag);
  // No more bytes from us after the pending ones were flushed.
  void shutdown_write();

  // One read of at most kReadChunk bytes into the splitter. Returns the bytes read, 0 if
  // nothing was available, -1 on EOF, error or a splitter error. Take the frames out of the
  // splitter before the next call.
  long read_chunk();
  codec::FrameSplitter& splitter() { return splitter_; }

  // The link's protocol timers (QUIC): INT64_MAX if none.
  int64_t next_timer_ns() const;
  void on_timer();

 private:
  std::unique_ptr<Link> link_;
  std::vector<uint8_t> out_;
  size_t out_off_ = 0;
  bool epollout_ = false;
  codec::FrameSplitter splitter_;
};

// VmRSS of a process in KiB from /proc/PID/status, or -1.
int64_t read_rss_kb(int pid);
// utime + stime of a process in seconds from /proc/PID/stat, or -1.
double read_cpu_seconds(int pid);
// CPU seconds used by this process (all threads).
double self_cpu_seconds();

}  // namespace mquictt::loadgen
