#!/usr/bin/env bash
# Builds, here (no GPU needed: nvcc is enough), what bench/gpu_check.sh runs on a GPU
# machine, and packs it with the shared libraries it needs into gpu-pack.tar.xz:
# the device machines' image has CUDA, CMake and ninja but none of this project's
# Debian packages, so it can neither configure nor link the project there.
#
#   bench/gpu_pack.sh            (sm_90: H100 / H200; set HELIX_GPU_ARCH to change)
#
# Then run the check with the pack carried:
#   run(command="bash bench/gpu_check.sh", carry=["gpu-pack.tar.xz"], timeout_s=...)
#
# The binaries keep this checkout's absolute paths (the helix binary the integration
# tests start, the stories260K model); gpu_check.sh links that root to wherever the
# tree lands on the device. libc and the CUDA libraries (cuBLAS) are the device's own.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=build-gpu
ARCH=${HELIX_GPU_ARCH:-90}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHELIX_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=$ARCH" \
  -DHELIX_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target test_cuda helix_cli test_integration gpu_engine_bench
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/$BUILD/tests" "$STAGE/$BUILD/bench/cuda" "$STAGE/$BUILD/lib" "$STAGE/$BUILD/lib-cxx"
bins=("$BUILD/helix" "$BUILD/tests/test_cuda" "$BUILD/tests/test_integration" "$BUILD/bench/cuda/gpu_engine_bench")
for b in "${bins[@]}"; do strip -o "$STAGE/$b" "$b"; done
# Every shared library the binaries load but glibc's own and CUDA's (the device has those).
for b in "${bins[@]}"; do ldd "$b"; done | awk '$3 ~ /^\// {print $3}' | sort -u |
  grep -v -E '/(libc|libm|libpthread|libdl|librt|libresolv|ld-linux[^/]*)\.so|/libcublas' |
  while read -r lib; do cp -L "$lib" "$STAGE/$BUILD/lib/"; done
# The C++ runtime apart: gpu_check.sh uses it only where the device's own is older
# than the one these binaries were built against (it needs a newer glibc, too).
mv "$STAGE/$BUILD"/lib/libstdc++.so.6 "$STAGE/$BUILD"/lib/libgcc_s.so.1 "$STAGE/$BUILD/lib-cxx/"
echo "$ROOT" >"$STAGE/$BUILD/built-at"
git describe --always --dirty >"$STAGE/$BUILD/built-from"
glibc=$(for f in "$STAGE/$BUILD"/lib/* "${bins[@]/#/$STAGE/}"; do objdump -T "$f" 2>/dev/null; done |
  grep -o 'GLIBC_2\.[0-9]*' | sort -uV | tail -1)
echo "$glibc" >"$STAGE/$BUILD/needs-glibc"
tar -C "$STAGE" -cJf gpu-pack.tar.xz "$BUILD"
echo "gpu_pack: gpu-pack.tar.xz, $(du -h gpu-pack.tar.xz | cut -f1), sm_$ARCH, built at $ROOT from $(cat "$STAGE/$BUILD/built-from"), needs $glibc or later"
