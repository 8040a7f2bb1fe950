// TcpConnection on AF_UNIX socketpairs (no listener), ConnectionSet reaping, and the libev
// wrappers.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "transport/connection_set.h"
#include "transport/ev_loop.h"
#include "transport/tcp/tcp_connection.h"
#include "unit/transport/transport_test_util.h"

namespace mquictt::transport {
namespace {

using broker::CloseCause;
using namespace std::chrono_literals;
using test::Record;
using test::RecordingHandler;

// One server-side TcpConnection on a socketpair, the other end kept by the test.
struct Pair {
  Pair(EvLoop& loop, ConnectionSet& set, TcpConnectionOptions options = {}, int sndbuf = 0) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    test::set_buffers(sv[0], sndbuf, 0);
    peer = sv[1];
    conn = &set.add(std::make_unique<TcpConnection>(loop, set, sv[0], "unix", options));
    conn->start(std::make_unique<RecordingHandler>(*conn, rec));
  }
  ~Pair() {
    if (peer >= 0) ::close(peer);
  }
  Record rec;
  TcpConnection* conn;
  int peer = -1;
};

TEST(TcpConnectionTest, SharedFrameToSeveralConnectionsKeepsOrder) {
  EvLoop loop;
  ConnectionSet set(loop);
  Pair a(loop, set), b(loop, set);
  auto frame = std::make_shared<const std::vector<uint8_t>>(test::pattern(10'000, 5));
  const uint8_t head[] = {1, 2, 3};
  for (Pair* p : {&a, &b}) {
    p->conn->write(head);
    p->conn->write_shared(frame);
    p->conn->write(head);
  }
  EXPECT_EQ(a.conn->pending_bytes(), 10'006u);
  std::string want = "\x01\x02\x03" + test::as_string(*frame) + "\x01\x02\x03";
  for (Pair* p : {&a, &b}) {
    std::string got;
    ASSERT_TRUE(test::run_until(loop, [&] {
      test::drain(p->peer, got);
      return got.size() >= want.size();
    }));
    EXPECT_TRUE(got == want);
  }
  EXPECT_EQ(frame.use_count(), 1);  // released once sent
  EXPECT_EQ(a.conn->describe(), "tcp unix");
}

TEST(TcpConnectionTest, PartialWritesResumeWhereTheyStopped) {
  EvLoop loop;
  ConnectionSet set(loop);
  Pair p(loop, set, {}, 4096);
  std::string want;
  // Chunks of odd sizes, shared and owned, so partial writes land inside chunks.
  for (int i = 0; i < 200; ++i) {
    auto v = test::pattern(static_cast<size_t>(997 + i * 13), static_cast<uint8_t>(i));
    if (i % 3 == 0) {
      p.conn->write_shared(std::make_shared<const std::vector<uint8_t>>(v));
    } else {
      p.conn->write(v);
    }
    want += test::as_string(v);
  }
  std::string got;
  size_t max_pending_seen = 0;
  ASSERT_TRUE(test::run_until(
      loop,
      [&] {
        max_pending_seen = std::max(max_pending_seen, p.conn->pending_bytes());
        // Read slowly: a few KiB per iteration.
        char buf[3000];
        ssize_t n = ::read(p.peer, buf, sizeof buf);
        if (n > 0) got.append(buf, static_cast<size_t>(n));
        return got.size() >= want.size();
      },
      20s));
  EXPECT_TRUE(got == want);
  EXPECT_EQ(p.conn->pending_bytes(), 0u);
}

TEST(TcpConnectionTest, ReapRunsOutsideCallbacksAndOnlyOnce) {
  EvLoop loop;
  ConnectionSet set(loop);
  Pair p(loop, set);
  EXPECT_EQ(set.size(), 1u);
  p.conn->abort();
  p.conn->abort();
  EXPECT_EQ(p.rec.closed, 0);
  EXPECT_EQ(set.size(), 1u);
  loop.run_once(false);  // the idle watcher reaps
  EXPECT_EQ(p.rec.closed, 1);
  EXPECT_TRUE(p.rec.destroyed);
  EXPECT_EQ(set.size(), 0u);
  test::run_for(loop, 10ms);
  EXPECT_EQ(p.rec.closed, 1);
}

TEST(TcpConnectionTest, OnClosedMayCloseAnotherConnection) {
  EvLoop loop;
  ConnectionSet set(loop);
  Pair a(loop, set), b(loop, set);
  // Like a session takeover: the first connection's on_closed closes the second.
  struct Chain : RecordingHandler {
    Chain(broker::ByteStream& s, Record& r, broker::ByteStream& other)
        : RecordingHandler(s, r), other_(other) {}
    void on_closed(CloseCause c) override {
      RecordingHandler::on_closed(c);
      other_.close();
    }
    broker::ByteStream& other_;
  };
  Record ra;
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  auto& c =
      set.add(std::make_unique<TcpConnection>(loop, set, sv[0], "chain", TcpConnectionOptions{}));
  c.start(std::make_unique<Chain>(c, ra, *b.conn));
  ::close(sv[1]);  // peer EOF on the chained connection
  ASSERT_TRUE(test::run_until(loop, [&] { return b.rec.closed == 1; }));
  EXPECT_EQ(ra.closed, 1);
  EXPECT_EQ(ra.cause, CloseCause::kPeerClosed);
  EXPECT_EQ(b.rec.cause, CloseCause::kLocal);
}

TEST(TcpConnectionTest, NullHandlerAbortsTheConnection) {
  EvLoop loop;
  ConnectionSet set(loop);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  auto& c = set.add(std::make_unique<TcpConnection>(loop, set, sv[0], "x", TcpConnectionOptions{}));
  c.start(nullptr);
  ASSERT_TRUE(test::run_until(loop, [&] { return set.size() == 0; }));
  std::string got;
  EXPECT_FALSE(test::drain(sv[1], got));  // EOF
  ::close(sv[1]);
}

TEST(TcpConnectionTest, WriteErrorIsReportedAsError) {
  EvLoop loop;
  ConnectionSet set(loop);
  Pair p(loop, set);
  ::close(p.peer);
  p.peer = -1;
  p.conn->set_reading(false);  // only the write path can notice
  p.conn->write(test::pattern(1000, 1));
  ASSERT_TRUE(test::run_until(loop, [&] { return p.rec.closed == 1; }));
  EXPECT_EQ(p.rec.cause, CloseCause::kError);
}

TEST(TcpConnectionTest, SetDestructorReleasesEveryHandler) {
  EvLoop loop;
  Record r1, r2;
  {
    ConnectionSet set(loop);
    for (Record* r : {&r1, &r2}) {
      int sv[2];
      ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
      ::close(sv[1]);
      auto& c =
          set.add(std::make_unique<TcpConnection>(loop, set, sv[0], "x", TcpConnectionOptions{}));
      c.start(std::make_unique<RecordingHandler>(c, *r));
    }
  }
  EXPECT_EQ(r1.closed, 1);
  EXPECT_EQ(r2.closed, 1);
  EXPECT_TRUE(r1.destroyed && r2.destroyed);
}

// ---- libev wrappers -----------------------------------------------------------------------------

struct TimerTarget {
  int fired = 0;
  void on_timer() noexcept { ++fired; }
};
void timercb(struct ev_loop*, ev_timer* w, int) noexcept {
  static_cast<TimerTarget*>(w->data)->on_timer();
}

TEST(EvLoopTest, TimerFiresOnceAndStopsInDestructor) {
  EvLoop loop;
  TimerTarget t;
  {
    TimerWatcher w(loop, timercb, &t);
    w.start_after(0.01);
    EXPECT_TRUE(w.active());
    ASSERT_TRUE(test::run_until(loop, [&] { return t.fired == 1; }));
    EXPECT_FALSE(w.active());
    w.start_after(0.01);
  }  // destroyed while active: must be unregistered
  test::run_for(loop, 30ms);
  EXPECT_EQ(t.fired, 1);
}

TEST(EvLoopTest, RunReturnsWhenNoWatcherIsActive) {
  EvLoop loop;
  TimerTarget t;
  TimerWatcher w(loop, timercb, &t);
  w.start_after(0.001);
  loop.run();
  EXPECT_EQ(t.fired, 1);
}

struct AsyncTarget {
  EvLoop* loop;
  int woken = 0;
  void on_async() noexcept {
    ++woken;
    loop->break_loop();
  }
};
void asynccb(struct ev_loop*, ev_async* w, int) noexcept {
  static_cast<AsyncTarget*>(w->data)->on_async();
}

TEST(EvLoopTest, AsyncWakesTheLoopFromAnotherThread) {
  EvLoop loop;
  AsyncTarget t{&loop};
  AsyncWatcher a(loop, asynccb, &t);
  a.start();
  std::thread other([&] {
    std::this_thread::sleep_for(20ms);
    a.send();
  });
  loop.run();  // blocks until the async arrives
  other.join();
  EXPECT_EQ(t.woken, 1);
}

}  // namespace
}  // namespace mquictt::transport
