#!/usr/bin/env python3
"""Issue 12's benchmark: what placements serve, not only their max flow.

For each instance (the paper's three LLaMA-2-70B clusters, the generated 64- and
128-node clusters) and each runtime model (the paper's prototype, helix's own):
  * helix's placement, planned with `helix plan --runtime R --time-limit 60` (2 threads);
  * the paper's published placement (the three paper clusters), and the baselines
    (petals, swarm, homogeneous, separate where it applies);
each simulated with `helix simulate --runtime R` (the standard offline run: 60 s of
warm-up, 600 s measured, seed 0), plus, for the paper's model, the online run at the
paper's rate (700, 320, 2150 tokens/s). Printed per row: max flow, the plan report's
predicted served decode tokens/s (helix's rows; the planner simulates with other
seeds), the simulated decode tokens/s, mean decode latency, p95 prompt latency, and
helix vs the paper's placement (or the best baseline on the generated clusters).

Usage: bench/served_planner.py [--build build] [--shared ../shared/data/helix]
                               [--plan-time 60] [--runtimes paper,helix] [--instances s24,r3,h42,gen64,gen128]
Takes ~25 minutes on 2 cores.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def instances(shared):
    art = os.path.join(shared, "artifact")
    return {
        "s24": ("single-24 70B", os.path.join(art, "single_cluster/config/cluster24.ini"),
                os.path.join(art, "single_cluster/layout_llama70b/ilp/ilp_sol.ini"), 700),
        "r3": ("3-region-24 70B", os.path.join(art, "distributed_clusters/config/3cluster24.ini"),
               os.path.join(art, "distributed_clusters/layout_llama70b/ilp/ilp_sol.ini"), 320),
        "h42": ("high-het-42 70B", os.path.join(art, "high_heterogeneity/config/cluster42.ini"),
                os.path.join(art, "high_heterogeneity/layout_llama70b/ilp/ilp_sol.ini"), 2150),
        "gen64": ("generated64 70B", "generated64", None, None),
        "gen128": ("generated128 70B", "generated128", None, None),
    }


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def simulate(helix, cluster, placement, runtime, extra=()):
    r = run_json([helix, "simulate", "--cluster", cluster, "--placement", placement, "--runtime", runtime,
                  "--json", *extra])
    return {"decode_tps": r["throughput"]["decode_tps"], "decode_mean_s": r["latency"]["decode"]["mean_s"],
            "prompt_p95_s": r["latency"]["prompt"]["p95_s"], "max_flow_sim_tps": r["max_flow_tps"]}


def planner_max_flow(helix, cluster, placement):
    return run_json([helix, "flow", "--cluster", cluster, "--placement", placement, "--json"])["planner"]["max_flow_tps"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data", "helix"))
    ap.add_argument("--plan-time", type=float, default=60)
    ap.add_argument("--runtimes", default="paper,helix")
    ap.add_argument("--instances", default="s24,r3,h42,gen64,gen128")
    args = ap.parse_args()
    helix = os.path.join(args.build, "helix")
    table = instances(args.shared)
    results = []
    with tempfile.TemporaryDirectory() as work:
        for key in args.instances.split(","):
            name, cluster, published, rate = table[key]
            for runtime in args.runtimes.split(","):
                print(f"running: {name}, {runtime} runtime", file=sys.stderr)
                rows = []
                plan_file = os.path.join(work, f"{key}.{runtime}.json")
                plan = run_json([helix, "plan", "--cluster", cluster, "--runtime", runtime, "--time-limit",
                                 str(args.plan_time), "--threads", "2", "--json", "-q", "-o", plan_file])
                d = plan["details"]
                helix_row = {"placement": "helix", "max_flow_tps": plan["flow"]["max_flow_tps"],
                             "predicted_tps": d["served"]["decode_tps"], "chosen_from": d["chosen_from"],
                             **simulate(helix, cluster, plan_file, runtime)}
                if runtime == "paper" and rate:
                    online = simulate(helix, cluster, plan_file, runtime, ["--mode", "online", "--rate", str(rate)])
                    helix_row["online"] = online
                rows.append(helix_row)
                if published:
                    row = {"placement": "paper (published)", "max_flow_tps": planner_max_flow(helix, cluster, published),
                           **simulate(helix, cluster, published, runtime)}
                    if runtime == "paper" and rate:
                        row["online"] = simulate(helix, cluster, published, runtime,
                                                 ["--mode", "online", "--rate", str(rate)])
                    rows.append(row)
                for method in ("petals", "swarm", "homogeneous", "separate"):
                    f = os.path.join(work, f"{key}.{method}.json")
                    p = subprocess.run([helix, "plan", "--cluster", cluster, "--method", method, "-q", "-o", f],
                                       capture_output=True, text=True)
                    if p.returncode != 0:
                        continue  # not applicable to this cluster
                    rows.append({"placement": method, "max_flow_tps": planner_max_flow(helix, cluster, f),
                                 **simulate(helix, cluster, f, runtime)})
                reference = rows[1] if published else max(rows[1:], key=lambda r: r["decode_tps"])
                results.append({"instance": name, "runtime": runtime, "rows": rows,
                                "reference": reference["placement"],
                                "ratio": rows[0]["decode_tps"] / reference["decode_tps"]})
    print_tables(results, args.runtimes.split(","))
    with open(os.path.join(args.build, "served_planner.json"), "w") as f:
        json.dump(results, f, indent=1)


def cell(value, fmt):
    return "-" if value is None else format(value, fmt)


def print_tables(results, runtimes):
    for runtime in runtimes:
        print(f"\n{runtime} runtime model, offline (closed loop): decode tokens/s")
        print("| instance | placement | max flow (tok/s) | predicted served | simulated served | predicted / simulated "
              "| mean decode latency (s) | p95 prompt latency (s) | helix vs |")
        print("|---|---|---|---|---|---|---|---|---|")
        for res in (r for r in results if r["runtime"] == runtime):
            for r in res["rows"]:
                pred = r.get("predicted_tps")
                vs = f"{res['ratio']:.3f}x {res['reference']}" if r["placement"] == "helix" else ""
                print(f"| {res['instance']} | {r['placement']} | {r['max_flow_tps']:.1f} | {cell(pred, '.1f')} | "
                      f"{r['decode_tps']:.1f} | {cell(pred / r['decode_tps'] if pred else None, '.3f')} | "
                      f"{r['decode_mean_s']:.3f} | {r['prompt_p95_s']:.2f} | {vs} |")
        if runtime != "paper":
            continue
        print("\npaper runtime model, online at the paper's rates")
        print("| instance | placement | decode tok/s | mean decode latency (s) | p95 prompt latency (s) |")
        print("|---|---|---|---|---|")
        for res in (r for r in results if r["runtime"] == runtime):
            for r in res["rows"]:
                if "online" in r:
                    o = r["online"]
                    print(f"| {res['instance']} | {r['placement']} | {o['decode_tps']:.1f} | {o['decode_mean_s']:.3f} | "
                          f"{o['prompt_p95_s']:.2f} |")


if __name__ == "__main__":
    main()
