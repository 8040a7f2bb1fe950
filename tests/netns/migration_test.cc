// QUIC connection migration for real, across two network namespaces joined by a veth pair: the
// daemon in one (10.77.0.1), the MQTT clients in the other, which has two addresses (10.77.0.2
// and 10.77.0.3). A subscriber connects from .2, then moves to .3 and a new port, either telling
// ngtcp2 (migration with path validation) or not (NAT rebinding: only the server notices). Its
// MQTT session must survive without a reconnect: a PUBLISH from a second client still arrives and
// the moved client can still publish; the daemon's log shows the validated new path.
//
// Needs root (ip netns, veth). Not root: skipped with a message. Root but the namespaces cannot
// be made: the test fails. Namespaces are named after the test's pid and deleted by RAII, also
// when the test fails; ones left by a killed earlier run (dead pid) are deleted first.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "integration/daemon_process.h"
#include "integration/golden_frames.h"
#include "integration/raw_client.h"

namespace mquictt::test {
namespace {

constexpr const char* kPrefix = "mqmig-";
constexpr const char* kServerAddr = "10.77.0.1";
constexpr const char* kClientAddrA = "10.77.0.2";
constexpr const char* kClientAddrB = "10.77.0.3";

// Runs a command (no shell), its output to our stderr. True on exit status 0.
bool run(const std::vector<std::string>& args) {
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return false;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  std::string cmd;
  for (const auto& a : args)
    cmd += a + " ";
  std::cerr << "command failed: " << cmd << "\n";
  return false;
}

// Deletes namespaces of ours whose test process is gone (a run that was killed).
void delete_stale_namespaces() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/var/run/netns", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    const std::string rest = name.substr(std::char_traits<char>::length(kPrefix) + 2);  // "s-"
    const pid_t pid = static_cast<pid_t>(std::atol(rest.c_str()));
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) (void)run({"ip", "netns", "del", name});
  }
}

// Two namespaces, server and client, joined by a veth pair; deleted in the destructor (which
// also deletes the veth pair: it lives only inside them).
class NetnsPair {
 public:
  NetnsPair() {
    const std::string pid = std::to_string(getpid());
    server_ = std::string(kPrefix) + "s-" + pid;
    client_ = std::string(kPrefix) + "c-" + pid;
  }
  ~NetnsPair() {
    if (made_server_) (void)run({"ip", "netns", "del", server_});
    if (made_client_) (void)run({"ip", "netns", "del", client_});
  }
  NetnsPair(const NetnsPair&) = delete;
  NetnsPair& operator=(const NetnsPair&) = delete;

  bool create() {
    delete_stale_namespaces();
    const std::string pid = std::to_string(getpid());
    const std::string vs = "mqs" + pid;  // interface names: at most 15 characters
    const std::string vc = "mqc" + pid;
    made_server_ = run({"ip", "netns", "add", server_});
    made_client_ = made_server_ && run({"ip", "netns", "add", client_});
    return made_client_ &&
           // Created inside the server namespace, peer moved straight into the client one: the
           // host's interfaces are never touched.
           run({"ip", "-n", server_, "link", "add", vs, "type", "veth", "peer", "name", vc, "netns",
                client_}) &&
           run({"ip", "-n", server_, "addr", "add", std::string(kServerAddr) + "/24", "dev", vs}) &&
           run({"ip", "-n", client_, "addr", "add", std::string(kClientAddrA) + "/24", "dev",
                vc}) &&
           run({"ip", "-n", client_, "addr", "add", std::string(kClientAddrB) + "/24", "dev",
                vc}) &&
           run({"ip", "-n", server_, "link", "set", "lo", "up"}) &&
           run({"ip", "-n", client_, "link", "set", "lo", "up"}) &&
           run({"ip", "-n", server_, "link", "set", vs, "up"}) &&
           run({"ip", "-n", client_, "link", "set", vc, "up"});
  }
  const std::string& server() const { return server_; }
  const std::string& client() const { return client_; }

 private:
  std::string server_;
  std::string client_;
  bool made_server_ = false;
  bool made_client_ = false;
};

// Moves the calling thread into a network namespace until destroyed (sockets keep the namespace
// they were created in, so every client socket made meanwhile lives in it).
class EnterNetns {
 public:
  explicit EnterNetns(const std::string& name) {
    original_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int fd = open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    entered_ = original_ >= 0 && fd >= 0 && setns(fd, CLONE_NEWNET) == 0;
    if (fd >= 0) close(fd);
  }
  ~EnterNetns() {
    if (entered_ && setns(original_, CLONE_NEWNET) != 0) std::abort();  // never run on elsewhere
    if (original_ >= 0) close(original_);
  }
  EnterNetns(const EnterNetns&) = delete;
  EnterNetns& operator=(const EnterNetns&) = delete;
  bool entered() const { return entered_; }

 private:
  int original_ = -1;
  bool entered_ = false;
};

// SUBSCRIBE id 1 to "m/t" and "m/b" at QoS 0, and their SUBACKs.
constexpr const char* kSubscribeMT = "82 08 00 01 00 03 6d 2f 74 00";
constexpr const char* kSubscribeMB = "82 08 00 01 00 03 6d 2f 62 00";
constexpr const char* kSubAck = "90 03 00 01 00";
// PUBLISH QoS 0 "m/t" = "hi" (to the moved client), and QoS 1 id 2 "m/b" = "ok" from it.
constexpr const char* kPublishMT = "30 07 00 03 6d 2f 74 68 69";
constexpr const char* kPublishMBQos1 = "32 09 00 03 6d 2f 62 00 02 6f 6b";
constexpr const char* kPubAck2 = "40 02 00 02";
constexpr const char* kPublishMBQos0 = "30 07 00 03 6d 2f 62 6f 6b";

class NetnsMigration : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "network namespaces need root; migration test skipped";
    ASSERT_TRUE(netns_.create()) << "running as root but could not set up network namespaces";
    daemon_.set_command_prefix({"ip", "netns", "exec", netns_.server()});
    daemon_.set_listen_host(kServerAddr);
    const std::string cfg = std::string("listeners:\n") +
                            "  - name: quic\n"
                            "    transport: quic\n"
                            "    bind: \"" +
                            kServerAddr +
                            ":0\"\n"
                            "    tls:\n"
                            "      cert_file: \"" +
                            test_cert("server.pem") +
                            "\"\n"
                            "      key_file: \"" +
                            test_cert("server.key") + "\"\n";
    ASSERT_TRUE(daemon_.start_with_config(cfg, std::chrono::seconds(20)))
        << "daemon did not start in " << netns_.server() << ":\n"
        << daemon_.logs();
    in_client_ns_ = std::make_unique<EnterNetns>(netns_.client());
    ASSERT_TRUE(in_client_ns_->entered()) << "cannot enter " << netns_.client();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "---- mquicttd log ----\n" << daemon_.logs() << "----\n";
  }

  // An MQTT client over QUIC from `local` (in the client namespace), CONNECTed and subscribed.
  std::unique_ptr<RawClient> client(const char* local, const char* connect, const char* subscribe) {
    auto c = std::make_unique<RawClient>();
    EXPECT_TRUE(c->connect_quic(daemon_.quic_port(), [&](quic::QuicClientOptions& o) {
      o.host = kServerAddr;
      o.local_host = local;
    })) << (c->quic() ? c->quic()->error() : std::string());
    if (!c->quic() || !c->quic()->connected()) return c;
    c->send_hex(connect);
    EXPECT_TRUE(c->expect_hex(kConnAckOk));
    c->send_hex(subscribe);
    EXPECT_TRUE(c->expect_hex(kSubAck));
    return c;
  }

  // Both directions still work after `moved` changed its address, on the same connection.
  void expect_session_kept(RawClient& moved, RawClient& other) {
    // A PUBLISH from the other client reaches the moved one (its subscription is still there:
    // a new connection with a clean session would have none).
    other.send_hex(kPublishMT);
    EXPECT_TRUE(moved.expect_hex(kPublishMT));
    // And the moved client can publish (QoS 1: acknowledged on the moved path).
    moved.send_hex(kPublishMBQos1);
    EXPECT_TRUE(moved.expect_hex(kPubAck2));
    EXPECT_TRUE(other.expect_hex(kPublishMBQos0));
    EXPECT_FALSE(moved.quic()->closed()) << moved.quic()->error();
    // One MQTT session all along: the daemon saw a single CONNECT from the moved client.
    const std::string logs = daemon_.logs();
    size_t connects = 0;
    for (size_t at = logs.find("] connected client_id=m1 "); at != std::string::npos;
         at = logs.find("] connected client_id=m1 ", at + 1)) {
      ++connects;
    }
    EXPECT_EQ(connects, 1u);
  }

  NetnsPair netns_;
  DaemonProcess daemon_;
  std::unique_ptr<EnterNetns> in_client_ns_;
};

TEST_F(NetnsMigration, ClientMovesToANewAddressWithPathValidation) {
  auto sub = client(kClientAddrA, kConnectM1, kSubscribeMT);
  auto pub = client(kClientAddrA, kConnectP1, kSubscribeMB);
  ASSERT_FALSE(HasFailure());
  quic::QuicClient& q = *sub->quic();
  ASSERT_EQ(q.local_address().host(), kClientAddrA);
  const uint16_t old_port = q.local_address().port();

  // The handshake must be confirmed and the server must have given a spare CID first.
  ASSERT_TRUE(q.wait_until([&] { return q.migrate_to(kClientAddrB, 0, true); }, 5s)) << q.error();
  ASSERT_TRUE(q.wait_until([&] { return !q.migration_pending(); }, 5s));
  ASSERT_EQ(q.local_address().host(), kClientAddrB) << "the new path did not validate";
  EXPECT_NE(q.local_address().port(), old_port);
  EXPECT_GE(q.path_validations_succeeded(), 1);
  EXPECT_EQ(q.path_validations_failed(), 0);

  expect_session_kept(*sub, *pub);
  // The server validated the client's new path (and logged where the client is now).
  EXPECT_TRUE(
      daemon_.wait_for_log("path validated: client now at " + q.local_address().to_string(), 5s));
}

TEST_F(NetnsMigration, NatRebindingIsNoticedAndValidatedByTheServer) {
  auto sub = client(kClientAddrA, kConnectM1, kSubscribeMT);
  auto pub = client(kClientAddrA, kConnectP1, kSubscribeMB);
  ASSERT_FALSE(HasFailure());
  quic::QuicClient& q = *sub->quic();
  // The client's ngtcp2 is not told: only the server sees packets from a new address and port.
  ASSERT_TRUE(q.rebind(kClientAddrB)) << q.error();
  ASSERT_EQ(q.local_address().host(), kClientAddrB);
  EXPECT_EQ(q.path_validations_succeeded(), 0);
  // Until the client speaks, the server can only send to the old mapping (lost, as behind a real
  // NAT); a PINGREQ (a keepalive) is how it learns the new address.
  sub->send_hex(kPingReq);
  EXPECT_TRUE(sub->expect_hex(kPingResp));
  EXPECT_TRUE(
      daemon_.wait_for_log("path validated: client now at " + q.local_address().to_string(), 5s));
  expect_session_kept(*sub, *pub);
}

}  // namespace
}  // namespace mquictt::test
