// The checks of elementwise.h's arguments (here, where errors are formatted), then
// the launches (elementwise_kernels.cu).
#include "helix/cuda/elementwise.h"

#include <limits>

#include "helix/core/error.h"
#include "helix/cuda/elementwise_kernels.h"

namespace helix::cuda {
namespace {

void check_count(const char* op, const char* name, std::int64_t value) {
  if (value < 0) fail("cuda {}: {} must be >= 0, got {}", op, name, value);
}

void check_pointer(const char* op, const char* name, const void* p) {
  if (p == nullptr) fail("cuda {}: {} is null", op, name);
}

}  // namespace

void rms_norm_rows(const float* x, const float* weight, float eps, std::int64_t rows, std::int64_t n, float* out) {
  check_count("rms_norm_rows", "rows", rows);
  check_count("rms_norm_rows", "n", n);
  if (rows > std::numeric_limits<int>::max()) fail("cuda rms_norm_rows: {} rows exceed one launch's grid", rows);
  if (rows == 0 || n == 0) return;
  if (!(eps >= 0.0f)) fail("cuda rms_norm_rows: eps must be >= 0, got {}", eps);  // as the CPU's rms_norm
  check_pointer("rms_norm_rows", "x", x);
  check_pointer("rms_norm_rows", "weight", weight);
  check_pointer("rms_norm_rows", "out", out);
  cuda_detail::launch_rms_norm_rows(x, weight, eps, rows, n, out);
}

void add_rms_norm_rows(const float* h, float* x, const float* weight, float eps, std::int64_t rows, std::int64_t n,
                       float* out) {
  check_count("add_rms_norm_rows", "rows", rows);
  check_count("add_rms_norm_rows", "n", n);
  if (rows > std::numeric_limits<int>::max()) fail("cuda add_rms_norm_rows: {} rows exceed one launch's grid", rows);
  if (rows == 0 || n == 0) return;
  if (!(eps >= 0.0f)) fail("cuda add_rms_norm_rows: eps must be >= 0, got {}", eps);
  check_pointer("add_rms_norm_rows", "h", h);
  check_pointer("add_rms_norm_rows", "x", x);
  check_pointer("add_rms_norm_rows", "weight", weight);
  check_pointer("add_rms_norm_rows", "out", out);
  cuda_detail::launch_add_rms_norm_rows(h, x, weight, eps, rows, n, out);
}

void silu_mul(const float* gate, const float* up, std::int64_t n, float* out) {
  check_count("silu_mul", "n", n);
  if (n == 0) return;
  check_pointer("silu_mul", "gate", gate);
  check_pointer("silu_mul", "up", up);
  check_pointer("silu_mul", "out", out);
  cuda_detail::launch_silu_mul(gate, up, n, out);
}

void add(const float* x, float* y, std::int64_t n) {
  check_count("add", "n", n);
  if (n == 0) return;
  check_pointer("add", "x", x);
  check_pointer("add", "y", y);
  cuda_detail::launch_add(x, y, n);
}

void add_to_rows(const float* row, std::int64_t rows, std::int64_t n, float* y) {
  check_count("add_to_rows", "rows", rows);
  check_count("add_to_rows", "n", n);
  if (rows == 0 || n == 0) return;
  check_pointer("add_to_rows", "row", row);
  check_pointer("add_to_rows", "y", y);
  cuda_detail::launch_add_to_rows(row, rows, n, y);
}

void gather_rows(const float* x, const std::int32_t* rows, std::int64_t count, std::int64_t n, float* out) {
  check_count("gather_rows", "count", count);
  check_count("gather_rows", "n", n);
  if (count > std::numeric_limits<int>::max()) fail("cuda gather_rows: {} rows exceed one launch's grid", count);
  if (count == 0 || n == 0) return;
  check_pointer("gather_rows", "x", x);
  check_pointer("gather_rows", "rows", rows);
  check_pointer("gather_rows", "out", out);
  cuda_detail::launch_gather_rows(x, rows, count, n, out);
}

}  // namespace helix::cuda
