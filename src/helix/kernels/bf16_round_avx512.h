// f32 -> bf16 rounding with AVX512_BF16 (internal to the kernels module), shared by
// the bf16 streaming kernels (matmul_avx512.cpp) and the AMX kernel (matmul_amx.cpp).
//
// Include only from files that disable GCC 12's -Wuninitialized for the AVX-512
// headers (see matmul_avx512.cpp), after <immintrin.h>; x86-64 only.
#pragma once

#include <cstdint>

#define HELIX_AVX512_BF16 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512bf16,avx2,fma,f16c")))

namespace helix::kernels_detail {

// x rounded to bf16 (nearest even), 16 values at a time; the tail through a mask.
HELIX_AVX512_BF16 inline void round_to_bf16(const float* x, std::int64_t count, std::uint16_t* out) {
  for (std::int64_t k = 0; k < count; k += 16) {
    const std::int64_t left = count - k;
    const __mmask16 mask = left >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
    const __m256bh rounded = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, x + k));
    _mm256_mask_storeu_epi16(out + k, mask, reinterpret_cast<const __m256i&>(rounded));
  }
}

}  // namespace helix::kernels_detail
