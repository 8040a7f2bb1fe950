#pragma once
// Starts the real mquicttd binary on 127.0.0.1 with a generated YAML config and a kernel-chosen
// port, for black-box tests. The daemon's stderr is captured (and printed when a test fails, via
// logs()). The bound ports are read from the daemon's "listening on tcp 127.0.0.1:<port>" and
// "listening on quic 127.0.0.1:<port>" lines.
//
// Ownership: DaemonProcess owns the child process and its temp directory; the destructor stops the
// child (SIGTERM, then SIGKILL after a timeout) and removes the directory.

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace mquictt::test {

class DaemonProcess {
 public:
  DaemonProcess() = default;
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // `yaml_extra` is appended to a config with one TCP listener on 127.0.0.1:0. Returns false (and
  // logs() says why) if the daemon did not report a listening port within `timeout`.
  bool start(const std::string& yaml_extra = "",
             std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Same, plus a QUIC listener on 127.0.0.1:0 with the test certificates (tests/data/certs).
  // `quic_extra` goes into that listener's mapping (e.g. "    quic:\n      retry: always\n").
  bool start_with_quic(const std::string& yaml_extra = "", const std::string& quic_extra = "",
                       std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Starts with exactly this config text (no listener added). Waits for the TCP port and, if the
  // text has a `transport: quic` listener, the QUIC port.
  bool start_with_config(const std::string& yaml, std::chrono::milliseconds timeout);

  // Sends `signal` and waits for exit; returns the exit status (as from waitpid) or -1.
  int stop(int signal = 15, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool running();

  // Runs the daemon through this command, e.g. {"ip", "netns", "exec", "ns1"} (which execs, so
  // pid() stays the daemon's). Set before start().
  void set_command_prefix(std::vector<std::string> prefix) { prefix_ = std::move(prefix); }
  // The address in the "listening on ..." lines to read the ports from (default 127.0.0.1; the
  // config given to start_with_config() must bind there).
  void set_listen_host(std::string host) { listen_host_ = std::move(host); }

  // Extra environment variables for the daemon process (set before start()).
  void set_env(std::string name, std::string value) {
    env_.emplace_back(std::move(name), std::move(value));
  }

  uint16_t port() const { return port_; }
  // The QUIC listener's UDP port, 0 if there is none.
  uint16_t quic_port() const { return quic_port_; }
  pid_t pid() const { return pid_; }
  // Resident set size of the daemon in KiB (VmRSS), or -1.
  long rss_kib() const;
  std::string logs() const;
  // Waits until the daemon's log contains `needle` (true) or the timeout passes (false).
  bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout);
  const std::string& dir() const { return dir_; }

 private:
  void reader_loop(int fd);

  std::vector<std::pair<std::string, std::string>> env_;
  std::vector<std::string> prefix_;
  std::string listen_host_ = "127.0.0.1";
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  uint16_t quic_port_ = 0;
  std::string dir_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::string log_;
};

// Path of the mquicttd binary under test.
const char* daemon_path();
// Path of a file of the test PKI, e.g. test_cert("ca.pem").
std::string test_cert(const std::string& name);
// YAML: a tcp listener (kernel port) and a quic listener on 127.0.0.1 with this certificate and
// key (UDP port 0 = kernel-chosen); the caller may append keys of the quic listener (indented by
// 4) and further top-level keys.
std::string tcp_and_quic_listeners(const std::string& cert_file, const std::string& key_file,
                                   uint16_t quic_port = 0);

}  // namespace mquictt::test
