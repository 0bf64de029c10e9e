#!/usr/bin/env bash
# Runs the benchmarks and prints each measurement as a ratio to the baselines
# measured in the same run (the machines are noisy; ratios travel better than
# absolute times). Usage: bench/run.sh [build-dir]   (default: build)
set -euo pipefail
BUILD=${1:-build}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

"$BUILD/bench/flow_bench" --benchmark_min_time=0.5 --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_format=json >"$OUT/flow.json"

python3 - "$OUT/flow.json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
med = {b["run_name"]: b for b in data["benchmarks"] if b.get("aggregate_name") == "median"}
ctx = data["context"]
print(f"flow_bench on {ctx['host_name']}, {ctx['num_cpus']} CPUs, load {ctx.get('load_avg')}")
print(f"{'benchmark':<32}{'median':>12}{'/ add arcs':>12}{'/ copy arcs':>12}{'allocs/iter':>13}")
for size in (42, 1000):
    add = med[f"BM_AddArcs/{size}"]["real_time"]
    copy = med[f"BM_CopyArcs/{size}"]["real_time"]
    for name in ("BM_Evaluate", "BM_SolveOnly", "BM_SolvePlannerFlow", "BM_AddArcs", "BM_CopyArcs"):
        b = med[f"{name}/{size}"]
        t = b["real_time"]
        unit = b["time_unit"]
        allocs = b.get("allocs_per_iter", float("nan"))
        print(f"{name + '/' + str(size):<32}{t:>9.2f} {unit:<2}{t / add:>12.2f}{t / copy:>12.1f}{allocs:>13.1f}")
for arg, name in ((0, "published Swarm"), (1, "published MILP")):
    b = med.get(f"BM_EvaluatePaper42/{arg}")
    if b:
        add = med["BM_AddArcs/42"]["real_time"]
        print(f"paper cluster42, {name:<16}{b['real_time']:>9.2f} {b['time_unit']:<2}{b['real_time'] / add:>12.2f}"
              f"{'':>12}{b.get('allocs_per_iter', float('nan')):>13.1f}   max flow {b['max_flow_tps']:.3f} tok/s")
PY
