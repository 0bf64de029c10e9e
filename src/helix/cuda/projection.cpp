// Arguments checked, x rounded (conversion_kernels.cu), then one cuBLAS call. Row-major
// y = x · Wᵀ is, in cuBLAS's column-major terms, yᵀ (rows x m) = op(W) · xᵀ with W
// read transposed: W's row-major rows x cols is column-major cols x rows.
#include "helix/cuda/projection.h"

#include <cublas_v2.h>

#include "helix/core/error.h"
#include "helix/cuda/conversion_kernels.h"

namespace helix::cuda {
namespace {

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) fail("cuda: {}: {}", what, cublasGetStatusString(status));
}

cublasHandle_t as_handle(void* p) { return static_cast<cublasHandle_t>(p); }

}  // namespace

Cublas::Cublas() {
  cublasHandle_t h = nullptr;
  check_cublas(cublasCreate(&h), "cublasCreate");
  handle_ = h;
}

Cublas::~Cublas() {
  if (handle_ != nullptr) cublasDestroy(as_handle(handle_));
}

void project(Cublas& cublas, const DeviceMatrix& w, const float* x, std::int64_t m, float* y,
             DeviceArray<std::uint16_t>& x16) {
  if (m < 0) fail("cuda project: m must be >= 0, got {}", m);
  if (m == 0) return;
  if (x == nullptr || y == nullptr) fail("cuda project: x and y must be device pointers, not null");
  if (w.rows < 1 || w.cols < 1 || (w.dtype != DType::F32 && w.dtype != DType::BF16)) {
    fail("cuda project: the weights must be an uploaded matrix (F32 or BF16 on the device), not {} x {} {}", w.rows,
         w.cols, dtype_name(w.dtype));
  }
  constexpr std::int64_t kIntMax = 0x7FFFFFFF;
  if (w.rows > kIntMax || w.cols > kIntMax || m > kIntMax) {
    fail("cuda project: {} x {} weights and {} tokens exceed cuBLAS's int dimensions", w.rows, w.cols, m);
  }
  const int rows = static_cast<int>(w.rows), cols = static_cast<int>(w.cols), tokens = static_cast<int>(m);
  const float one = 1.0f, zero = 0.0f;
  cublasHandle_t h = as_handle(cublas.handle());
  if (w.dtype == DType::F32) {
    check_cublas(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, rows, tokens, cols, &one,
                             reinterpret_cast<const float*>(w.data.data()), cols, x, cols, &zero, y, rows),
                 "cublasSgemm");
    return;
  }
  const auto values = static_cast<std::size_t>(m * w.cols);
  if (x16.size() < values) x16 = DeviceArray<std::uint16_t>(values);
  cuda_detail::launch_round_to_bf16(x, static_cast<std::int64_t>(values), x16.data());
  check_cublas(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, rows, tokens, cols, &one, w.data.data(), CUDA_R_16BF, cols,
                            x16.data(), CUDA_R_16BF, cols, &zero, y, CUDA_R_32F, rows, CUBLAS_COMPUTE_32F,
                            CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx");
}

}  // namespace helix::cuda
