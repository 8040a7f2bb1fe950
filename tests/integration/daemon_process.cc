#include "integration/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

namespace mquictt::test {

const char* daemon_path() {
  if (const char* p = std::getenv("MQUICTTD")) return p;
#ifdef MQUICTT_DAEMON_PATH
  return MQUICTT_DAEMON_PATH;
#else
  return "mquicttd";
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

bool DaemonProcess::start(const std::string& yaml_extra, std::chrono::milliseconds timeout) {
  std::string cfg =
      "listeners:\n"
      "  - name: tcp\n"
      "    transport: tcp\n"
      "    bind: \"127.0.0.1:0\"\n" +
      yaml_extra;
  return start_with_config(cfg, timeout);
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
    dup2(pipefd[1], STDERR_FILENO);
    dup2(pipefd[1], STDOUT_FILENO);
    const char* bin = daemon_path();
    execl(bin, bin, "-c", cfg_path.c_str(), "-v", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(pipefd[1]);
  reader_ = std::thread([this, fd = pipefd[0]] { reader_loop(fd); });

  static const std::regex kListening(R"(listening on tcp 127\.0\.0\.1:(\d+))");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mu_);
      std::smatch m;
      if (std::regex_search(log_, m, kListening)) {
        port_ = static_cast<uint16_t>(std::stoi(m[1].str()));
        return true;
      }
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
