#include "helix/runtime/activation_codec.h"

#include <cstdint>

#include "helix/kernels/vector_ops.h"
#include "helix/weights/dtype.h"

namespace helix::runtime {
namespace {

// An f16 whose exponent bits are all set: infinite or NaN.
bool not_finite(std::uint16_t half) { return (half & 0x7C00U) == 0x7C00U; }

}  // namespace

std::optional<zmq::message_t> f16_payload(std::span<const float> values) {
  zmq::message_t frame(values.size() * sizeof(std::uint16_t));
  auto* halves = static_cast<std::uint16_t*>(frame.data());
  round_to_f16(values.data(), static_cast<std::int64_t>(values.size()), halves);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (not_finite(halves[i])) return std::nullopt;
  }
  return frame;
}

zmq::message_t widened_payload(const zmq::message_t& halves) {
  const std::size_t count = halves.size() / sizeof(std::uint16_t);
  zmq::message_t frame(count * sizeof(float));
  convert_to_f32(DType::F16, static_cast<const std::byte*>(halves.data()), static_cast<std::int64_t>(count),
                 static_cast<float*>(frame.data()));
  return frame;
}

}  // namespace helix::runtime
