// Sending and receiving wire messages over ZeroMQ sockets. A message is a
// header frame (wire.h) and, for Work, a payload frame; a ROUTER socket adds the
// sender's identity in front. Payload frames are handed over without copying:
// the receiver gets the zmq::message_t itself, the sender gives up a buffer that
// ZeroMQ frees when it is on the wire.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "helix/runtime/wire.h"

namespace helix::runtime {

struct Envelope {
  std::string identity;   // ROUTER only: who sent it
  std::string peer;       // CURVE: the name its key is trusted under (ZAP User-Id); "" without CURVE
  Message message;
  zmq::message_t payload; // Work only
};

// A payload frame that owns `buffer` (zero-copy: ZeroMQ releases it when sent).
zmq::message_t payload_frame(std::shared_ptr<const std::vector<float>> buffer, std::size_t first_float,
                             std::size_t floats);
// A payload frame over its own heap vector: aligned for its values, which a frame
// ZeroMQ allocates itself is not when small (it keeps up to 33 bytes inline).
zmq::message_t payload_frame(std::vector<std::int32_t> tokens);
zmq::message_t payload_frame(std::vector<std::uint16_t> halves);
zmq::message_t payload_frame(std::vector<float> values);

// Sends header (+ payload), blocking if the socket's queue is full (the
// runtime's sockets have no high-water mark). `identity` prefixes a ROUTER's
// frame. Throws zmq::error_t, e.g. for a ROUTER peer that is gone.
void send(zmq::socket_t& socket, const Message& message, zmq::message_t* payload = nullptr,
          const std::string* identity = nullptr);

// Receives one multipart message without blocking; nothing when none is waiting.
// A malformed message throws WireError *after* the whole multipart message was
// consumed, so the socket stays usable; `identity` (ROUTER) is set before the
// throw so the caller knows whom to blame.
std::optional<Envelope> try_receive(zmq::socket_t& socket, bool router, std::string* identity_on_error = nullptr);

// "tcp://127.0.0.1:0" style endpoints: binds and returns the endpoint actually bound.
std::string bind_endpoint(zmq::socket_t& socket, const std::string& endpoint);

}  // namespace helix::runtime
