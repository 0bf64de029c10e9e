#include "stage_device.h"

#include <charconv>

#include "helix/core/error.h"
#if defined(HELIX_HAS_CUDA)
#include "helix/cuda/cuda_stage_engine.h"
#include "helix/cuda/device.h"
#endif

namespace helix::cli {

StageDevice parse_stage_device(const std::string& text) {
  if (text == "cpu") return {};
  const std::string prefix = "cuda:";
  if (text.rfind(prefix, 0) == 0 && text.size() > prefix.size()) {
    int index = -1;
    const char* first = text.data() + prefix.size();
    const char* last = text.data() + text.size();
    const auto [end, ec] = std::from_chars(first, last, index);
    if (ec == std::errc() && end == last && index >= 0) return {true, index};
  }
  fail("--device: '{}' is not a device (cpu or cuda:N, N = 0, 1, ...)", text);
}

void check_stage_device(const StageDevice& device) {
  if (!device.cuda) return;
#if defined(HELIX_HAS_CUDA)
  const CudaDevices found = cuda_devices();
  if (found.devices.empty()) fail("--device {}: no usable GPU here ({})", device.name(), found.why_none);
  if (device.index >= static_cast<int>(found.devices.size())) {
    fail("--device {}: there is no such GPU here ({} found)", device.name(), found.devices.size());
  }
#else
  fail("--device {}: this build has no CUDA backend (configure with -DHELIX_CUDA=ON where nvcc is)", device.name());
#endif
}

std::unique_ptr<Stage> make_stage(ModelFiles model, LayerRange layers, const EngineOptions& options,
                                  const StageDevice& device) {
  if (!device.cuda) return std::make_unique<StageEngine>(std::move(model), layers, options);
#if defined(HELIX_HAS_CUDA)
  CudaEngineOptions cuda;
  cuda.device = device.index;
  cuda.kv = options.kv;
  return std::make_unique<CudaStageEngine>(std::move(model), layers, cuda);
#else
  fail("--device {}: this build has no CUDA backend (configure with -DHELIX_CUDA=ON where nvcc is)", device.name());
#endif
}

}  // namespace helix::cli
