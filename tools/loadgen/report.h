#pragma once
// What a run measured, and its two renderings: a human-readable table and one JSON object.

#include <cstdint>
#include <string>
#include <vector>

#include "histogram.h"
#include "options.h"

namespace mquictt::loadgen {

struct Report {
  Options opt;
  std::string error;  // non-empty: the run could not be carried out
  std::vector<std::string> notes;

  double measured_s = 0;         // length of the measurement window
  double loadgen_cpu_pct = -1;   // this process, over the window (100 = one core)
  double broker_cpu_pct = -1;    // --broker-pid, over the window
  uint64_t errors = 0;           // unexpected packets, connections lost during the run, ...
  uint64_t verify_failures = 0;  // --verify: frames the codec decoder rejected

  // fan-in / fan-out / pairs
  int publishers = 0;
  int subscribers = 0;
  uint32_t fanout = 0;  // deliveries per published message
  uint32_t window = 0;  // effective per-publisher window (min over publishers)
  uint64_t sent_total = 0;
  uint64_t sent_window = 0;  // stamped inside the measurement window
  uint64_t received_total = 0;
  uint64_t received_window = 0;  // arrived inside the measurement window
  uint64_t duplicates = 0;
  uint64_t reordered = 0;  // arrived after a later message of the same publisher
  uint64_t expected = 0;   // sent_total * fanout
  uint64_t lost = 0;       // expected - unique received, after the drain
  uint64_t acks_total = 0;
  uint64_t acks_window = 0;  // QoS 1 PUBACK / QoS 2 PUBCOMP completions inside the window
  uint64_t unacked_at_end = 0;
  uint64_t stalls = 0;  // e2e windows written off after 1 s without progress (QoS 0 loss)
  double drain_s = 0;
  Histogram latency_ns;

  // connect-rate
  uint64_t handshakes_total = 0;
  uint64_t handshakes_window = 0;
  uint64_t connect_failures = 0;
  uint64_t close_timeouts = 0;  // broker did not close within 1 s after DISCONNECT
  Histogram handshake_ns;

  // idle
  uint64_t connections_up = 0;
  double connect_all_s = 0;
  int64_t rss_before_kb = -1;
  int64_t rss_after_kb = -1;
};

void print_report(const Report& r);

}  // namespace mquictt::loadgen
