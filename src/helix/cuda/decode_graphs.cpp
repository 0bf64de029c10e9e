#include "helix/cuda/decode_graphs.h"

#include "helix/core/error.h"

namespace helix::cuda {

void DecodeGraphs::run(const Shape& shape, const Stream& stream, Cublas& cublas, const std::function<void()>& queue) {
  if (!enabled_) return queue();
  auto found = graphs_.find(shape);
  if (found == graphs_.end()) {
    if (seen_[shape]++ == 0) return queue();
    cublas.bound_handle();  // bound to the stream outside the capture
    try {
      found = graphs_.emplace(shape, Graph::capture(stream, queue)).first;
    } catch (const Error& e) {
      failure_ = e.what();
      enabled_ = false;
      return queue();
    }
  }
  found->second.launch(stream);
  ++replays_;
}

}  // namespace helix::cuda
