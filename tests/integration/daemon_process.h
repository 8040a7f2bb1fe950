#pragma once
// Starts the real mquicttd binary on 127.0.0.1 with a generated YAML config and a kernel-chosen
// port, for black-box tests. The daemon's stderr is captured (and printed when a test fails, via
// logs()). The bound port is read from the daemon's "listening on tcp 127.0.0.1:<port>" line.
//
// Ownership: DaemonProcess owns the child process and its temp directory; the destructor stops the
// child (SIGTERM, then SIGKILL after a timeout) and removes the directory.

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>

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
  // Starts with exactly this config text (no listener added).
  bool start_with_config(const std::string& yaml, std::chrono::milliseconds timeout);

  // Sends `signal` and waits for exit; returns the exit status (as from waitpid) or -1.
  int stop(int signal = 15, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool running();

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Resident set size of the daemon in KiB (VmRSS), or -1.
  long rss_kib() const;
  std::string logs() const;
  // Waits until the daemon's log contains `needle` (true) or the timeout passes (false).
  bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout);
  const std::string& dir() const { return dir_; }

 private:
  void reader_loop(int fd);

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string dir_;
  std::thread reader_;
  mutable std::mutex mu_;
  std::string log_;
};

// Path of the mquicttd binary under test.
const char* daemon_path();

}  // namespace mquictt::test
