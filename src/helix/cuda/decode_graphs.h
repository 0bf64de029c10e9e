// When a GPU stage replays a decode step from a CUDA graph (graph.h), and which
// graph: one per step shape, captured the second time the shape comes (the first
// runs its kernels once outside a capture: lazy module loading, cuBLAS's setup),
// replayed from then on. A failed capture turns graphs off for good and keeps the
// reason; the step then queues its kernels one by one, as every step does when
// graphs are off.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <tuple>

#include "helix/cuda/graph.h"
#include "helix/cuda/projection.h"
#include "helix/cuda/stream.h"

namespace helix::cuda {

class DecodeGraphs {
 public:
  // What a captured step depends on besides its buffers' contents: tokens, logits
  // rows, skipped layers, whether it embeds, attention splits.
  using Shape = std::tuple<int, int, int, bool, int>;

  explicit DecodeGraphs(bool enabled) : enabled_(enabled) {}

  // Queues a decode step of `shape` on `stream`: replayed, captured then replayed,
  // or `queue` called directly. `cublas` is bound to the stream before a capture.
  void run(const Shape& shape, const Stream& stream, Cublas& cublas, const std::function<void()>& queue);

  // Drops every graph: the buffers they read are about to be replaced.
  void clear() { graphs_.clear(); }

  long replays() const { return replays_; }
  const std::string& failure() const { return failure_; }

 private:
  bool enabled_;
  std::map<Shape, int> seen_;
  std::map<Shape, Graph> graphs_;
  long replays_ = 0;
  std::string failure_;
};

}  // namespace helix::cuda
