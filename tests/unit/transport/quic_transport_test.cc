// The QUIC transport end to end inside one process: a QuicListener on a real UDP socket on
// 127.0.0.1, our QuicClient, and a recording ByteStreamHandler in place of the broker. The test
// thread pumps both the server's libev loop and the client.

#include <gtest/gtest.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "transport/quic/quic_client.h"
#include "transport/quic/quic_listener.h"
#include "unit/transport/transport_test_util.h"
#include "unit/transport/udp_relay.h"

namespace mquictt::quic {
namespace {

using namespace std::chrono_literals;
using transport::test::pattern;
using transport::test::Record;
using transport::test::RecordingHandler;

std::string cert(const char* name) {
  return std::string(MQUICTT_TEST_DATA_DIR) + "/certs/" + name;
}

class QuicTransport : public ::testing::Test {
 protected:
  QuicListenerOptions default_options() {
    QuicListenerOptions o;
    o.name = "quic-test";
    o.host = "127.0.0.1";
    o.port = 0;
    o.tls.cert_file = cert("server.pem");
    o.tls.key_file = cert("server.key");
    return o;
  }

  void start(QuicListenerOptions o, QuicClock& clock = monotonic_clock()) {
    listener_ = std::make_unique<QuicListener>(
        loop_, std::move(o),
        [this](broker::ByteStream& s) {
          if (refuse_) return std::unique_ptr<broker::ByteStreamHandler>();
          records_.emplace_back();
          auto h = std::make_unique<RecordingHandler>(s, records_.back());
          handlers_.push_back(h.get());
          if (accept_data_streams_) {
            h->add_stream_hook = [this](broker::ByteStream& ds) {
              records_.emplace_back();
              auto d = std::make_unique<RecordingHandler>(ds, records_.back());
              handlers_.push_back(d.get());
              if (hold_data_streams_) ds.set_reading(false);
              return std::unique_ptr<broker::ByteStreamHandler>(std::move(d));
            };
          }
          if (on_accept_) on_accept_(*h);
          return std::unique_ptr<broker::ByteStreamHandler>(std::move(h));
        },
        clock);
    listener_->start();
  }
  void start() { start(default_options()); }

  QuicClientOptions client_options() {
    QuicClientOptions o;
    o.host = "127.0.0.1";
    o.port = listener_->port();
    o.tls.ca_file = cert("ca.pem");
    return o;
  }

  std::unique_ptr<QuicClient> client(QuicClientOptions o) {
    return std::make_unique<QuicClient>(std::move(o));
  }

  // Pumps the server loop and the client until `pred` holds.
  bool pump(QuicClient& c, const std::function<bool()>& pred,
            std::chrono::milliseconds timeout = 5s) {
    return transport::test::run_until(
        loop_,
        [&] {
          c.poll(0ms);
          return pred();
        },
        timeout);
  }

  // Connects a client and opens the control stream (stream 0).
  std::unique_ptr<QuicClient> connected(QuicClientOptions o) {
    auto c = client(std::move(o));
    EXPECT_TRUE(c->begin_connect()) << c->error();
    EXPECT_TRUE(pump(*c, [&] { return c->connected() || c->closed(); })) << c->error();
    EXPECT_TRUE(c->connected()) << c->error();
    return c;
  }
  std::unique_ptr<QuicClient> connected() { return connected(client_options()); }

  // Opens the next stream of `c` (*sid), sends `first` on it and pumps until the server's only
  // handler has received exactly that.
  bool open_and_deliver(QuicClient& c, const std::string& first, int64_t* sid) {
    const auto s = c.open_stream();
    if (!s) return false;
    *sid = *s;
    c.send(*s, span_of(first));
    return pump(c, [&] { return records_.size() == 1 && records_[0].data == first; });
  }

  std::string received(QuicClient& c, int64_t sid) {
    auto v = c.take(sid);
    return std::string(v.begin(), v.end());
  }

  static std::span<const uint8_t> span_of(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }

  transport::EvLoop loop_;
  // For a listener started with it; before listener_, which reads it until it is destroyed.
  ManualQuicClock frozen_clock_;
  // Before listener_: the listener's connections report to their records while it is destroyed.
  std::deque<Record> records_;
  std::vector<RecordingHandler*> handlers_;  // dangling once their record says destroyed
  std::function<void(RecordingHandler&)> on_accept_;
  bool refuse_ = false;
  // Control stream handlers take data streams: each gets a RecordingHandler (and record) too,
  // with reading switched off at once if hold_data_streams_.
  bool accept_data_streams_ = false;
  bool hold_data_streams_ = false;
  std::unique_ptr<QuicListener> listener_;
};

TEST_F(QuicTransport, HandshakeAndBytesBothWays) {
  start();
  auto c = connected();
  EXPECT_EQ(c->alpn(), "mqtt");
  auto sid = c->open_stream();
  ASSERT_EQ(sid, 0);
  c->send(*sid, span_of("hello"));
  ASSERT_TRUE(pump(*c, [&] { return !records_.empty() && records_[0].data == "hello"; }));
  EXPECT_EQ(listener_->connection_count(), 1u);
  EXPECT_NE(records_[0].stream->describe().find("quic 127.0.0.1:"), std::string::npos);
  EXPECT_EQ(records_[0].stream->describe().substr(records_[0].stream->describe().size() - 2), "/0");

  // Server -> client, including a shared frame and a payload spanning many packets.
  records_[0].stream->write(span_of("world"));
  auto big = pattern(300 * 1000, 7);
  records_[0].stream->write_shared(std::make_shared<const std::vector<uint8_t>>(big));
  std::string want = "world" + std::string(big.begin(), big.end());
  std::string got;
  ASSERT_TRUE(pump(*c, [&] {
    got += received(*c, 0);
    return got.size() >= want.size();
  }));
  EXPECT_EQ(got, want);
  // Everything gets acknowledged, so the server holds nothing any more.
  EXPECT_TRUE(pump(*c, [&] { return records_[0].stream->pending_bytes() == 0; }));
}

// Neither end waits for a timer between the client's Initial and the first stream round trip:
// with a clock that never moves, the handshake, the client's first bytes and the server's answer
// all go through. Before the first RTT sample ngtcp2 0.12 would pace each flight at cwnd / 333 ms
// (pacing.h), holding the client's Finished and the server's HANDSHAKE_DONE ~22 ms each: frozen
// time never lets them out. Counting, not timing: the test cannot be slowed into passing.
TEST_F(QuicTransport, HandshakeAndFirstRoundTripWaitForNoTimer) {
  auto o = default_options();
  ASSERT_EQ(o.transport.initial_rtt, 333 * kNanosPerMilli);  // the default, RFC 9002's
  start(o, frozen_clock_);
  auto co = client_options();
  ASSERT_EQ(co.initial_rtt, 333 * kNanosPerMilli);
  QuicClient c(co, frozen_clock_);
  ASSERT_TRUE(c.begin_connect()) << c.error();
  ASSERT_TRUE(pump(
      c, [&] { return c.connected() || c.closed(); }, 3s))
      << "the handshake waits for time to pass";
  ASSERT_TRUE(c.connected()) << c.error();
  auto sid = c.open_stream();
  ASSERT_TRUE(sid);
  c.send(*sid, span_of("ping"));
  ASSERT_TRUE(pump(
      c, [&] { return !records_.empty() && records_[0].data == "ping"; }, 3s))
      << "the client's first stream bytes wait for time to pass";
  records_[0].stream->write(span_of("pong"));
  std::string got;
  ASSERT_TRUE(pump(
      c,
      [&] {
        got += received(c, *sid);
        return got == "pong";
      },
      3s))
      << "the server's first stream bytes wait for time to pass";
}

// With GSO on, the server's bursts leave as UDP_SEGMENT sends and still arrive intact; off, it
// never uses GSO.
TEST_F(QuicTransport, GsoBurstsArriveIntact) {
  for (const bool gso : {true, false}) {
    records_.clear();
    auto o = default_options();
    o.gso = gso;
    start(o);
    auto c = connected();
    int64_t sid = -1;
    ASSERT_TRUE(open_and_deliver(*c, "go", &sid));
    auto big = pattern(2 * 1000 * 1000, 11);
    records_[0].stream->write_shared(std::make_shared<const std::vector<uint8_t>>(big));
    std::string got;
    ASSERT_TRUE(pump(*c, [&] {
      got += received(*c, sid);
      return got.size() >= big.size();
    }));
    EXPECT_EQ(got, std::string(big.begin(), big.end()));
    const UdpSocket& sock = listener_->socket();
    if (gso) {
      EXPECT_TRUE(sock.gso()) << "the kernel refused GSO: " << sock.gso_error();
      EXPECT_GT(sock.gso_sends(), 0u);
      // Batches of more than one datagram (else GSO would be pointless).
      EXPECT_GT(sock.gso_datagrams(), 2 * sock.gso_sends());
    } else {
      EXPECT_EQ(sock.gso_sends(), 0u);
    }
    c->close();
    handlers_.clear();
    listener_.reset();
  }
}

TEST_F(QuicTransport, LargeUploadArrivesInOrder) {
  start();
  auto c = connected();
  auto sid = *c->open_stream();
  auto big = pattern(2 * 1024 * 1024 + 17, 3);  // > stream and connection windows
  c->send(sid, big);
  ASSERT_TRUE(pump(
      *c, [&] { return !records_.empty() && records_[0].data.size() >= big.size(); }, 20s));
  EXPECT_EQ(records_[0].data, std::string(big.begin(), big.end()));
}

TEST_F(QuicTransport, UntrustedServerCertificateFails) {
  start();
  auto o = client_options();
  o.tls.ca_file = cert("other-ca.pem");
  auto c = client(o);
  ASSERT_TRUE(c->begin_connect());
  ASSERT_TRUE(pump(*c, [&] { return c->closed(); }));
  EXPECT_FALSE(c->connected());
  EXPECT_NE(c->error().find("ngtcp2_conn_read_pkt"), std::string::npos) << c->error();
}

TEST_F(QuicTransport, InsecureClientSkipsVerification) {
  start();
  auto o = client_options();
  o.tls.ca_file = cert("other-ca.pem");
  o.tls.insecure = true;
  auto c = connected(o);
  EXPECT_TRUE(c->connected());
}

TEST_F(QuicTransport, WrongAlpnIsRefusedWithNoApplicationProtocol) {
  start();
  auto o = client_options();
  o.tls.alpn = "h3";
  auto c = client(o);
  ASSERT_TRUE(c->begin_connect());
  ASSERT_TRUE(pump(*c, [&] { return c->closed(); }));
  ASSERT_TRUE(c->close_info().has_value()) << c->error();
  EXPECT_TRUE(c->close_info()->by_peer);
  EXPECT_FALSE(c->close_info()->application);
  EXPECT_EQ(c->close_info()->code, 0x100u + 120u);  // CRYPTO_ERROR + no_application_protocol
  EXPECT_TRUE(records_.empty());
}

TEST_F(QuicTransport, NoAlpnAtAllIsRefused) {
  start();
  auto o = client_options();
  o.tls.alpn = "";
  auto c = client(o);
  ASSERT_TRUE(c->begin_connect());
  ASSERT_TRUE(pump(*c, [&] { return c->closed(); }));
  ASSERT_TRUE(c->close_info().has_value()) << c->error();
  EXPECT_EQ(c->close_info()->code, 0x178u);
}

// EMQX: the client closing the control stream closes the connection with application error 1.
TEST_F(QuicTransport, ClientFinishingControlStreamClosesWithError1) {
  start();
  auto c = connected();
  auto sid = *c->open_stream();
  c->send(sid, span_of("bye"));
  c->finish(sid);
  ASSERT_TRUE(pump(*c, [&] { return c->closed(); }));
  ASSERT_TRUE(c->close_info().has_value());
  EXPECT_TRUE(c->close_info()->application);
  EXPECT_EQ(c->close_info()->code, kAppControlStreamDown);
  ASSERT_EQ(records_.size(), 1u);
  EXPECT_EQ(records_[0].data, "bye");
  ASSERT_TRUE(pump(*c, [&] { return records_[0].closed == 1; }));
  EXPECT_EQ(records_[0].cause, broker::CloseCause::kPeerClosed);
}

TEST_F(QuicTransport, ClientResettingControlStreamClosesWithError1) {
  start();
  auto c = connected();
  int64_t sid = -1;
  ASSERT_TRUE(open_and_deliver(*c, "x", &sid));
  c->reset(sid, 42);
  ASSERT_TRUE(pump(*c, [&] { return c->closed(); }));
  EXPECT_EQ(c->close_info()->code, kAppControlStreamDown);
  ASSERT_TRUE(pump(*c, [&] { return records_[0].closed == 1; }));
  EXPECT_EQ(records_[0].cause, broker::CloseCause::kError);
}

// The MQTT side closes: queued bytes and FIN arrive, then CONNECTION_CLOSE with error 0.
TEST_F(QuicTransport, ServerCloseFlushesThenClosesWithError0) {
  start();
  auto c = connected();
  int64_t sid = -1;
  ASSERT_TRUE(open_and_deliver(*c, "x", &sid));
  auto tail = pattern(100 * 1000, 1);
  records_[0].stream->write(tail);
  records_[0].stream->close();
  std::string got;
  ASSERT_TRUE(pump(*c, [&] {
    got += received(*c, sid);
    return c->closed();
  }));
  got += received(*c, sid);
  EXPECT_EQ(got, std::string(tail.begin(), tail.end()));
  EXPECT_TRUE(c->peer_finished(sid));
  ASSERT_TRUE(c->close_info().has_value()) << c->error();
  EXPECT_TRUE(c->close_info()->application);
  EXPECT_EQ(c->close_info()->code, kAppNoError);
  EXPECT_EQ(records_[0].closed, 1);
  EXPECT_EQ(records_[0].cause, broker::CloseCause::kLocal);
}

TEST_F(QuicTransport, ServerAbortClosesAtOnce) {
  start();
  auto c = connected();
  int64_t sid = -1;
  ASSERT_TRUE(open_and_deliver(*c, "x", &sid));
  records_[0].stream->abort();
  ASSERT_TRUE(pump(*c, [&] { return c->closed(); }));
  EXPECT_EQ(c->close_info()->code, kAppNoError);
  ASSERT_TRUE(pump(*c, [&] { return records_[0].closed == 1; }));
}

TEST_F(QuicTransport, RefusedStreamClosesWithError2) {
  start();
  refuse_ = true;
  auto c = connected();
  auto sid = *c->open_stream();
  c->send(sid, span_of("x"));
  ASSERT_TRUE(pump(*c, [&] { return c->closed(); }));
  EXPECT_TRUE(c->close_info()->application);
  EXPECT_EQ(c->close_info()->code, kAppRefused);
}

// A control stream handler that takes no data streams (ByteStreamHandler's default): every
// further stream is reset with application error 2, the connection lives on.
TEST_F(QuicTransport, RefusedDataStreamsAreResetConnectionStays) {
  start();
  auto c = connected();
  auto control = *c->open_stream();
  auto extra = *c->open_stream();
  EXPECT_EQ(extra, 4);
  c->send(extra, span_of("data stream"));
  c->send(control, span_of("control"));
  ASSERT_TRUE(pump(*c, [&] { return c->peer_reset(extra); }));
  EXPECT_EQ(c->peer_reset_code(extra), kAppRefused);
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 1 && records_[0].data == "control"; }));
  EXPECT_FALSE(c->closed());
  records_[0].stream->write(span_of("ok"));
  ASSERT_TRUE(pump(*c, [&] { return c->available(control) == 2; }));
  // The refused stream's credit came back: the client may open more streams than the limit over
  // time (10 by default).
  for (int i = 0; i < 12; ++i) {
    std::optional<int64_t> s;
    ASSERT_TRUE(pump(*c, [&] { return (s = c->open_stream()).has_value(); })) << i;
    c->send(*s, span_of("y"));
    ASSERT_TRUE(pump(*c, [&] { return c->peer_reset(*s); })) << i;
  }
  EXPECT_FALSE(c->closed());
}

// --- Data streams (EMQX multi-stream mode) ---

std::string ends_with_id(broker::ByteStream* s) {
  const std::string d = s->describe();
  return d.substr(d.rfind('/'));
}

TEST_F(QuicTransport, DataStreamsGetTheirOwnHandlers) {
  accept_data_streams_ = true;
  start();
  auto c = connected();
  auto control = *c->open_stream();
  auto d1 = *c->open_stream();
  auto d2 = *c->open_stream();
  c->send(control, span_of("c"));
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 1 && records_[0].data == "c"; }));
  c->send(d1, span_of("one"));
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 2 && records_[1].data == "one"; }));
  c->send(d2, span_of("two"));
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 3 && records_[2].data == "two"; }));
  EXPECT_EQ(ends_with_id(records_[0].stream), "/0");
  EXPECT_EQ(ends_with_id(records_[1].stream), "/4");
  EXPECT_EQ(ends_with_id(records_[2].stream), "/8");
  // Each handler's writes go out on its own stream.
  records_[2].stream->write(span_of("to-8"));
  records_[1].stream->write(span_of("to-4"));
  records_[0].stream->write(span_of("to-0"));
  ASSERT_TRUE(pump(*c, [&] {
    return c->available(control) == 4 && c->available(d1) == 4 && c->available(d2) == 4;
  }));
  EXPECT_EQ(received(*c, control), "to-0");
  EXPECT_EQ(received(*c, d1), "to-4");
  EXPECT_EQ(received(*c, d2), "to-8");
  EXPECT_FALSE(c->closed());
  EXPECT_EQ(records_[1].closed, 0);
}

// Stream 4's bytes may overtake stream 0's: the control stream is opened (and its handler
// accepted) first all the same, so the data stream has a connection to belong to.
TEST_F(QuicTransport, DataStreamBeforeTheControlStreamOpensTheControlStreamFirst) {
  accept_data_streams_ = true;
  start();
  auto c = connected();
  auto control = *c->open_stream();
  auto d = *c->open_stream();
  c->send(d, span_of("early"));
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 2 && records_[1].data == "early"; }));
  EXPECT_EQ(ends_with_id(records_[0].stream), "/0");
  EXPECT_EQ(records_[0].data, "");
  c->send(control, span_of("late"));
  ASSERT_TRUE(pump(*c, [&] { return records_[0].data == "late"; }));
  EXPECT_FALSE(c->closed());
}

TEST_F(QuicTransport, ClientFinishingADataStreamEndsOnlyThatStream) {
  accept_data_streams_ = true;
  start();
  auto c = connected();
  auto control = *c->open_stream();
  c->send(control, span_of("c"));
  auto d = *c->open_stream();
  c->send(d, span_of("bye"));
  c->finish(d);
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 2 && records_[1].closed == 1; }));
  EXPECT_EQ(records_[1].data, "bye");
  EXPECT_EQ(records_[1].cause, broker::CloseCause::kPeerClosed);
  // Our side is finished too, so the stream is gone on both ends.
  ASSERT_TRUE(pump(*c, [&] { return c->stream_closed(d); }));
  EXPECT_TRUE(c->peer_finished(d));
  EXPECT_FALSE(c->peer_reset(d));
  records_[0].stream->write(span_of("ok"));
  ASSERT_TRUE(pump(*c, [&] { return c->available(control) == 2; }));
  // Finished streams give their credit back: more streams than the limit over time.
  for (int i = 0; i < 12; ++i) {
    std::optional<int64_t> s;
    ASSERT_TRUE(pump(*c, [&] { return (s = c->open_stream()).has_value(); })) << i;
    c->send(*s, span_of("y"));
    c->finish(*s);
    ASSERT_TRUE(pump(*c, [&] { return c->stream_closed(*s); })) << i;
  }
  EXPECT_FALSE(c->closed());
  EXPECT_EQ(records_[0].closed, 0);
}

TEST_F(QuicTransport, ClientResettingADataStreamIsMirrored) {
  accept_data_streams_ = true;
  start();
  auto c = connected();
  auto control = *c->open_stream();
  c->send(control, span_of("c"));
  auto d = *c->open_stream();
  c->send(d, span_of("x"));
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 2 && records_[1].data == "x"; }));
  c->reset(d, 0x1234);
  ASSERT_TRUE(pump(*c, [&] { return records_[1].closed == 1; }));
  EXPECT_EQ(records_[1].cause, broker::CloseCause::kError);
  ASSERT_TRUE(pump(*c, [&] { return c->peer_reset(d); }));
  EXPECT_EQ(c->peer_reset_code(d), 0x1234u);
  EXPECT_FALSE(c->closed());
  EXPECT_EQ(records_[0].closed, 0);
}

TEST_F(QuicTransport, ServerResetOfADataStreamCarriesTheCode) {
  accept_data_streams_ = true;
  start();
  auto c = connected();
  auto control = *c->open_stream();
  c->send(control, span_of("c"));
  auto d = *c->open_stream();
  c->send(d, span_of("x"));
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 2 && records_[1].data == "x"; }));
  records_[1].stream->abort_with_error(0x81);
  ASSERT_TRUE(pump(*c, [&] { return c->peer_reset(d); }));
  EXPECT_EQ(c->peer_reset_code(d), 0x81u);
  // STOP_SENDING came too: the client's ngtcp2 reset its own side, so the stream is gone.
  ASSERT_TRUE(pump(*c, [&] { return c->stream_closed(d); }));
  ASSERT_TRUE(pump(*c, [&] { return records_[1].closed == 1; }));
  EXPECT_EQ(records_[1].cause, broker::CloseCause::kLocal);
  // The connection goes on, and the client may open another stream.
  auto e = *c->open_stream();
  c->send(e, span_of("again"));
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 3 && records_[2].data == "again"; }));
  records_[0].stream->write(span_of("ok"));
  ASSERT_TRUE(pump(*c, [&] { return c->available(control) == 2; }));
  EXPECT_FALSE(c->closed());
}

// STOP_SENDING alone (ngtcp2 0.12 reports none): noticed at the next write to the stream.
TEST_F(QuicTransport, ClientStopSendingEndsADataStreamOrTheConnection) {
  accept_data_streams_ = true;
  start();
  auto c = connected();
  auto control = *c->open_stream();
  c->send(control, span_of("c"));
  auto d = *c->open_stream();
  c->send(d, span_of("x"));
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 2 && records_[1].data == "x"; }));
  c->stop_reading(d, 7);
  transport::test::run_for(loop_, 50ms);
  c->poll(0ms);
  records_[1].stream->write(span_of("unwanted"));
  ASSERT_TRUE(pump(*c, [&] { return records_[1].closed == 1; }));
  EXPECT_EQ(records_[1].cause, broker::CloseCause::kError);
  ASSERT_TRUE(pump(*c, [&] { return c->stream_closed(d); }));  // we stopped reading it too
  EXPECT_FALSE(c->closed());
  // On the control stream it means the connection (error 1).
  c->stop_reading(control, 7);
  transport::test::run_for(loop_, 50ms);
  c->poll(0ms);
  records_[0].stream->write(span_of("unwanted"));
  ASSERT_TRUE(pump(*c, [&] { return c->closed(); }));
  EXPECT_EQ(c->close_info()->code, kAppControlStreamDown);
  ASSERT_TRUE(pump(*c, [&] { return records_[0].closed == 1; }));
  EXPECT_EQ(records_[0].cause, broker::CloseCause::kError);
}

// What the broker does before CONNACK: reading off at once. The bytes wait (credit withheld), and
// a FIN behind them waits too, so nothing the client sent is lost.
TEST_F(QuicTransport, HeldDataStreamKeepsItsBytesAndFinUntilReadingResumes) {
  accept_data_streams_ = true;
  hold_data_streams_ = true;
  start();
  auto c = connected();
  auto control = *c->open_stream();
  c->send(control, span_of("c"));
  auto d = *c->open_stream();
  c->send(d, span_of("held"));
  c->finish(d);
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 2; }));
  transport::test::run_until(
      loop_,
      [&] {
        c->poll(0ms);
        return false;
      },
      300ms);
  EXPECT_EQ(records_[1].data, "");
  EXPECT_EQ(records_[1].closed, 0);
  records_[1].stream->set_reading(true);
  ASSERT_TRUE(pump(*c, [&] { return records_[1].closed == 1; }));
  EXPECT_EQ(records_[1].data, "held");
  EXPECT_EQ(records_[1].cause, broker::CloseCause::kPeerClosed);
  EXPECT_FALSE(c->closed());
}

TEST_F(QuicTransport, ClosingTheControlStreamEndsTheDataStreamsToo) {
  accept_data_streams_ = true;
  start();
  auto c = connected();
  auto control = *c->open_stream();
  c->send(control, span_of("c"));
  auto d = *c->open_stream();
  c->send(d, span_of("x"));
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 2 && records_[1].data == "x"; }));
  c->finish(control);
  ASSERT_TRUE(pump(*c, [&] { return c->closed(); }));
  EXPECT_EQ(c->close_info()->code, kAppControlStreamDown);
  ASSERT_TRUE(pump(*c, [&] { return records_[0].closed == 1 && records_[1].closed == 1; }));
  EXPECT_EQ(records_[0].cause, broker::CloseCause::kPeerClosed);
  EXPECT_EQ(records_[1].cause, broker::CloseCause::kTransportGone);
}

// A graceful close (the MQTT side closes the control stream) also delivers what the data streams
// still hold, before CONNECTION_CLOSE.
TEST_F(QuicTransport, ServerCloseFlushesTheDataStreamsToo) {
  accept_data_streams_ = true;
  start();
  auto c = connected();
  auto control = *c->open_stream();
  c->send(control, span_of("c"));
  auto d = *c->open_stream();
  c->send(d, span_of("x"));
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 2 && records_[1].data == "x"; }));
  auto tail = pattern(100 * 1000, 3);
  records_[1].stream->write(tail);
  records_[1].stream->close();
  records_[0].stream->close();
  std::string got;
  ASSERT_TRUE(pump(*c, [&] {
    got += received(*c, d);
    return c->closed();
  }));
  got += received(*c, d);
  EXPECT_EQ(got, std::string(tail.begin(), tail.end()));
  EXPECT_TRUE(c->peer_finished(d));
  EXPECT_EQ(c->close_info()->code, kAppNoError);
  EXPECT_EQ(records_[1].cause, broker::CloseCause::kLocal);
}

// Flow-control credit is returned only for consumed bytes: while the MQTT side has reading
// paused, the client can send no more than the stream window.
TEST_F(QuicTransport, PausedReadingWithholdsCreditUntilResumed) {
  auto o = default_options();
  o.transport.stream_window_bytes = 8 * 1024;
  o.transport.connection_window_bytes = 64 * 1024;
  start(o);
  auto c = connected();
  int64_t sid = -1;
  ASSERT_TRUE(open_and_deliver(*c, "a", &sid));
  records_[0].stream->set_reading(false);
  auto big = pattern(100 * 1000, 9);
  c->send(sid, big);
  transport::test::run_until(
      loop_,
      [&] {
        c->poll(0ms);
        return false;
      },
      500ms);
  EXPECT_EQ(records_[0].data, "a");                   // nothing delivered while paused
  EXPECT_GE(c->unacked(sid), big.size() - 8 * 1024);  // the client is blocked on the window
  records_[0].stream->set_reading(true);
  ASSERT_TRUE(pump(
      *c, [&] { return records_[0].data.size() == 1 + big.size(); }, 10s));
  EXPECT_EQ(records_[0].data, "a" + std::string(big.begin(), big.end()));
}

TEST_F(QuicTransport, WritableAfterHighWatermark) {
  auto o = default_options();
  o.transport.high_watermark_bytes = 64 * 1024;
  o.transport.low_watermark_bytes = 16 * 1024;
  start(o);
  auto c = connected();
  auto sid = *c->open_stream();
  c->send(sid, span_of("a"));
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 1; }));
  auto big = pattern(200 * 1000, 2);
  records_[0].stream->write(big);
  EXPECT_GT(records_[0].stream->pending_bytes(), 64u * 1024);
  EXPECT_EQ(records_[0].writable, 0);
  ASSERT_TRUE(pump(*c, [&] {
    (void)c->take(sid);
    return records_[0].writable == 1;
  }));
  EXPECT_LE(records_[0].stream->pending_bytes(), 16u * 1024);
}

TEST_F(QuicTransport, VersionNegotiation) {
  start();
  auto o = client_options();
  o.version = 0x1a2a3a4a;  // reserved: the server cannot speak it
  auto c = client(o);
  ASSERT_TRUE(c->begin_connect());
  ASSERT_TRUE(pump(*c, [&] { return c->closed(); }));
  EXPECT_EQ(c->version_negotiations(), 1);
  EXPECT_EQ(listener_->connection_count(), 0u);
}

TEST_F(QuicTransport, RetryAlways) {
  auto o = default_options();
  o.retry = RetryMode::kAlways;
  start(o);
  auto c = connected();
  EXPECT_EQ(c->retries(), 1);
  int64_t sid = -1;
  ASSERT_TRUE(open_and_deliver(*c, "after retry", &sid));
}

// A NEW_TOKEN from the first connection lets the client skip the Retry next time.
TEST_F(QuicTransport, NewTokenSkipsRetryForReturningClient) {
  auto o = default_options();
  o.retry = RetryMode::kAlways;
  start(o);
  auto c1 = connected();
  EXPECT_EQ(c1->retries(), 1);
  ASSERT_TRUE(pump(*c1, [&] { return !c1->new_token().empty(); }));
  auto co = client_options();
  co.token = c1->new_token();
  auto c2 = connected(co);  // a new UDP port: the token is bound to the address, not the port
  EXPECT_EQ(c2->retries(), 0);
  // A token from another server (other secret) is not accepted: Retry again.
  co.token[co.token.size() / 2] ^= 0xff;
  auto c3 = connected(co);
  EXPECT_EQ(c3->retries(), 1);
}

TEST_F(QuicTransport, RetryOnlyAboveHandshakeThreshold) {
  auto o = default_options();
  o.retry = RetryMode::kAboveHandshakes;
  o.retry_handshakes_above = 0;  // any handshake in progress triggers Retry for the next one
  start(o);
  auto c1 = connected();
  EXPECT_EQ(c1->retries(), 0);  // no handshake in progress when it came
  // The server completes its side once the client's Finished arrives.
  ASSERT_TRUE(pump(*c1, [&] { return listener_->handshakes_in_progress() == 0; }));
  auto c2 = client(client_options());
  auto c3 = client(client_options());
  ASSERT_TRUE(c2->begin_connect());
  ASSERT_TRUE(c3->begin_connect());
  ASSERT_TRUE(transport::test::run_until(loop_, [&] {
    c2->poll(0ms);
    c3->poll(0ms);
    return c2->connected() && c3->connected();
  }));
  EXPECT_EQ(c2->retries() + c3->retries(), 1);
}

TEST_F(QuicTransport, MaxConnectionsRefusesWithConnectionRefused) {
  auto o = default_options();
  o.max_connections = 1;
  start(o);
  auto c1 = connected();
  auto c2 = client(client_options());
  ASSERT_TRUE(c2->begin_connect());
  ASSERT_TRUE(pump(*c2, [&] { return c2->closed(); }));
  ASSERT_TRUE(c2->close_info().has_value()) << c2->error();
  EXPECT_EQ(c2->close_info()->code, static_cast<uint64_t>(NGTCP2_CONNECTION_REFUSED));
  EXPECT_TRUE(c1->connected());
}

// RFC 9000 8.1: before the client's address is validated the server sends at most three times
// what it received. The relay forwards the client's first Initial only and nothing back, as for
// an attacker with a spoofed source address; the server's retransmissions must stop at 3x. The
// same client with a NEW_TOKEN (a validated address) gets more, which shows the count can fail.
TEST_F(QuicTransport, AntiAmplificationLimitBeforeAddressValidation) {
  auto o = default_options();
  o.transport.initial_rtt = 50 * kNanosPerMilli;  // short PTOs: many retransmissions in 2 s
  start(o);
  auto c1 = connected();
  ASSERT_TRUE(pump(*c1, [&] { return !c1->new_token().empty(); }));

  auto silent_client_gets = [&](std::vector<uint8_t> token) {
    transport::test::UdpRelay relay(listener_->port());
    relay.forward_to_server_limit = 1;
    relay.forward_to_client = false;
    auto co = client_options();
    co.port = relay.port();
    co.token = std::move(token);
    auto c = client(co);
    EXPECT_TRUE(c->begin_connect());
    transport::test::run_until(
        loop_,
        [&] {
          relay.pump();
          c->poll(0ms);
          return false;
        },
        2s);
    EXPECT_EQ(relay.to_server_datagrams, 1u);
    return std::pair{relay.to_server_bytes, relay.from_server_bytes};
  };

  auto [in, out] = silent_client_gets({});
  EXPECT_GE(in, 1200u);  // a client Initial is padded to 1200 bytes
  EXPECT_GT(out, 0u);
  EXPECT_LE(out, 3 * in);

  auto [vin, vout] = silent_client_gets(c1->new_token());
  EXPECT_GT(vout, 3 * vin) << "validated address: no limit, the server keeps retransmitting";
}

// Unidirectional streams and DATAGRAM frames are refused by the transport parameters (the client
// cannot even open one), and at most max_streams_bidi bidirectional streams are open at once.
TEST_F(QuicTransport, TransportParametersRefuseUniStreamsAndDatagrams) {
  start();
  auto c = connected();
  ngtcp2_conn* conn = c->cb_get_conn();
  const ngtcp2_transport_params* p = ngtcp2_conn_get_remote_transport_params(conn);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->initial_max_streams_uni, 0u);
  EXPECT_EQ(p->max_datagram_frame_size, 0u);
  EXPECT_EQ(p->initial_max_streams_bidi, 10u);
  int64_t uni = -1;
  EXPECT_EQ(ngtcp2_conn_open_uni_stream(conn, &uni, nullptr), NGTCP2_ERR_STREAM_ID_BLOCKED);
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(c->open_stream().has_value()) << i;
  EXPECT_FALSE(c->open_stream().has_value());
  EXPECT_TRUE(c->connected());
}

TEST_F(QuicTransport, IdleTimeoutClosesSilently) {
  auto o = default_options();
  o.transport.idle_timeout = 300 * kNanosPerMilli;
  start(o);
  auto c = connected();
  auto sid = *c->open_stream();
  c->send(sid, span_of("a"));
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 1; }));
  // The client goes quiet (not even polled): the server drops the connection on its own.
  ASSERT_TRUE(transport::test::run_until(
      loop_, [&] { return records_[0].closed == 1; }, 5s));
  EXPECT_EQ(records_[0].cause, broker::CloseCause::kTransportGone);
  ASSERT_TRUE(
      transport::test::run_until(loop_, [&] { return listener_->connection_count() == 0; }));
}

TEST_F(QuicTransport, HandshakeTimeoutDropsHalfOpenConnections) {
  auto o = default_options();
  o.transport.handshake_timeout = 300 * kNanosPerMilli;
  start(o);
  auto c = client(client_options());
  ASSERT_TRUE(c->begin_connect());  // one Initial, then the client falls silent
  ASSERT_TRUE(
      transport::test::run_until(loop_, [&] { return listener_->connection_count() == 1; }));
  ASSERT_TRUE(transport::test::run_until(
      loop_, [&] { return listener_->connection_count() == 0; }, 3s));
  EXPECT_EQ(listener_->handshakes_in_progress(), 0u);
}

TEST_F(QuicTransport, Ipv6Loopback) {
  auto o = default_options();
  o.host = "::1";
  o.ipv6 = true;
  try {
    start(o);
  } catch (const std::exception& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  EXPECT_EQ(listener_->local_address().rfind("[::1]:", 0), 0u) << listener_->local_address();
  auto co = client_options();
  co.host = "::1";
  co.ipv6 = true;
  auto c = connected(co);
  int64_t sid = -1;
  ASSERT_TRUE(open_and_deliver(*c, "v6", &sid));
  EXPECT_NE(records_[0].stream->describe().find("[::1]:"), std::string::npos);
}

TEST_F(QuicTransport, KeyUpdateByClient) {
  start();
  auto c = connected();
  int64_t sid = -1;
  ASSERT_TRUE(open_and_deliver(*c, "before", &sid));
  // A key update needs the handshake confirmed (HANDSHAKE_DONE received).
  ASSERT_TRUE(pump(*c, [&] { return c->initiate_key_update(); }));
  c->send(sid, span_of("after"));
  records_[0].stream->write(span_of("reply"));
  ASSERT_TRUE(
      pump(*c, [&] { return records_[0].data == "beforeafter" && c->available(sid) == 5; }));
}

TEST_F(QuicTransport, ClientMigrationKeepsTheConnection) {
  start();
  auto c = connected();
  int64_t sid = -1;
  ASSERT_TRUE(open_and_deliver(*c, "one", &sid));
  ASSERT_TRUE(pump(*c, [&] { return c->migrate(); }));
  c->send(sid, span_of("two"));
  ASSERT_TRUE(pump(*c, [&] { return records_[0].data == "onetwo"; }));
  records_[0].stream->write(span_of("back"));
  ASSERT_TRUE(pump(*c, [&] { return c->available(sid) == 4; }));
}

// Another loopback address (127.0.0.0/8 is all local): the client probes the new path first and
// moves once it is validated; the connection carries on. (Across real interfaces:
// tests/netns/migration_test.cc.)
TEST_F(QuicTransport, ClientMigratesToANewAddressAfterPathValidation) {
  start();
  auto c = connected();
  int64_t sid = -1;
  ASSERT_TRUE(open_and_deliver(*c, "one", &sid));
  ASSERT_TRUE(pump(*c, [&] { return c->migrate_to("127.0.0.2", 0, true); })) << c->error();
  EXPECT_TRUE(c->migration_pending());
  ASSERT_TRUE(pump(*c, [&] { return !c->migration_pending(); }));
  EXPECT_EQ(c->local_address().host(), "127.0.0.2");
  EXPECT_GE(c->path_validations_succeeded(), 1);
  c->send(sid, span_of("two"));
  ASSERT_TRUE(pump(*c, [&] { return records_[0].data == "onetwo"; }));
  records_[0].stream->write(span_of("back"));
  ASSERT_TRUE(pump(*c, [&] { return c->available(sid) == 4; }));
}

// NAT rebinding: the client's socket moves without its ngtcp2 knowing; the server notices the
// new address on the next packet, validates it and answers there.
TEST_F(QuicTransport, NatRebindingKeepsTheConnection) {
  start();
  auto c = connected();
  int64_t sid = -1;
  ASSERT_TRUE(open_and_deliver(*c, "one", &sid));
  ASSERT_TRUE(c->rebind("127.0.0.3")) << c->error();
  c->send(sid, span_of("two"));
  ASSERT_TRUE(pump(*c, [&] { return records_[0].data == "onetwo"; }));
  records_[0].stream->write(span_of("back"));
  ASSERT_TRUE(pump(*c, [&] { return c->available(sid) == 4; }));
  EXPECT_EQ(c->local_address().host(), "127.0.0.3");
}

TEST_F(QuicTransport, ClientCertificateIdentity) {
  auto o = default_options();
  o.tls.ca_file = cert("ca.pem");
  o.tls.require_certificate = true;
  start(o);
  auto co = client_options();
  co.tls.cert_file = cert("client.pem");
  co.tls.key_file = cert("client.key");
  auto c = connected(co);
  auto sid = *c->open_stream();
  c->send(sid, span_of("x"));
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 1; }));
  EXPECT_EQ(records_[0].stream->tls_identity(), "quic-client");

  // Without a certificate, or with one from another CA: refused during the handshake.
  for (const char* name : {"", "other-client"}) {
    auto bad = client_options();
    if (*name) {
      bad.tls.cert_file = cert((std::string(name) + ".pem").c_str());
      bad.tls.key_file = cert((std::string(name) + ".key").c_str());
    }
    auto c2 = client(bad);
    ASSERT_TRUE(c2->begin_connect());
    // The client may see its handshake complete before the server rejects its certificate.
    ASSERT_TRUE(pump(*c2, [&] { return c2->closed(); })) << name;
    EXPECT_EQ(records_.size(), 1u) << name;
  }
}

// A CA file without require_certificate: a client certificate is requested, one that is sent
// must verify, and a client without one gets in with an empty identity.
TEST_F(QuicTransport, OptionalClientCertificate) {
  auto o = default_options();
  o.tls.ca_file = cert("ca.pem");
  start(o);
  auto anonymous = connected();
  auto sid = *anonymous->open_stream();
  anonymous->send(sid, span_of("x"));
  ASSERT_TRUE(pump(*anonymous, [&] { return records_.size() == 1; }));
  EXPECT_EQ(records_[0].stream->tls_identity(), "");

  auto co = client_options();
  co.tls.cert_file = cert("client.pem");
  co.tls.key_file = cert("client.key");
  auto with_cert = connected(co);
  sid = *with_cert->open_stream();
  with_cert->send(sid, span_of("y"));
  ASSERT_TRUE(pump(*with_cert, [&] { return records_.size() == 2; }));
  EXPECT_EQ(records_[1].stream->tls_identity(), "quic-client");

  // A certificate of another CA: the GnuTLS client does not offer it (the server's request names
  // the CAs it accepts), so this client is anonymous too -- never "other-client".
  auto other = client_options();
  other.tls.cert_file = cert("other-client.pem");
  other.tls.key_file = cert("other-client.key");
  auto c3 = connected(other);
  sid = *c3->open_stream();
  c3->send(sid, span_of("z"));
  ASSERT_TRUE(pump(*c3, [&] { return records_.size() == 3; }));
  EXPECT_EQ(records_[2].stream->tls_identity(), "");
}

// An unknown short-header packet gets a Stateless Reset whose token is the one we derive for
// that CID: with a static secret, also after a restart.
TEST_F(QuicTransport, StatelessResetForUnknownConnection) {
  auto o = default_options();
  std::vector<uint8_t> secret(32, 0x5a);
  o.static_secret = secret;
  start(o);
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  auto server = *SockAddr::from("127.0.0.1", listener_->port(), false);
  std::vector<uint8_t> pkt(60, 0x11);
  pkt[0] = 0x40;  // short header, fixed bit
  std::vector<uint8_t> dcid(pkt.begin() + 1, pkt.begin() + 1 + kServerCidLength);
  ASSERT_EQ(::sendto(fd, pkt.data(), pkt.size(), 0, server.sa(), server.len),
            static_cast<ssize_t>(pkt.size()));
  std::vector<uint8_t> reply(1500);
  ssize_t n = -1;
  transport::test::run_until(loop_, [&] {
    n = ::recv(fd, reply.data(), reply.size(), MSG_DONTWAIT);
    return n > 0;
  });
  ::close(fd);
  ASSERT_GT(n, 20);
  EXPECT_LT(static_cast<size_t>(n), pkt.size());
  EXPECT_EQ(reply[0] & 0xc0, 0x40);
  ngtcp2_cid cid;
  ngtcp2_cid_init(&cid, dcid.data(), dcid.size());
  uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN];
  ASSERT_EQ(ngtcp2_crypto_generate_stateless_reset_token(token, secret.data(), secret.size(), &cid),
            0);
  EXPECT_EQ(std::vector<uint8_t>(reply.begin() + n - 16, reply.begin() + n),
            std::vector<uint8_t>(token, token + 16));
}

TEST_F(QuicTransport, ClientCloseReachesHandler) {
  start();
  auto c = connected();
  auto sid = *c->open_stream();
  c->send(sid, span_of("x"));
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 1; }));
  c->close(0);
  ASSERT_TRUE(transport::test::run_until(loop_, [&] { return records_[0].closed == 1; }));
  EXPECT_EQ(records_[0].cause, broker::CloseCause::kTransportGone);
}

TEST_F(QuicTransport, ListenerDestructionClosesConnections) {
  start();
  auto c = connected();
  auto sid = *c->open_stream();
  c->send(sid, span_of("x"));
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 1; }));
  listener_.reset();
  EXPECT_EQ(records_[0].closed, 1);
  EXPECT_TRUE(records_[0].destroyed);
  ASSERT_TRUE(c->wait_until([] { return false; }, 300ms) || c->closed());
  EXPECT_TRUE(c->closed());
}

// --- Resumption and 0-RTT (SessionTickets) ---

class QuicZeroRtt : public QuicTransport {
 protected:
  // A first connection that received a session ticket; closed again, and gone at the server.
  ResumptionState first_connection() {
    auto c = connected();
    EXPECT_TRUE(pump(*c, [&] { return c->resumption_state().has_value(); })) << "no session ticket";
    EXPECT_FALSE(c->resumed());
    auto state = c->resumption_state().value_or(ResumptionState{});
    c->close(0);
    EXPECT_TRUE(
        transport::test::run_until(loop_, [&] { return listener_->connection_count() == 0; }));
    return state;
  }

  // Starts a resuming connection and writes `bytes` on stream 0 before any reply is read. The
  // client holds the server's Handshake packets (QuicClientOptions::hold_handshake): its bytes go
  // out as 0-RTT once the ServerHello is in, and the handshake waits for release().
  std::unique_ptr<QuicClient> resume_with(const ResumptionState& state, const std::string& bytes,
                                          std::vector<std::vector<uint8_t>>* flight = nullptr) {
    auto o = client_options();
    o.resumption = state;
    o.hold_handshake = true;
    if (flight) {
      o.on_datagram_sent = [flight](std::span<const uint8_t> d) {
        flight->emplace_back(d.begin(), d.end());
      };
    }
    auto c = client(std::move(o));
    EXPECT_TRUE(c->begin_connect()) << c->error();
    auto sid = c->open_stream();
    EXPECT_EQ(sid, 0);
    if (sid) c->send(*sid, span_of(bytes));
    return c;
  }

  // Lets a held handshake complete; true once it did.
  bool release(QuicClient& c) {
    EXPECT_TRUE(pump(c, [&] { return c.held_packets() != 0 || c.closed(); })) << c.error();
    c.release_handshake();
    return pump(c, [&] { return c.connected() || c.closed(); }) && c.connected();
  }
};

TEST_F(QuicZeroRtt, ResumedClientSendsZeroRttDataTheServerConfirmsAfterTheHandshake) {
  start();
  const ResumptionState state = first_connection();
  ASSERT_FALSE(state.ticket.empty());
  ASSERT_FALSE(state.transport_params.empty());

  auto c = resume_with(state, "CONNECT");
  // The bytes reach the server's handler as early data while the handshake is still held.
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 1 && records_[0].data == "CONNECT"; }))
      << c->error();
  EXPECT_EQ(records_[0].early, "CONNECT");
  EXPECT_TRUE(records_[0].stream->early_data());
  EXPECT_EQ(records_[0].early_confirmed, 0);
  EXPECT_FALSE(c->connected());
  EXPECT_EQ(c->early_bytes_sent(0), 7u);  // sent before the handshake: 0-RTT packets
  ASSERT_TRUE(release(*c)) << c->error();
  EXPECT_TRUE(c->resumed());
  EXPECT_TRUE(c->early_data_attempted());
  EXPECT_TRUE(c->early_data_accepted());
  EXPECT_FALSE(c->early_data_rejected());
  // Then the confirmation.
  ASSERT_TRUE(pump(*c, [&] { return records_[0].early_confirmed == 1; }));
  EXPECT_FALSE(records_[0].stream->early_data());
  c->send(0, span_of(" later"));
  ASSERT_TRUE(pump(*c, [&] { return records_[0].data == "CONNECT later"; }));
  EXPECT_EQ(records_[0].early, "CONNECT");
  EXPECT_EQ(listener_->resumed_handshakes(), 1u);
  EXPECT_EQ(listener_->early_data_handshakes(), 1u);
  EXPECT_EQ(listener_->early_data_accepted(), 1u);
  // A resumed connection gets a new ticket too.
  EXPECT_TRUE(pump(*c, [&] { return c->resumption_state().has_value(); }));
}

TEST_F(QuicZeroRtt, WithoutSessionTicketsThereIsNothingToResume) {
  auto o = default_options();
  o.session_tickets.reset();
  start(o);
  auto c = connected();
  EXPECT_FALSE(pump(
      *c, [&] { return c->resumption_state().has_value(); }, 300ms));
}

TEST_F(QuicZeroRtt, EarlyDataOffMeansResumptionOnlyAndTheBytesAreResent) {
  auto o = default_options();
  o.session_tickets->early_data = false;
  start(o);
  const ResumptionState state = first_connection();
  auto c = resume_with(state, "CONNECT");
  ASSERT_TRUE(release(*c)) << c->error();
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 1 && records_[0].data == "CONNECT"; }))
      << c->error();
  EXPECT_TRUE(c->resumed());
  EXPECT_FALSE(c->early_data_accepted());
  EXPECT_TRUE(c->early_data_rejected());
  EXPECT_EQ(records_[0].early, "");
  EXPECT_EQ(records_[0].early_confirmed, 0);
}

// RFC 9000 7.4.1: a 0-RTT client uses the limits of its last connection. Changing them changes
// the ticket key, so old tickets get a full handshake and their early data is resent in 1-RTT.
TEST_F(QuicZeroRtt, ChangedFlowControlLimitsInvalidateTickets) {
  start();
  const ResumptionState state = first_connection();
  QuicTransportOptions smaller;
  smaller.stream_window_bytes = 4096;
  listener_->set_transport_options(smaller);
  auto c = resume_with(state, "CONNECT");
  ASSERT_TRUE(release(*c)) << c->error();
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 1 && records_[0].data == "CONNECT"; }))
      << c->error();
  EXPECT_FALSE(c->resumed());
  EXPECT_TRUE(c->early_data_rejected());
  EXPECT_EQ(records_[0].early, "");
  EXPECT_EQ(listener_->resumed_handshakes(), 0u);
}

// With the same static secret a restarted listener still resumes the ticket, but accepts no
// early data for it: GnuTLS's anti-replay record only covers tickets issued since it started.
// Without the secret the ticket is useless (full handshake). Either way the bytes arrive.
TEST_F(QuicZeroRtt, TicketsAfterARestart) {
  for (bool with_secret : {true, false}) {
    SCOPED_TRACE(with_secret ? "same static secret" : "no static secret");
    auto o = default_options();
    if (with_secret) o.static_secret.assign(32, 0x42);
    start(o);
    const ResumptionState state = first_connection();
    listener_.reset();
    records_.clear();
    start(o);  // another process's listener, as far as TLS is concerned
    auto c = resume_with(state, "CONNECT");
    ASSERT_TRUE(release(*c)) << c->error();
    ASSERT_TRUE(pump(*c, [&] { return records_.size() == 1 && records_[0].data == "CONNECT"; }))
        << c->error();
    EXPECT_EQ(c->resumed(), with_secret);
    EXPECT_TRUE(c->early_data_rejected());
    EXPECT_EQ(records_[0].early, "");
    c->close(0);
    listener_.reset();
    records_.clear();
  }
}

// A captured first flight (Initial with the ClientHello, 0-RTT packets) sent again from another
// socket: the server starts a connection, but GnuTLS's anti-replay (SessionTickets' record)
// refuses its early data, so no stream ever reaches a handler.
TEST_F(QuicZeroRtt, ReplayedFirstFlightDeliversNoEarlyData) {
  start();
  const ResumptionState state = first_connection();
  std::vector<std::vector<uint8_t>> flight;
  auto c = resume_with(state, "CONNECT", &flight);
  ASSERT_TRUE(pump(*c, [&] { return records_.size() == 1 && records_[0].early == "CONNECT"; }));
  const auto captured = flight;  // ClientHello and 0-RTT, nothing of the handshake's end
  ASSERT_TRUE(release(*c)) << c->error();
  EXPECT_TRUE(c->early_data_accepted());
  c->close(0);
  ASSERT_TRUE(
      transport::test::run_until(loop_, [&] { return listener_->connection_count() == 0; }));

  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  auto server = *SockAddr::from("127.0.0.1", listener_->port(), false);
  for (const auto& d : captured) {
    ASSERT_EQ(::sendto(fd, d.data(), d.size(), 0, server.sa(), server.len),
              static_cast<ssize_t>(d.size()));
  }
  EXPECT_TRUE(
      transport::test::run_until(loop_, [&] { return listener_->connection_count() == 1; }));
  transport::test::run_until(
      loop_, [] { return false; }, 300ms);
  ::close(fd);
  // TLS took the genuine ClientHello's early data, not the replayed one's. (The 0-RTT packets of
  // this flight could not reach the replayed connection anyway: a GnuTLS 3.7 client sends them
  // after the ServerHello, to the CID the server chose; a client that sends 0-RTT with its first
  // Initial does not have that limit, and then this refusal is what keeps them unprocessed.)
  EXPECT_EQ(listener_->early_data_accepted(), 1u);
  ASSERT_NE(listener_->tickets(), nullptr);
  EXPECT_EQ(listener_->tickets()->replays_detected(), 1u);
  EXPECT_EQ(records_.size(), 1u);  // no stream of the replayed connection got a handler
}

}  // namespace
}  // namespace mquictt::quic
