#include "transport/tcp/tcp_connection.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include "log/log.h"

namespace mquictt::transport {

namespace {

void readcb(struct ev_loop*, ev_io* w, int) noexcept {
  static_cast<TcpConnection*>(w->data)->on_readable();
}

void writecb(struct ev_loop*, ev_io* w, int) noexcept {
  static_cast<TcpConnection*>(w->data)->on_writable_event();
}

void lingercb(struct ev_loop*, ev_timer* w, int) noexcept {
  static_cast<TcpConnection*>(w->data)->on_linger_timeout();
}

}  // namespace

TcpConnection::TcpConnection(EvLoop& loop, ConnectionSet& set, int fd, std::string peer,
                             TcpConnectionOptions options)
    : set_(set),
      fd_(fd),
      peer_(std::move(peer)),
      options_(options),
      rev_(loop, readcb, this),
      wev_(loop, writecb, this),
      linger_(loop, lingercb, this) {
  rev_.set(fd_, EV_READ);
  wev_.set(fd_, EV_WRITE);
}

TcpConnection::~TcpConnection() {
  rev_.stop();
  wev_.stop();
  linger_.stop();
  if (fd_ >= 0) ::close(fd_);
  // The set always reaps before deleting; this keeps "on_closed exactly once" even if it did not.
  if (handler_) {
    auto h = std::move(handler_);
    try {
      h->on_closed(cause_);
    } catch (...) {
    }
  }
}

void TcpConnection::start(std::unique_ptr<broker::ByteStreamHandler> handler) {
  handler_ = std::move(handler);
  if (!handler_) {
    abort();
    return;
  }
  update_read_watcher();
}

void TcpConnection::write(std::span<const uint8_t> bytes) {
  if (state_ != State::kOpen || bytes.empty()) return;
  if (!out_.empty() && !out_.back().shared &&
      out_.back().owned.size() + bytes.size() <= kCoalesceBytes) {
    out_.back().owned.insert(out_.back().owned.end(), bytes.begin(), bytes.end());
  } else {
    Chunk c;
    c.owned.assign(bytes.begin(), bytes.end());
    out_.push_back(std::move(c));
  }
  queued(bytes.size());
}

void TcpConnection::write_shared(broker::SharedBytes frame) {
  if (state_ != State::kOpen || !frame || frame->empty()) return;
  // Copying a small frame into the coalescing buffer is cheaper than an extra iovec.
  if (frame->size() <= 512) return write(*frame);
  size_t n = frame->size();
  Chunk c;
  c.shared = std::move(frame);
  out_.push_back(std::move(c));
  queued(n);
}

void TcpConnection::queued(size_t n) {
  pending_ += n;
  if (pending_ > options_.high_watermark_bytes) above_high_ = true;
  // Sending waits for the writable event: the broker usually writes several frames per loop
  // iteration, and one sendmsg() for all of them beats one per frame.
  wev_.start();
}

void TcpConnection::set_reading(bool enabled) {
  reading_ = enabled;
  update_read_watcher();
}

void TcpConnection::update_read_watcher() {
  // While closing we keep reading (and discarding) to notice the peer's EOF; see the header.
  bool want = state_ == State::kClosing || state_ == State::kLingering ||
              (state_ == State::kOpen && reading_ && handler_);
  if (peer_eof_) want = false;
  if (want) {
    rev_.start();
  } else {
    rev_.stop();
  }
}

void TcpConnection::close() {
  if (state_ != State::kOpen) return;
  state_ = State::kClosing;
  cause_ = broker::CloseCause::kLocal;
  set_.schedule_reap(*this);  // delivers on_closed(kLocal) without waiting for the linger
  linger_.start_after(options_.linger_s);
  update_read_watcher();
  if (out_.empty()) finish_close();
}

void TcpConnection::abort() {
  if (state_ == State::kDead) return;
  if (state_ == State::kOpen) cause_ = broker::CloseCause::kLocal;
  close_socket();
}

void TcpConnection::terminate() {
  abort();
}

void TcpConnection::on_readable() noexcept {
  std::span<uint8_t> buf = set_.read_buffer();
  try {
    for (int i = 0; i < kMaxReadsPerEvent; ++i) {
      ssize_t n = ::read(fd_, buf.data(), buf.size());
      if (n > 0) {
        if (state_ != State::kOpen) continue;  // closing: discard
        handler_->on_data(buf.first(static_cast<size_t>(n)));
        // The handler may have closed, aborted or paused us.
        if (state_ != State::kOpen || !reading_) return;
        if (static_cast<size_t>(n) < buf.size()) return;  // drained; saves a read() = EAGAIN
        continue;
      }
      if (n == 0) return on_eof();
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return fail(errno);
    }
  } catch (const std::exception& e) {
    log::net()->error("{}: read handler failed: {}", describe(), e.what());
    fail(EIO);
  }
}

void TcpConnection::on_eof() {
  switch (state_) {
    case State::kOpen:
      cause_ = broker::CloseCause::kPeerClosed;
      close_socket();
      break;
    case State::kClosing:
      // Half-closed peer: it may still read what we flush.
      peer_eof_ = true;
      update_read_watcher();
      break;
    case State::kLingering:
      close_socket();
      break;
    case State::kDead:
      break;
  }
}

void TcpConnection::on_writable_event() noexcept {
  try {
    if (!flush()) return;
    if (out_.empty()) {
      wev_.stop();
      if (state_ == State::kClosing) return finish_close();
    }
    if (above_high_ && pending_ <= options_.low_watermark_bytes && state_ == State::kOpen) {
      above_high_ = false;
      handler_->on_writable();
    }
  } catch (const std::exception& e) {
    log::net()->error("{}: write handler failed: {}", describe(), e.what());
    fail(EIO);
  }
}

bool TcpConnection::flush() {
  while (!out_.empty()) {
    iovec iov[kMaxIov];
    int n = 0;
    size_t total = 0;
    for (auto it = out_.begin(); it != out_.end() && n < kMaxIov; ++it, ++n) {
      iov[n].iov_base = const_cast<uint8_t*>(it->data());
      iov[n].iov_len = it->size();
      total += it->size();
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    // MSG_NOSIGNAL: a peer that went away must be an EPIPE here, not a process-wide SIGPIPE.
    ssize_t w = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      fail(errno);
      return false;
    }
    consume(static_cast<size_t>(w));
    if (static_cast<size_t>(w) < total) return true;  // socket buffer full: wait for EV_WRITE
  }
  return true;
}

void TcpConnection::consume(size_t n) {
  pending_ -= n;
  while (n > 0) {
    Chunk& c = out_.front();
    size_t take = std::min(n, c.size());
    c.offset += take;
    n -= take;
    if (c.size() == 0) out_.pop_front();
  }
}

void TcpConnection::finish_close() {
  if (peer_eof_ || ::shutdown(fd_, SHUT_WR) != 0) {
    // The peer is gone (or half-closed and done): nothing to wait for.
    close_socket();
    return;
  }
  state_ = State::kLingering;
  update_read_watcher();
}

void TcpConnection::on_linger_timeout() noexcept {
  if (log::net()->should_log(spdlog::level::debug)) {
    log::net()->debug("{}: linger timeout, {} bytes unsent", describe(), pending_);
  }
  close_socket();
}

void TcpConnection::fail(int err) {
  if (state_ == State::kDead) return;
  if (state_ == State::kOpen) {
    cause_ = broker::CloseCause::kError;
    if (log::net()->should_log(spdlog::level::debug)) {
      log::net()->debug("{}: socket error: {}", describe(), std::strerror(err));
    }
  }
  close_socket();
}

void TcpConnection::close_socket() {
  rev_.stop();
  wev_.stop();
  linger_.stop();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  out_.clear();
  pending_ = 0;
  state_ = State::kDead;
  set_.schedule_reap(*this);
}

bool TcpConnection::reap() {
  if (handler_ && state_ != State::kOpen) {
    auto h = std::move(handler_);
    h->on_closed(cause_);
  }
  return state_ == State::kDead;
}

}  // namespace mquictt::transport
