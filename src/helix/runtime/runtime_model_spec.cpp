#include "helix/runtime/runtime_model_spec.h"

#include <algorithm>

#include "helix/engine/llama_config.h"

namespace helix::runtime {
namespace {

// Bytes of layer `layer`'s tensors as stored (absent optional ones, such as biases, count 0).
double stored_layer_bytes(const ModelFiles& files, int layer) {
  double bytes = 0;
  for (LayerTensor t : kAllLayerTensors) {
    if (const TensorRef* ref = files.store->find(files.layer_tensor(layer, t))) bytes += static_cast<double>(ref->nbytes);
  }
  return bytes;
}

}  // namespace

ModelSpec runtime_model_spec(const ModelFiles& files, KvDtype kv_dtype, ActivationDtype activations) {
  ModelSpec m = model_from_hf_config(to_hf_json(files.config), files.path.string());
  double largest = 0;
  for (int layer = 0; layer < files.config.num_layers; ++layer) {
    largest = std::max(largest, stored_layer_bytes(files, layer));
  }
  m.layer_param_bytes = largest;
  m.kv_bytes_per_token_per_layer = static_cast<double>(kv_bytes_per_token(1, files.config.kv_dim(), kv_dtype));
  m.activation_bytes_per_token = static_cast<double>(payload_bytes_per_token(
      activations == ActivationDtype::F16 ? Payload::HiddenF16 : Payload::Hidden, files.config.hidden_size));
  m.token_size_bytes = static_cast<double>(payload_bytes_per_token(Payload::Tokens, 0));
  return m;
}

}  // namespace helix::runtime
