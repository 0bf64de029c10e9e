#!/usr/bin/env bash
# The planner benchmarks.
#  max-flow (issue 3): for each reference instance of the paper, the paper's
#    published MILP objective, the paper's MILP solved by CBC here (60 s), and
#    helix's max-flow planner at 10 s and 60 s, with upper bounds and gaps; then
#    the generated 64- and 128-node clusters against every baseline (~20 minutes).
#  served (issue 12): what the placements serve — helix's (planned for the served
#    objective in 60 s), the paper's and the baselines', simulated under the paper's
#    runtime model and helix's: max flow, predicted and simulated served decode
#    tokens/s and latency (bench/served_planner.py, ~25 minutes).
# Usage: bench/planner.sh [build-dir] [shared-data-dir] [max-flow|served|all]
set -euo pipefail
BUILD=${1:-build}
SHARED=${2:-../shared/data/helix}
PART=${3:-all}
DATA=$SHARED/artifact
if [ "$PART" = served ] || [ "$PART" = all ]; then
  python3 "$(dirname "$0")/served_planner.py" --build "$BUILD" --shared "$SHARED"
fi
[ "$PART" = served ] && exit 0
HELIX="$BUILD/helix"
THREADS=${THREADS:-2}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# name | cluster | machine profiles dir | model | published objective
INSTANCES=(
  "single-24 70B|$DATA/single_cluster/config/cluster24.ini|$DATA/single_cluster/config|llama2-70b|1289.556"
  "3-region-24 70B, pruned|$DATA/distributed_clusters/layout_llama70b/ilp/pruned_cluster.ini|$DATA/distributed_clusters/config|llama2-70b|1212.177"
  "3-region-24 70B, unpruned|$DATA/distributed_clusters/config/3cluster24.ini|$DATA/distributed_clusters/config|llama2-70b|1212.177"
  "high-het-42 70B, pruned|$DATA/high_heterogeneity/layout_llama70b/ilp/pruned_cluster.ini|$DATA/high_heterogeneity/config|llama2-70b|4137.548"
  "high-het-42 70B, unpruned|$DATA/high_heterogeneity/config/cluster42.ini|$DATA/high_heterogeneity/config|llama2-70b|4137.548"
  "cluster10 30B|cluster10||llama1-30b|286.587"
)

plan() {  # plan <out.json> <cluster> <profiles-dir> <model> <method> <seconds>
  local profiles=()
  [ -n "$3" ] && profiles=(--machine-profiles "$3/machine_profiles.ini")
  "$HELIX" plan --cluster "$2" "${profiles[@]}" --model "$4" --method "$5" --time-limit "$6" \
    --objective max-flow --threads "$THREADS" --json -q >"$1"
}

i=0
for entry in "${INSTANCES[@]}"; do
  IFS='|' read -r name cluster profiles model published <<<"$entry"
  echo "running: $name" >&2
  plan "$OUT/$i.milp.json" "$cluster" "$profiles" "$model" milp-paper 60
  plan "$OUT/$i.h10.json" "$cluster" "$profiles" "$model" helix 10
  plan "$OUT/$i.h60.json" "$cluster" "$profiles" "$model" helix 60
  echo "$name|$published" >"$OUT/$i.name"
  i=$((i + 1))
done

for size in 64 128; do
  echo "running: generated$size" >&2
  "$HELIX" plan --cluster "generated$size" --compare --objective max-flow --time-limit 60 --threads "$THREADS" --json -q \
    >"$OUT/gen$size.json"
done

python3 - "$OUT" "$i" <<'PY'
import json, sys, os
out, count = sys.argv[1], int(sys.argv[2])
def load(p): return json.load(open(os.path.join(out, p)))
def cell(j):
    d = j.get("details", {})
    ub = d.get("upper_bound_tps")
    gap = d.get("gap")
    ttb = d.get("time_to_best_s")
    s = f"{j['objective_tps']:.2f}"
    if ub is not None: s += f" (bound {ub:.2f}, gap {100*gap:.1f}%"
    if ttb is not None: s += f", best at {ttb:.1f} s"
    return s + (")" if ub is not None else "")
print("| instance | paper (published) | paper's MILP, CBC 60 s | helix 10 s | helix 60 s | helix 60 s vs paper |")
print("|---|---|---|---|---|---|")
for k in range(count):
    name, published = open(os.path.join(out, f"{k}.name")).read().strip().split("|")
    m, h10, h60 = load(f"{k}.milp.json"), load(f"{k}.h10.json"), load(f"{k}.h60.json")
    ratio = h60["objective_tps"] / float(published)
    print(f"| {name} | {float(published):.2f} | {cell(m)} | {cell(h10)} | {cell(h60)} | {ratio:.3f}x |")
print()
print("| cluster | helix 60 s | best baseline | baselines (max flow, tok/s) |")
print("|---|---|---|---|")
for size in (64, 128):
    j = load(f"gen{size}.json")
    plans = {p["method"]: p for p in j["plans"]}
    helix = plans.pop("helix")
    base = {k: v["objective_tps"] for k, v in plans.items()}
    best = max(base, key=base.get)
    others = ", ".join(f"{k} {v:.1f}" for k, v in base.items())
    print(f"| generated{size} | {cell(helix)} | {best} {base[best]:.2f} | {others} |")
PY
