#include "integration/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace mquictt::test {

const char* daemon_path() {
  if (const char* p = std::getenv("MQUICTTD")) return p;
#ifdef MQUICTT_DAEMON_PATH
  return MQUICTT_DAEMON_PATH;
#else
  return "mquicttd";
#endif
}

std::string test_cert(const std::string& name) {
#ifdef MQUICTT_TEST_DATA_DIR
  return std::string(MQUICTT_TEST_DATA_DIR) + "/certs/" + name;
#else
  return "tests/data/certs/" + name;
#endif
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) stop(SIGKILL, std::chrono::seconds(5));
  if (reader_.joinable()) reader_.join();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

namespace {
// The port number that follows the first occurrence of `prefix` in `log`, or 0. (std::regex is
// avoided: g++ 12 reports a false maybe-uninitialized inside <regex> under ASan at -O2.)
uint16_t port_after(const std::string& log, const std::string& prefix) {
  size_t at = log.find(prefix);
  if (at == std::string::npos) return 0;
  size_t begin = at + prefix.size();
  size_t end = begin;
  while (end < log.size() && end - begin < 5 &&
         std::isdigit(static_cast<unsigned char>(log[end]))) {
    ++end;
  }
  if (end == begin || end == log.size()) return 0;  // digits may still be arriving
  return static_cast<uint16_t>(std::stoi(log.substr(begin, end - begin)));
}
}  // namespace

bool DaemonProcess::start(const std::string& yaml_extra, std::chrono::milliseconds timeout) {
  std::string cfg =
      "listeners:\n"
      "  - name: tcp\n"
      "    transport: tcp\n"
      "    bind: \"127.0.0.1:0\"\n" +
      yaml_extra;
  return start_with_config(cfg, timeout);
}

std::string tcp_and_quic_listeners(const std::string& cert_file, const std::string& key_file,
                                   uint16_t quic_port) {
  return "listeners:\n"
         "  - name: tcp\n"
         "    transport: tcp\n"
         "    bind: \"127.0.0.1:0\"\n"
         "  - name: quic\n"
         "    transport: quic\n"
         "    bind: \"127.0.0.1:" +
         std::to_string(quic_port) +
         "\"\n"
         "    tls:\n"
         "      cert_file: \"" +
         cert_file + "\"\n      key_file: \"" + key_file + "\"\n";
}

bool DaemonProcess::start_with_quic(const std::string& yaml_extra, const std::string& quic_extra,
                                    std::chrono::milliseconds timeout) {
  return start_with_config(
      tcp_and_quic_listeners(test_cert("server.pem"), test_cert("server.key")) + quic_extra +
          yaml_extra,
      timeout);
}

bool DaemonProcess::start_with_config(const std::string& yaml, std::chrono::milliseconds timeout) {
  char tmpl[] = "/tmp/mquictt-test-XXXXXX";
  if (!mkdtemp(tmpl)) return false;
  dir_ = tmpl;
  std::string cfg_path = dir_ + "/mquictt.yaml";
  {
    std::ofstream f(cfg_path);
    f << yaml;
  }
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return false;
  pid_ = fork();
  if (pid_ < 0) return false;
  if (pid_ == 0) {
    // A test binary killed by ctest's timeout must not leave a daemon behind (also through an
    // `ip netns exec` prefix: the setting survives exec).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(pipefd[1], STDERR_FILENO);
    dup2(pipefd[1], STDOUT_FILENO);
    for (const auto& [name, value] : env_)
      setenv(name.c_str(), value.c_str(), 1);
    std::vector<std::string> args = prefix_;
    for (const char* a : {daemon_path(), "-c", cfg_path.c_str(), "-v"})
      args.emplace_back(a);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(pipefd[1]);
  reader_ = std::thread([this, fd = pipefd[0]] { reader_loop(fd); });

  const bool want_quic = yaml.find("transport: quic") != std::string::npos;
  // A QUIC-only config has no TCP port to wait for.
  const bool want_tcp = !want_quic || yaml.find("transport: tcp") != std::string::npos;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mu_);
      if (port_ == 0) port_ = port_after(log_, "listening on tcp " + listen_host_ + ":");
      if (want_quic && quic_port_ == 0) {
        quic_port_ = port_after(log_, "listening on quic " + listen_host_ + ":");
      }
      if ((port_ != 0 || !want_tcp) && (quic_port_ != 0 || !want_quic)) return true;
    }
    if (!running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

void DaemonProcess::reader_loop(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    std::lock_guard lock(mu_);
    log_.append(buf, static_cast<size_t>(n));
  }
  close(fd);
}

bool DaemonProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int DaemonProcess::stop(int signal, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
  return status;
}

long DaemonProcess::rss_kib() const {
  std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::string DaemonProcess::logs() const {
  std::lock_guard lock(mu_);
  return log_;
}

bool DaemonProcess::wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (logs().find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace mquictt::test
