// A weight matrix on the current CUDA device, uploaded once:
//  * BF16 and F32 in their stored dtype (a stage's weights take on the GPU the bytes
//    they take in the file);
//  * F16 widened to F32 (twice the bytes), so that x stays f32 as on the CPU: cuBLAS
//    multiplies two 16-bit operands of one type, and x rounded to f16 would overflow
//    past 65504;
//  * Q8_0 split into two planes, the int8 quants (rows x cols) and the f16 scales
//    (rows x cols / 32): the same bytes as the file's 34-byte blocks, but a warp's
//    loads of quants are aligned and contiguous (matvec_kernels.cu);
//  * Q4_0, Q4_1, Q5_0, Q5_1, Q4_K and Q5_K as stored (their kernels read a block's
//    fields byte by byte: weights_values.h);
//  * Q6_K split into its four planes (low bits, high bits, scales, d), the file's
//    bytes again, where its 210-byte blocks would leave loads unaligned.
// So every dtype a weight file holds is read on the GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "helix/cuda/device_array.h"
#include "helix/cuda/weights_view.h"
#include "helix/kernels/weight_matrix.h"

namespace helix {

struct DeviceMatrix {
  DType dtype = DType::F32;  // as held on the device: any dtype but F16
  std::int64_t rows = 0, cols = 0;
  DeviceArray<std::byte> data;         // rows x cols values (Q8_0: the int8 quants; Q6_K: ql; other blocks as stored)
  DeviceArray<std::uint16_t> scales;   // f16: Q8_0's per 32 values, Q6_K's d per 256
  DeviceArray<std::byte> high;         // Q6_K: qh
  DeviceArray<std::byte> small_scales; // Q6_K: the int8 scales per 16 values
};

// A Q8_0 matrix's blocks as the device holds them (host side, for the upload).
struct Q8_0Planes {
  std::vector<std::int8_t> quants;    // value i of row r at r * cols + i
  std::vector<std::uint16_t> scales;  // block b of row r at r * cols / 32 + b
};
Q8_0Planes q8_0_planes(const WeightMatrix& w);

// A Q6_K matrix's super-blocks as the device holds them (host side, for the
// upload): each plane the blocks' field in block order, row after row.
struct Q6_KPlanes {
  std::vector<std::uint8_t> ql, qh;
  std::vector<std::int8_t> scales;
  std::vector<std::uint16_t> d;
};
Q6_KPlanes q6_k_planes(const WeightMatrix& w);

// The kernels' view of an uploaded matrix.
cuda_detail::WeightsView view_of(const DeviceMatrix& m);

// Uploads w (F16 widened to F32, Q8_0 and Q6_K as planes, the rest as stored).
DeviceMatrix upload_matrix(const WeightMatrix& w);

}  // namespace helix
