// The cuBLAS functions helix's projections call, for the emulated device (what
// helix_cuda_emulated links instead of libcublas): GEMMs into f32 of two f32 or two
// bf16 inputs, summed in f32 over k in order, queued on the handle's stream like
// every other piece of work (so a captured decode step records them). Other types
// are refused with CUBLAS_STATUS_NOT_SUPPORTED (cuBLAS itself supports more: these
// are what helix uses), bad sizes and leading dimensions with INVALID_VALUE as
// cuBLAS refuses them.
#include <cublas_v2.h>

#include <cuda_bf16.h>

#include <algorithm>
#include <functional>

#include "helix/cuda_emulator/streams.h"

struct cublasContext {
  cudaStream_t stream = nullptr;
};

namespace {

float value_at(const void* p, cudaDataType type, long long i) {
  if (type == CUDA_R_32F) return static_cast<const float*>(p)[i];
  return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
}

// C = alpha op(A) op(B) + beta C, column-major as cuBLAS has it (beta 0: C unread);
// op is the transpose for OP_T and OP_C alike (the values are real).
struct Gemm {
  cublasOperation_t ta, tb;
  int m, n, k;
  float alpha, beta;
  const void* a;
  cudaDataType at;
  int lda;
  const void* b;
  cudaDataType bt;
  int ldb;
  float* c;
  int ldc;

  void operator()() const {
    for (int j = 0; j < n; ++j) {
      for (int i = 0; i < m; ++i) {
        float s = 0.0f;
        for (int p = 0; p < k; ++p) {
          const long long ai =
              ta == CUBLAS_OP_N ? i + static_cast<long long>(p) * lda : p + static_cast<long long>(i) * lda;
          const long long bi =
              tb == CUBLAS_OP_N ? p + static_cast<long long>(j) * ldb : j + static_cast<long long>(p) * ldb;
          s += value_at(a, at, ai) * value_at(b, bt, bi);
        }
        float& out = c[i + static_cast<long long>(j) * ldc];
        out = beta == 0.0f ? alpha * s : alpha * s + beta * out;
      }
    }
  }
};

bool is_supported_op(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

// cuBLAS's own checks: an operation it knows, sizes not negative, each leading
// dimension at least the rows of the matrix as stored.
bool valid(const Gemm& g) {
  if (!is_supported_op(g.ta) || !is_supported_op(g.tb) || g.m < 0 || g.n < 0 || g.k < 0) return false;
  const int a_rows = g.ta == CUBLAS_OP_N ? g.m : g.k, b_rows = g.tb == CUBLAS_OP_N ? g.k : g.n;
  return g.lda >= std::max(1, a_rows) && g.ldb >= std::max(1, b_rows) && g.ldc >= std::max(1, g.m);
}

cublasStatus_t queue(cublasHandle_t h, const Gemm& g) {
  if (h == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid(g)) return CUBLAS_STATUS_INVALID_VALUE;
  const cudaError_t e = helix::cuda_emulator::enqueue(h->stream, g, "a cuBLAS GEMM");
  return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

}  // namespace

extern "C" {

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void*, size_t) {
  return handle == nullptr ? CUBLAS_STATUS_NOT_INITIALIZED : CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    default: return "CUBLAS_STATUS_UNKNOWN_ERROR";
  }
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float* alpha, const float* a, int lda, const float* b, int ldb, const float* beta,
                           float* c, int ldc) {
  return queue(handle, Gemm{ta, tb, m, n, k, *alpha, *beta, a, CUDA_R_32F, lda, b, CUDA_R_32F, ldb, c, ldc});
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void* alpha, const void* a, cudaDataType at, int lda, const void* b, cudaDataType bt,
                            int ldb, const void* beta, void* c, cudaDataType ct, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t) {
  const auto input = [](cudaDataType t) { return t == CUDA_R_32F || t == CUDA_R_16BF; };
  if (!input(at) || bt != at || ct != CUDA_R_32F || compute != CUBLAS_COMPUTE_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  return queue(handle, Gemm{ta, tb, m, n, k, *static_cast<const float*>(alpha), *static_cast<const float*>(beta), a, at,
                            lda, b, bt, ldb, static_cast<float*>(c), ldc});
}

}  // extern "C"
