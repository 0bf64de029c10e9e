#include "helix/cuda/step_buffers.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "helix/core/error.h"
#include "helix/cuda/launch_stream.h"

namespace helix::cuda {
namespace {

std::size_t sz(std::int64_t n) { return static_cast<std::size_t>(n); }

int rounded_up(int n) { return n == 0 ? 0 : static_cast<int>(std::bit_ceil(static_cast<unsigned>(n))); }

}  // namespace

bool StepBuffers::reserve(int tokens, int logit_rows) {
  if (tokens <= capacity_ && logit_rows <= logit_capacity_) return false;
  if (tokens > (1 << 30) || logit_rows > tokens) {
    fail("cuda: a step of {} tokens and {} logits rows does not fit the GPU stage's buffers", tokens, logit_rows);
  }
  // Everything new is made first, then swapped in: a failed allocation leaves the
  // old buffers (and the graphs captured on them) valid.
  StepBuffers next(sizes_);
  next.capacity_ = std::max(capacity_, rounded_up(tokens));
  next.logit_capacity_ = sizes_.vocab > 0 ? std::max(logit_capacity_, rounded_up(logit_rows)) : 0;
  const std::int64_t T = next.capacity_, R = next.logit_capacity_;
  const StepSizes& s = sizes_;
  next.ints_ = DeviceArray<std::int32_t>(sz(next.int_values()));
  next.angles_ = DeviceArray<float>(sz(2 * next.angle_floats()));
  next.x = DeviceArray<float>(sz(T * s.hidden));
  next.h = DeviceArray<float>(sz(T * s.hidden));
  next.q = DeviceArray<float>(sz(T * s.q_dim));
  next.k = DeviceArray<float>(sz(T * s.kv_dim));
  next.v = DeviceArray<float>(sz(T * s.kv_dim));
  next.attn = DeviceArray<float>(sz(T * s.q_dim));
  next.gate = DeviceArray<float>(sz(T * s.intermediate));
  next.up = DeviceArray<float>(sz(T * s.intermediate));
  next.picked = DeviceArray<float>(sz(R * s.hidden));
  next.logits = DeviceArray<float>(sz(R * s.vocab));
  next.inputs_.reserve(sz(next.int_values() * 4 + (2 * next.angle_floats() + T * s.hidden) * 4));
  next.output_.reserve(sz(std::max(T * s.hidden, R * s.vocab) * 4));
  *this = std::move(next);
  return true;
}

std::size_t StepBuffers::device_bytes(const StepSizes& s, int tokens, int logit_rows) {
  const std::int64_t T = rounded_up(tokens), R = s.vocab > 0 ? rounded_up(logit_rows) : 0;
  const std::int64_t ints = 8 * T + s.table_entries, angles = 2 * T * s.angle_pairs;
  const std::int64_t activations = T * (2 * s.hidden + 2 * s.q_dim + 2 * s.kv_dim + 2 * s.intermediate);
  return sz(ints + angles + activations + R * (s.hidden + s.vocab)) * 4;
}

void StepBuffers::upload(int tokens, std::int64_t table_entries, bool hidden) {
  using cuda_detail::copy_to_device_async;
  copy_to_device_async(ints_.data(), host_ints(), sz(region(8) + table_entries) * 4);
  const std::size_t angle_bytes = sz(std::int64_t{tokens} * sizes_.angle_pairs) * 4;
  copy_to_device_async(angles_.data(), host_cos(), angle_bytes);
  copy_to_device_async(angles_.data() + angle_floats(), host_sin(), angle_bytes);
  if (hidden) copy_to_device_async(x.data(), host_hidden(), sz(std::int64_t{tokens} * sizes_.hidden) * 4);
}

void StepBuffers::download(const float* from, std::int64_t floats) {
  cuda_detail::copy_to_host_async(output_.data(), from, sz(floats) * 4);
}

}  // namespace helix::cuda
