#include "helix/runtime/transport.h"

#include "helix/security/curve_auth.h"


namespace helix::runtime {
namespace {

void release_shared(void*, void* hint) { delete static_cast<std::shared_ptr<const std::vector<float>>*>(hint); }

template <typename T>
void release_owned(void*, void* hint) {
  delete static_cast<std::vector<T>*>(hint);
}

template <typename T>
zmq::message_t owned_frame(std::vector<T> values) {
  auto* owned = new std::vector<T>(std::move(values));
  return zmq::message_t(owned->data(), owned->size() * sizeof(T), release_owned<T>, owned);
}

// Receives the rest of a multipart message (to keep the socket in step after an error).
void drain(zmq::socket_t& socket) {
  while (socket.get(zmq::sockopt::rcvmore)) {
    zmq::message_t rest;
    (void)socket.recv(rest, zmq::recv_flags::none);
  }
}

}  // namespace

zmq::message_t payload_frame(std::shared_ptr<const std::vector<float>> buffer, std::size_t first_float,
                             std::size_t floats) {
  if (first_float + floats > buffer->size()) fail("payload_frame: floats [{}, {}) outside a buffer of {}", first_float, first_float + floats, buffer->size());
  // const_cast: ZeroMQ's API takes void* but only reads an outgoing frame.
  void* data = const_cast<float*>(buffer->data() + first_float);
  auto* hint = new std::shared_ptr<const std::vector<float>>(std::move(buffer));
  return zmq::message_t(data, floats * sizeof(float), release_shared, hint);
}

zmq::message_t payload_frame(std::vector<std::int32_t> tokens) { return owned_frame(std::move(tokens)); }
zmq::message_t payload_frame(std::vector<std::uint16_t> halves) { return owned_frame(std::move(halves)); }
zmq::message_t payload_frame(std::vector<float> values) { return owned_frame(std::move(values)); }

void send(zmq::socket_t& socket, const Message& message, zmq::message_t* payload, const std::string* identity) {
  if (identity) socket.send(zmq::buffer(*identity), zmq::send_flags::sndmore);
  std::vector<std::uint8_t> header = encode(message);
  zmq::message_t frame(header.data(), header.size());
  socket.send(frame, payload ? zmq::send_flags::sndmore : zmq::send_flags::none);
  if (payload) socket.send(*payload, zmq::send_flags::none);
}

std::optional<Envelope> try_receive(zmq::socket_t& socket, bool router, std::string* identity_on_error) {
  Envelope e;
  zmq::message_t first;
  if (!socket.recv(first, zmq::recv_flags::dontwait)) return std::nullopt;
  zmq::message_t header;
  if (router) {
    e.identity = first.to_string();
    if (identity_on_error) *identity_on_error = e.identity;
    if (!first.more()) throw WireError("wire: a message with an identity but no header frame");
    (void)socket.recv(header, zmq::recv_flags::none);
  } else {
    header = std::move(first);
  }
  e.peer = security::peer_name(header);
  const bool has_payload = header.more();
  if (has_payload) (void)socket.recv(e.payload, zmq::recv_flags::none);
  if (e.payload.more()) {
    drain(socket);
    throw WireError("wire: a message with more than a header and a payload frame");
  }
  e.message = decode(std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(header.data()), header.size()));
  const Work* work = std::get_if<Work>(&e.message);
  if (work) {
    if (!has_payload) throw WireError(fmt::format("wire: Work message for request {} without its payload frame", work->request));
    check_payload(*work, e.payload.size());
    if (reinterpret_cast<std::uintptr_t>(e.payload.data()) % alignof(float) != 0) {
      // ZeroMQ keeps small frames inline, unaligned: copy into a heap buffer, which is
      // aligned (a zmq::message_t of the same size could be inline again).
      const auto* bytes = static_cast<const std::byte*>(e.payload.data());
      e.payload = owned_frame(std::vector<std::byte>(bytes, bytes + e.payload.size()));
    }
  } else if (has_payload) {
    throw WireError(fmt::format("wire: {} message with an unexpected payload frame", message_name(e.message)));
  }
  return e;
}

std::string bind_endpoint(zmq::socket_t& socket, const std::string& endpoint) {
  std::string where = endpoint;
  // ZeroMQ spells "any port" as '*'.
  if (where.size() > 2 && where.ends_with(":0")) where = where.substr(0, where.size() - 1) + "*";
  try {
    socket.bind(where);
  } catch (const zmq::error_t& e) {
    fail("cannot bind {}: {}", endpoint, e.what());
  }
  return socket.get(zmq::sockopt::last_endpoint);
}

}  // namespace helix::runtime
