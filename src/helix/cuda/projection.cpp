// Arguments checked, then per output either the matvec kernel or one cuBLAS call.
// Row-major y = x · Wᵀ is, in cuBLAS's column-major terms, yᵀ (rows x m) = op(W) · xᵀ
// with W read transposed: W's row-major rows x cols is column-major cols x rows.
#include "helix/cuda/projection.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "helix/core/error.h"
#include "helix/cuda/conversion_kernels.h"
#include "helix/cuda/cuda_status.h"
#include "helix/cuda/dequant_gemm_kernels.h"
#include "helix/cuda/launch_stream.h"
#include "helix/cuda/matvec_kernels.h"

namespace helix::cuda {
namespace {

constexpr std::size_t kWorkspaceBytes = std::size_t{32} << 20;  // cuBLAS's advice for Hopper
constexpr std::int64_t kIntMax = 0x7FFFFFFF;

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) fail("cuda: {}: {}", what, cublasGetStatusString(status));
}

cublasHandle_t as_handle(void* p) { return static_cast<cublasHandle_t>(p); }

std::size_t sz(std::int64_t n) { return static_cast<std::size_t>(n); }

void check(const DeviceMatrix& w, std::int64_t cols, std::int64_t m, const float* y) {
  if (w.dtype == DType::F16) fail("cuda project: an F16 matrix on the device (the upload widens F16 to F32)");
  if (w.rows < 1 || w.cols < 1) fail("cuda project: the weights must be an uploaded matrix, not {} x {}", w.rows, w.cols);
  if (w.cols != cols) fail("cuda project: weights of {} columns cannot take inputs of {} values", w.cols, cols);
  if (y == nullptr) fail("cuda project: y must be a device pointer, not null");
  if (w.rows > kIntMax || w.cols > kIntMax || m > kIntMax) {
    fail("cuda project: {} x {} weights and {} tokens exceed cuBLAS's int dimensions", w.rows, w.cols, m);
  }
}

template <typename T>
void grow(DeviceArray<T>& a, std::int64_t n, ProjectionScratch& scratch) {
  if (a.size() >= sz(n)) return;
  a = DeviceArray<T>(sz(n));
  ++scratch.generation;
}

// 9 to 64 tokens of a block type where the tensor cores take bf16.
bool dequant_gemm_takes(const Cublas& cublas, const DeviceMatrix& w, std::int64_t m) {
  return is_block_quantized(w.dtype) && m <= cuda_detail::kDequantGemmMostTokens && cublas.compute_major() >= 8;
}

// cuBLAS: x16 holds x rounded unless the weights are F32.
void gemm(cublasHandle_t h, const DeviceMatrix& w, const float* x, const std::uint16_t* x16, std::int64_t m, float* y,
          ProjectionScratch& scratch) {
  const int rows = static_cast<int>(w.rows), cols = static_cast<int>(w.cols), tokens = static_cast<int>(m);
  const float one = 1.0f, zero = 0.0f;
  if (w.dtype == DType::F32) {
    check_cublas(cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, rows, tokens, cols, &one,
                             reinterpret_cast<const float*>(w.data.data()), cols, x, cols, &zero, y, rows),
                 "cublasSgemm");
    return;
  }
  const void* weights = w.data.data();
  if (w.dtype != DType::BF16) {  // a block type, widened to bf16 first
    grow(scratch.w16, w.rows * w.cols, scratch);
    cuda_detail::launch_widen(view_of(w), scratch.w16.data());
    weights = scratch.w16.data();
  }
  check_cublas(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, rows, tokens, cols, &one, weights, CUDA_R_16BF, cols, x16,
                            CUDA_R_16BF, cols, &zero, y, CUDA_R_32F, rows, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx");
}

}  // namespace

Cublas::Cublas() : workspace_(kWorkspaceBytes) {
  int device = 0;
  cuda_detail::check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  cuda_detail::check_cuda(cudaDeviceGetAttribute(&compute_major_, cudaDevAttrComputeCapabilityMajor, device),
                          "cudaDeviceGetAttribute");
  cublasHandle_t h = nullptr;
  check_cublas(cublasCreate(&h), "cublasCreate");
  handle_ = h;
}

Cublas::~Cublas() {
  if (handle_ != nullptr) cublasDestroy(as_handle(handle_));
}

// cublasSetStream resets the workspace to cuBLAS's own pool, so both are set
// together, and only when the stream changes.
void* Cublas::bound_handle() {
  cudaStream_t s = cuda_detail::launch_stream();
  if (!bound_ || s != stream_) {
    check_cublas(cublasSetStream(as_handle(handle_), s), "cublasSetStream");
    check_cublas(cublasSetWorkspace(as_handle(handle_), workspace_.data(), workspace_.size()), "cublasSetWorkspace");
    stream_ = s;
    bound_ = true;
  }
  return handle_;
}

void ProjectionScratch::reserve(std::int64_t x_values, std::int64_t w_values, std::int64_t partial_values) {
  grow(x16, x_values, *this);
  grow(w16, w_values, *this);
  grow(partials, partial_values, *this);
}

std::int64_t dequant_gemm_partials(const DeviceMatrix& w) {
  if (!is_block_quantized(w.dtype)) return 0;
  return cuda_detail::dequant_gemm_partial_values(w.rows, w.cols, cuda_detail::kDequantGemmMostTokens);
}

void project(Cublas& cublas, std::initializer_list<ProjectionOutput> outputs, const float* x, std::int64_t m,
             ProjectionScratch& scratch) {
  if (m < 0) fail("cuda project: m must be >= 0, got {}", m);
  if (outputs.size() == 0 || m == 0) return;
  if (x == nullptr) fail("cuda project: x must be a device pointer, not null");
  const std::int64_t cols = outputs.begin()->w->cols;
  for (const ProjectionOutput& o : outputs) check(*o.w, cols, m, o.y);
  if (m <= cuda_detail::kMatvecMostTokens) {
    // One launch for the matrices of one kind (q, k and v of a layer, or gate and
    // up), more where kinds differ.
    cuda_detail::WeightsView views[cuda_detail::kMatvecMostTargets];
    float* ys[cuda_detail::kMatvecMostTargets];
    int count = 0;
    const auto flush = [&] {
      if (count > 0) cuda_detail::launch_matvec(views, ys, count, x, static_cast<int>(m));
      count = 0;
    };
    for (const ProjectionOutput& o : outputs) {
      const cuda_detail::WeightsView v = view_of(*o.w);
      if (count == cuda_detail::kMatvecMostTargets || (count > 0 && views[0].kind != v.kind)) flush();
      views[count] = v;
      ys[count++] = o.y;
    }
    flush();
    return;
  }
  cublasHandle_t h = as_handle(cublas.bound_handle());
  bool rounded = false;
  for (const ProjectionOutput& o : outputs) {
    if (o.w->dtype != DType::F32 && !rounded) {
      grow(scratch.x16, m * cols, scratch);
      cuda_detail::launch_round_to_bf16(x, m * cols, scratch.x16.data());
      rounded = true;
    }
    if (dequant_gemm_takes(cublas, *o.w, m)) {
      grow(scratch.partials, cuda_detail::dequant_gemm_partial_values(o.w->rows, o.w->cols, m), scratch);
      cuda_detail::launch_dequant_gemm(view_of(*o.w), scratch.x16.data(), static_cast<int>(m), o.y,
                                       scratch.partials.data());
    } else {
      gemm(h, *o.w, x, scratch.x16.data(), m, o.y, scratch);
    }
  }
}

void project(Cublas& cublas, const DeviceMatrix& w, const float* x, std::int64_t m, float* y,
             ProjectionScratch& scratch) {
  project(cublas, {ProjectionOutput{&w, y}}, x, m, scratch);
}

}  // namespace helix::cuda
