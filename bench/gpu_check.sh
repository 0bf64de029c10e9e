#!/usr/bin/env bash
# Issue 15's device check, run once by a session that is lent a GPU machine
# (docs/design.md, "GPU execution"). Two ways to get the binaries:
#  * gpu-pack.tar.xz present (bench/gpu_pack.sh made it here and the device tool
#    carried it): unpacked into build-gpu/ with the shared libraries it needs; the
#    device image has none of this project's Debian packages, so this is the way
#    that works there;
#  * else configure with HELIX_CUDA=ON for the visible GPU's architecture and build
#    (a machine with the project's build dependencies).
# Then: the CUDA tests; stories260K greedy on cuda:0 beside the CPU; the pipeline of
# a CPU worker and a GPU worker (the integration test, and `helix up` with one of its
# three workers on cuda:0); `helix profile --device cuda:0` and a plan from its
# tables; the GPU engine benchmark (issue 15's three ratios); one summary.
#
#   bench/gpu_check.sh [build-dir]     (default: build-gpu; logs beside it, or in
#                                      $OUT when the device tool set it, written as
#                                      each step runs, so that a run cut short still
#                                      brings back what it did)
#
# Every step has a time limit (a hung kernel must not eat the device time of the
# steps after it): test_cuda 240 s, each generate 60 s, the pipeline tests 120 s,
# each up 120 s, the profile and the plan 60 s each, the benchmark 240 s.
#
# Exit status: 0 only when a GPU was seen and every CUDA test ran and passed. A
# machine with no GPU gives 1 (the tests skip there: that is not a pass). 2: the
# configure step failed (most likely this project's Debian build dependencies are
# missing: the summary lists what CMake could not find; use the pack). 3: the build
# failed, or the pack could not be used.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-gpu}
LOGS="$BUILD-logs"
if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then LOGS="$OUT/gpu-check-logs"; fi
mkdir -p "$LOGS"
start=$(date +%s)

finish() {
  echo "gpu_check: $1 ($(( $(date +%s) - start )) s)"
  exit "$2"
}

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  nvidia-smi --query-gpu=index,name,memory.total,driver_version,compute_cap --format=csv,noheader | sed 's/^/gpu_check: GPU /'
  arch=native
else
  echo "gpu_check: nvidia-smi sees no GPU; building for the default architectures anyway"
  arch="75-real;80-real;90"
fi

# cuBLAS from the device's CUDA: the toolkit's lib64, else the Python wheels'.
cublas_dirs() {
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/lib/x86_64-linux-gnu; do
    [ -e "$d/libcublas.so.13" ] && echo "$d"
  done
  python3 -c 'import nvidia.cublas, os; print(os.path.join(list(nvidia.cublas.__path__)[0], "lib"))' 2>/dev/null
}

if [ -f gpu-pack.tar.xz ]; then
  tar -xJf gpu-pack.tar.xz || finish "FAILED to unpack gpu-pack.tar.xz" 3
  BUILD=build-gpu
  built_at=$(cat "$BUILD/built-at")
  echo "gpu_check: pack built from $(cat "$BUILD/built-from") at $built_at; needs $(cat "$BUILD/needs-glibc"), here $(ldd --version | head -1)"
  # The binaries name files under the root they were built in: make it this tree.
  if [ "$(cd "$built_at" 2>/dev/null && pwd -P)" != "$(pwd -P)" ]; then
    if [ -e "$built_at" ]; then finish "FAILED: $built_at exists and is not this tree" 3; fi
    mkdir -p "$(dirname "$built_at")" && ln -s "$PWD" "$built_at" || finish "FAILED to link $built_at to this tree" 3
  fi
  # The C++ runtime of the pack only where the device's own lacks what the binaries
  # were built against (GCC 12's GLIBCXX_3.4.30).
  cxx=""
  system_cxx=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
  if [ -z "$system_cxx" ] || ! grep -aq GLIBCXX_3.4.30 "$system_cxx"; then cxx="$PWD/$BUILD/lib-cxx:"; fi
  echo "gpu_check: the device's libstdc++: ${system_cxx:-none}; the pack's used: $([ -n "$cxx" ] && echo yes || echo no)"
  LD_LIBRARY_PATH="$cxx$PWD/$BUILD/lib:$(cublas_dirs | paste -sd:):${LD_LIBRARY_PATH:-}"
  export LD_LIBRARY_PATH
  missing=$(ldd "$BUILD/tests/test_cuda" "$BUILD/bench/cuda/gpu_engine_bench" | grep "not found" | sort -u)
  if [ -n "$missing" ]; then echo "$missing" | sed 's/^/gpu_check: missing /'; finish "FAILED: libraries missing" 3; fi
else
  if ! cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHELIX_CUDA=ON \
      "-DCMAKE_CUDA_ARCHITECTURES=$arch" -DHELIX_BUILD_BENCH=OFF -DHELIX_BUILD_CLI=ON -DHELIX_BUILD_INTEGRATION_TESTS=ON \
      >"$LOGS/configure.log" 2>&1; then
    grep -E "Could NOT find|not found|No package|CMake Error" "$LOGS/configure.log" | head -20 | sed 's/^/gpu_check: /'
    finish "FAILED to configure (log: $LOGS/configure.log; bench/gpu_pack.sh builds a pack instead)" 2
  fi
  grep -E "helix: CUDA" "$LOGS/configure.log" | sed 's/^-- /gpu_check: /'
  if ! cmake --build "$BUILD" -j "$(nproc)" --target test_cuda helix_cli test_integration gpu_engine_bench \
      >"$LOGS/build.log" 2>&1; then
    grep -E "error|FAILED" "$LOGS/build.log" | head -20 | sed 's/^/gpu_check: /'
    finish "FAILED to build (log: $LOGS/build.log)" 3
  fi
fi

timeout 240 "$BUILD/tests/test_cuda" >"$LOGS/test_cuda.log" 2>&1
status=$?
grep -m1 "no CUDA device" "$LOGS/test_cuda.log" | sed 's/^/gpu_check: /'
grep -E "^\[  FAILED  \] .* \([0-9]+ ms\)" "$LOGS/test_cuda.log" | sed 's/^/gpu_check: /'
passed=$(grep -c "^\[       OK \]" "$LOGS/test_cuda.log")
skipped=$(grep -c "^\[  SKIPPED \] .* ([0-9]* ms)" "$LOGS/test_cuda.log")
failed=$(grep -c "^\[  FAILED  \] .* ([0-9]* ms)" "$LOGS/test_cuda.log")
counts="test_cuda: $passed passed, $skipped skipped, $failed failed"

# stories260K, greedy, on the GPU and on the CPU: the same text is expected.
STORIES=data/models/stories260K/model.gguf
# (Log names without ':', which the device tool does not bring back.)
for device in cpu cuda:0; do
  name=${device/:/}
  timeout 60 "$BUILD/helix" generate --model "$STORIES" --prompt "Once upon a time" --max-tokens 48 --device "$device" \
    >"$LOGS/generate-$name.txt" 2>"$LOGS/generate-$name.log"
  echo "gpu_check: generate --device $device: exit $?; $(tail -1 "$LOGS/generate-$name.log")"
done
same_text=no
cmp -s "$LOGS/generate-cpu.txt" "$LOGS/generate-cuda0.txt" && same_text=yes
echo "gpu_check: stories260K greedy text the same on cuda:0 as on the CPU: $same_text"

# The pipeline of a CPU worker and a GPU worker, and the CLI's --device answers
# (not the emulated GPU's pipeline: CI runs it, and the pack leaves its binary out).
timeout 120 "$BUILD/tests/test_integration" \
  --gtest_filter='GpuPipeline.*:EngineCli.Devices*:EngineCli.Up*:-GpuPipeline.*EmulatedGpu*' \
  >"$LOGS/integration.log" 2>&1
integration=$?
grep -E "^\[  (FAILED|SKIPPED) +\] .* \([0-9]+ ms\)|no usable GPU" "$LOGS/integration.log" | sed 's/^/gpu_check: /'
counts="$counts; pipeline and --device tests: exit $integration; same text: $same_text"

# `helix up` (the demo: stories260K over three workers) with one worker on the GPU,
# against the same with all three on the CPU: the same streamed story is expected.
for devices in "" "--device fast=cuda:0"; do
  name=$([ -z "$devices" ] && echo cpu || echo mixed)
  timeout 120 "$BUILD/helix" up --listen 127.0.0.1:0 --model "$STORIES" --prompt "Once upon a time" --max-tokens 48 \
    $devices >"$LOGS/up-$name.txt" 2>"$LOGS/up-$name.log"
  echo "gpu_check: up ${devices:-(all on the CPU)}: exit $?"
done
# The GPU worker's cache: what the weights leave of 90% of the GPU's memory by default.
grep -m1 -o "worker fast: .* loaded on cuda:0, KV [0-9]* tokens in [a-z0-9]*" "$LOGS/up-mixed.log" | sed 's/^/gpu_check: /'
same_up=no
cmp -s "$LOGS/up-cpu.txt" "$LOGS/up-mixed.txt" && [ -s "$LOGS/up-cpu.txt" ] && same_up=yes
echo "gpu_check: up with a GPU worker streams the all-CPU story: $same_up"
counts="$counts; up mixed = all-CPU: $same_up"

# `helix profile --device cuda:0` (issue 15's profiles from the user's GPUs): the
# layer tables of stories260K timed on the GPU, and the planner planning the model
# from them for a cluster of two such GPUs.
timeout 60 "$BUILD/helix" profile --model "$STORIES" --out "$LOGS/profile" --machine GPU --device cuda:0 \
  --prompt-tokens 16,128 --decode-batches 1,8 --decode-context 64 --repeats 3 >"$LOGS/profile.log" 2>&1
profiled=$?
printf '%s\n' "format: helix-cluster/1" "gpu_types:" \
  "  GPU: {vram: 16 GB, nic: 1 GB/s, layer_times: profile/GPU}" "coordinator: {nic: 1 GB/s}" \
  "network:" "  in_region: {bandwidth: 1 GB/s, latency: 1 ms}" "nodes:" "  - {name: a, gpu: GPU}" \
  "  - {name: b, gpu: GPU}" >"$LOGS/gpus.yaml"
timeout 60 "$BUILD/helix" plan --objective max-flow -q --cluster "$LOGS/gpus.yaml" --model "$STORIES" \
  >"$LOGS/plan.log" 2>&1
planned=$?
echo "gpu_check: profile --device cuda:0: exit $profiled; plan from its tables: exit $planned; $(grep -m1 "max flow" "$LOGS/plan.log")"
counts="$counts; profile: exit $profiled, plan: exit $planned"

# The engine benchmark: issue 15's three ratios, per dtype and KV cache (f32: the CUDA
# cores' prefill attention; f16: the tensor cores'), on an 8-layer
# LLaMA-7B-shaped model (written to /tmp: ~4 GB per dtype).
bench=skipped
if [ "$skipped" -eq 0 ] && [ "$passed" -gt 0 ]; then
  timeout 240 "$BUILD/bench/cuda/gpu_engine_bench" /tmp/helix-gpu-bench --layers 8 >"$LOGS/gpu_engine_bench.txt" 2>&1
  bench="exit $?"
  grep -E "^(baselines|summary)" "$LOGS/gpu_engine_bench.txt" | sed 's/^/gpu_check: /'
fi
counts="$counts; engine benchmark: $bench"

if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$integration" -ne 0 ] || [ "$profiled" -ne 0 ] ||
  [ "$planned" -ne 0 ]; then
  finish "FAILED: $counts" 1
fi
if [ "$skipped" -ne 0 ] || grep -q "SKIPPED \] GpuPipeline" "$LOGS/integration.log"; then finish "NO GPU TESTED: $counts" 1; fi
if [ "$same_text" != yes ] || [ "$same_up" != yes ]; then finish "FAILED: $counts" 1; fi
finish "OK: $counts" 0
