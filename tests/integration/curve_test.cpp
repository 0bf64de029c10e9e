// Only trusted peers (CurveZMQ): with keys from `helix keys`, a worker whose key
// the coordinator does not list cannot join, a process without a listed key cannot
// inject work into a worker (refused, logged), the traffic between coordinator and
// workers is encrypted (a capture of the loopback interface does not contain a
// prompt's token ids, while without keys it does), and a non-loopback control
// socket without keys is refused unless --insecure.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <thread>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "helix/runtime/transport.h"
#include "helix/runtime/wire.h"
#include "helix/security/curve_auth.h"
#include "helix/security/curve_keys.h"
#include "support/local_cluster.h"
#include "support/test_support.h"

namespace helix {
namespace {

using nlohmann::json;
using test::LocalCluster;
using test::TempDir;

std::filesystem::path stories_model() { return test::source_dir() / "data" / "models" / "stories260K"; }

const std::string kClusterYaml = test::loopback_cluster_yaml("pair", {"a", "b", "x"});

std::string placement() { return test::placement_json("pair", 5, {{"a", "cpu", 0, 3}, {"b", "cpu", 3, 5}, {"x", "cpu", 0, 0}}); }

// Every TCP payload byte seen on the loopback interface (both directions),
// except traffic of `skip_port` (the HTTP API, which is not ZeroMQ's).
class LoopbackCapture {
 public:
  explicit LoopbackCapture(int skip_port) : skip_port_(skip_port) {
    fd_ = ::socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (fd_ < 0) return;
    sockaddr_ll where{};
    where.sll_family = AF_PACKET;
    where.sll_protocol = htons(ETH_P_ALL);
    where.sll_ifindex = static_cast<int>(if_nametoindex("lo"));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&where), sizeof where) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    timeval tv{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    thread_ = std::thread([this] { run(); });
  }
  ~LoopbackCapture() { stop(); }
  bool ok() const { return fd_ >= 0; }
  std::string stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return bytes_;
  }

 private:
  void run() {
    std::vector<unsigned char> frame(70000);
    while (running_) {
      const ssize_t n = ::recv(fd_, frame.data(), frame.size(), 0);
      if (n <= 0) continue;
      // Ethernet (14 bytes on lo) + IPv4 + TCP, else skip.
      if (n < 14 + 20 || frame[12] != 0x08 || frame[13] != 0x00) continue;
      const unsigned char* ip = frame.data() + 14;
      const std::size_t ip_len = static_cast<std::size_t>(ip[0] & 0x0F) * 4;
      if (ip[9] != IPPROTO_TCP || static_cast<std::size_t>(n) < 14 + ip_len + 20) continue;
      const unsigned char* tcp = ip + ip_len;
      const int from = tcp[0] << 8 | tcp[1], to = tcp[2] << 8 | tcp[3];
      if (from == skip_port_ || to == skip_port_) continue;
      const std::size_t tcp_len = static_cast<std::size_t>(tcp[12] >> 4) * 4;
      const std::size_t header = 14 + ip_len + tcp_len;
      if (static_cast<std::size_t>(n) > header) bytes_.append(reinterpret_cast<const char*>(frame.data() + header), static_cast<std::size_t>(n) - header);
    }
  }
  int skip_port_;
  int fd_ = -1;
  std::atomic<bool> running_{true};
  std::string bytes_;
  std::thread thread_;
};

// A prompt of token ids nobody would write, and their bytes on the wire (int32 little-endian).
const std::vector<int> kSecretPrompt = {1, 401, 402, 403, 404, 405, 406, 407, 408};
std::string secret_bytes() {
  std::string out;
  for (std::size_t i = 1; i < kSecretPrompt.size(); ++i) {
    const auto v = static_cast<std::uint32_t>(kSecretPrompt[i]);
    for (int b = 0; b < 4; ++b) out += static_cast<char>((v >> (8 * b)) & 0xFF);
  }
  return out;
}

class CurveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keys = [&](const std::string& dir, const std::string& names) {
      auto r = test::run_command(fmt::format("{} keys {} --dir {}", HELIX_BINARY, names, (dir_.path() / dir).string()));
      ASSERT_EQ(r.exit_code, 0) << r.err;
    };
    std::filesystem::create_directories(dir_.path() / "workers");
    std::filesystem::create_directories(dir_.path() / "coordinator");
    std::filesystem::create_directories(dir_.path() / "intruder");
    keys("workers", "a b");
    keys("coordinator", "coordinator");
    keys("intruder", "x");
    cluster_file_ = dir_.write("pair.yaml", kClusterYaml);
  }
  std::vector<std::string> serve_keys() const {
    return {"--key", (dir_.path() / "coordinator" / "coordinator.key").string(), "--trusted", (dir_.path() / "workers").string()};
  }
  std::vector<std::string> worker_keys(const std::string& dir, const std::string& node) const {
    return {"--key", (dir_.path() / dir / (node + ".key")).string(), "--coordinator-key",
            (dir_.path() / "coordinator" / "coordinator.pub").string()};
  }
  // Starts the coordinator and workers a, b (with keys when `secure`), waits until healthy.
  std::unique_ptr<LocalCluster> start(bool secure) {
    auto c = std::make_unique<LocalCluster>(dir_, stories_model(), placement(), std::vector<std::string>{},
                                            secure ? serve_keys() : std::vector<std::string>{}, cluster_file_.string(), "stories");
    for (const char* node : {"a", "b"}) c->start_worker(node, secure ? worker_keys("workers", node) : std::vector<std::string>{});
    EXPECT_TRUE(c->wait_healthy(60)) << c->log();
    return c;
  }
  // Runs a few requests with the secret prompt while capturing loopback; true if its bytes were seen.
  bool secret_on_the_wire(LocalCluster& c) {
    LoopbackCapture capture(c.http_port());
    if (!capture.ok()) return false;
    for (int i = 0; i < 3; ++i) {
      json r = c.complete({{"model", "stories"}, {"prompt", kSecretPrompt}, {"max_tokens", 8}, {"temperature", 0}});
      EXPECT_TRUE(r.contains("choices")) << r.dump();
    }
    const std::string bytes = capture.stop();
    EXPECT_GT(bytes.size(), 1000u) << "the capture saw almost nothing";
    return bytes.find(secret_bytes()) != std::string::npos;
  }
  TempDir dir_;
  std::filesystem::path cluster_file_;
};

TEST_F(CurveTest, TrafficIsEncryptedAndOnlyListedPeersGetIn) {
  if (geteuid() != 0) GTEST_SKIP() << "capturing the loopback interface needs root";
  {
    // The control: without keys the prompt's token ids are on the wire (so the capture can see them).
    auto plain = start(false);
    ASSERT_TRUE(LoopbackCapture(0).ok()) << "cannot capture packets here";
    EXPECT_TRUE(secret_on_the_wire(*plain)) << "the capture did not see plain traffic: it proves nothing";
  }
  auto secure = start(true);
  EXPECT_FALSE(secret_on_the_wire(*secure)) << "the prompt's token ids crossed loopback unencrypted";
  // Texts are what they were without keys.
  json r = secure->complete({{"model", "stories"}, {"prompt", "Once upon a time"}, {"max_tokens", 24}, {"temperature", 0}});
  EXPECT_EQ(r["choices"][0]["text"], test::generate(stories_model(), "Once upon a time", 24).first) << r.dump();

  // A worker whose key the coordinator does not list gets no answer and gives up.
  std::vector<std::string> intruder_args = worker_keys("intruder", "x");
  intruder_args.insert(intruder_args.end(), {"--join-timeout", "5"});
  const std::size_t x = secure->start_worker("x", intruder_args);
  EXPECT_EQ(secure->worker(x).wait(60), 1);
  EXPECT_TRUE(test::wait_until(10, [&] { return secure->log().find("refused") != std::string::npos; })) << secure->log();
  // A listed key used under another node's name is refused by name.
  const std::size_t fake = secure->start_worker("x", {"--key", (dir_.path() / "workers" / "a.key").string(), "--coordinator-key",
                                                      (dir_.path() / "coordinator" / "coordinator.pub").string(),
                                                      "--join-timeout", "5"});
  EXPECT_EQ(secure->worker(fake).wait(60), 1);
  EXPECT_NE(secure->log().find("its key is trusted as 'a', not as node 'x'"), std::string::npos) << secure->log();

  // Work pushed at a worker's data socket by a process without a listed key is refused and logged.
  std::string endpoint;
  const json nodes = secure->nodes();
  for (const json& n : nodes["nodes"]) {
    if (n["name"] == "a") endpoint = n["data_endpoint"];
  }
  ASSERT_FALSE(endpoint.empty()) << nodes.dump(2);
  // One without CURVE at all, one with a key of its own that knows a's public key.
  const security::KeyPair intruder = security::load_keypair(dir_.path() / "intruder" / "x.key");
  const std::string a_public = security::load_public_key(dir_.path() / "workers" / "a.pub");
  for (bool curve : {false, true}) {
    zmq::context_t context;
    zmq::socket_t push(context, zmq::socket_type::push);
    push.set(zmq::sockopt::linger, 0);
    // A refused handshake can drop the socket's only pipe before the send, which
    // would then wait forever: give up after a second instead.
    push.set(zmq::sockopt::sndtimeo, 1000);
    if (curve) security::make_curve_client(push, intruder, a_public);
    push.connect(endpoint);
    runtime::Work w;
    w.request = 77;
    w.length = 1;
    w.route = {{0, {0, 3}}, {1, {3, 5}}};
    w.sampling.allowed_vocab = 512;
    zmq::message_t payload = runtime::payload_frame(std::vector<std::int32_t>{5});
    runtime::send(push, w, &payload, nullptr);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const std::string a_log = test::read_file(dir_.path() / "a.2.log");  // a.log is the plain cluster's
  EXPECT_NE(a_log.find("ZAP: refused a CURVE connection"), std::string::npos) << a_log;
  EXPECT_NE(a_log.find(intruder.public_key), std::string::npos) << "the refusal names the key\n" << a_log;
  EXPECT_EQ(a_log.find("request 77"), std::string::npos) << "the injected work ran\n" << a_log;
  EXPECT_EQ(secure->health(), 200);
}

TEST(CurveCli, ANonLoopbackControlSocketWithoutKeysIsRefusedUnlessInsecure) {
  TempDir dir;
  const int port = test::free_tcp_port();
  auto r = test::run_command(fmt::format("{} serve --model {} --control tcp://0.0.0.0:{} --listen 127.0.0.1:0 2>&1",
                                         HELIX_BINARY, stories_model().string(), port));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("--key and --trusted"), std::string::npos) << r.out;
  EXPECT_NE((r.out + r.err).find("--insecure"), std::string::npos) << r.out << r.err;
  auto w = test::run_command(fmt::format("{} worker --node fast --model {} --listen 0.0.0.0 2>&1", HELIX_BINARY,
                                         stories_model().string()));
  EXPECT_EQ(w.exit_code, 1) << w.out << w.err;
  EXPECT_NE((w.out + w.err).find("--coordinator-key"), std::string::npos) << w.out << w.err;
}

}  // namespace
}  // namespace helix
