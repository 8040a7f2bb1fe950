#pragma once
// One accepted TCP socket as a broker::ByteStream.
//
// Ownership: the ConnectionSet owns the TcpConnection; the TcpConnection owns the fd, its ev_io
// and ev_timer watchers, its outbound queue and the ByteStreamHandler returned by Broker::accept.
//
// Handler callbacks, all from libev callbacks of this connection (never from inside one of the
// ByteStream methods below, never re-entrantly):
//   on_data()      for each read (up to kMaxReadsPerEvent reads of the set's 64 KiB buffer per
//                  readable event, for fairness between connections);
//   on_writable()  when pending_bytes() drops to the low watermark after exceeding the high one;
//   on_closed()    exactly once, from the ConnectionSet's reap, as the last call.
//
// Closing:
//   close()  stops on_data(), keeps flushing the queue, then shutdown(SHUT_WR) and waits for the
//            peer's EOF (discarding what it still sends, so the kernel does not answer unread data
//            with a RST that could destroy our last bytes in flight), all bounded by `linger_s`.
//            The handler gets on_closed(kLocal) right away (at the next reap), not after linger.
//   abort()  closes the socket now and drops the queue.
//   EOF from the peer: on_closed(kPeerClosed); read/write errors: on_closed(kError).

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "broker/byte_stream.h"
#include "transport/connection_set.h"
#include "transport/ev_loop.h"
#include "util/lazy_deque.h"

namespace mquictt::transport {

struct TcpConnectionOptions {
  // Backpressure thresholds on pending_bytes(), normally BrokerConfig's outbound_*_watermark_bytes.
  uint64_t high_watermark_bytes = 1024 * 1024;
  uint64_t low_watermark_bytes = 256 * 1024;
  // Upper bound of close(): flush + wait for the peer's EOF, in seconds.
  double linger_s = 2.0;
};

class TcpConnection final : public broker::ByteStream, public OwnedConnection {
 public:
  static constexpr int kMaxReadsPerEvent = 4;
  // Small writes are appended to the last queued chunk up to this size (fewer iovecs).
  static constexpr size_t kCoalesceBytes = 16 * 1024;
  // At most this many chunks per sendmsg().
  static constexpr int kMaxIov = 64;

  // Takes ownership of `fd`: a connected, non-blocking stream socket (TCP; tests also use
  // AF_UNIX socketpairs). `peer` is the remote address for describe(), e.g. "127.0.0.1:50312".
  TcpConnection(EvLoop& loop, ConnectionSet& set, int fd, std::string peer,
                TcpConnectionOptions options);
  ~TcpConnection() override;

  // Installs the handler and starts reading; called once, right after Broker::accept(*this).
  // A null handler (the broker refused the stream) aborts the connection.
  void start(std::unique_ptr<broker::ByteStreamHandler> handler);

  // broker::ByteStream
  void write(std::span<const uint8_t> bytes) override;
  void write_shared(broker::SharedBytes frame) override;
  size_t pending_bytes() const override { return pending_; }
  void set_reading(bool enabled) override;
  void close() override;
  void abort() override;
  std::string describe() const override { return "tcp " + peer_; }

  // libev entry points (trampolines only).
  void on_readable() noexcept;
  void on_writable_event() noexcept;
  void on_linger_timeout() noexcept;

  int fd() const { return fd_; }

 private:
  enum class State : uint8_t {
    kOpen,       // normal operation
    kClosing,    // close() called: flushing the queue
    kLingering,  // queue flushed and SHUT_WR sent: waiting for the peer's EOF
    kDead,       // fd closed; waiting to be deleted by the set
  };

  // One queued piece of output: either owned bytes (coalesced small writes) or a shared frame.
  struct Chunk {
    broker::SharedBytes shared;
    std::vector<uint8_t> owned;
    size_t offset = 0;  // bytes of this chunk already sent
    const uint8_t* data() const { return (shared ? shared->data() : owned.data()) + offset; }
    size_t size() const { return (shared ? shared->size() : owned.size()) - offset; }
  };

  // OwnedConnection
  bool reap() override;
  void terminate() override;
  void close_gracefully() override { close(); }

  void queued(size_t n);
  // Sends as much of the queue as the kernel takes. False if the connection failed meanwhile.
  bool flush();
  void consume(size_t n);
  void finish_close();  // queue empty while closing: SHUT_WR, then linger
  void on_eof();
  void fail(int err);   // socket error: kError
  void close_socket();  // -> kDead and schedule the final reap
  void update_read_watcher();

  ConnectionSet& set_;
  int fd_;
  std::string peer_;
  TcpConnectionOptions options_;
  std::unique_ptr<broker::ByteStreamHandler> handler_;
  State state_ = State::kOpen;
  broker::CloseCause cause_ = broker::CloseCause::kLocal;
  bool reading_ = true;      // set_reading()
  bool above_high_ = false;  // pending_ exceeded the high watermark since the last on_writable
  bool peer_eof_ = false;    // EOF seen while closing
  LazyDeque<Chunk> out_;     // no memory while idle
  size_t pending_ = 0;
  IoWatcher rev_;
  IoWatcher wev_;
  TimerWatcher linger_;
};

}  // namespace mquictt::transport
