// Sending and receiving wire messages over real ZeroMQ sockets: framing, the
// zero-copy payload frame, ROUTER identities, and staying in step after errors.
#include "helix/runtime/transport.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace helix::runtime {
namespace {

using namespace std::chrono_literals;

bool wait_readable(zmq::socket_t& socket, std::chrono::milliseconds timeout) {
  zmq::pollitem_t items[] = {{socket.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, 1, timeout);
  return (items[0].revents & ZMQ_POLLIN) != 0;
}

// Waits for a message to arrive, then takes it with one try_receive.
Envelope receive(zmq::socket_t& socket, bool router, std::string* identity_on_error = nullptr) {
  if (!wait_readable(socket, 3000ms)) throw std::runtime_error("no message arrived within 3 s");
  std::optional<Envelope> e = try_receive(socket, router, identity_on_error);
  if (!e) throw std::runtime_error("the socket was readable but try_receive returned nothing");
  return std::move(*e);
}

// try_receive's WireError message for the next message, or a marker.
std::string receive_error(zmq::socket_t& socket, bool router, std::string* identity_on_error = nullptr) {
  try {
    receive(socket, router, identity_on_error);
  } catch (const WireError& e) {
    return e.what();
  }
  return "<no WireError>";
}

void send_raw(zmq::socket_t& socket, const std::vector<std::string>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    socket.send(zmq::buffer(frames[i]), i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
}

std::string header_bytes(const Message& m) {
  const std::vector<std::uint8_t> bytes = encode(m);
  return std::string(bytes.begin(), bytes.end());
}

Work token_work(std::uint64_t request, int length) {
  Work w;
  w.request = request;
  w.position = 0;
  w.length = length;
  w.hop = 0;
  w.want_token = length == 1;
  w.payload = Payload::Tokens;
  w.sampling.seed = 99;
  w.route = {{0, {0, 8}}, {1, {8, 16}}};
  return w;
}

Work hidden_work(std::uint64_t request, int length, int hidden_size) {
  Work w = token_work(request, length);
  w.hop = 1;
  w.payload = Payload::Hidden;
  w.hidden_size = hidden_size;
  return w;
}

std::vector<std::int32_t> ints(const zmq::message_t& frame) {
  std::vector<std::int32_t> out(frame.size() / sizeof(std::int32_t));
  std::memcpy(out.data(), frame.data(), out.size() * sizeof(std::int32_t));
  return out;
}

std::vector<float> floats(const zmq::message_t& frame) {
  std::vector<float> out(frame.size() / sizeof(float));
  std::memcpy(out.data(), frame.data(), out.size() * sizeof(float));
  return out;
}

class Transport : public ::testing::Test {
 protected:
  Transport() : pull_(context_, zmq::socket_type::pull), push_(context_, zmq::socket_type::push),
                router_(context_, zmq::socket_type::router), dealer_(context_, zmq::socket_type::dealer) {
    for (zmq::socket_t* s : {&pull_, &push_, &router_, &dealer_}) s->set(zmq::sockopt::linger, 0);
    const std::string name = "inproc://transport-test-" + std::to_string(counter_++);
    pull_.bind(name);
    push_.connect(name);
    dealer_.set(zmq::sockopt::routing_id, "worker-7");
    router_endpoint_ = bind_endpoint(router_, "tcp://127.0.0.1:0");
    dealer_.connect(router_endpoint_);
  }

  static inline int counter_ = 0;
  zmq::context_t context_;
  zmq::socket_t pull_, push_, router_, dealer_;
  std::string router_endpoint_;
};

TEST_F(Transport, BindEndpointReturnsConcretePort) {
  ASSERT_EQ(router_endpoint_.rfind("tcp://127.0.0.1:", 0), 0u) << router_endpoint_;
  const std::string port = router_endpoint_.substr(std::string("tcp://127.0.0.1:").size());
  ASSERT_FALSE(port.empty());
  EXPECT_EQ(port.find_first_not_of("0123456789"), std::string::npos) << port;
  EXPECT_NE(port, "0");
  EXPECT_GT(std::stoi(port), 0);

  zmq::socket_t other(context_, zmq::socket_type::pull);
  other.set(zmq::sockopt::linger, 0);
  const std::string second = bind_endpoint(other, "tcp://127.0.0.1:0");
  EXPECT_NE(second, router_endpoint_) << "two 'any port' binds get different ports";
  EXPECT_THROW(bind_endpoint(other, router_endpoint_), Error) << "the port is taken";
}

TEST_F(Transport, NothingWaitingGivesNullopt) {
  EXPECT_FALSE(try_receive(pull_, false).has_value());
  EXPECT_FALSE(try_receive(router_, true).has_value());
  send(push_, Release{5});
  EXPECT_EQ(std::get<Release>(receive(pull_, false).message).request, 5u);
  EXPECT_FALSE(try_receive(pull_, false).has_value()) << "the one message was consumed";
}

TEST_F(Transport, WorkWithTokensPayload) {
  const std::vector<std::int32_t> tokens = {101, -1 + 2, 30000, 7, 65535};
  const Work w = token_work(0xABCDEF, static_cast<int>(tokens.size()));
  zmq::message_t payload = payload_frame(tokens);
  ASSERT_EQ(payload.size(), tokens.size() * sizeof(std::int32_t));
  send(push_, w, &payload);

  Envelope e = receive(pull_, false);
  EXPECT_TRUE(e.identity.empty());
  const Work& got = std::get<Work>(e.message);
  EXPECT_EQ(got.request, 0xABCDEFu);
  EXPECT_EQ(got.length, 5);
  EXPECT_EQ(got.payload, Payload::Tokens);
  EXPECT_EQ(got.sampling.seed, 99u);
  ASSERT_EQ(got.route.size(), 2u);
  EXPECT_EQ(got.route[1].layers, (LayerRange{8, 16}));
  EXPECT_EQ(ints(e.payload), tokens);
}

TEST_F(Transport, WorkWithHiddenPayloadSlice) {
  constexpr int kLength = 3, kHidden = 5;
  std::vector<float> values(40);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.25f + 0.5f * static_cast<float>(i);
  auto buffer = std::make_shared<const std::vector<float>>(values);
  const std::size_t first = 12, count = kLength * kHidden;

  zmq::message_t payload = payload_frame(buffer, first, count);
  ASSERT_EQ(payload.size(), count * sizeof(float));
  send(push_, hidden_work(8, kLength, kHidden), &payload);

  Envelope e = receive(pull_, false);
  const Work& got = std::get<Work>(e.message);
  EXPECT_EQ(got.payload, Payload::Hidden);
  EXPECT_EQ(got.hidden_size, kHidden);
  EXPECT_EQ(got.hop, 1);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(e.payload.data()) % alignof(float), 0u);
  const std::vector<float> want(values.begin() + first, values.begin() + first + count);
  EXPECT_EQ(floats(e.payload), want);
}

TEST_F(Transport, PayloadFrameOwnsItsBufferUntilSent) {
  std::vector<float> values(64);
  std::iota(values.begin(), values.end(), 1000.f);
  auto buffer = std::make_shared<const std::vector<float>>(values);
  std::weak_ptr<const std::vector<float>> watch = buffer;

  zmq::message_t payload = payload_frame(buffer, 32, 8);  // the upper half's first 8 (2 tokens x 4)
  buffer.reset();
  EXPECT_FALSE(watch.expired()) << "the frame keeps the buffer alive";
  const std::vector<float> want(values.begin() + 32, values.begin() + 40);
  EXPECT_EQ(floats(payload), want) << "the frame reads the still-owned buffer";

  // Over TCP, so the bytes really leave the sender's buffer.
  send(dealer_, hidden_work(3, 2, 4), &payload);
  {
    Envelope e = receive(router_, true);
    EXPECT_EQ(e.identity, "worker-7");
    EXPECT_EQ(floats(e.payload), want);
  }
  // Once sent (and the receiver's copy gone), ZeroMQ releases the buffer.
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!watch.expired() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(watch.expired()) << "the buffer leaked";
}

TEST_F(Transport, PayloadFrameRefusesSliceOutsideBuffer) {
  auto buffer = std::make_shared<const std::vector<float>>(10, 1.f);
  EXPECT_THROW(payload_frame(buffer, 5, 6), Error);
  EXPECT_THROW(payload_frame(buffer, 11, 0), Error);
  EXPECT_EQ(payload_frame(buffer, 4, 6).size(), 6 * sizeof(float));
}

TEST_F(Transport, RouterGetsIdentityAndCanReply) {
  send(dealer_, Hello{"n1", "emulated", "L4", "tcp://127.0.0.1:1", {}});
  Envelope e = receive(router_, true);
  EXPECT_EQ(e.identity, "worker-7");
  EXPECT_EQ(std::get<Hello>(e.message).gpu, "L4");
  EXPECT_EQ(e.payload.size(), 0u);

  Ready ready{1000, 32000, 4096};
  send(router_, ready, nullptr, &e.identity);
  Envelope back = receive(dealer_, false);
  EXPECT_TRUE(back.identity.empty());
  EXPECT_EQ(std::get<Ready>(back.message).vocab_size, 32000);
  EXPECT_EQ(std::get<Ready>(back.message).kv_capacity_tokens, 1000);

  zmq::message_t payload = payload_frame(std::vector<std::int32_t>{4, 5});
  send(router_, token_work(77, 2), &payload, &e.identity);
  Envelope work = receive(dealer_, false);
  EXPECT_EQ(std::get<Work>(work.message).request, 77u);
  EXPECT_EQ(ints(work.payload), (std::vector<std::int32_t>{4, 5}));
}

// Every malformed message throws WireError, and the message after it is
// received intact: the socket stays in step.
TEST_F(Transport, MalformedMessagesThrowAndSocketStaysInStep) {
  std::uint64_t next = 1000;
  auto expect_next_valid = [&](const char* after) {
    const std::uint64_t id = ++next;
    send(push_, Token{id, 3, 42, 0});
    Envelope e;
    ASSERT_NO_THROW(e = receive(pull_, false)) << "after " << after;
    ASSERT_TRUE(std::holds_alternative<Token>(e.message)) << "after " << after << ": got " << message_name(e.message);
    EXPECT_EQ(std::get<Token>(e.message).request, id) << "after " << after;
    EXPECT_FALSE(try_receive(pull_, false).has_value()) << "after " << after;
  };

  send(push_, token_work(1, 2));  // no payload frame
  std::string error = receive_error(pull_, false);
  EXPECT_NE(error.find("without its payload frame"), std::string::npos) << error;
  expect_next_valid("a Work without payload");

  zmq::message_t stray = payload_frame(std::vector<std::int32_t>{1, 2, 3});
  send(push_, Token{1, 2, 3, 0}, &stray);
  error = receive_error(pull_, false);
  EXPECT_NE(error.find("Token message with an unexpected payload frame"), std::string::npos) << error;
  expect_next_valid("a Token with a payload");

  send_raw(push_, {header_bytes(token_work(2, 1)), std::string(4, '\0'), "extra"});
  error = receive_error(pull_, false);
  EXPECT_NE(error.find("more than a header and a payload"), std::string::npos) << error;
  expect_next_valid("a 3-frame message");

  send_raw(push_, {header_bytes(token_work(2, 1)), std::string(4, '\0'), "extra", "and more", "frames"});
  EXPECT_THROW(receive(pull_, false), WireError);
  expect_next_valid("a 5-frame message");

  send_raw(push_, {"garbage bytes, not a helix frame"});
  EXPECT_THROW(receive(pull_, false), WireError);
  expect_next_valid("garbage");

  send_raw(push_, {"garbage", "with a second frame"});
  EXPECT_THROW(receive(pull_, false), WireError);
  expect_next_valid("two garbage frames");

  send_raw(push_, {header_bytes(token_work(3, 2)), std::string(7, '\0')});  // 2 tokens need 8 bytes
  error = receive_error(pull_, false);
  EXPECT_NE(error.find("payload of 7 bytes"), std::string::npos) << error;
  expect_next_valid("a short payload");

  send_raw(push_, {std::string()});
  EXPECT_THROW(receive(pull_, false), WireError);
  expect_next_valid("an empty frame");
}

TEST_F(Transport, RouterNamesTheSenderOfAMalformedMessage) {
  send_raw(dealer_, {"junk"});
  std::string who;
  EXPECT_THROW(receive(router_, true, &who), WireError);
  EXPECT_EQ(who, "worker-7");

  send_raw(dealer_, {header_bytes(Release{1}), "payload", "third"});
  who.clear();
  EXPECT_THROW(receive(router_, true, &who), WireError);
  EXPECT_EQ(who, "worker-7");

  send(dealer_, Heartbeat{2, 3, 4, 5, 6, 0.5});
  Envelope e = receive(router_, true);
  EXPECT_EQ(e.identity, "worker-7");
  EXPECT_EQ(std::get<Heartbeat>(e.message).busy_s, 0.5);
  EXPECT_FALSE(try_receive(router_, true).has_value());
}

}  // namespace
}  // namespace helix::runtime
