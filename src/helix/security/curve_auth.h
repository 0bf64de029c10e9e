// Authentication and encryption of the runtime's ZeroMQ sockets with CurveZMQ.
//
// CURVE (ZeroMQ RFC 26) encrypts a connection and proves each side holds its
// secret key; a client must know the server's public key in advance. Whom a
// server accepts is decided by a ZAP handler (ZeroMQ RFC 27): libzmq asks it,
// over inproc://zeromq.zap.01 in the socket's context, about every handshake.
// Without a handler, libzmq lets any CURVE client in (unless its draft option
// ZAP_ENFORCE_DOMAIN is available; make_curve_server sets it when it is), so
// create the Authenticator first and keep it until the sockets are closed.
// Order, on a server node and on a client node:
//
//   zmq::context_t context;                              // server
//   Authenticator auth(context, load_trusted(dir));      // before any bind
//   zmq::socket_t router(context, zmq::socket_type::router);
//   make_curve_server(router, own_keys);                 // before bind
//   router.bind(endpoint);                               // peer_name(frame) says who sent a frame
//
//   zmq::context_t context;                              // client: no Authenticator needed
//   zmq::socket_t dealer(context, zmq::socket_type::dealer);   // or push
//   make_curve_client(dealer, own_keys, server_public);  // before connect
//   dealer.connect(endpoint);
//
// A node that binds and also connects out (a worker with its own ROUTER) does
// both, with one Authenticator for its context.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include <zmq.hpp>

#include "helix/security/curve_keys.h"

namespace helix::security {

// The ZAP domain helix's servers use.
inline constexpr const char* kZapDomain = "helix";

// The ZAP handler of one context: a thread that accepts a CURVE client whose
// public key is trusted (replying 200 with the peer's name as User-Id) and
// refuses everything else with 400, logging each refused (address, key) once.
// All CURVE servers in the context are checked, whatever their ZAP domain.
// Declare it after the context and before the sockets: it must outlive the
// server sockets and be destroyed before the context.
class Authenticator {
 public:
  // Binds the ZAP endpoint now and starts the thread. Throws Error if the
  // context already has a handler; libzmq frees the endpoint asynchronously, so
  // keep one Authenticator for the context's lifetime rather than replacing it.
  // With `require_curve` false, NULL-mechanism connections to sockets that have
  // a ZAP domain are let through (User-Id ""); PLAIN and GSSAPI are always refused.
  Authenticator(zmq::context_t& context, TrustedPeers trusted, bool require_curve = true);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  // Replaces the trusted peers; later handshakes use the new list (connections
  // already made stay up).
  void set_trusted(TrustedPeers trusted);

  std::uint64_t accepted() const { return accepted_.load(); }
  std::uint64_t refused() const { return refused_.load(); }

 private:
  struct Verdict {
    bool accept = false;
    std::string user_id;  // the peer's name, when accepted
    std::string key;      // the client's public key (Z85), when it offered one
    std::string reason;   // the ZAP status text
  };
  void run();
  void answer();
  Verdict judge(const std::string& mechanism, const zmq::message_t* credential) const;
  void log_refusal(const std::string& address, const std::string& mechanism, const Verdict& verdict);

  zmq::socket_t zap_;  // REP on inproc://zeromq.zap.01; only the thread uses it after the constructor
  const bool require_curve_;
  mutable std::mutex trusted_mutex_;
  TrustedPeers trusted_;
  std::set<std::pair<std::string, std::string>> logged_;  // (address, key) refusals already logged
  bool refusal_log_full_ = false;
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Makes `socket` a CURVE server with `own` keys and the helix ZAP domain, and,
// where libzmq offers it, refusing everyone when the context has no ZAP handler.
// Call before bind. Throws Error for malformed keys.
void make_curve_server(zmq::socket_t& socket, const KeyPair& own);

// Makes `socket` a CURVE client of the server whose public key is
// `server_public_z85`. Call before connect. Throws Error for malformed keys.
void make_curve_client(zmq::socket_t& socket, const KeyPair& own, const std::string& server_public_z85);

// The ZAP User-Id (the peer's name) of a received frame, or "" if it has none.
std::string peer_name(const zmq::message_t& frame);

// Whether a bind/connect endpoint only reaches this machine: tcp:// on
// 127.x.x.x, localhost or [::1] (or ::1), and any inproc:// or ipc://. Wildcards
// (*, 0.0.0.0, ::), interface names and other addresses are not. A non-loopback
// bind without keys is refused unless --insecure.
bool is_loopback_endpoint(const std::string& endpoint);

}  // namespace helix::security
