// mquicttd: command line (mosquitto-style flags), configuration, logging, Server run.
//
// Exit codes: 0 normal stop / --test-config OK, 1 runtime error (e.g. a listener cannot bind),
// 2 configuration or command-line error.

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "log/log.h"
#include "server/server.h"

#ifndef MQUICTT_VERSION
#define MQUICTT_VERSION "0.0.0"
#endif

namespace {

using namespace mquictt;

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitConfig = 2;
constexpr size_t kMaxPorts = 10;  // mosquitto's CMD_PORT_LIMIT

constexpr const char* kUsage =
    "Usage: mquicttd [-c FILE] [-p PORT]... [-v | -q] [--test-config]\n"
    "\n"
    "MQTT 3.1.1 / 5.0 broker.\n"
    "\n"
    "  -c, --config-file FILE  load the YAML configuration FILE (reference: docs/config.md).\n"
    "                          Without it: built-in defaults, listening on 127.0.0.1:1883 only.\n"
    "  -p, --port PORT         listen on 127.0.0.1:PORT (up to 10 times; 0 = any free port).\n"
    "                          Ignored if the configuration defines listeners.\n"
    "  -v, --verbose           debug logging.\n"
    "  -q, --quiet             no logging (overrides -v).\n"
    "      --test-config       validate the configuration and exit (0 valid, 2 invalid).\n"
    "      --version           print the version and exit.\n"
    "  -h, --help              this help.\n"
    "\n"
    "Signals: SIGINT/SIGTERM stop gracefully, SIGHUP reloads FILE and the QUIC certificates\n"
    "(listeners need a restart).\n"
    "Exit codes: 0 ok, 1 runtime error, 2 configuration or usage error.\n";

struct Args {
  std::optional<std::string> config_file;
  std::vector<uint16_t> ports;
  bool verbose = false;
  bool quiet = false;
  bool test_config = false;
  bool help = false;
  bool version = false;
};

// Returns an error message, or nullopt.
std::optional<std::string> parse_args(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    std::optional<std::string> inline_value;
    if (a.starts_with("--") && a.find('=') != std::string_view::npos) {
      inline_value = std::string(a.substr(a.find('=') + 1));
      a = a.substr(0, a.find('='));
    }
    auto value = [&]() -> std::optional<std::string> {
      if (inline_value) return inline_value;
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    auto takes_no_value = [&] { return !inline_value.has_value(); };

    if (a == "-c" || a == "--config-file") {
      auto v = value();
      if (!v) return std::string(a) + " needs a file name";
      if (args.config_file) return "only one configuration file can be given";
      args.config_file = *v;
    } else if (a == "-p" || a == "--port") {
      auto v = value();
      if (!v) return std::string(a) + " needs a port number";
      char* end = nullptr;
      long port = std::strtol(v->c_str(), &end, 10);
      if (v->empty() || *end != '\0' || port < 0 || port > 65535) {
        return "invalid port '" + *v + "' (expected 0 to 65535)";
      }
      if (args.ports.size() == kMaxPorts) return "at most 10 -p options are allowed";
      for (uint16_t p : args.ports) {
        if (p != 0 && p == port) return "port " + *v + " is given twice";
      }
      args.ports.push_back(static_cast<uint16_t>(port));
    } else if ((a == "-v" || a == "--verbose") && takes_no_value()) {
      args.verbose = true;
    } else if ((a == "-q" || a == "--quiet") && takes_no_value()) {
      args.quiet = true;
    } else if (a == "--test-config" && takes_no_value()) {
      args.test_config = true;
    } else if ((a == "-h" || a == "--help") && takes_no_value()) {
      args.help = true;
    } else if (a == "--version" && takes_no_value()) {
      args.version = true;
    } else if (a == "-d" || a == "--daemon") {
      return "-d/--daemon is not supported: run mquicttd in the foreground (systemd, docker)";
    } else {
      return "unknown option '" + std::string(argv[i]) + "'";
    }
  }
  return std::nullopt;
}

// Applies the command line on top of a loaded (or default) configuration: listeners from -p or
// the loopback default, and the log level from -v / -q. `warn` is false on reload, so -p is only
// complained about once.
void apply_command_line(const Args& args, config::Config& cfg, bool warn) {
  if (!args.ports.empty()) {
    if (!cfg.listeners.empty()) {
      if (warn) {
        log::main()->warn("-p ignored: the configuration file defines listeners");
      }
    } else {
      for (size_t i = 0; i < args.ports.size(); ++i) {
        auto l = config::default_listener(args.ports[i]);
        if (args.ports[i] == 0) l.name += "-" + std::to_string(i + 1);  // -p 0 -p 0
        cfg.listeners.push_back(std::move(l));
      }
    }
  }
  if (cfg.listeners.empty()) {
    // mosquitto 2 "local only mode": without a configured listener, loopback only.
    cfg.listeners.push_back(config::default_listener(1883));
  }
  if (args.verbose) cfg.log.level = config::LogLevel::kDebug;
  if (args.quiet) cfg.log.level = config::LogLevel::kOff;
}

// At startup errors go straight to stderr (logging is not set up yet, and -q must not hide
// them); on reload they go to the log like everything else the running daemon says.
void print_errors(const std::vector<config::ConfigError>& errors, bool startup) {
  for (const auto& e : errors) {
    if (startup) {
      std::fprintf(stderr, "mquicttd: %s\n", e.to_string().c_str());
    } else {
      log::main()->error("{}", e.to_string());
    }
  }
}

// Loads the file (if any) and applies the command line. Prints errors; nullopt if any.
std::optional<config::Config> load(const Args& args, bool startup) {
  config::Config cfg;
  if (args.config_file) {
    config::LoadResult r = config::load_file(*args.config_file);
    if (!r.ok()) {
      print_errors(r.errors, startup);
      if (startup) {
        std::fprintf(stderr, "mquicttd: %zu error(s) in %s\n", r.errors.size(),
                     args.config_file->c_str());
      }
      return std::nullopt;
    }
    cfg = std::move(r.config);
  }
  apply_command_line(args, cfg, /*warn=*/startup);
  // Listeners added from -p can collide (-p 0 twice is fine, the file was checked already).
  auto errors = config::validate(cfg);
  if (!errors.empty()) {
    for (auto& e : errors) {
      e.file = "command line";
    }
    print_errors(errors, startup);
    return std::nullopt;
  }
  return cfg;
}

int run(const Args& args) {
  auto cfg = load(args, /*startup=*/true);
  if (!cfg) return kExitConfig;
  if (args.test_config) {
    std::printf("mquicttd: configuration OK (%s)\n",
                args.config_file ? args.config_file->c_str() : "built-in defaults");
    return kExitOk;
  }
  server::apply_log_level(cfg->log.level);

  server::ServerOptions options;
  if (args.config_file) {
    options.reload = [&args]() -> std::optional<config::Config> {
      return load(args, /*startup=*/false);
    };
  }
  try {
    server::Server server(*cfg, std::move(options));
    log::main()->info("mquicttd {} starting ({})", MQUICTT_VERSION,
                      args.config_file ? "config " + *args.config_file : "built-in defaults");
    for (const auto& l : server.listeners()) {
      // Tests parse this line for the real port when port 0 was configured.
      log::main()->info("mquicttd {} listening on {} {} (listener {})", MQUICTT_VERSION,
                        l.transport, l.address, l.name);
    }
    server.run();
    log::main()->info("mquicttd stopped");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mquicttd: %s\n", e.what());
    return kExitRuntime;
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (auto err = parse_args(argc, argv, args)) {
    std::fprintf(stderr, "mquicttd: %s\nTry 'mquicttd --help'.\n", err->c_str());
    return kExitConfig;
  }
  if (args.help) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (args.version) {
    std::printf("mquicttd %s\n", MQUICTT_VERSION);
    return kExitOk;
  }
  try {
    return run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mquicttd: fatal: %s\n", e.what());
    return kExitRuntime;
  }
}
