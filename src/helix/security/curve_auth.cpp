#include "helix/security/curve_auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <iterator>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include "helix/core/error.h"

namespace helix::security {
namespace {

// The endpoint libzmq sends ZAP requests to (RFC 27).
constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
// ZMQ_ZAP_ENFORCE_DOMAIN, from libzmq 4.3's draft API (so not in zmq.h). Without
// it a CURVE server whose context has no ZAP handler lets every client in; with
// it, none. Builds without the draft API refuse the option (EINVAL), and then
// only the documented order (Authenticator first, destroyed last) protects.
constexpr int kZapEnforceDomain = 93;
// How often the handler thread checks whether it should stop.
constexpr std::chrono::milliseconds kStopCheck{50};
// At most this many distinct refused (address, key) pairs are logged: an
// unbounded set would let a stranger grow our memory by trying many keys.
constexpr std::size_t kMaxLoggedRefusals = 1024;

void check_own_keys(const KeyPair& own) {
  in_context("own public key", [&] { check_z85_key(own.public_key); });
  in_context("own secret key", [&] { check_z85_key(own.secret_key); });
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

bool is_loopback_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (equals_ignoring_case(host, "localhost")) return true;
  const std::string numeric(host);
  in_addr v4{};
  if (inet_pton(AF_INET, numeric.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;  // 127.0.0.0/8 (RFC 1122 §3.2.1.3)
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, numeric.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  }
  return false;
}

}  // namespace

Authenticator::Authenticator(zmq::context_t& context, TrustedPeers trusted, bool require_curve)
    : zap_(context, zmq::socket_type::rep), require_curve_(require_curve), trusted_(std::move(trusted)) {
  zap_.set(zmq::sockopt::linger, 0);
  try {
    zap_.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    if (e.num() == EADDRINUSE) {
      fail("this ZeroMQ context already has a ZAP handler (one Authenticator per context, for its "
           "lifetime: use set_trusted to change whom it accepts)");
    }
    fail("cannot bind the ZAP handler on {}: {}", kZapEndpoint, e.what());
  }
  // The socket moves to the thread here; only the thread touches it from now on.
  thread_ = std::thread([this] { run(); });
}

Authenticator::~Authenticator() {
  stopping_.store(true);
  thread_.join();
}

void Authenticator::set_trusted(TrustedPeers trusted) {
  std::lock_guard<std::mutex> lock(trusted_mutex_);
  trusted_ = std::move(trusted);
}

void Authenticator::run() {
  try {
    while (!stopping_.load()) {
      zmq::pollitem_t items[] = {{zap_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, kStopCheck);
      if ((items[0].revents & ZMQ_POLLIN) != 0) answer();
    }
  } catch (const zmq::error_t& e) {
    // ETERM: the context is shutting down; nothing can be answered any more.
    if (e.num() != ETERM) spdlog::error("ZAP handler stopped: {}", e.what());
  }
  zap_.close();
}

void Authenticator::answer() {
  std::vector<zmq::message_t> request;
  if (!zmq::recv_multipart(zap_, std::back_inserter(request), zmq::recv_flags::dontwait)) return;
  // RFC 27 request: version, request id, domain, address, identity, mechanism, credentials...
  const std::string request_id = request.size() > 1 ? request[1].to_string() : "";
  Verdict verdict;
  std::string address;
  std::string mechanism;
  if (request.size() < 6 || request[0].to_string() != "1.0") {
    verdict.reason = "malformed ZAP request";
  } else {
    address = request[3].to_string();
    mechanism = request[5].to_string();
    verdict = judge(mechanism, request.size() > 6 ? &request[6] : nullptr);
  }
  // Counted before the reply, so whoever sees the handshake fail also sees the count.
  (verdict.accept ? accepted_ : refused_).fetch_add(1);
  if (!verdict.accept) log_refusal(address, mechanism, verdict);
  const std::string status = verdict.accept ? "200" : "400";
  const std::array<zmq::const_buffer, 6> reply = {
      zmq::str_buffer("1.0"), zmq::buffer(request_id), zmq::buffer(status),
      zmq::buffer(verdict.reason), zmq::buffer(verdict.user_id), zmq::const_buffer()};
  zmq::send_multipart(zap_, reply);
}

Authenticator::Verdict Authenticator::judge(const std::string& mechanism, const zmq::message_t* credential) const {
  Verdict verdict;
  if (mechanism == "NULL") {
    verdict.accept = !require_curve_;
    verdict.reason = verdict.accept ? "OK" : "CURVE required";
    return verdict;
  }
  if (mechanism != "CURVE") {
    verdict.reason = "mechanism " + mechanism + " not supported";
    return verdict;
  }
  if (credential == nullptr || credential->size() != 32) {
    verdict.reason = "malformed CURVE credential";
    return verdict;
  }
  char z85[kZ85KeyLength + 1] = {};
  zmq_z85_encode(z85, static_cast<const std::uint8_t*>(credential->data()), credential->size());
  verdict.key = z85;
  std::lock_guard<std::mutex> lock(trusted_mutex_);
  if (const std::string* name = trusted_.name_of(verdict.key)) {
    verdict.accept = true;
    verdict.user_id = *name;
    verdict.reason = "OK";
  } else {
    verdict.reason = "unknown public key";
  }
  return verdict;
}

void Authenticator::log_refusal(const std::string& address, const std::string& mechanism, const Verdict& verdict) {
  // Refused peers may retry (libzmq reconnects): log each (address, key) once.
  auto seen = std::make_pair(address, verdict.key.empty() ? "mechanism " + mechanism : verdict.key);
  if (logged_.count(seen) != 0) return;
  if (logged_.size() >= kMaxLoggedRefusals) {
    if (!refusal_log_full_) {
      spdlog::warn("ZAP: {} refusals logged; further ones are counted, not logged", logged_.size());
    }
    refusal_log_full_ = true;
    return;
  }
  if (verdict.key.empty()) {
    spdlog::warn("ZAP: refused a {} connection from {}: {}", mechanism.empty() ? "malformed" : mechanism,
                 address.empty() ? "?" : address, verdict.reason);
  } else {
    spdlog::warn("ZAP: refused a CURVE connection from {} with untrusted public key {}", address, verdict.key);
  }
  logged_.insert(std::move(seen));
}

void make_curve_server(zmq::socket_t& socket, const KeyPair& own) {
  check_own_keys(own);
  socket.set(zmq::sockopt::curve_server, true);
  socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
  socket.set(zmq::sockopt::curve_publickey, own.public_key);
  socket.set(zmq::sockopt::zap_domain, kZapDomain);
  const int on = 1;
  zmq_setsockopt(socket.handle(), kZapEnforceDomain, &on, sizeof on);  // best effort, see above
}

void make_curve_client(zmq::socket_t& socket, const KeyPair& own, const std::string& server_public_z85) {
  check_own_keys(own);
  in_context("server public key", [&] { check_z85_key(server_public_z85); });
  socket.set(zmq::sockopt::curve_serverkey, server_public_z85);
  socket.set(zmq::sockopt::curve_publickey, own.public_key);
  socket.set(zmq::sockopt::curve_secretkey, own.secret_key);
}

std::string peer_name(const zmq::message_t& frame) {
  // zmq_msg_gets only reads the metadata, but its C signature takes a non-const message.
  const char* user = zmq_msg_gets(const_cast<zmq_msg_t*>(frame.handle()), "User-Id");
  return user == nullptr ? std::string() : std::string(user);
}

bool is_loopback_endpoint(const std::string& endpoint) {
  const std::string_view e = endpoint;
  if (e.starts_with("inproc://") || e.starts_with("ipc://")) return true;
  if (!e.starts_with("tcp://")) return false;
  const std::string_view address = e.substr(6);
  // "source;destination" connects are judged by neither part: not loopback.
  if (address.find(';') != std::string_view::npos) return false;
  // The port follows the last ':' ("127.0.0.1:5555", "[::1]:5555", "::1:5555").
  const auto colon = address.rfind(':');
  return is_loopback_host(colon == std::string_view::npos ? address : address.substr(0, colon));
}

}  // namespace helix::security
