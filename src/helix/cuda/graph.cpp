#include "helix/cuda/graph.h"

#include <cuda_runtime_api.h>

#include "helix/cuda/cuda_status.h"

namespace helix::cuda {
namespace {

cudaStream_t as_stream(void* p) { return static_cast<cudaStream_t>(p); }

}  // namespace

Graph::~Graph() {
  if (exec_ != nullptr) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_));
}

Graph Graph::capture(const Stream& stream, const std::function<void()>& work) {
  cudaStream_t s = as_stream(stream.handle());
  // Thread-local mode: other threads' calls are not this capture's business.
  cuda_detail::check_cuda(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
  cudaGraph_t graph = nullptr;
  try {
    const StreamScope scope(stream);
    work();
  } catch (...) {
    cudaStreamEndCapture(s, &graph);  // ends the capture; what it recorded is dropped
    if (graph != nullptr) cudaGraphDestroy(graph);
    cudaGetLastError();
    throw;
  }
  cuda_detail::check_cuda(cudaStreamEndCapture(s, &graph), "cudaStreamEndCapture");
  cudaGraphExec_t exec = nullptr;
  const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  cuda_detail::check_cuda(made, "cudaGraphInstantiate");
  Graph g;
  g.exec_ = exec;
  return g;
}

void Graph::launch(const Stream& stream) const {
  cuda_detail::check_cuda(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), as_stream(stream.handle())),
                          "cudaGraphLaunch");
}

}  // namespace helix::cuda
