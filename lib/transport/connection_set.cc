#include "transport/connection_set.h"

#include <exception>

#include "log/log.h"

namespace mquictt::transport {

namespace {
void idlecb(struct ev_loop*, ev_idle* w, int) noexcept {
  static_cast<ConnectionSet*>(w->data)->on_idle();
}
}  // namespace

ConnectionSet::ConnectionSet(EvLoop& loop)
    : idle_(loop, idlecb, this), read_buffer_(kReadBufferSize) {
  // Highest priority: reaps run before the I/O callbacks of the iteration, so a handler's
  // on_closed() is not delayed behind a burst of traffic on other connections.
  idle_.set_priority(EV_MAXPRI);
}

ConnectionSet::~ConnectionSet() {
  terminate_all();
}

void ConnectionSet::schedule_reap(OwnedConnection& c) {
  if (c.reap_scheduled_) return;
  c.reap_scheduled_ = true;
  scheduled_.push_back(&c);
  idle_.start();
}

void ConnectionSet::reap_now() {
  // A reap can schedule more (an on_closed() may close another connection of this set), so drain
  // until nothing is left; each connection is reaped at most twice, so this terminates.
  while (!scheduled_.empty()) {
    std::vector<OwnedConnection*> batch;
    batch.swap(scheduled_);
    for (OwnedConnection* c : batch) {
      auto it = conns_.find(c);
      if (it == conns_.end()) continue;
      c->reap_scheduled_ = false;
      bool done = true;
      try {
        done = c->reap();
      } catch (const std::exception& e) {
        log::net()->error("connection reap failed: {}", e.what());
        c->terminate();
      }
      if (done) conns_.erase(it);
    }
  }
  idle_.stop();
}

void ConnectionSet::close_all() {
  for (auto& [ptr, owned] : conns_)
    ptr->close_gracefully();
}

void ConnectionSet::terminate_all() {
  for (auto& [ptr, owned] : conns_) {
    ptr->terminate();
    schedule_reap(*ptr);
  }
  reap_now();
  conns_.clear();  // reap() returns true after terminate(); this only guards against bugs
}

void ConnectionSet::on_idle() noexcept {
  reap_now();
}

}  // namespace mquictt::transport
