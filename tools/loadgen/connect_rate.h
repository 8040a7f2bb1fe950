#pragma once
// connect-rate (handshakes per second) and idle (hold N connections, for RSS per connection).

#include <atomic>

#include "report.h"

namespace mquictt::loadgen {

Report run_connect_rate(const Options& opt);
// Holds the connections for --duration seconds or until `interrupted` becomes true.
Report run_idle(const Options& opt, const std::atomic<bool>& interrupted);

}  // namespace mquictt::loadgen
