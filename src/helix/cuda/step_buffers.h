// A GPU stage's memory for one step, sized for up to capacity() tokens and
// logit_capacity() logits rows, and laid out so that every device address stays put
// until a capacity grows: a captured decode step (graph.h) keeps reading the same
// buffers, refilled before each replay.
//
//  * the step's inputs, written by the host into pinned memory and copied with one
//    queued copy per region: per token its position, block-table start, KV slot and
//    token id; the rows whose logits are wanted; the prefill tiles and the
//    one-token chunks of a mixed step (attention.h);
//    the chunks' block tables; the RoPE angles; the hidden rows (a stage that does
//    not embed);
//  * the activations between kernels (x: the residual stream; h, q, k, v, attn,
//    gate, up; the picked rows and their logits, last stage only);
//  * the pinned host end of the output copy.
#pragma once

#include <cstdint>

#include "helix/cuda/device_array.h"
#include "helix/cuda/pinned_buffer.h"

namespace helix::cuda {

struct StepSizes {
  int hidden = 0, q_dim = 0, kv_dim = 0, intermediate = 0;
  int vocab = 0;                  // 0 for a stage that returns hidden states
  int angle_pairs = 0;            // head_dim / 2
  std::int64_t table_entries = 0; // the KV blocks of a stage: no step's tables hold more
};

class StepBuffers {
 public:
  explicit StepBuffers(const StepSizes& sizes) : sizes_(sizes) {}

  // Room for `tokens` tokens and `logit_rows` logits rows (each capacity rounded up
  // to a power of two). Returns true when device buffers were replaced (their
  // addresses changed). All or nothing: when an allocation fails, it throws and
  // the buffers and capacities stay as they were.
  bool reserve(int tokens, int logit_rows);
  // The device bytes reserve(tokens, logit_rows) allocates for buffers that hold
  // nothing yet: what a stage sets aside for its largest step.
  static std::size_t device_bytes(const StepSizes& sizes, int tokens, int logit_rows);
  int capacity() const { return capacity_; }
  int logit_capacity() const { return logit_capacity_; }

  // Host (pinned) inputs, filled before upload().
  std::int32_t* host_positions() { return host_ints() + region(0); }
  std::int32_t* host_table_starts() { return host_ints() + region(1); }
  std::int32_t* host_slots() { return host_ints() + region(2); }
  std::int32_t* host_token_ids() { return host_ints() + region(3); }
  std::int32_t* host_logit_rows() { return host_ints() + region(4); }
  std::int32_t* host_tiles() { return host_ints() + region(5); }  // two per tile, at most 2 * capacity
  std::int32_t* host_single_tokens() { return host_ints() + region(7); }
  std::int32_t* host_tables() { return host_ints() + region(8); }
  float* host_cos() { return host_floats(); }
  float* host_sin() { return host_floats() + angle_floats(); }
  float* host_hidden() { return host_floats() + 2 * angle_floats(); }

  // Queues the inputs' copies: the int regions (up to `table_entries` tables), the
  // angles of `tokens` tokens, and their hidden rows when `hidden`.
  void upload(int tokens, std::int64_t table_entries, bool hidden);
  // Queues the copy of `floats` values at device `from` into pinned memory; read
  // host_output() after the stream is synchronized.
  void download(const float* from, std::int64_t floats);
  const float* host_output() { return reinterpret_cast<const float*>(output_.data()); }

  // Device views of the inputs, at the host's offsets.
  const std::int32_t* positions() const { return ints_.data() + region(0); }
  const std::int32_t* table_starts() const { return ints_.data() + region(1); }
  const std::int32_t* slots() const { return ints_.data() + region(2); }
  const std::int32_t* token_ids() const { return ints_.data() + region(3); }
  const std::int32_t* logit_rows() const { return ints_.data() + region(4); }
  const std::int32_t* tiles() const { return ints_.data() + region(5); }
  const std::int32_t* single_tokens() const { return ints_.data() + region(7); }
  const std::int32_t* tables() const { return ints_.data() + region(8); }
  const float* cos() const { return angles_.data(); }
  const float* sin() const { return angles_.data() + angle_floats(); }

  DeviceArray<float> x, h, q, k, v, attn, gate, up, picked, logits;

 private:
  // Per-token int regions, capacity_ values each (the tiles take two).
  std::int64_t region(int index) const { return index * static_cast<std::int64_t>(capacity_); }
  std::int64_t angle_floats() const { return static_cast<std::int64_t>(capacity_) * sizes_.angle_pairs; }
  std::int64_t int_values() const { return region(8) + sizes_.table_entries; }
  std::int32_t* host_ints() { return reinterpret_cast<std::int32_t*>(inputs_.data()); }
  float* host_floats() { return reinterpret_cast<float*>(host_ints() + int_values()); }

  StepSizes sizes_;
  int capacity_ = 0, logit_capacity_ = 0;
  DeviceArray<std::int32_t> ints_;
  DeviceArray<float> angles_;
  PinnedBuffer inputs_, output_;  // inputs_: the ints, then cos, sin and the hidden rows
};

}  // namespace helix::cuda
