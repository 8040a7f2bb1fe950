#include "report.h"

#include <cstdio>
#include <string>

namespace mquictt::loadgen {

namespace {

const char* version_name(const Options& o) {
  return o.version == codec::ProtocolVersion::kV5 ? "5" : "3.1.1";
}

double per_s(uint64_t n, double s) {
  return s > 0 ? static_cast<double>(n) / s : 0;
}
double us(uint64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

bool is_pubsub(Scenario s) {
  return s == Scenario::kFanIn || s == Scenario::kFanOut || s == Scenario::kPairs;
}

std::string pace_name(const Options& o) {
  if (o.rate > 0) return "open-loop";
  return o.pace == Pace::kE2e ? "closed-loop e2e" : "closed-loop socket";
}

void print_json(const Report& r) {
  const Options& o = r.opt;
  std::printf("{\"scenario\":\"%s\",\"ok\":%s", scenario_name(o.scenario),
              r.error.empty() ? "true" : "false");
  if (!r.error.empty()) std::printf(",\"error\":\"%s\"", json_escape(r.error).c_str());
  std::printf(",\"transport\":\"%s\"", transport_name(o.link.transport));
  std::printf(",\"mqtt_version\":\"%s\",\"threads\":%d,\"duration_s\":%.3f,\"warmup_s\":%.3f",
              version_name(o), o.threads, o.duration_s, o.warmup_s);
  if (is_pubsub(o.scenario)) {
    std::printf(
        ",\"publishers\":%d,\"subscribers\":%d,\"fanout\":%u,\"qos\":%u,\"size\":%u"
        ",\"pace\":\"%s\",\"rate_target\":%.0f,\"window\":%u",
        r.publishers, r.subscribers, r.fanout, o.qos, o.size, pace_name(o).c_str(), o.rate,
        r.window);
    std::printf(
        ",\"sent\":%llu,\"sent_per_s\":%.1f,\"received\":%llu,\"received_per_s\":%.1f"
        ",\"expected\":%llu,\"lost\":%llu,\"loss_pct\":%.4f,\"duplicates\":%llu"
        ",\"reordered\":%llu",
        static_cast<unsigned long long>(r.sent_total), per_s(r.sent_window, r.measured_s),
        static_cast<unsigned long long>(r.received_total), per_s(r.received_window, r.measured_s),
        static_cast<unsigned long long>(r.expected), static_cast<unsigned long long>(r.lost),
        r.expected ? 100.0 * static_cast<double>(r.lost) / static_cast<double>(r.expected) : 0.0,
        static_cast<unsigned long long>(r.duplicates),
        static_cast<unsigned long long>(r.reordered));
    std::printf(
        ",\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f"
        ",\"mean\":%.1f,\"samples\":%llu}",
        us(r.latency_ns.percentile(50)), us(r.latency_ns.percentile(90)),
        us(r.latency_ns.percentile(99)), us(r.latency_ns.percentile(99.9)), us(r.latency_ns.max()),
        r.latency_ns.mean() / 1000.0, static_cast<unsigned long long>(r.latency_ns.count()));
    std::printf(",\"acks_per_s\":%.1f,\"unacked_at_end\":%llu,\"stalls\":%llu,\"drain_s\":%.3f",
                per_s(r.acks_window, r.measured_s),
                static_cast<unsigned long long>(r.unacked_at_end),
                static_cast<unsigned long long>(r.stalls), r.drain_s);
  } else if (o.scenario == Scenario::kConnectRate) {
    std::printf(
        ",\"concurrency\":%d,\"connections\":%llu,\"connections_per_s\":%.1f"
        ",\"handshake_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},\"failures\":%llu"
        ",\"close_timeouts\":%llu",
        o.concurrency, static_cast<unsigned long long>(r.handshakes_total),
        per_s(r.handshakes_window, r.measured_s), us(r.handshake_ns.percentile(50)),
        us(r.handshake_ns.percentile(99)), us(r.handshake_ns.max()),
        static_cast<unsigned long long>(r.connect_failures),
        static_cast<unsigned long long>(r.close_timeouts));
  } else {
    std::printf(",\"connections\":%d,\"connections_up\":%llu,\"connect_all_s\":%.3f", o.connections,
                static_cast<unsigned long long>(r.connections_up), r.connect_all_s);
    if (r.rss_before_kb >= 0 && r.rss_after_kb >= 0) {
      double per_conn = r.connections_up ? static_cast<double>(r.rss_after_kb - r.rss_before_kb) *
                                               1024.0 / static_cast<double>(r.connections_up)
                                         : 0.0;
      std::printf(",\"rss_before_kb\":%lld,\"rss_after_kb\":%lld,\"rss_per_conn_bytes\":%.1f",
                  static_cast<long long>(r.rss_before_kb), static_cast<long long>(r.rss_after_kb),
                  per_conn);
    }
  }
  if (r.loadgen_cpu_pct >= 0) std::printf(",\"loadgen_cpu_pct\":%.1f", r.loadgen_cpu_pct);
  if (r.broker_cpu_pct >= 0) std::printf(",\"broker_cpu_pct\":%.1f", r.broker_cpu_pct);
  std::printf(",\"errors\":%llu", static_cast<unsigned long long>(r.errors));
  if (o.verify) {
    std::printf(",\"verify_failures\":%llu", static_cast<unsigned long long>(r.verify_failures));
  }
  std::printf(",\"notes\":[");
  for (size_t i = 0; i < r.notes.size(); ++i) {
    std::printf("%s\"%s\"", i ? "," : "", json_escape(r.notes[i]).c_str());
  }
  std::printf("]}\n");
}

void row(const char* name, const std::string& value) {
  std::printf("  %-18s %s\n", name, value.c_str());
}

// Fixed-precision number formatting (the format strings stay literal for -Wformat).
std::string f0(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}
std::string f1(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}
std::string f2(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}
std::string f4(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}
double d(uint64_t v) {
  return static_cast<double>(v);
}

void print_table(const Report& r) {
  const Options& o = r.opt;
  if (!r.error.empty()) {
    std::printf("%s: FAILED: %s\n", scenario_name(o.scenario), r.error.c_str());
    return;
  }
  char head[256];
  if (is_pubsub(o.scenario)) {
    std::snprintf(head, sizeof head, "%s: %d pub -> %d sub, QoS %u, %u B, MQTT %s over %s, %s",
                  scenario_name(o.scenario), r.publishers, r.subscribers, o.qos, o.size,
                  version_name(o), transport_name(o.link.transport), pace_name(o).c_str());
  } else {
    std::snprintf(head, sizeof head, "%s: MQTT %s over %s", scenario_name(o.scenario),
                  version_name(o), transport_name(o.link.transport));
  }
  std::printf("%s\n", head);
  if (o.scenario == Scenario::kIdle) {
    row("held", f2(r.measured_s) + " s");
  } else {
    row("measured", f2(r.measured_s) + " s (warmup " + f2(o.warmup_s) + " s)");
  }
  if (is_pubsub(o.scenario)) {
    if (o.rate > 0) row("target", f0(o.rate) + " msgs/s");
    row("window", f0(r.window) + " messages per publisher");
    row("sent", f0(per_s(r.sent_window, r.measured_s)) + " msgs/s");
    row("received", f0(per_s(r.received_window, r.measured_s)) + " msgs/s");
    row("latency p50/p99",
        f1(us(r.latency_ns.percentile(50))) + " / " + f1(us(r.latency_ns.percentile(99))) + " us");
    row("latency p99.9/max",
        f1(us(r.latency_ns.percentile(99.9))) + " / " + f1(us(r.latency_ns.max())) + " us");
    double loss_pct = r.expected ? 100.0 * d(r.lost) / d(r.expected) : 0.0;
    row("loss",
        f0(d(r.lost)) + " of " + f0(d(r.expected)) + " deliveries (" + f4(loss_pct) + " %)");
    if (r.duplicates) row("duplicates", f0(d(r.duplicates)));
    if (r.reordered) row("out of order", f0(d(r.reordered)));
    if (o.qos > 0) {
      row(o.qos == 1 ? "PUBACKs" : "PUBCOMPs", f0(per_s(r.acks_window, r.measured_s)) + " /s");
    }
    row("drain", f2(r.drain_s) + " s");
  } else if (o.scenario == Scenario::kConnectRate) {
    row("concurrency", f0(o.concurrency));
    row("connections", f0(per_s(r.handshakes_window, r.measured_s)) + " /s");
    row("handshake p50/p99", f1(us(r.handshake_ns.percentile(50))) + " / " +
                                 f1(us(r.handshake_ns.percentile(99))) + " us");
    row("failures", f0(d(r.connect_failures)));
  } else {
    row("connections", f0(d(r.connections_up)));
    row("connect all", f2(r.connect_all_s) + " s");
    if (r.rss_before_kb >= 0 && r.rss_after_kb >= 0) {
      row("broker RSS", f0(d(static_cast<uint64_t>(r.rss_before_kb))) + " KiB -> " +
                            f0(d(static_cast<uint64_t>(r.rss_after_kb))) + " KiB");
      row("RSS per conn",
          f0(static_cast<double>(r.rss_after_kb - r.rss_before_kb) * 1024.0 / d(r.connections_up)) +
              " bytes");
    }
  }
  if (r.loadgen_cpu_pct >= 0) row("loadgen CPU", f0(r.loadgen_cpu_pct) + " %");
  if (r.broker_cpu_pct >= 0) row("broker CPU", f0(r.broker_cpu_pct) + " %");
  if (r.errors) row("errors", f0(d(r.errors)));
  if (o.verify) row("verify failures", f0(d(r.verify_failures)));
  for (const auto& n : r.notes)
    row("note", n);
}

}  // namespace

void print_report(const Report& r) {
  if (r.opt.json) {
    print_json(r);
  } else {
    print_table(r);
  }
  std::fflush(stdout);
}

}  // namespace mquictt::loadgen
