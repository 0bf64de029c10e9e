#include "helix/runtime/activation_codec.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "helix/kernels/vector_ops.h"
#include "helix/weights/dtype.h"

namespace helix::runtime {
namespace {

// An f16 whose exponent bits are all set: infinite or NaN.
bool not_finite(std::uint16_t half) { return (half & 0x7C00U) == 0x7C00U; }

template <typename T>
void release_owned(void*, void* hint) {
  delete static_cast<std::vector<T>*>(hint);
}

// A frame over its own heap vector: ZeroMQ keeps frames of up to 33 bytes inside the
// message object, at an address not aligned for the values; a vector's is.
template <typename T>
zmq::message_t owned_frame(std::vector<T> values) {
  auto* owned = new std::vector<T>(std::move(values));
  return zmq::message_t(owned->data(), owned->size() * sizeof(T), release_owned<T>, owned);
}

}  // namespace

std::optional<zmq::message_t> f16_payload(std::span<const float> values) {
  std::vector<std::uint16_t> halves(values.size());
  round_to_f16(values.data(), static_cast<std::int64_t>(values.size()), halves.data());
  for (std::uint16_t h : halves) {
    if (not_finite(h)) return std::nullopt;
  }
  return owned_frame(std::move(halves));
}

zmq::message_t widened_payload(const zmq::message_t& halves) {
  // Copied out first: a received frame's bytes need not be aligned for uint16 either.
  std::vector<std::uint16_t> bits(halves.size() / sizeof(std::uint16_t));
  std::memcpy(bits.data(), halves.data(), bits.size() * sizeof(std::uint16_t));
  std::vector<float> values(bits.size());
  convert_to_f32(DType::F16, reinterpret_cast<const std::byte*>(bits.data()), static_cast<std::int64_t>(bits.size()),
                 values.data());
  return owned_frame(std::move(values));
}

}  // namespace helix::runtime
