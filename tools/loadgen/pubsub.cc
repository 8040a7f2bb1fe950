#include "pubsub.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "codec/decoder.h"
#include "common.h"
#include "link.h"
#include "net.h"
#include "seq_window.h"
#include "wire.h"

namespace mquictt::loadgen {

namespace {

using codec::PacketType;

// A publisher stops appending while this much is still unsent on its socket; EPOLLOUT resumes
// it. Bounds memory when the broker stops reading.
constexpr size_t kMaxPendingBytes = 256 * 1024;
// Bytes one publisher appends per turn of the loop: large enough that a send() carries many
// PUBLISHes, small enough that publishers on one thread take turns.
constexpr size_t kBatchBytes = 64 * 1024;
// Reads per connection per event, so one busy subscriber cannot starve the others.
constexpr int kChunksPerEvent = 8;
// Connections in the middle of their handshake per thread during setup (listen backlog).
constexpr int kConnectsInFlight = 64;
constexpr uint64_t kWakeTag = ~uint64_t{0};
// An e2e window that has not moved for this long is written off (QoS 0 messages were lost).
constexpr int64_t kStallNs = kNsPerSec;
constexpr int64_t kIdleWaitNs = 100 * kNsPerMs;
constexpr int64_t kDrainIdleNs = 3 * kNsPerSec;
constexpr size_t kMaxErrorSamples = 8;

enum class State : uint8_t { kIdle, kConnecting, kWaitConnAck, kWaitSubAck, kReady, kClosed };

struct Topology {
  std::vector<std::string> pub_topics;   // per publisher
  std::vector<std::string> sub_filters;  // per subscriber
  uint32_t fanout = 1;                   // subscribers that receive each message
};

Topology make_topology(const Options& o) {
  Topology t;
  const std::string& pre = o.topic_prefix;
  switch (o.scenario) {
    case Scenario::kFanIn:
      for (int i = 0; i < o.publishers; ++i) {
        t.pub_topics.push_back(o.wildcard ? pre + "/in/" + std::to_string(i) : pre + "/in");
      }
      t.sub_filters.assign(static_cast<size_t>(o.subscribers),
                           o.wildcard ? pre + "/in/+" : pre + "/in");
      t.fanout = static_cast<uint32_t>(o.subscribers);
      break;
    case Scenario::kFanOut:
      t.pub_topics.assign(static_cast<size_t>(o.publishers), pre + "/out");
      t.sub_filters.assign(static_cast<size_t>(o.subscribers), pre + "/out");
      t.fanout = static_cast<uint32_t>(o.subscribers);
      break;
    case Scenario::kPairs:
      for (int i = 0; i < o.pairs; ++i) {
        t.pub_topics.push_back(pre + "/pair/" + std::to_string(i));
        t.sub_filters.push_back(pre + "/pair/" + std::to_string(i));
      }
      t.fanout = 1;
      break;
    case Scenario::kConnectRate:
    case Scenario::kIdle:
      break;
  }
  return t;
}

// Deliveries counted per publisher, written by subscriber threads and read by the publisher's
// thread for the e2e window. One cache line each so publishers do not share lines.
struct alignas(64) Receipts {
  std::atomic<uint64_t> n{0};
};

class Worker;

struct Shared {
  Shared(const Options& o, const Endpoint& e, Topology t)
      : opt(o),
        ep(e),
        topo(std::move(t)),
        links(o.link, e),
        receipts(std::make_unique<Receipts[]>(topo.pub_topics.size())) {}

  void fail(const std::string& msg) {
    std::lock_guard lock(mu);
    if (first_error.empty()) first_error = msg;
    failed.store(true);
  }

  const Options& opt;
  Endpoint ep;
  Topology topo;
  LinkFactory links;
  std::atomic<Phase> phase{Phase::kSetup};
  // Written before phase becomes kRun (release) and read after it is seen (acquire).
  int64_t t_start = 0;
  int64_t t_measure = 0;
  int64_t t_end = 0;
  std::atomic<int> ready{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::string first_error;
  std::unique_ptr<Receipts[]> receipts;
  std::vector<std::unique_ptr<Worker>> workers;  // publisher/subscriber i lives on i % threads
};

struct Stats {
  uint64_t sent_total = 0;
  uint64_t sent_window = 0;
  uint64_t recv_total = 0;
  uint64_t recv_window = 0;
  uint64_t duplicates = 0;
  uint64_t reordered = 0;
  uint64_t acks_total = 0;
  uint64_t acks_window = 0;
  uint64_t stalls = 0;
  uint64_t errors = 0;
  uint64_t verify_failures = 0;
  uint32_t min_window = UINT32_MAX;
  Histogram latency;
  std::vector<std::string> error_samples;
};

class Worker {
 public:
  Worker(Shared& shared, int index);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void run();
  void wake() { wakeup_.signal(); }

  // Live totals for the main thread's drain decision.
  std::atomic<uint64_t> live_sent{0};
  std::atomic<uint64_t> live_unique{0};
  std::atomic<uint64_t> live_unacked{0};
  // Set while this loop may block waiting for e2e credit from another thread.
  std::atomic<bool> sleeping{false};
  Stats stats;

 private:
  struct Slot {
    Conn conn;
    bool publisher = false;
    size_t local = 0;  // index into pubs_ or subs_
    State state = State::kIdle;
    bool dirty = false;  // bytes appended since the last flush
    std::string client_id;
  };
  struct Pub {
    Pub(size_t slot_index, uint32_t pub_id, PublishTemplate t)
        : slot(slot_index), id(pub_id), tmpl(std::move(t)) {}
    size_t slot;
    uint32_t id;
    PublishTemplate tmpl;
    uint32_t window = 0;
    // Closed loop: send only once this many messages of credit are free, so credit that comes
    // back a few messages at a time still leaves in large writes (a quarter of the window).
    uint32_t refill = 1;
    uint64_t sent = 0;
    uint32_t unacked = 0;
    std::vector<uint8_t> pid_used;  // QoS > 0: packet ids awaiting PUBACK / PUBCOMP
    uint16_t next_pid = 1;
    uint64_t written_off = 0;
    uint64_t last_receipts = 0;
    int64_t last_progress_ns = 0;
    int64_t interval_ns = 0;  // open loop
    int64_t offset_ns = 0;    // open loop: spreads publishers over one interval
  };
  struct Sub {
    size_t slot;
    uint32_t id;
    std::vector<SeqWindow> seen;  // per publisher
  };

  void error(const std::string& msg);
  void start_connects();
  void on_event(uint64_t tag, uint32_t events, int64_t now);
  void on_connected(size_t si);
  void handle_frame(size_t si, std::span<const uint8_t> frame, int64_t now);
  void on_handshake_frame(size_t si, std::span<const uint8_t> frame);
  void on_publish(Slot& slot, std::span<const uint8_t> frame, int64_t now);
  void complete(Pub& pub, uint16_t packet_id, int64_t now);
  void lost(size_t si, const std::string& why);
  // QUIC: runs the protocol timers that are due, then flushes; returns the earliest timer left
  // (INT64_MAX if none).
  int64_t run_timers(int64_t now);
  // Appends as many PUBLISHes as the windows allow. Returns true if it stopped only because of
  // the batch size (so the loop should come back without sleeping).
  bool pump(Pub& pub, int64_t now);
  // Closed-loop credit: the QoS 1/2 ack window and, with e2e pacing, the delivery window.
  int64_t credit(Pub& pub, int64_t now, bool account_stall);
  int64_t e2e_credit(Pub& pub, int64_t now, bool account_stall);
  uint16_t alloc_packet_id(Pub& pub);
  void mark_dirty(size_t si);
  void flush_dirty();
  void flush_receipts();
  int64_t next_timeout(int64_t now, bool more);
  void shutdown_all();
  bool in_window(int64_t t) const { return t >= shared_.t_measure && t < shared_.t_end; }

  Shared& shared_;
  const Options& opt_;
  int index_;
  Poller poller_;
  WakeFd wakeup_;
  AckTemplates acks_;
  bool e2e_ = false;
  bool open_loop_ = false;
  bool timers_ = false;  // the links have protocol timers (QUIC)
  std::vector<Slot> slots_;
  std::vector<Pub> pubs_;
  std::vector<Sub> subs_;
  std::vector<size_t> dirty_;
  std::vector<uint64_t> pending_receipts_;  // per publisher id, not yet added to shared
  std::vector<uint32_t> touched_;
  std::vector<uint8_t> wake_;  // per worker: owns publishers credited in this turn
  size_t next_connect_ = 0;
  int connecting_ = 0;
  uint64_t unacked_total_ = 0;
};

Worker::Worker(Shared& shared, int index)
    : shared_(shared), opt_(shared.opt), index_(index), acks_(shared.opt.version) {
  poller_.add(wakeup_.fd(), EPOLLIN, kWakeTag);
  e2e_ = opt_.pace == Pace::kE2e && opt_.rate == 0;
  timers_ = opt_.link.transport == Transport::kQuic;
  open_loop_ = opt_.rate > 0;
  const auto& topo = shared_.topo;
  size_t n_pubs = topo.pub_topics.size();
  size_t n_subs = topo.sub_filters.size();
  auto threads = static_cast<size_t>(opt_.threads);
  auto me = static_cast<size_t>(index);
  std::string base = "lg" + std::to_string(::getpid()) + "-";
  // Subscribers first, so most of them are subscribed before publishers connect.
  size_t n_slots = 0;
  for (size_t i = me; i < n_subs; i += threads)
    ++n_slots;
  for (size_t i = me; i < n_pubs; i += threads)
    ++n_slots;
  slots_ = std::vector<Slot>(n_slots);
  size_t si = 0;
  for (size_t i = me; i < n_subs; i += threads, ++si) {
    slots_[si].publisher = false;
    slots_[si].local = subs_.size();
    slots_[si].client_id = base + "s" + std::to_string(i);
    subs_.push_back(Sub{si, static_cast<uint32_t>(i), std::vector<SeqWindow>(n_pubs)});
  }
  double per_pub_rate = open_loop_ ? opt_.rate / static_cast<double>(n_pubs) : 0;
  for (size_t i = me; i < n_pubs; i += threads, ++si) {
    slots_[si].publisher = true;
    slots_[si].local = pubs_.size();
    slots_[si].client_id = base + "p" + std::to_string(i);
    pubs_.emplace_back(si, static_cast<uint32_t>(i),
                       PublishTemplate(topo.pub_topics[i], opt_.qos, opt_.size, opt_.version));
    Pub& p = pubs_.back();
    p.window = opt_.inflight;
    if (opt_.qos > 0) p.pid_used.assign(65536, 0);
    if (open_loop_) {
      p.interval_ns = static_cast<int64_t>(1e9 / per_pub_rate);
      p.offset_ns = p.interval_ns * static_cast<int64_t>(i) / static_cast<int64_t>(n_pubs);
    }
  }
  pending_receipts_.assign(n_pubs, 0);
  wake_.assign(threads, 0);
}

void Worker::error(const std::string& msg) {
  ++stats.errors;
  if (stats.error_samples.size() < kMaxErrorSamples) stats.error_samples.push_back(msg);
}

void Worker::start_connects() {
  while (connecting_ < kConnectsInFlight && next_connect_ < slots_.size()) {
    size_t si = next_connect_++;
    Slot& s = slots_[si];
    std::string err;
    auto link = shared_.links.open(err);
    if (!link) {
      shared_.fail(err);
      return;
    }
    s.conn.attach(std::move(link), poller_, si);
    s.state = State::kConnecting;
    ++connecting_;
  }
}

void Worker::mark_dirty(size_t si) {
  Slot& s = slots_[si];
  if (!s.dirty) {
    s.dirty = true;
    dirty_.push_back(si);
  }
}

void Worker::flush_dirty() {
  for (size_t si : dirty_) {
    Slot& s = slots_[si];
    s.dirty = false;
    if (s.conn.fd() >= 0 && !s.conn.flush(poller_, si)) lost(si, "send failed");
  }
  dirty_.clear();
}

void Worker::lost(size_t si, const std::string& why) {
  Slot& s = slots_[si];
  if (s.state == State::kClosed) return;
  bool during_setup = s.state != State::kReady;
  s.conn.close();
  s.state = State::kClosed;
  std::string msg =
      std::string(s.publisher ? "publisher " : "subscriber ") + s.client_id + ": " + why;
  if (during_setup) {
    shared_.fail(msg);
  } else if (shared_.phase.load(std::memory_order_relaxed) != Phase::kStop) {
    error(msg);
  }
}

void Worker::on_connected(size_t si) {
  Slot& s = slots_[si];
  s.state = State::kWaitConnAck;
  s.conn.append(encode_connect(s.client_id, opt_.version, opt_.keepalive));
  mark_dirty(si);
}

void Worker::on_event(uint64_t tag, uint32_t events, int64_t now) {
  if (tag == kWakeTag) {
    wakeup_.drain();
    return;
  }
  size_t si = static_cast<size_t>(tag);
  Slot& s = slots_[si];
  if (s.conn.fd() < 0) return;
  if (s.state == State::kConnecting) {
    std::string err;
    int r = s.conn.advance(events, poller_, si, err);
    if (r == 0) return;
    --connecting_;
    if (r < 0) {
      s.state = State::kClosed;
      s.conn.close();
      shared_.fail(err);
      return;
    }
    on_connected(si);
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    for (int chunk = 0; chunk < kChunksPerEvent; ++chunk) {
      long n = s.conn.read_chunk();
      if (n < 0) {
        lost(si, "connection closed by the broker");
        return;
      }
      for (;;) {
        auto f = s.conn.splitter().next();
        if (!f.ok()) {
          lost(si, "malformed frame from the broker");
          return;
        }
        if (!*f) break;
        handle_frame(si, **f, now);
        if (s.state == State::kClosed) return;
      }
      if (static_cast<size_t>(n) < Conn::kReadChunk) break;
    }
  }
  // A QUIC link sends queued bytes as ACKs come in (EPOLLIN), so retry the flush then too.
  if ((events & EPOLLOUT) || s.conn.pending() > 0) mark_dirty(si);
}

int64_t Worker::run_timers(int64_t now) {
  for (size_t si = 0; si < slots_.size(); ++si) {
    Slot& s = slots_[si];
    if (s.conn.fd() >= 0 && s.conn.next_timer_ns() <= now) {
      s.conn.on_timer();
      on_event(si, EPOLLIN, now);  // notices a connection the timer closed, reads what came
    }
  }
  flush_dirty();  // sending re-arms timers, so look for the earliest one afterwards
  int64_t earliest = INT64_MAX;
  for (const Slot& s : slots_) {
    if (s.conn.fd() >= 0) earliest = std::min(earliest, s.conn.next_timer_ns());
  }
  return earliest;
}

void Worker::handle_frame(size_t si, std::span<const uint8_t> frame, int64_t now) {
  Slot& s = slots_[si];
  if (opt_.verify && !codec::decode(frame, opt_.version).ok()) ++stats.verify_failures;
  if (s.state != State::kReady) {
    on_handshake_frame(si, frame);
    return;
  }
  switch (frame_type(frame)) {
    case PacketType::kPublish:
      if (s.publisher) {
        error("PUBLISH to a publisher");
        return;
      }
      on_publish(s, frame, now);
      if (opt_.qos > 0) mark_dirty(si);  // an ack was appended
      return;
    case PacketType::kPubAck:
    case PacketType::kPubComp:
    case PacketType::kPubRec: {
      auto id = view_ack_id(frame);
      if (!s.publisher || !id) {
        error("unexpected ack");
        return;
      }
      Pub& p = pubs_[s.local];
      if (frame_type(frame) == PacketType::kPubRec) {
        acks_.append(s.conn.out(), PacketType::kPubRel, *id);
        mark_dirty(si);
      } else {
        complete(p, *id, now);
      }
      return;
    }
    case PacketType::kPubRel: {
      auto id = view_ack_id(frame);
      if (s.publisher || !id) {
        error("unexpected PUBREL");
        return;
      }
      acks_.append(s.conn.out(), PacketType::kPubComp, *id);
      mark_dirty(si);
      return;
    }
    case PacketType::kPingResp:
      return;
    case PacketType::kDisconnect: {
      auto d = codec::decode(frame, opt_.version);
      char buf[64];
      std::snprintf(buf, sizeof buf, "DISCONNECT from the broker, reason 0x%02x",
                    d.ok() && std::holds_alternative<codec::Disconnect>(*d)
                        ? std::get<codec::Disconnect>(*d).reason
                        : 0xFF);
      lost(si, buf);
      return;
    }
    default:
      error(std::string("unexpected ") + codec::packet_type_name(frame_type(frame)));
      return;
  }
}

void Worker::on_handshake_frame(size_t si, std::span<const uint8_t> frame) {
  Slot& s = slots_[si];
  auto decoded = codec::decode(frame, opt_.version);
  if (!decoded.ok()) {
    lost(si, "undecodable frame during the handshake");
    return;
  }
  if (s.state == State::kWaitConnAck) {
    auto* ack = std::get_if<codec::ConnAck>(&*decoded);
    if (ack == nullptr || ack->reason != 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "CONNACK refused (0x%02x)", ack ? ack->reason : 0xFF);
      lost(si, buf);
      return;
    }
    if (s.publisher) {
      Pub& p = pubs_[s.local];
      // MQTT 5: never exceed the broker's Receive Maximum (both brokers get the same cap only
      // if they announce the same value; the report shows the window actually used).
      if (opt_.qos > 0 && ack->props.receive_maximum) {
        p.window = std::min<uint32_t>(p.window, *ack->props.receive_maximum);
      }
      stats.min_window = std::min(stats.min_window, p.window);
      p.refill = open_loop_ ? 1 : std::max<uint32_t>(1, p.window / 4);
      s.state = State::kReady;
      shared_.ready.fetch_add(1);
    } else {
      s.conn.append(
          encode_subscribe(1, shared_.topo.sub_filters[subs_[s.local].id], opt_.qos, opt_.version));
      mark_dirty(si);
      s.state = State::kWaitSubAck;
    }
    return;
  }
  if (s.state == State::kWaitSubAck) {
    auto* ack = std::get_if<codec::SubAck>(&*decoded);
    if (ack == nullptr || ack->reasons.empty() || ack->reasons[0] >= 0x80) {
      lost(si, "SUBSCRIBE refused");
      return;
    }
    if (ack->reasons[0] != opt_.qos) error("subscription granted a different QoS");
    s.state = State::kReady;
    shared_.ready.fetch_add(1);
    return;
  }
  lost(si, "unexpected frame during the handshake");
}

void Worker::on_publish(Slot& slot, std::span<const uint8_t> frame, int64_t now) {
  auto v = view_publish(frame, opt_.version);
  if (!v || v->payload.size() < kStampSize) {
    error("PUBLISH without a stamp");
    return;
  }
  Stamp st = read_stamp(v->payload.data());
  Sub& sub = subs_[slot.local];
  ++stats.recv_total;
  if (st.publisher >= sub.seen.size()) {
    error("PUBLISH with an unknown publisher");
    return;
  }
  switch (sub.seen[st.publisher].add(st.seq)) {
    case SeqWindow::Kind::kDuplicate:
      ++stats.duplicates;
      break;
    case SeqWindow::Kind::kReordered:
      ++stats.reordered;
      [[fallthrough]];
    case SeqWindow::Kind::kNew:
      if (pending_receipts_[st.publisher]++ == 0) touched_.push_back(st.publisher);
      break;
  }
  if (in_window(now)) {
    ++stats.recv_window;
    stats.latency.record(now > st.send_ns ? static_cast<uint64_t>(now - st.send_ns) : 0);
  }
  if (v->qos == 1) {
    acks_.append(slot.conn.out(), PacketType::kPubAck, v->packet_id);
  } else if (v->qos == 2) {
    acks_.append(slot.conn.out(), PacketType::kPubRec, v->packet_id);
  }
}

void Worker::complete(Pub& pub, uint16_t packet_id, int64_t now) {
  if (pub.pid_used.empty() || !pub.pid_used[packet_id]) {
    error("ack for a packet id not in flight");
    return;
  }
  pub.pid_used[packet_id] = 0;
  --pub.unacked;
  --unacked_total_;
  ++stats.acks_total;
  if (in_window(now)) ++stats.acks_window;
}

void Worker::flush_receipts() {
  for (uint32_t id : touched_) {
    shared_.receipts[id].n.fetch_add(pending_receipts_[id], std::memory_order_seq_cst);
    pending_receipts_[id] = 0;
    size_t owner = id % wake_.size();
    if (owner != static_cast<size_t>(index_)) wake_[owner] = 1;
  }
  touched_.clear();
  for (size_t w = 0; w < wake_.size(); ++w) {
    if (!wake_[w]) continue;
    wake_[w] = 0;
    // Paired with the store in run(): either the owner sees the receipts before sleeping, or
    // this sees it asleep and wakes it.
    if (shared_.workers[w]->sleeping.exchange(false)) shared_.workers[w]->wake();
  }
}

int64_t Worker::e2e_credit(Pub& pub, int64_t now, bool account_stall) {
  uint64_t receipts = shared_.receipts[pub.id].n.load(std::memory_order_seq_cst);
  uint64_t delivered = receipts / shared_.topo.fanout;
  // Late deliveries of written-off messages can make delivered exceed the rest.
  auto outstanding = std::max<int64_t>(
      0, static_cast<int64_t>(pub.sent) - static_cast<int64_t>(delivered + pub.written_off));
  int64_t credit = static_cast<int64_t>(pub.window) - outstanding;
  if (account_stall) {
    if (receipts != pub.last_receipts || credit >= static_cast<int64_t>(pub.refill)) {
      pub.last_receipts = receipts;
      pub.last_progress_ns = now;
    } else if (now - pub.last_progress_ns > kStallNs) {
      // Nothing delivered for a second with (nearly) a full window: those messages are gone
      // (QoS 0 drops). Writing them off keeps the run going; the loss still shows in the report.
      pub.written_off += static_cast<uint64_t>(outstanding);
      ++stats.stalls;
      pub.last_progress_ns = now;
      credit = pub.window;
    }
  }
  return credit;
}

int64_t Worker::credit(Pub& pub, int64_t now, bool account_stall) {
  int64_t c = INT64_MAX;
  if (opt_.qos > 0) c = static_cast<int64_t>(pub.window) - pub.unacked;
  if (e2e_) c = std::min(c, e2e_credit(pub, now, account_stall));
  return c;
}

uint16_t Worker::alloc_packet_id(Pub& pub) {
  // Terminates: fewer than 65535 ids are in flight (window <= 65535 and one is being added).
  for (;;) {
    uint16_t id = pub.next_pid;
    pub.next_pid = pub.next_pid == 65535 ? 1 : pub.next_pid + 1;
    if (!pub.pid_used[id]) {
      pub.pid_used[id] = 1;
      return id;
    }
  }
}

bool Worker::pump(Pub& pub, int64_t now) {
  Slot& s = slots_[pub.slot];
  if (s.state != State::kReady || now < shared_.t_start || now >= shared_.t_end) return false;
  if (s.conn.pending() >= kMaxPendingBytes) return false;  // EPOLLOUT resumes it
  int64_t credit = this->credit(pub, now, true);
  if (open_loop_) {
    int64_t since = now - shared_.t_start - pub.offset_ns;
    int64_t due = since < 0 ? 0 : since / pub.interval_ns + 1;
    credit = std::min(credit, due - static_cast<int64_t>(pub.sent));
  }
  auto batch_max = static_cast<int64_t>(std::max<size_t>(1, kBatchBytes / pub.tmpl.frame_size()));
  int64_t n = std::min(credit, batch_max);
  if (n <= 0 || (!open_loop_ && n < std::min<int64_t>(pub.refill, batch_max))) return false;
  auto& out = s.conn.out();
  out.reserve(out.size() + static_cast<size_t>(n) * pub.tmpl.frame_size());
  for (int64_t i = 0; i < n; ++i) {
    uint16_t pid = 0;
    if (opt_.qos > 0) {
      pid = alloc_packet_id(pub);
      ++pub.unacked;
      ++unacked_total_;
    }
    Stamp st;
    // Open loop stamps the scheduled time, so a broker that makes the generator fall behind
    // is charged for the wait (no coordinated omission).
    st.send_ns = open_loop_ ? shared_.t_start + pub.offset_ns +
                                  static_cast<int64_t>(pub.sent) * pub.interval_ns
                            : now;
    st.publisher = pub.id;
    st.seq = static_cast<uint32_t>(pub.sent);
    pub.tmpl.append(out, pid, st);
    ++pub.sent;
    ++stats.sent_total;
    if (in_window(st.send_ns)) ++stats.sent_window;
  }
  mark_dirty(pub.slot);
  return n == batch_max && credit > batch_max;
}

int64_t Worker::next_timeout(int64_t now, bool more) {
  if (more) return 0;
  int64_t timeout = kIdleWaitNs;
  if (shared_.phase.load(std::memory_order_acquire) != Phase::kRun) return timeout;
  if (now < shared_.t_start) return std::min(timeout, shared_.t_start - now);
  if (now >= shared_.t_end) return timeout;
  timeout = std::min(timeout, shared_.t_end - now);
  if (open_loop_) {
    for (const Pub& p : pubs_) {
      const Slot& s = slots_[p.slot];
      if (s.state != State::kReady || s.conn.pending() >= kMaxPendingBytes) continue;
      if (opt_.qos > 0 && p.unacked >= p.window) continue;
      int64_t due = shared_.t_start + p.offset_ns + static_cast<int64_t>(p.sent) * p.interval_ns;
      timeout = std::min(timeout, std::max<int64_t>(0, due - now));
    }
  }
  // Stalled e2e windows must be re-examined even if nothing arrives.
  if (e2e_) timeout = std::min(timeout, kStallNs / 4);
  return timeout;
}

void Worker::shutdown_all() {
  auto disconnect = encode_disconnect(opt_.version);
  for (size_t si = 0; si < slots_.size(); ++si) {
    Slot& s = slots_[si];
    if (s.conn.fd() < 0) continue;
    if (s.state == State::kReady) {
      s.conn.append(disconnect);
      s.conn.flush(poller_, si);
    }
    s.conn.close();
    s.state = State::kClosed;
  }
}

void Worker::run() {
  std::array<epoll_event, 256> events{};
  bool cross_thread_e2e = e2e_ && opt_.threads > 1;
  bool more = false;
  for (;;) {
    int64_t now = now_ns();
    Phase phase = shared_.phase.load(std::memory_order_acquire);
    if (phase == Phase::kStop) break;
    if (phase == Phase::kSetup) start_connects();
    more = false;
    if (phase == Phase::kRun) {
      for (Pub& p : pubs_)
        more |= pump(p, now);
    }
    flush_dirty();
    live_sent.store(stats.sent_total, std::memory_order_relaxed);
    live_unique.store(stats.recv_total - stats.duplicates, std::memory_order_relaxed);
    live_unacked.store(unacked_total_, std::memory_order_relaxed);

    int64_t timeout = next_timeout(now, more);
    if (timers_) timeout = std::min(timeout, std::max<int64_t>(0, run_timers(now) - now));
    if (timeout > 0 && cross_thread_e2e && phase == Phase::kRun) {
      sleeping.store(true, std::memory_order_seq_cst);
      // Receipts may have landed between the pump and the store above.
      for (Pub& p : pubs_) {
        if (slots_[p.slot].state == State::kReady &&
            credit(p, now, false) >= static_cast<int64_t>(p.refill)) {
          timeout = 0;
        }
      }
    }
    int n = poller_.wait(events, timeout);
    sleeping.store(false, std::memory_order_relaxed);
    now = now_ns();
    for (int i = 0; i < n; ++i)
      on_event(events[static_cast<size_t>(i)].data.u64, events[static_cast<size_t>(i)].events, now);
    flush_dirty();
    if (!touched_.empty()) flush_receipts();
  }
  shutdown_all();
  live_unacked.store(unacked_total_);
}

Report base_report(const Options& opt) {
  Report r;
  r.opt = opt;
  return r;
}

void sleep_until_ns(int64_t t) {
  int64_t d = t - now_ns();
  if (d > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(d));
}

}  // namespace

Report run_pubsub(const Options& opt) {
  Report r = base_report(opt);
  Endpoint ep;
  if (!make_endpoint(opt.host, opt.port, opt.allow_remote, ep, r.error)) return r;
  Topology topo = make_topology(opt);
  r.publishers = static_cast<int>(topo.pub_topics.size());
  r.subscribers = static_cast<int>(topo.sub_filters.size());
  r.fanout = topo.fanout;
  Shared shared(opt, ep, std::move(topo));
  try {
    for (int t = 0; t < opt.threads; ++t) {
      shared.workers.push_back(std::make_unique<Worker>(shared, t));
    }
  } catch (const std::exception& e) {
    r.error = e.what();
    return r;
  }

  std::vector<std::thread> threads;
  for (auto& w : shared.workers)
    threads.emplace_back([&w] { w->run(); });
  auto stop = [&] {
    shared.phase.store(Phase::kStop, std::memory_order_release);
    for (auto& w : shared.workers)
      w->wake();
    for (auto& t : threads)
      t.join();
  };

  int total = r.publishers + r.subscribers;
  int64_t deadline = now_ns() + 10 * kNsPerSec + total * kNsPerMs;
  while (!shared.failed.load() && shared.ready.load() < total && now_ns() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (shared.failed.load() || shared.ready.load() < total) {
    stop();
    r.error = shared.failed.load()
                  ? shared.first_error
                  : "timed out waiting for " + std::to_string(total - shared.ready.load()) +
                        " of " + std::to_string(total) + " connections";
    return r;
  }

  shared.t_start = now_ns() + 5 * kNsPerMs;
  shared.t_measure = shared.t_start + seconds_to_ns(opt.warmup_s);
  shared.t_end = shared.t_measure + seconds_to_ns(opt.duration_s);
  shared.phase.store(Phase::kRun, std::memory_order_release);
  for (auto& w : shared.workers)
    w->wake();

  sleep_until_ns(shared.t_measure);
  double cpu0 = self_cpu_seconds();
  double bcpu0 = opt.broker_pid ? read_cpu_seconds(opt.broker_pid) : -1;
  int64_t wall0 = now_ns();
  sleep_until_ns(shared.t_end);
  double cpu1 = self_cpu_seconds();
  double bcpu1 = opt.broker_pid ? read_cpu_seconds(opt.broker_pid) : -1;
  double wall = static_cast<double>(now_ns() - wall0) / 1e9;
  r.loadgen_cpu_pct = 100.0 * (cpu1 - cpu0) / wall;
  if (bcpu0 >= 0 && bcpu1 >= 0) r.broker_cpu_pct = 100.0 * (bcpu1 - bcpu0) / wall;

  // Drain: wait for every sent message to reach every subscriber and every QoS flow to
  // finish, until nothing has moved for kDrainIdleNs or --drain runs out. The idle limit is
  // generous because a saturated broker may sit on queued messages for over a second.
  int64_t drain_start = now_ns();
  int64_t last_move = drain_start;
  uint64_t last_seen = UINT64_MAX;
  for (;;) {
    uint64_t sent = 0;
    uint64_t unique = 0;
    uint64_t unacked = 0;
    for (auto& w : shared.workers) {
      sent += w->live_sent.load(std::memory_order_relaxed);
      unique += w->live_unique.load(std::memory_order_relaxed);
      unacked += w->live_unacked.load(std::memory_order_relaxed);
    }
    int64_t now = now_ns();
    if (unique >= sent * shared.topo.fanout && unacked == 0) break;
    if (unique + unacked != last_seen) {
      last_seen = unique + unacked;
      last_move = now;
    }
    if (now - last_move > kDrainIdleNs || now - drain_start > seconds_to_ns(opt.drain_s)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.drain_s = static_cast<double>(now_ns() - drain_start) / 1e9;
  stop();

  r.measured_s = opt.duration_s;
  uint32_t min_window = UINT32_MAX;
  std::vector<std::string> samples;
  for (auto& w : shared.workers) {
    const Stats& s = w->stats;
    r.sent_total += s.sent_total;
    r.sent_window += s.sent_window;
    r.received_total += s.recv_total;
    r.received_window += s.recv_window;
    r.duplicates += s.duplicates;
    r.reordered += s.reordered;
    r.acks_total += s.acks_total;
    r.acks_window += s.acks_window;
    r.stalls += s.stalls;
    r.errors += s.errors;
    r.verify_failures += s.verify_failures;
    r.unacked_at_end += w->live_unacked.load();
    min_window = std::min(min_window, s.min_window);
    r.latency_ns.merge(s.latency);
    for (const auto& e : s.error_samples) {
      if (samples.size() < kMaxErrorSamples) samples.push_back(e);
    }
  }
  r.window = min_window == UINT32_MAX ? opt.inflight : min_window;
  r.expected = r.sent_total * r.fanout;
  uint64_t unique = r.received_total - r.duplicates;
  r.lost = r.expected > unique ? r.expected - unique : 0;
  for (auto& e : samples)
    r.notes.push_back("error: " + e);
  if (r.stalls > 0) {
    r.notes.push_back(std::to_string(r.stalls) +
                      " e2e window(s) written off after 1 s without delivery (lost messages)");
  }
  return r;
}

}  // namespace mquictt::loadgen
