// The wire format between coordinator and workers (docs/formats.md, "helix wire v1").
//
// A message is one ZeroMQ multipart message: a header frame, encoded here, and for
// Work messages a second frame with the payload (token ids or hidden states) that
// is sent and received without copying. The header frame is
//
//   u32 magic "HLXW" | u16 version | u16 type | body (little-endian fields)
//
// Decoding is bounds-checked field by field: a short, long or inconsistent frame
// gives a WireError naming the message and field, never a read past the end.
// A different version is refused, so mixed builds fail loudly at join time.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "helix/core/device_name.h"
#include "helix/core/error.h"
#include "helix/model/layer_range.h"

namespace helix::runtime {

inline constexpr std::uint32_t kWireMagic = 0x57584c48;  // "HLXW" read as little-endian bytes
inline constexpr std::uint16_t kWireVersion = 5;  // 2: Assign carries gather_us; 3: Hello.loaded, Token.sampler_state, Peer.public_key; 4: Assign.device, Ready.device; 5: Assign.activations, f16 hidden payloads

class WireError : public Error {
 public:
  using Error::Error;
};

// Worker -> coordinator: I am `node`, reachable for work at `data_endpoint`.
struct Hello {
  std::string node;
  std::string engine;  // "real" or "emulated"
  std::string gpu;     // emulated: the GPU type it claims to be ("" = take the cluster's)
  std::string data_endpoint;
  // The layers it holds loaded already (a worker re-joining a restarted
  // coordinator keeps them; empty for a fresh worker).
  LayerRange loaded;
};

// One row of a per-layer time table (perf/layer_time_table.h).
struct TimePoint {
  std::int32_t tokens = 0;
  double seconds = 0;
};

// What an emulated worker needs to behave like its GPU: the same per-layer
// tables and batch limits the simulator uses, and the model's sizes.
struct Emulation {
  std::vector<TimePoint> prompt, decode;
  std::int32_t prompt_max_tokens = 0;
  std::int32_t prompt_max_requests = 0;
  std::int32_t decode_max_tokens = 0;
  std::int32_t activation_bytes_per_token = 0;
  std::int32_t vocab_size = 0;
};

// What hidden states cross the network as. f16 halves the bytes on every link
// between workers (the paper's prototype sent fp16); f32 keeps the engine's values,
// so a pipeline gives the bits of one process.
enum class ActivationDtype : std::uint8_t { F32 = 0, F16 = 1 };
const char* activation_dtype_name(ActivationDtype dtype);
// "f32" or "f16"; anything else fails naming `what` (an option, a field).
ActivationDtype parse_activation_dtype(std::string_view text, std::string_view what);

struct Peer {
  std::int32_t node = 0;
  std::string data_endpoint;
  std::string public_key;  // CURVE: its key (Z85), which workers trust and connect with; "" without CURVE
};

// Coordinator -> worker: your node index and layers, and where everyone is. Sent
// again whenever either changes (re-planning, a peer that joined or left); the
// same layers again keep the loaded ones and their KV, other layers replace them
// (all KV is dropped), no layers release them (the node stands by).
struct Assign {
  std::int32_t node = 0;
  LayerRange layers;
  std::int32_t num_layers = 0;
  std::int64_t kv_tokens = 0;  // KV capacity to allocate (0 = the worker's own default)
  std::int32_t prefill_chunk = 512;
  std::int32_t max_batch_tokens = 2048;
  std::int32_t gather_us = 1000;  // an idle worker collects arriving work this long before a step
  double slowdown = 1.0;
  bool emulated = false;
  Emulation emulation;
  // Where the cluster file says this node runs its layers; nullopt: it does not
  // say (the worker's --device, else the CPU). On the wire "" for nullopt.
  std::optional<DeviceName> device = std::nullopt;
  ActivationDtype activations = ActivationDtype::F32;  // what this worker sends hidden states as
  std::vector<Peer> peers;
};

struct Refuse {
  std::string reason;
};

// Worker -> coordinator: layers loaded, this much KV allocated.
struct Ready {
  std::int64_t kv_capacity_tokens = 0;
  std::int32_t vocab_size = 0;
  std::int32_t hidden_size = 0;
  std::string device = "";  // where the layers run: "cpu", "cuda:N", "emulated"; "" with none loaded
};

struct RouteHop {
  std::int32_t node = 0;
  LayerRange layers;  // the layers the request runs there (maybe a suffix of its range)
};

struct Sampling {
  double temperature = 0;
  double top_p = 1;
  std::int32_t top_k = 0;
  // The sampler's starting state: the request's seed, or — for a request that
  // moved to a new route — the state its sampler had reached (Token.sampler_state),
  // so its random stream goes on exactly where it was.
  std::uint64_t seed = 0;
  std::int32_t allowed_vocab = 0;
};

// Hidden: float32 values; HiddenF16: IEEE half values (a worker told to send f16
// sends a message whose values do not all fit in f16 as float32).
enum class Payload : std::uint8_t { Tokens = 0, Hidden = 1, HiddenF16 = 2 };

// Coordinator or worker -> worker: run `length` tokens of `request` starting at
// `position` on hop `hop` of `route`, then pass them on. The payload frame holds
// length int32 token ids or length x hidden float32 (or f16) states.
struct Work {
  std::uint64_t request = 0;
  std::int32_t position = 0;
  std::int32_t length = 0;
  std::int32_t hop = 0;
  bool want_token = false;  // the chunk ends the prompt, or is a decode: sample after it
  Payload payload = Payload::Tokens;
  std::int32_t hidden_size = 0;  // Hidden payloads: values per token
  Sampling sampling;
  std::vector<RouteHop> route;
  bool prompt = false;  // (a chunk of) a prompt, not a decode step: its batch time differs
};

// Last worker -> coordinator: the token sampled after `position`.
struct Token {
  std::uint64_t request = 0;
  std::int32_t position = 0;  // the sampled token's position in the sequence
  std::int32_t token = 0;
  std::uint64_t sampler_state = 0;  // the request's sampler after drawing this token
};

// Coordinator -> worker: the request is over; free its KV and sampler.
struct Release {
  std::uint64_t request = 0;
};

// Worker -> coordinator, about once a second: load and KV use (for /metrics).
struct Heartbeat {
  std::int32_t queued = 0;
  std::int64_t kv_used_tokens = 0;
  std::int64_t kv_capacity_tokens = 0;
  std::uint64_t steps = 0;
  std::uint64_t tokens = 0;
  double busy_s = 0;
};

// WorkFailed reasons starting with this mean "out of KV blocks here, try again
// later" (the coordinator re-queues the request), not a broken request.
inline constexpr std::string_view kKvFullReason = "KV cache full";

// Worker -> coordinator: the request could not run here.
struct WorkFailed {
  std::uint64_t request = 0;
  std::string reason;
};

struct Shutdown {};

using Message = std::variant<Hello, Assign, Refuse, Ready, Work, Token, Release, Heartbeat, WorkFailed, Shutdown>;

// The message's name ("Work", ...), for logs and errors.
std::string message_name(const Message& message);

std::vector<std::uint8_t> encode(const Message& message);
// Throws WireError.
Message decode(std::span<const std::uint8_t> frame);

// Bytes one token takes in a Work payload: its int32 id, or its hidden state's
// float32 or f16 values. The planner's network capacities count these (runtime_model_spec.h).
std::size_t payload_bytes_per_token(Payload payload, int hidden_size);

// Checks a Work message's payload frame size (decode() already checked that
// the route contains `hop`). Throws WireError.
void check_payload(const Work& work, std::size_t payload_bytes);

}  // namespace helix::runtime
