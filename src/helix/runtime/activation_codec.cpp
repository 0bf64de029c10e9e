#include "helix/runtime/activation_codec.h"

#include <cstdint>
#include <vector>

#include "helix/kernels/vector_ops.h"
#include "helix/runtime/transport.h"

namespace helix::runtime {
namespace {

// An f16 whose exponent bits are all set: infinite or NaN.
bool not_finite(std::uint16_t half) { return (half & 0x7C00U) == 0x7C00U; }

}  // namespace

std::optional<zmq::message_t> f16_payload(std::span<const float> values) {
  std::vector<std::uint16_t> halves(values.size());
  round_to_f16(values.data(), static_cast<std::int64_t>(values.size()), halves.data());
  for (std::uint16_t h : halves) {
    if (not_finite(h)) return std::nullopt;
  }
  return payload_frame(std::move(halves));
}

zmq::message_t widened_payload(const zmq::message_t& halves) {
  std::vector<float> values(halves.size() / sizeof(std::uint16_t));
  // widen_f16 reads its source bytewise: no alignment needed.
  widen_f16(static_cast<const std::byte*>(halves.data()), static_cast<std::int64_t>(values.size()), values.data());
  return payload_frame(std::move(values));
}

}  // namespace helix::runtime
