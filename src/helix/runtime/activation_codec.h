// Hidden states as f16 on the wire (ActivationDtype::F16, wire.h): half the bytes
// of float32 on every link between workers, which is what a cross-region link's
// tokens/s depends on. Rounding is IEEE round-to-nearest-even, the KV cache's
// (kernels/vector_ops.h's round_to_f16); widening back is exact.
#pragma once

#include <optional>
#include <span>

#include <zmq.hpp>

namespace helix::runtime {

// The f16 payload of `values`, or nullopt when one of them has no finite f16
// (beyond 65504, infinite or NaN): that message goes as float32, so a large
// activation is never sent as infinity.
std::optional<zmq::message_t> f16_payload(std::span<const float> values);

// The float32 payload of an f16 one (exact).
zmq::message_t widened_payload(const zmq::message_t& halves);

}  // namespace helix::runtime
