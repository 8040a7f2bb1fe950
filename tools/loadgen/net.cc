#include <sys/eventfd.h>
#include <unistd.h>

#include "net.h"

#include "link.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace mquictt::loadgen {

bool make_endpoint(const std::string& host_in, uint16_t port, bool allow_remote, Endpoint& out,
                   std::string& error) {
  std::string host = host_in == "localhost" ? "127.0.0.1" : host_in;
  out = Endpoint{};
  in_addr v4{};
  in6_addr v6{};
  bool loopback = false;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr = v4;
    std::memcpy(&out.addr, &sa, sizeof sa);
    out.len = sizeof sa;
    out.family = AF_INET;
    loopback = ntohl(v4.s_addr) == INADDR_LOOPBACK;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    sa.sin6_addr = v6;
    std::memcpy(&out.addr, &sa, sizeof sa);
    out.len = sizeof sa;
    out.family = AF_INET6;
    loopback = IN6_IS_ADDR_LOOPBACK(&v6);
  } else {
    error = "host must be a numeric address (127.0.0.1 or ::1), got '" + host_in + "'";
    return false;
  }
  if (!loopback && !allow_remote) {
    error = "refusing to load non-loopback host " + host_in + " (pass --allow-remote)";
    return false;
  }
  return true;
}

int start_connect(const Endpoint& ep) {
  int fd = ::socket(ep.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) != 0 &&
      errno != EINPROGRESS) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

int connect_result(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

uint64_t raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

Poller::Poller() : fd_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

Poller::~Poller() {
  if (fd_ >= 0) ::close(fd_);
}

void Poller::add(int fd, uint32_t events, uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  if (::epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_ctl ADD");
  }
}

void Poller::modify(int fd, uint32_t events, uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  ::epoll_ctl(fd_, EPOLL_CTL_MOD, fd, &ev);
}

void Poller::remove(int fd) {
  ::epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr);
}

int Poller::wait(std::span<epoll_event> events, int64_t timeout_ns) {
  int n = -1;
  if (have_pwait2_) {
    timespec ts{};
    timespec* tsp = nullptr;
    if (timeout_ns >= 0) {
      ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
      tsp = &ts;
    }
    n = ::epoll_pwait2(fd_, events.data(), static_cast<int>(events.size()), tsp, nullptr);
    if (n < 0 && errno == ENOSYS) have_pwait2_ = false;
  }
  if (!have_pwait2_) {
    // Round up so a short timeout does not turn into a busy loop.
    int ms = timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999'999) / 1'000'000);
    n = ::epoll_wait(fd_, events.data(), static_cast<int>(events.size()), ms);
  }
  return n < 0 ? 0 : n;
}

Conn::Conn() = default;

Conn::~Conn() {
  close();
}

int Conn::fd() const {
  return link_ ? link_->fd() : -1;
}

void Conn::attach(std::unique_ptr<Link> link, Poller& poller, uint64_t tag) {
  link_ = std::move(link);
  splitter_ = codec::FrameSplitter();
  out_.clear();
  out_off_ = 0;
  epollout_ = false;
  std::string ignored;
  Link::Step step = link_->advance(0, ignored);  // asks what to wait for first
  poller.add(link_->fd(), EPOLLIN | step.events, tag);
  epollout_ = (step.events & EPOLLOUT) != 0;
}

int Conn::advance(uint32_t events, Poller& poller, uint64_t tag, std::string& error) {
  if (!link_) return -1;
  Link::Step step = link_->advance(events, error);
  if (step.status == Link::Status::kFailed) return -1;
  // Up: watch EPOLLOUT until the first flush() finds nothing pending (links that use it).
  uint32_t extra = step.status == Link::Status::kUp ? (link_->waits_for_epollout() ? EPOLLOUT : 0u)
                                                    : (step.events & EPOLLOUT);
  bool want_out = extra != 0;
  if (want_out != epollout_) {
    poller.modify(link_->fd(), EPOLLIN | extra, tag);
    epollout_ = want_out;
  }
  return step.status == Link::Status::kUp ? 1 : 0;
}

void Conn::close() {
  link_.reset();  // closing the socket also removes it from every epoll set
  out_.clear();
  out_off_ = 0;
  epollout_ = false;
}

bool Conn::flush(Poller& poller, uint64_t tag) {
  if (!link_) return false;
  while (out_off_ < out_.size()) {
    long n = link_->send(std::span<const uint8_t>(out_.data() + out_off_, out_.size() - out_off_));
    if (n < 0) return false;
    if (n == 0) break;
    out_off_ += static_cast<size_t>(n);
  }
  if (out_off_ == out_.size()) {
    out_.clear();
    out_off_ = 0;
  } else if (out_off_ > out_.size() / 2) {
    // Keep appends cheap: drop the sent prefix once it dominates the buffer.
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_off_));
    out_off_ = 0;
  }
  bool want_out = pending() > 0 && link_->waits_for_epollout();
  if (want_out != epollout_) {
    poller.modify(link_->fd(), EPOLLIN | (want_out ? EPOLLOUT : 0u), tag);
    epollout_ = want_out;
  }
  return true;
}

void Conn::shutdown_write() {
  if (link_) link_->shutdown_write();
}

long Conn::read_chunk() {
  thread_local std::vector<uint8_t> buf(kReadChunk);
  if (!link_) return -1;
  long n = link_->recv(std::span<uint8_t>(buf.data(), buf.size()));
  if (n <= 0) return n;
  auto fed = splitter_.feed(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
  return fed.ok() ? n : -1;
}

int64_t Conn::next_timer_ns() const {
  return link_ ? link_->next_timer_ns() : INT64_MAX;
}

void Conn::on_timer() {
  if (link_) link_->on_timer();
}

int64_t read_rss_kb(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream in(line.substr(6));
      int64_t kb = -1;
      in >> kb;
      return kb;
    }
  }
  return -1;
}

double read_cpu_seconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string all;
  std::getline(f, all);
  // The command name (field 2) may contain spaces; fields after its closing ')' are plain.
  auto rp = all.rfind(')');
  if (rp == std::string::npos) return -1;
  std::istringstream in(all.substr(rp + 2));
  std::string field;
  double utime = 0;
  double stime = 0;
  // After ')': field 3 is state; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double self_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

WakeFd::WakeFd() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

WakeFd::~WakeFd() {
  if (fd_ >= 0) ::close(fd_);
}

void WakeFd::signal() {
  uint64_t one = 1;
  ssize_t n = ::write(fd_, &one, sizeof one);
  (void)n;  // a full eventfd counter still wakes the loop
}

void WakeFd::drain() {
  uint64_t v = 0;
  ssize_t n = ::read(fd_, &v, sizeof v);
  (void)n;
}

}  // namespace mquictt::loadgen
