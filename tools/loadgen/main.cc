// mquictt-loadgen: MQTT load generator for comparing brokers on loopback (docs/benchmarks.md).

#include <csignal>
#include <cstdio>
#include <exception>

#include "connect_rate.h"
#include "net.h"
#include "options.h"
#include "pubsub.h"

namespace {

std::atomic<bool> g_interrupted{false};

void on_signal(int) {
  g_interrupted.store(true);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mquictt::loadgen;
  std::string error;
  auto opt = parse_options(argc, argv, error);
  if (!opt) {
    if (error.empty()) {
      std::fputs(usage_text(), stdout);
      return 0;
    }
    std::fprintf(stderr, "mquictt-loadgen: %s\n\n%s", error.c_str(), usage_text());
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  raise_fd_limit();

  Report report;
  try {
    switch (opt->scenario) {
      case Scenario::kFanIn:
      case Scenario::kFanOut:
      case Scenario::kPairs:
        report = run_pubsub(*opt);
        break;
      case Scenario::kConnectRate:
        report = run_connect_rate(*opt);
        break;
      case Scenario::kIdle:
        report = run_idle(*opt, g_interrupted);
        break;
    }
  } catch (const std::exception& e) {
    report.opt = *opt;
    report.error = e.what();
  }
  print_report(report);
  return report.error.empty() ? 0 : 1;
}
