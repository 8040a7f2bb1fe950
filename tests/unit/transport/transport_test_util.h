#pragma once
// Helpers for transport tests: a recording ByteStreamHandler, loop pumping, and small blocking-ish
// client socket utilities. Everything runs on the test thread: the loop is pumped with
// non-blocking iterations while the test polls its own client sockets.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broker/byte_stream.h"
#include "transport/ev_loop.h"

namespace mquictt::transport::test {

// What a handler saw. Owned by the test, so it outlives the handler.
struct Record {
  std::string data;
  std::string early;        // the part of `data` that arrived while stream->early_data()
  int early_confirmed = 0;  // on_early_data_confirmed() calls
  int writable = 0;
  int closed = 0;
  std::optional<broker::CloseCause> cause;
  bool destroyed = false;
  broker::ByteStream* stream = nullptr;  // dangling after on_closed
};

class RecordingHandler : public broker::ByteStreamHandler {
 public:
  RecordingHandler(broker::ByteStream& stream, Record& rec) : stream_(stream), rec_(rec) {
    rec_.stream = &stream;
  }
  ~RecordingHandler() override { rec_.destroyed = true; }

  void on_data(std::span<const uint8_t> bytes) override {
    EXPECT_EQ(rec_.closed, 0) << "on_data after on_closed";
    rec_.data.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (stream_.early_data()) {
      rec_.early.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
    if (data_hook) data_hook(stream_, bytes);
  }
  void on_writable() override {
    EXPECT_EQ(rec_.closed, 0) << "on_writable after on_closed";
    ++rec_.writable;
    if (writable_hook) writable_hook(stream_);
  }
  void on_early_data_confirmed() override { ++rec_.early_confirmed; }
  void on_closed(broker::CloseCause cause) override {
    ++rec_.closed;
    rec_.cause = cause;
  }
  std::unique_ptr<broker::ByteStreamHandler> add_stream(broker::ByteStream& stream) override {
    return add_stream_hook ? add_stream_hook(stream) : nullptr;
  }

  std::function<void(broker::ByteStream&, std::span<const uint8_t>)> data_hook;
  std::function<void(broker::ByteStream&)> writable_hook;
  // Another stream of the connection (QUIC data streams); unset: refused.
  std::function<std::unique_ptr<broker::ByteStreamHandler>(broker::ByteStream&)> add_stream_hook;

 private:
  broker::ByteStream& stream_;
  Record& rec_;
};

// Pumps the loop (non-blocking iterations) until `pred` holds or `timeout` passes.
inline bool run_until(EvLoop& loop, const std::function<bool()>& pred,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    loop.run_once(false);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

inline void run_for(EvLoop& loop, std::chrono::milliseconds d) {
  run_until(
      loop, [] { return false; }, d);
}

inline void set_nonblocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

inline void set_buffers(int fd, int sndbuf, int rcvbuf) {
  if (sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
}

// Reads whatever is available from a non-blocking socket. Returns false on EOF or error.
inline bool drain(int fd, std::string& out) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return false;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }
}

inline void send_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    ASSERT_GT(n, 0);
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// Deterministic bytes so that reordering or loss shows up in comparisons.
inline std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<uint8_t>((i * 131 + seed) & 0xFF);
  return v;
}

inline std::string as_string(const std::vector<uint8_t>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

}  // namespace mquictt::transport::test
