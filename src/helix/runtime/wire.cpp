#include "helix/runtime/wire.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <type_traits>

namespace helix::runtime {
namespace {

static_assert(std::endian::native == std::endian::little, "the wire format is little-endian, as this host");

// Strings and lists have explicit limits so a corrupt length cannot make the
// decoder allocate gigabytes.
constexpr std::uint32_t kMaxString = 1 << 16;
constexpr std::uint32_t kMaxList = 1 << 16;

class Writer {
 public:
  template <typename T>
  void put(T value) {
    static_assert(std::is_arithmetic_v<T>);
    const auto* p = reinterpret_cast<const std::uint8_t*>(&value);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void put_bool(bool b) { put<std::uint8_t>(b ? 1 : 0); }
  void put_string(const std::string& s) {
    if (s.size() > kMaxString) fail("wire: a string of {} bytes is longer than the limit of {}", s.size(), kMaxString);
    put(static_cast<std::uint32_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void put_count(std::size_t n) {
    if (n > kMaxList) fail("wire: a list of {} entries is longer than the limit of {}", n, kMaxList);
    put(static_cast<std::uint32_t>(n));
  }
  void put_range(LayerRange r) {
    put<std::int32_t>(r.start);
    put<std::int32_t>(r.end);
  }
  std::vector<std::uint8_t> take() { return std::move(bytes_); }

 private:
  std::vector<std::uint8_t> bytes_;
};

class Reader {
 public:
  Reader(std::span<const std::uint8_t> bytes, std::string message) : bytes_(bytes), message_(std::move(message)) {}

  template <typename T>
  T get(const char* field) {
    static_assert(std::is_arithmetic_v<T>);
    need(sizeof(T), field);
    T value;
    std::memcpy(&value, bytes_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return value;
  }
  bool get_bool(const char* field) {
    auto v = get<std::uint8_t>(field);
    if (v > 1) bad(field, fmt::format("a boolean must be 0 or 1, not {}", v));
    return v == 1;
  }
  std::string get_string(const char* field) {
    auto n = get<std::uint32_t>(field);
    if (n > kMaxString) bad(field, fmt::format("string length {} is over the limit of {}", n, kMaxString));
    need(n, field);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + at_), n);
    at_ += n;
    return s;
  }
  // A list count, checked against what is left: every entry takes at least
  // `min_entry_bytes`.
  std::size_t get_count(const char* field, std::size_t min_entry_bytes) {
    auto n = get<std::uint32_t>(field);
    if (n > kMaxList || n * min_entry_bytes > bytes_.size() - at_) {
      bad(field, fmt::format("a list of {} entries does not fit in the {} bytes left", n, bytes_.size() - at_));
    }
    return n;
  }
  LayerRange get_range(const char* field) {
    LayerRange r{get<std::int32_t>(field), get<std::int32_t>(field)};
    if (r.start < 0 || r.end < r.start) bad(field, fmt::format("layer range [{}, {}) is invalid", r.start, r.end));
    return r;
  }
  void finish() {
    if (at_ != bytes_.size()) {
      throw WireError(fmt::format("wire: {} message has {} bytes left over after its last field", message_,
                                  bytes_.size() - at_));
    }
  }
  [[noreturn]] void bad(const char* field, const std::string& what) {
    throw WireError(fmt::format("wire: {} message, field {}: {}", message_, field, what));
  }

 private:
  void need(std::size_t n, const char* field) {
    if (bytes_.size() - at_ < n) {
      bad(field, fmt::format("needs {} bytes but only {} are left", n, bytes_.size() - at_));
    }
  }
  std::span<const std::uint8_t> bytes_;
  std::size_t at_ = 0;
  std::string message_;
};

// ---- per-message fields, both directions side by side ----

void write(Writer& w, const Hello& m) {
  w.put_string(m.node);
  w.put_string(m.engine);
  w.put_string(m.gpu);
  w.put_string(m.data_endpoint);
  w.put_range(m.loaded);
}
void read(Reader& r, Hello& m) {
  m.node = r.get_string("node");
  m.engine = r.get_string("engine");
  m.gpu = r.get_string("gpu");
  m.data_endpoint = r.get_string("data_endpoint");
  m.loaded = r.get_range("loaded");
}

void write_points(Writer& w, const std::vector<TimePoint>& points) {
  w.put_count(points.size());
  for (const TimePoint& p : points) {
    w.put(p.tokens);
    w.put(p.seconds);
  }
}
std::vector<TimePoint> read_points(Reader& r, const char* field) {
  std::vector<TimePoint> points(r.get_count(field, 12));
  for (TimePoint& p : points) {
    p.tokens = r.get<std::int32_t>(field);
    p.seconds = r.get<double>(field);
  }
  return points;
}

void write(Writer& w, const Assign& m) {
  w.put(m.node);
  w.put_range(m.layers);
  w.put(m.num_layers);
  w.put(m.kv_tokens);
  w.put(m.prefill_chunk);
  w.put(m.max_batch_tokens);
  w.put(m.gather_us);
  w.put(m.slowdown);
  w.put_bool(m.emulated);
  write_points(w, m.emulation.prompt);
  write_points(w, m.emulation.decode);
  w.put(m.emulation.prompt_max_tokens);
  w.put(m.emulation.prompt_max_requests);
  w.put(m.emulation.decode_max_tokens);
  w.put(m.emulation.activation_bytes_per_token);
  w.put(m.emulation.vocab_size);
  w.put_string(m.device ? m.device->name() : "");
  w.put(static_cast<std::uint8_t>(m.activations));
  w.put_count(m.peers.size());
  for (const Peer& p : m.peers) {
    w.put(p.node);
    w.put_string(p.data_endpoint);
    w.put_string(p.public_key);
  }
}
void read(Reader& r, Assign& m) {
  m.node = r.get<std::int32_t>("node");
  m.layers = r.get_range("layers");
  m.num_layers = r.get<std::int32_t>("num_layers");
  if (m.layers.end > m.num_layers) r.bad("layers", fmt::format("range ends at {} past the model's {} layers", m.layers.end, m.num_layers));
  m.kv_tokens = r.get<std::int64_t>("kv_tokens");
  m.prefill_chunk = r.get<std::int32_t>("prefill_chunk");
  if (m.prefill_chunk < 1) r.bad("prefill_chunk", "must be at least 1");
  m.max_batch_tokens = r.get<std::int32_t>("max_batch_tokens");
  if (m.max_batch_tokens < 1) r.bad("max_batch_tokens", "must be at least 1");
  m.gather_us = r.get<std::int32_t>("gather_us");
  if (m.gather_us < 0 || m.gather_us > 1'000'000) r.bad("gather_us", fmt::format("{} is not in [0, 1e6]", m.gather_us));
  m.slowdown = r.get<double>("slowdown");
  if (!(m.slowdown >= 1.0 && m.slowdown < 1e6)) r.bad("slowdown", fmt::format("{} is not in [1, 1e6)", m.slowdown));
  m.emulated = r.get_bool("emulated");
  m.emulation.prompt = read_points(r, "emulation.prompt");
  m.emulation.decode = read_points(r, "emulation.decode");
  m.emulation.prompt_max_tokens = r.get<std::int32_t>("emulation.prompt_max_tokens");
  m.emulation.prompt_max_requests = r.get<std::int32_t>("emulation.prompt_max_requests");
  m.emulation.decode_max_tokens = r.get<std::int32_t>("emulation.decode_max_tokens");
  m.emulation.activation_bytes_per_token = r.get<std::int32_t>("emulation.activation_bytes_per_token");
  m.emulation.vocab_size = r.get<std::int32_t>("emulation.vocab_size");
  if (const std::string device = r.get_string("device"); !device.empty()) {
    m.device = parse_device_name(device);
    if (!m.device) r.bad("device", fmt::format("'{}' is not a device ({})", device, kDeviceNameForms));
  }
  const auto activations = r.get<std::uint8_t>("activations");
  if (activations > 1) r.bad("activations", fmt::format("kind {} is neither f32 (0) nor f16 (1)", activations));
  m.activations = static_cast<ActivationDtype>(activations);
  m.peers.resize(r.get_count("peers", 12));
  for (Peer& p : m.peers) {
    p.node = r.get<std::int32_t>("peers.node");
    p.data_endpoint = r.get_string("peers.data_endpoint");
    p.public_key = r.get_string("peers.public_key");
    if (!p.public_key.empty() && p.public_key.size() != 40) r.bad("peers.public_key", "a CURVE key is 40 Z85 characters");
  }
}

void write(Writer& w, const Refuse& m) { w.put_string(m.reason); }
void read(Reader& r, Refuse& m) { m.reason = r.get_string("reason"); }

void write(Writer& w, const Ready& m) {
  w.put(m.kv_capacity_tokens);
  w.put(m.vocab_size);
  w.put(m.hidden_size);
  w.put_string(m.device);
}
void read(Reader& r, Ready& m) {
  m.kv_capacity_tokens = r.get<std::int64_t>("kv_capacity_tokens");
  m.vocab_size = r.get<std::int32_t>("vocab_size");
  m.hidden_size = r.get<std::int32_t>("hidden_size");
  if (m.kv_capacity_tokens < 0 || m.vocab_size < 0 || m.hidden_size < 0) r.bad("sizes", "must not be negative");
  m.device = r.get_string("device");
  if (!m.device.empty() && m.device != "emulated" && !parse_device_name(m.device)) {
    r.bad("device", fmt::format("'{}' is not a device ({}, or emulated)", m.device, kDeviceNameForms));
  }
}

void write(Writer& w, const Work& m) {
  w.put(m.request);
  w.put(m.position);
  w.put(m.length);
  w.put(m.hop);
  w.put_bool(m.want_token);
  w.put(static_cast<std::uint8_t>(m.payload));
  w.put(m.hidden_size);
  w.put(m.sampling.temperature);
  w.put(m.sampling.top_p);
  w.put(m.sampling.top_k);
  w.put(m.sampling.seed);
  w.put(m.sampling.allowed_vocab);
  w.put_count(m.route.size());
  for (const RouteHop& h : m.route) {
    w.put(h.node);
    w.put_range(h.layers);
  }
  w.put_bool(m.prompt);
}
void read(Reader& r, Work& m) {
  m.request = r.get<std::uint64_t>("request");
  m.position = r.get<std::int32_t>("position");
  if (m.position < 0) r.bad("position", fmt::format("{} is negative", m.position));
  m.length = r.get<std::int32_t>("length");
  if (m.length < 1) r.bad("length", fmt::format("{} is not positive", m.length));
  m.hop = r.get<std::int32_t>("hop");
  m.want_token = r.get_bool("want_token");
  auto payload = r.get<std::uint8_t>("payload");
  if (payload > 2) r.bad("payload", fmt::format("kind {} is not tokens (0), hidden f32 (1) or hidden f16 (2)", payload));
  m.payload = static_cast<Payload>(payload);
  m.hidden_size = r.get<std::int32_t>("hidden_size");
  if (m.hidden_size < 0) r.bad("hidden_size", "is negative");
  m.sampling.temperature = r.get<double>("sampling.temperature");
  if (!(m.sampling.temperature >= 0 && m.sampling.temperature <= 100)) r.bad("sampling.temperature", "is not in [0, 100]");
  m.sampling.top_p = r.get<double>("sampling.top_p");
  if (!(m.sampling.top_p > 0 && m.sampling.top_p <= 1)) r.bad("sampling.top_p", "is not in (0, 1]");
  m.sampling.top_k = r.get<std::int32_t>("sampling.top_k");
  if (m.sampling.top_k < 0) r.bad("sampling.top_k", "is negative");
  m.sampling.seed = r.get<std::uint64_t>("sampling.seed");
  m.sampling.allowed_vocab = r.get<std::int32_t>("sampling.allowed_vocab");
  if (m.sampling.allowed_vocab < 0) r.bad("sampling.allowed_vocab", "is negative");
  m.route.resize(r.get_count("route", 12));
  for (RouteHop& h : m.route) {
    h.node = r.get<std::int32_t>("route.node");
    h.layers = r.get_range("route.layers");
  }
  if (m.hop < 0 || m.hop >= static_cast<int>(m.route.size())) {
    r.bad("hop", fmt::format("{} is not a hop of the {}-hop route", m.hop, m.route.size()));
  }
  m.prompt = r.get_bool("prompt");
}

void write(Writer& w, const Token& m) {
  w.put(m.request);
  w.put(m.position);
  w.put(m.token);
  w.put(m.sampler_state);
}
void read(Reader& r, Token& m) {
  m.request = r.get<std::uint64_t>("request");
  m.position = r.get<std::int32_t>("position");
  m.token = r.get<std::int32_t>("token");
  m.sampler_state = r.get<std::uint64_t>("sampler_state");
  if (m.position < 0 || m.token < 0) r.bad("token", "position and id must not be negative");
}

void write(Writer& w, const Release& m) { w.put(m.request); }
void read(Reader& r, Release& m) { m.request = r.get<std::uint64_t>("request"); }

void write(Writer& w, const Heartbeat& m) {
  w.put(m.queued);
  w.put(m.kv_used_tokens);
  w.put(m.kv_capacity_tokens);
  w.put(m.steps);
  w.put(m.tokens);
  w.put(m.busy_s);
}
void read(Reader& r, Heartbeat& m) {
  m.queued = r.get<std::int32_t>("queued");
  m.kv_used_tokens = r.get<std::int64_t>("kv_used_tokens");
  m.kv_capacity_tokens = r.get<std::int64_t>("kv_capacity_tokens");
  m.steps = r.get<std::uint64_t>("steps");
  m.tokens = r.get<std::uint64_t>("tokens");
  m.busy_s = r.get<double>("busy_s");
}

void write(Writer& w, const WorkFailed& m) {
  w.put(m.request);
  w.put_string(m.reason);
}
void read(Reader& r, WorkFailed& m) {
  m.request = r.get<std::uint64_t>("request");
  m.reason = r.get_string("reason");
}

void write(Writer&, const Shutdown&) {}
void read(Reader&, Shutdown&) {}

constexpr const char* kNames[] = {"Hello", "Assign", "Refuse",    "Ready",      "Work",
                                  "Token", "Release", "Heartbeat", "WorkFailed", "Shutdown"};
static_assert(std::size(kNames) == std::variant_size_v<Message>);

// Type codes are the variant index + 1 (0 is never valid).
template <std::size_t I = 0>
Message decode_body(std::size_t index, Reader& r) {
  if constexpr (I < std::variant_size_v<Message>) {
    if (index == I) {
      std::variant_alternative_t<I, Message> m;
      read(r, m);
      return m;
    }
    return decode_body<I + 1>(index, r);
  } else {
    throw WireError("unreachable");
  }
}

}  // namespace

std::string message_name(const Message& message) { return kNames[message.index()]; }

std::vector<std::uint8_t> encode(const Message& message) {
  Writer w;
  w.put(kWireMagic);
  w.put(kWireVersion);
  w.put(static_cast<std::uint16_t>(message.index() + 1));
  std::visit([&](const auto& m) { write(w, m); }, message);
  return w.take();
}

Message decode(std::span<const std::uint8_t> frame) {
  Reader header(frame, "a");
  const auto magic = header.get<std::uint32_t>("magic");
  if (magic != kWireMagic) throw WireError(fmt::format("wire: not a helix message (magic {:#010x})", magic));
  const auto version = header.get<std::uint16_t>("version");
  if (version != kWireVersion) {
    throw WireError(fmt::format("wire: message version {}, this build speaks version {}", version, kWireVersion));
  }
  const auto type = header.get<std::uint16_t>("type");
  if (type == 0 || type > std::variant_size_v<Message>) throw WireError(fmt::format("wire: unknown message type {}", type));
  Reader body(frame.subspan(8), kNames[type - 1]);
  Message m = decode_body(type - 1, body);
  body.finish();
  return m;
}

const char* activation_dtype_name(ActivationDtype dtype) { return dtype == ActivationDtype::F16 ? "f16" : "f32"; }

ActivationDtype parse_activation_dtype(std::string_view text, std::string_view what) {
  if (text == "f32") return ActivationDtype::F32;
  if (text == "f16") return ActivationDtype::F16;
  fail("{}: '{}' is not an activation type (f32 or f16)", what, text);
}

std::size_t payload_bytes_per_token(Payload payload, int hidden_size) {
  const auto values = static_cast<std::size_t>(std::max(hidden_size, 0));
  switch (payload) {
    case Payload::Tokens: return sizeof(std::int32_t);
    case Payload::Hidden: return sizeof(float) * values;
    case Payload::HiddenF16: return sizeof(std::uint16_t) * values;
  }
  return 0;
}

void check_payload(const Work& work, std::size_t payload_bytes) {
  if (work.payload != Payload::Tokens && work.hidden_size < 1) {
    throw WireError("wire: Work message with hidden states of size 0");
  }
  const std::size_t expected = payload_bytes_per_token(work.payload, work.hidden_size) * static_cast<std::size_t>(work.length);
  if (payload_bytes != expected) {
    throw WireError(fmt::format("wire: Work message for request {}: payload of {} bytes, {} tokens need {}", work.request,
                                payload_bytes, work.length, expected));
  }
}

}  // namespace helix::runtime
