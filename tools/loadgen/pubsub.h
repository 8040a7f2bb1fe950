#pragma once
// fan-in, fan-out and pairs: publishers stamp messages, subscribers measure them.

#include "report.h"

namespace mquictt::loadgen {

Report run_pubsub(const Options& opt);

}  // namespace mquictt::loadgen
