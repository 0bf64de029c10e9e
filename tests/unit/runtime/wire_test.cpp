// The helix wire v1 header frame: round trips, refusals of short, long, foreign
// and inconsistent frames, and a deterministic byte-flipping fuzz.
#include "helix/runtime/wire.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace helix::runtime {
namespace {

using Bytes = std::vector<std::uint8_t>;

// ---- sample messages with every field set to something distinctive ----

Hello sample_hello() { return {"node-7", "emulated", "A100-80G", "tcp://10.0.0.7:5601", {3, 17}}; }

Assign sample_assign() {
  Assign a;
  a.node = 5;
  a.layers = {12, 30};
  a.num_layers = 80;
  a.kv_tokens = 123456789012LL;
  a.prefill_chunk = 384;
  a.max_batch_tokens = 4096 + 3;
  a.gather_us = 750;
  a.slowdown = 2.75;
  a.emulated = true;
  a.emulation.prompt = {{1, 0.00125}, {64, 0.0021}, {2048, 0.0375}};
  a.emulation.decode = {{1, 0.0004}, {8, 0.00055}, {256, 0.0031}, {1024, 0.011}};
  a.emulation.prompt_max_tokens = 8192;
  a.emulation.prompt_max_requests = 17;
  a.emulation.decode_max_tokens = 333;
  a.emulation.activation_bytes_per_token = 16384;
  a.emulation.vocab_size = 32000;
  a.device = DeviceName{true, 3};
  a.activations = ActivationDtype::F16;
  a.peers = {{0, "tcp://127.0.0.1:7000", "rq2n!Ex+h%N8&]FgX@4F0HfRh8i<l1nrQf4k<pUn"}, {3, "ipc:///tmp/helix-3", ""}, {9, "", ""}};
  return a;
}

Refuse sample_refuse() { return {"GPU type 'H100' is not in the cluster"}; }

Ready sample_ready() { return {987654321LL, 128256, 8192, "cuda:1"}; }

Work sample_work() {
  Work w;
  w.request = 0xDEADBEEFCAFEF00DULL;
  w.position = 4321;
  w.length = 17;
  w.hop = 2;
  w.want_token = true;
  w.payload = Payload::Hidden;
  w.hidden_size = 5120;
  w.sampling.temperature = 0.7;
  w.sampling.top_p = 0.95;
  w.sampling.top_k = 40;
  w.sampling.seed = 0x0123456789ABCDEFULL;
  w.sampling.allowed_vocab = 31999;
  w.route = {{4, {0, 10}}, {1, {10, 42}}, {6, {45, 80}}};
  w.prompt = true;
  return w;
}

Token sample_token() { return {77777777777ULL, 999, 31415, 0xFEDCBA9876543210ULL}; }
Release sample_release() { return {0xFFFFFFFFFFFFFFFEULL}; }
Heartbeat sample_heartbeat() { return {13, 40960, 1048576, 123456, 98765432, 3.625}; }
WorkFailed sample_work_failed() { return {42, "out of KV blocks on node 3"}; }

std::vector<Message> all_samples() {
  return {sample_hello(), sample_assign(),  sample_refuse(),    sample_ready(),       sample_work(),
          sample_token(), sample_release(), sample_heartbeat(), sample_work_failed(), Shutdown{}};
}

// ---- field-by-field comparison ----

void expect_same(const Hello& a, const Hello& b) {
  EXPECT_EQ(a.node, b.node);
  EXPECT_EQ(a.engine, b.engine);
  EXPECT_EQ(a.gpu, b.gpu);
  EXPECT_EQ(a.data_endpoint, b.data_endpoint);
  EXPECT_EQ(a.loaded, b.loaded);
}
void expect_same_points(const std::vector<TimePoint>& a, const std::vector<TimePoint>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].tokens, b[i].tokens) << i;
    EXPECT_EQ(a[i].seconds, b[i].seconds) << i;
  }
}
void expect_same(const Assign& a, const Assign& b) {
  EXPECT_EQ(a.node, b.node);
  EXPECT_EQ(a.layers, b.layers);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.kv_tokens, b.kv_tokens);
  EXPECT_EQ(a.prefill_chunk, b.prefill_chunk);
  EXPECT_EQ(a.max_batch_tokens, b.max_batch_tokens);
  EXPECT_EQ(a.gather_us, b.gather_us);
  EXPECT_EQ(a.slowdown, b.slowdown);
  EXPECT_EQ(a.emulated, b.emulated);
  expect_same_points(a.emulation.prompt, b.emulation.prompt);
  expect_same_points(a.emulation.decode, b.emulation.decode);
  EXPECT_EQ(a.emulation.prompt_max_tokens, b.emulation.prompt_max_tokens);
  EXPECT_EQ(a.emulation.prompt_max_requests, b.emulation.prompt_max_requests);
  EXPECT_EQ(a.emulation.decode_max_tokens, b.emulation.decode_max_tokens);
  EXPECT_EQ(a.emulation.activation_bytes_per_token, b.emulation.activation_bytes_per_token);
  EXPECT_EQ(a.emulation.vocab_size, b.emulation.vocab_size);
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.activations, b.activations);
  ASSERT_EQ(a.peers.size(), b.peers.size());
  for (std::size_t i = 0; i < a.peers.size(); ++i) {
    EXPECT_EQ(a.peers[i].node, b.peers[i].node) << i;
    EXPECT_EQ(a.peers[i].data_endpoint, b.peers[i].data_endpoint) << i;
    EXPECT_EQ(a.peers[i].public_key, b.peers[i].public_key) << i;
  }
}
void expect_same(const Refuse& a, const Refuse& b) { EXPECT_EQ(a.reason, b.reason); }
void expect_same(const Ready& a, const Ready& b) {
  EXPECT_EQ(a.kv_capacity_tokens, b.kv_capacity_tokens);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.device, b.device);
}
void expect_same(const Work& a, const Work& b) {
  EXPECT_EQ(a.request, b.request);
  EXPECT_EQ(a.position, b.position);
  EXPECT_EQ(a.length, b.length);
  EXPECT_EQ(a.hop, b.hop);
  EXPECT_EQ(a.want_token, b.want_token);
  EXPECT_EQ(a.prompt, b.prompt);
  EXPECT_EQ(a.payload, b.payload);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.sampling.temperature, b.sampling.temperature);
  EXPECT_EQ(a.sampling.top_p, b.sampling.top_p);
  EXPECT_EQ(a.sampling.top_k, b.sampling.top_k);
  EXPECT_EQ(a.sampling.seed, b.sampling.seed);
  EXPECT_EQ(a.sampling.allowed_vocab, b.sampling.allowed_vocab);
  ASSERT_EQ(a.route.size(), b.route.size());
  for (std::size_t i = 0; i < a.route.size(); ++i) {
    EXPECT_EQ(a.route[i].node, b.route[i].node) << i;
    EXPECT_EQ(a.route[i].layers, b.route[i].layers) << i;
  }
}
void expect_same(const Token& a, const Token& b) {
  EXPECT_EQ(a.request, b.request);
  EXPECT_EQ(a.position, b.position);
  EXPECT_EQ(a.token, b.token);
  EXPECT_EQ(a.sampler_state, b.sampler_state);
}
void expect_same(const Release& a, const Release& b) { EXPECT_EQ(a.request, b.request); }
void expect_same(const Heartbeat& a, const Heartbeat& b) {
  EXPECT_EQ(a.queued, b.queued);
  EXPECT_EQ(a.kv_used_tokens, b.kv_used_tokens);
  EXPECT_EQ(a.kv_capacity_tokens, b.kv_capacity_tokens);
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.busy_s, b.busy_s);
}
void expect_same(const WorkFailed& a, const WorkFailed& b) {
  EXPECT_EQ(a.request, b.request);
  EXPECT_EQ(a.reason, b.reason);
}
void expect_same(const Shutdown&, const Shutdown&) {}

void expect_same_message(const Message& want, const Message& got) {
  ASSERT_EQ(want.index(), got.index()) << message_name(want) << " decoded as " << message_name(got);
  std::visit(
      [&](const auto& w) {
        using T = std::decay_t<decltype(w)>;
        expect_same(w, std::get<T>(got));
      },
      want);
}

// Decodes from a heap copy of exactly `n` bytes, so a read past the end is a
// heap overflow the ASan build reports.
Message decode_exact(const Bytes& bytes, std::size_t n) {
  Bytes copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
  return decode(copy);
}

std::string wire_error(const Bytes& bytes) {
  try {
    decode_exact(bytes, bytes.size());
  } catch (const WireError& e) {
    return e.what();
  }
  return "<no WireError>";
}

void put_u32(Bytes& bytes, std::size_t at, std::uint32_t v) {
  ASSERT_LE(at + 4, bytes.size());
  std::memcpy(bytes.data() + at, &v, 4);
}
void put_u16(Bytes& bytes, std::size_t at, std::uint16_t v) {
  ASSERT_LE(at + 2, bytes.size());
  std::memcpy(bytes.data() + at, &v, 2);
}
std::uint32_t get_u32(const Bytes& bytes, std::size_t at) {
  std::uint32_t v = 0;
  std::memcpy(&v, bytes.data() + at, 4);
  return v;
}

// ---- round trips ----

TEST(Wire, EveryMessageRoundTripsWithAllFields) {
  for (const Message& m : all_samples()) {
    SCOPED_TRACE(message_name(m));
    const Bytes bytes = encode(m);
    expect_same_message(m, decode_exact(bytes, bytes.size()));
  }
}

TEST(Wire, HeaderIsMagicVersionAndTypeCode) {
  const auto samples = all_samples();
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const Bytes bytes = encode(samples[i]);
    ASSERT_GE(bytes.size(), 8u);
    EXPECT_EQ(bytes[0], 'H');
    EXPECT_EQ(bytes[1], 'L');
    EXPECT_EQ(bytes[2], 'X');
    EXPECT_EQ(bytes[3], 'W');
    EXPECT_EQ(bytes[4], kWireVersion);
    EXPECT_EQ(bytes[5], 0);
    EXPECT_EQ(bytes[6], i + 1) << "type code is the variant index + 1";
    EXPECT_EQ(bytes[7], 0);
  }
  EXPECT_EQ(encode(Shutdown{}).size(), 8u);
  EXPECT_EQ(encode(sample_release()).size(), 16u);
}

TEST(Wire, EmptyStringsAndListsRoundTrip) {
  Assign a;  // defaults: no peers, empty tables
  a.layers = {0, 0};
  const Bytes bytes = encode(a);
  expect_same_message(a, decode_exact(bytes, bytes.size()));

  Hello h;  // all strings empty, no layers loaded
  const Bytes hb = encode(h);
  EXPECT_EQ(hb.size(), 8u + 4 * 4 + 2 * 4);
  expect_same_message(h, decode_exact(hb, hb.size()));
}

TEST(Wire, ExtremeNumbersRoundTrip) {
  Heartbeat hb{-1, -5, INT64_MAX, UINT64_MAX, 0, -0.0};
  const Bytes bytes = encode(hb);
  const auto got = std::get<Heartbeat>(decode_exact(bytes, bytes.size()));
  expect_same(hb, got);
  EXPECT_TRUE(std::signbit(got.busy_s));
}

TEST(Wire, MessageNames) {
  const std::vector<std::string> want = {"Hello", "Assign",  "Refuse",    "Ready",      "Work",
                                         "Token", "Release", "Heartbeat", "WorkFailed", "Shutdown"};
  const auto samples = all_samples();
  ASSERT_EQ(samples.size(), want.size());
  for (std::size_t i = 0; i < samples.size(); ++i) EXPECT_EQ(message_name(samples[i]), want[i]);
}

// ---- refusals ----

TEST(Wire, EveryStrictPrefixIsRefused) {
  for (const Message& m : all_samples()) {
    SCOPED_TRACE(message_name(m));
    const Bytes bytes = encode(m);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_THROW(decode_exact(bytes, n), WireError) << "prefix of " << n << " of " << bytes.size() << " bytes";
    }
  }
}

TEST(Wire, TrailingBytesAreRefused) {
  for (const Message& m : all_samples()) {
    SCOPED_TRACE(message_name(m));
    Bytes bytes = encode(m);
    bytes.push_back(0);
    const std::string error = wire_error(bytes);
    EXPECT_NE(error.find("left over"), std::string::npos) << error;
    EXPECT_NE(error.find(message_name(m)), std::string::npos) << error;
  }
}

TEST(Wire, WrongMagicIsRefused) {
  Bytes bytes = encode(sample_token());
  bytes[0] = 'h';
  EXPECT_NE(wire_error(bytes).find("not a helix message"), std::string::npos) << wire_error(bytes);
  Bytes zeros(32, 0);
  EXPECT_THROW(decode(zeros), WireError);
}

TEST(Wire, OtherVersionIsRefused) {
  Bytes bytes = encode(sample_token());
  put_u16(bytes, 4, 1);
  EXPECT_NE(wire_error(bytes).find("version 1, this build speaks version 5"), std::string::npos) << wire_error(bytes);
  put_u16(bytes, 4, 0);
  EXPECT_NE(wire_error(bytes).find("version 0"), std::string::npos) << wire_error(bytes);
}

TEST(Wire, UnknownTypesAreRefused) {
  for (std::uint16_t type : {std::uint16_t{0}, std::uint16_t{11}, std::uint16_t{99}, std::uint16_t{0xFFFF}}) {
    Bytes bytes = encode(Shutdown{});
    put_u16(bytes, 6, type);
    const std::string error = wire_error(bytes);
    EXPECT_NE(error.find(fmt::format("unknown message type {}", type)), std::string::npos) << error;
  }
}

TEST(Wire, WrongTypeCodeForBodyIsRefused) {
  // A Token body labelled as Release: 24 bytes where Release needs 8.
  Bytes bytes = encode(sample_token());
  put_u16(bytes, 6, 7);
  EXPECT_NE(wire_error(bytes).find("Release message has 16 bytes left over"), std::string::npos) << wire_error(bytes);
}

TEST(Wire, WorkHopMustBeInRoute) {
  Work w = sample_work();
  w.hop = 3;  // route has 3 hops
  EXPECT_NE(wire_error(encode(w)).find("field hop"), std::string::npos) << wire_error(encode(w));
  w.hop = -1;
  EXPECT_NE(wire_error(encode(w)).find("field hop"), std::string::npos);
  w.hop = 0;
  w.route.clear();
  EXPECT_NE(wire_error(encode(w)).find("0-hop route"), std::string::npos) << wire_error(encode(w));
  w = sample_work();
  w.hop = 0;
  EXPECT_NO_THROW(decode(encode(w)));
}

TEST(Wire, WorkNegativeOrZeroLengthAndNegativePositionAreRefused) {
  Work w = sample_work();
  w.length = 0;
  EXPECT_NE(wire_error(encode(w)).find("field length"), std::string::npos) << wire_error(encode(w));
  w.length = -3;
  EXPECT_NE(wire_error(encode(w)).find("field length"), std::string::npos);
  w = sample_work();
  w.position = -1;
  EXPECT_NE(wire_error(encode(w)).find("field position"), std::string::npos) << wire_error(encode(w));
  w.position = 0;
  EXPECT_NO_THROW(decode(encode(w)));
}

TEST(Wire, WorkBadPayloadKindIsRefused) {
  Work w = sample_work();
  w.payload = static_cast<Payload>(3);
  const std::string error = wire_error(encode(w));
  EXPECT_NE(error.find("field payload"), std::string::npos) << error;
  EXPECT_NE(error.find("kind 3"), std::string::npos) << error;
}

TEST(Wire, EveryPayloadKindRoundTrips) {
  for (Payload kind : {Payload::Tokens, Payload::Hidden, Payload::HiddenF16}) {
    Work w = sample_work();
    w.payload = kind;
    EXPECT_EQ(std::get<Work>(decode(encode(w))).payload, kind) << static_cast<int>(kind);
  }
}

TEST(Wire, WorkSamplingRangesAreChecked) {
  Work w = sample_work();
  w.sampling.top_p = 0;
  EXPECT_NE(wire_error(encode(w)).find("sampling.top_p"), std::string::npos) << wire_error(encode(w));
  w.sampling.top_p = 1.0000001;
  EXPECT_NE(wire_error(encode(w)).find("sampling.top_p"), std::string::npos);
  w.sampling.top_p = std::nan("");
  EXPECT_NE(wire_error(encode(w)).find("sampling.top_p"), std::string::npos);
  w.sampling.top_p = 1.0;
  EXPECT_NO_THROW(decode(encode(w)));

  w.sampling.temperature = -0.5;
  EXPECT_NE(wire_error(encode(w)).find("sampling.temperature"), std::string::npos);
  w.sampling.temperature = 0;
  w.sampling.top_k = -1;
  EXPECT_NE(wire_error(encode(w)).find("sampling.top_k"), std::string::npos);
  w.sampling.top_k = 0;
  w.sampling.allowed_vocab = -1;
  EXPECT_NE(wire_error(encode(w)).find("sampling.allowed_vocab"), std::string::npos);
}

TEST(Wire, BoolByteMustBeZeroOrOne) {
  // Work: magic(4) version(2) type(2) request(8) position(4) length(4) hop(4) -> want_token at 28.
  constexpr std::size_t kWantToken = 28;
  Work w = sample_work();
  w.want_token = true;
  Bytes bytes = encode(w);
  ASSERT_EQ(bytes[kWantToken], 1);
  w.want_token = false;
  ASSERT_EQ(encode(w)[kWantToken], 0) << "the offset is the bool's";
  bytes[kWantToken] = 2;
  const std::string error = wire_error(bytes);
  EXPECT_NE(error.find("want_token"), std::string::npos) << error;
  EXPECT_NE(error.find("0 or 1, not 2"), std::string::npos) << error;
  bytes[kWantToken] = 0xFF;
  EXPECT_THROW(decode(bytes), WireError);
}

TEST(Wire, AssignFieldsAreChecked) {
  Assign a = sample_assign();
  a.layers = {70, 81};  // past num_layers = 80
  EXPECT_NE(wire_error(encode(a)).find("past the model's 80 layers"), std::string::npos) << wire_error(encode(a));
  a.layers = {70, 80};
  EXPECT_NO_THROW(decode(encode(a)));
  a.layers = {30, 12};  // end before start
  EXPECT_NE(wire_error(encode(a)).find("field layers"), std::string::npos) << wire_error(encode(a));
  a.layers = {-1, 5};
  EXPECT_NE(wire_error(encode(a)).find("field layers"), std::string::npos);

  a = sample_assign();
  a.slowdown = 0.999;
  EXPECT_NE(wire_error(encode(a)).find("field slowdown"), std::string::npos) << wire_error(encode(a));
  a.slowdown = std::nan("");
  EXPECT_NE(wire_error(encode(a)).find("field slowdown"), std::string::npos);
  a.slowdown = 1.0;
  EXPECT_NO_THROW(decode(encode(a)));

  a = sample_assign();
  a.prefill_chunk = 0;
  EXPECT_NE(wire_error(encode(a)).find("prefill_chunk"), std::string::npos);
  a = sample_assign();
  a.max_batch_tokens = 0;
  EXPECT_NE(wire_error(encode(a)).find("max_batch_tokens"), std::string::npos);
  a = sample_assign();
  a.gather_us = -1;
  EXPECT_NE(wire_error(encode(a)).find("gather_us"), std::string::npos);

  // The device: none, the CPU and a GPU read back; a name that is no device (as a
  // peer of another build might write) is refused by field.
  for (const std::optional<DeviceName>& device : {std::optional<DeviceName>{}, std::optional<DeviceName>{DeviceName{}},
                                                  std::optional<DeviceName>{DeviceName{true, 0}}}) {
    a = sample_assign();
    a.device = device;
    EXPECT_EQ(std::get<Assign>(decode(encode(a))).device, device);
  }
  a = sample_assign();
  a.device = DeviceName{true, 7};
  Bytes bytes = encode(a);
  const std::string name = "cuda:7";
  const auto at = std::search(bytes.begin(), bytes.end(), name.begin(), name.end());
  ASSERT_NE(at, bytes.end());
  at[4] = 'X';  // "cudaX7"
  EXPECT_NE(wire_error(bytes).find("field device: 'cudaX7' is not a device"), std::string::npos) << wire_error(bytes);

  // The activation type follows the device: f32 (0) and f16 (1) only.
  a = sample_assign();
  for (ActivationDtype dtype : {ActivationDtype::F32, ActivationDtype::F16}) {
    a.activations = dtype;
    EXPECT_EQ(std::get<Assign>(decode(encode(a))).activations, dtype);
  }
  bytes = encode(a);
  const std::string device = "cuda:3";
  const auto after = std::search(bytes.begin(), bytes.end(), device.begin(), device.end()) + 6;
  ASSERT_EQ(*after, 1);
  *after = 2;
  EXPECT_NE(wire_error(bytes).find("field activations: kind 2 is neither f32 (0) nor f16 (1)"), std::string::npos)
      << wire_error(bytes);
}

TEST(Wire, RouteLayersAreChecked) {
  Work w = sample_work();
  w.route[1].layers = {20, 10};
  EXPECT_NE(wire_error(encode(w)).find("route.layers"), std::string::npos) << wire_error(encode(w));
}

TEST(Wire, ReadyAndTokenRefuseNegatives) {
  Ready r = sample_ready();
  r.hidden_size = -1;
  EXPECT_THROW(decode(encode(r)), WireError);
  for (const char* device : {"", "cpu", "cuda:0", "emulated"}) {
    r = sample_ready();
    r.device = device;
    EXPECT_EQ(std::get<Ready>(decode(encode(r))).device, device);
  }
  r.device = "tpu";
  EXPECT_NE(wire_error(encode(r)).find("field device: 'tpu' is not a device"), std::string::npos) << wire_error(encode(r));
  Token t = sample_token();
  t.token = -2;
  EXPECT_THROW(decode(encode(t)), WireError);
  t = sample_token();
  t.position = -1;
  EXPECT_THROW(decode(encode(t)), WireError);
}

TEST(Wire, HugeListCountsAreRefusedWithoutAllocating) {
  // Assign with no peers: the peers count is the last 4 bytes.
  Assign a = sample_assign();
  a.peers.clear();
  Bytes bytes = encode(a);
  ASSERT_EQ(get_u32(bytes, bytes.size() - 4), 0u);
  for (std::uint32_t count : {0xFFFFFFFFu, 0x10000u, 1u}) {
    put_u32(bytes, bytes.size() - 4, count);
    const std::string error = wire_error(bytes);  // bad_alloc or an ASan report would escape this
    EXPECT_NE(error.find("field peers"), std::string::npos) << count << ": " << error;
  }

  // Work: the route count sits before the route's 12-byte entries, then the 1-byte prompt flag.
  const Work w = sample_work();
  Bytes work = encode(w);
  const std::size_t at = work.size() - 1 - 4 - 12 * w.route.size();
  ASSERT_EQ(get_u32(work, at), w.route.size());
  put_u32(work, at, 0xFFFFFFFFu);
  EXPECT_NE(wire_error(work).find("field route"), std::string::npos) << wire_error(work);
  put_u32(work, at, 4);  // one more entry than there are bytes for
  EXPECT_NE(wire_error(work).find("field route"), std::string::npos) << wire_error(work);

  // The first list in an Assign: emulation.prompt, right after the 'emulated' bool.
  // magic..type(8) node(4) layers(8) num_layers(4) kv_tokens(8) prefill(4) max_batch(4) gather(4) slowdown(8)
  // emulated(1)
  constexpr std::size_t kPromptCount = 8 + 4 + 8 + 4 + 8 + 4 + 4 + 4 + 8 + 1;
  Bytes assign = encode(sample_assign());
  ASSERT_EQ(get_u32(assign, kPromptCount), sample_assign().emulation.prompt.size());
  put_u32(assign, kPromptCount, 0xFFFFFFFFu);
  EXPECT_NE(wire_error(assign).find("emulation.prompt"), std::string::npos) << wire_error(assign);
}

TEST(Wire, HugeStringLengthsAreRefused) {
  Bytes bytes = encode(sample_hello());
  put_u32(bytes, 8, 0xFFFFFFFFu);  // node's length
  EXPECT_NE(wire_error(bytes).find("field node"), std::string::npos) << wire_error(bytes);
  put_u32(bytes, 8, 1000);  // within the limit but past the end
  EXPECT_NE(wire_error(bytes).find("field"), std::string::npos) << wire_error(bytes);
}

TEST(Wire, EncodeRefusesOversizedStrings) {
  Refuse r{std::string((1 << 16) + 1, 'x')};
  EXPECT_THROW(encode(r), Error);
  r.reason.resize(1 << 16);
  const Bytes bytes = encode(r);
  EXPECT_EQ(std::get<Refuse>(decode(bytes)).reason.size(), std::size_t{1} << 16);
}

// Flips random bytes of valid encodings: decoding either succeeds, and then the
// message re-encodes to the very same bytes (the format is canonical), or throws
// WireError. Anything else (another exception, a crash, an ASan report) fails.
TEST(Wire, FuzzedFramesDecodeOrThrowWireError) {
  std::vector<Bytes> seeds;
  for (const Message& m : all_samples()) seeds.push_back(encode(m));
  std::mt19937_64 rng(20240611);
  int decoded = 0, refused = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes bytes = seeds[rng() % seeds.size()];
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      // Bias towards the header and the first fields, where the counts live.
      const std::size_t at = (rng() % 2 == 0) ? rng() % std::min<std::size_t>(bytes.size(), 40) : rng() % bytes.size();
      bytes[at] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    }
    if (rng() % 8 == 0) bytes.resize(rng() % (bytes.size() + 1));
    try {
      const Message m = decode_exact(bytes, bytes.size());
      ++decoded;
      ASSERT_EQ(encode(m), bytes) << "iteration " << i << ": " << message_name(m) << " did not re-encode identically";
    } catch (const WireError&) {
      ++refused;
    } catch (const std::exception& e) {
      FAIL() << "iteration " << i << ": not a WireError: " << e.what();
    }
  }
  // Both outcomes occur, or the fuzz is not exercising anything.
  EXPECT_GT(decoded, 500);
  EXPECT_GT(refused, 5000);
}

// ---- check_payload ----

TEST(Wire, CheckPayloadTokens) {
  Work w = sample_work();
  w.payload = Payload::Tokens;
  w.length = 3;
  w.hidden_size = 0;
  EXPECT_NO_THROW(check_payload(w, 12));
  EXPECT_THROW(check_payload(w, 11), WireError);
  EXPECT_THROW(check_payload(w, 13), WireError);
  EXPECT_THROW(check_payload(w, 0), WireError);
  w.hidden_size = 99;  // ignored for token payloads
  EXPECT_NO_THROW(check_payload(w, 12));
}

TEST(Wire, CheckPayloadHidden) {
  Work w = sample_work();
  w.payload = Payload::Hidden;
  w.length = 3;
  w.hidden_size = 4;
  EXPECT_NO_THROW(check_payload(w, 48));
  EXPECT_THROW(check_payload(w, 47), WireError);
  EXPECT_THROW(check_payload(w, 49), WireError);
  EXPECT_THROW(check_payload(w, 12), WireError) << "a token-sized payload is not hidden states";
  w.payload = Payload::HiddenF16;  // two bytes a value
  w.hidden_size = 4;
  EXPECT_NO_THROW(check_payload(w, 24));
  EXPECT_THROW(check_payload(w, 48), WireError) << "float32 values under an f16 kind";
  EXPECT_THROW(check_payload(w, 23), WireError);
  w.hidden_size = 0;
  EXPECT_THROW(check_payload(w, 0), WireError) << "f16 hidden states of size 0";
  w.payload = Payload::Hidden;
  EXPECT_THROW(check_payload(w, 0), WireError);
  try {
    check_payload(w, 0);
  } catch (const WireError& e) {
    EXPECT_NE(std::string(e.what()).find("size 0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace helix::runtime
