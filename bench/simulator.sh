#!/usr/bin/env bash
# Simulator speed on the paper's three reference runs: CPU time, events/s and peak
# memory of `helix simulate`, and the speed-up over the paper's Python simulator.
# Usage: bench/simulator.sh [build-dir]   (default: build; needs ../shared beside the project)
#
# The Python simulator cannot run here (its code is not in the project); its CPU
# seconds and resident memory are the figures measured on a machine of this kind
# (shared/docs/helix-simulator-reference.md, the numbers issue 4 quotes). Each run
# is repeated 3 times; the median CPU time is reported.
set -euo pipefail
BUILD=${1:-build}
SHARED=${HELIX_SHARED_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data/helix}
ART=$SHARED/artifact
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

run() {  # name python_cpu_s python_rss_gb args...
  local name=$1 py_cpu=$2 py_rss=$3; shift 3
  local cpus=()
  for i in 1 2 3; do
    /usr/bin/time -f "%U %S %M" -o "$OUT/time" "$BUILD/helix" simulate "$@" --report "$OUT/r.json" >/dev/null
    read -r user sys rss <"$OUT/time"
    cpus+=("$(python3 -c "print($user + $sys)")")
  done
  python3 - "$name" "$py_cpu" "$py_rss" "$rss" "$OUT/r.json" "${cpus[@]}" <<'PY'
import json, statistics, sys
name, py_cpu, py_rss, rss, report = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
cpu = statistics.median(float(x) for x in sys.argv[6:])
r = json.load(open(report))
ev = r["events"]
print(f"| {name} | {r['throughput']['decode_tps']:.1f} | {ev / 1e6:.2f} M | {cpu:.2f} | {ev / cpu / 1e6:.2f} M/s | {rss / 1024:.0f} MB | {py_cpu:.0f} | {py_rss:.1f} GB | {py_cpu / cpu:.0f}x |")
PY
}

echo "| run | decode tok/s | events | helix CPU s (median of 3) | events/CPU-s | helix peak RSS | Python CPU s | Python RSS | speed-up (CPU) |"
echo "|---|---|---|---|---|---|---|---|---|"
S=$ART/single_cluster/layout_llama70b/ilp
H=$ART/high_heterogeneity/layout_llama70b/ilp
run "single-24 70B offline (helix)" 476 4.0 --cluster "$S/simulator_cluster.ini" --placement "$S/ilp_sol.ini" --model llama2-70b
run "high-het-42 70B offline (helix)" 922 9.5 --cluster "$H/simulator_cluster.ini" --placement "$H/ilp_sol.ini" --model llama2-70b
run "single-24 70B online 700 tok/s (helix)" 706 7.3 --cluster "$S/simulator_cluster.ini" --placement "$S/ilp_sol.ini" \
  --model llama2-70b --mode online --trace "$SHARED/reference_traces/online_tp700_start20.csv"
