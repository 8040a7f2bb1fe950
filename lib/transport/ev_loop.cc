#include "transport/ev_loop.h"

#include <stdexcept>

namespace mquictt::transport {

EvLoop::EvLoop() : loop_(ev_loop_new(EVFLAG_AUTO)) {
  if (!loop_) throw std::runtime_error("libev: cannot create an event loop");
}

EvLoop::~EvLoop() {
  ev_loop_destroy(loop_);
}

void EvLoop::run() {
  ev_run(loop_, 0);
}

void EvLoop::run_once(bool block) {
  ev_run(loop_, block ? EVRUN_ONCE : EVRUN_NOWAIT);
}

void EvLoop::break_loop() {
  ev_break(loop_, EVBREAK_ALL);
}

}  // namespace mquictt::transport
