#!/usr/bin/env python3
"""Runs every simulated experiment of the paper's artifact with helix and prints
helix's numbers next to the paper's.

    bench/reproduce_paper.py [--build build] [--jobs 2] [--only single_cluster] [--out DIR]

Input: ../shared/data/helix/artifact/experiments.json (all 70 simulate_*() calls of
the artifact's three step3 scripts) with the published placements and
simulator_cluster.ini files; online runs are fed the exact traces the paper fed
(reference_traces/, generated with upstream's code). "separate", "sp_plus" and the
30B Helix runs are several simulations (one per GPU type) whose decode
throughputs are summed and whose latency samples are pooled, as upstream does.

Compared against: the paper's printed expected outputs (planner spec §7.2) and our
runs of the paper's own simulator on this machine (reference_results.csv), which
also give its CPU time for the speed ratio. Writes a Markdown table to
DIR/reproduction.md (default build/reproduce) and prints it.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("HELIX_SHARED_DATA", ROOT.parent / "shared" / "data" / "helix"))
ART = SHARED / "artifact"

MODELS = {"llama30b": "llama1-30b", "llama70b": "llama2-70b"}
SCHEDULERS = {"MaxFlow": "helix", "Swarm": "swarm", "Naive": "random"}

# The paper's printed decode throughputs (tokens/s), ae_readme "expected output"
# (planner spec §7.2), keyed (experiment, model, mode, method).
PUBLISHED = {
    ("single_cluster", "llama30b", "offline"): {"helix": 339.6, "swarm": 151.6, "separate": 309.0},
    ("single_cluster", "llama30b", "online"): {"helix": 216.7, "swarm": 104.9, "separate": 189.8},
    ("single_cluster", "llama70b", "offline"): {"helix": 252.1, "swarm": 124.7, "separate": 124.3},
    ("single_cluster", "llama70b", "online"): {"helix": 141.6, "swarm": 69.8, "separate": 84.0},
    ("distributed_clusters", "llama30b", "offline"): {"helix": 232.7, "swarm": 98.7, "separate": 223.2},
    ("distributed_clusters", "llama30b", "online"): {"helix": 183.5, "swarm": 82.1, "separate": 173.8},
    ("distributed_clusters", "llama70b", "offline"): {"helix": 98.0, "swarm": 51.9, "separate": 61.9},
    ("distributed_clusters", "llama70b", "online"): {"helix": 59.3, "swarm": 31.0, "separate": 33.6},
    ("high_heterogeneity", "llama70b", "offline"): {"helix": 645.6, "swarm": 473.2, "separate": 219.3, "sp_plus": 285.1},
    ("high_heterogeneity", "llama70b", "online"): {"helix": 459.8, "swarm": 309.6, "separate": 140.2, "sp_plus": 181.3},
}

# Published online latency percentiles p5/p25/p50/p75/p95 (prompt | decode).
PUBLISHED_LAT = {
    ("single_cluster", "llama30b", "helix"): ("0.10/0.17/0.43/0.99/2.95", "0.06/0.08/0.13/0.37/0.70"),
    ("single_cluster", "llama30b", "swarm"): ("0.42/0.71/1.42/1.75/2.28", "0.22/0.25/0.26/0.29/0.47"),
    ("single_cluster", "llama30b", "separate"): ("0.09/0.16/0.42/1.07/2.99", "0.06/0.08/0.11/0.33/0.57"),
    ("single_cluster", "llama70b", "helix"): ("0.80/1.38/2.64/3.52/4.41", "0.56/0.76/0.98/1.67/3.19"),
    ("single_cluster", "llama70b", "swarm"): ("0.95/1.70/3.32/4.04/5.01", "0.57/0.82/1.04/1.59/2.51"),
    ("single_cluster", "llama70b", "separate"): ("0.19/0.36/0.80/1.48/4.19", "0.14/0.14/0.22/0.69/1.20"),
    ("distributed_clusters", "llama30b", "helix"): ("0.18/0.25/0.51/1.37/4.41", "0.16/0.18/0.23/0.47/0.83"),
    ("distributed_clusters", "llama30b", "swarm"): ("0.98/1.82/3.25/5.10/7.32", "0.38/0.43/0.48/0.53/1.12"),
    ("distributed_clusters", "llama30b", "separate"): ("0.18/0.25/0.50/1.72/6.47", "0.16/0.18/0.23/0.46/0.92"),
    ("distributed_clusters", "llama70b", "helix"): ("1.50/2.63/5.79/7.53/9.41", "0.60/0.79/0.93/2.34/7.72"),
    ("distributed_clusters", "llama70b", "swarm"): ("2.11/3.96/7.22/10.71/14.83", "0.77/0.97/1.23/2.39/6.50"),
    ("distributed_clusters", "llama70b", "separate"): ("1.27/2.20/4.96/6.02/15.82", "0.71/0.97/1.20/1.37/5.01"),
    ("high_heterogeneity", "llama70b", "helix"): ("0.71/1.20/2.09/2.76/3.51", "0.36/0.51/0.73/1.22/2.18"),
    ("high_heterogeneity", "llama70b", "swarm"): ("0.93/1.48/2.70/3.21/4.10", "0.42/0.51/0.77/1.19/1.74"),
    ("high_heterogeneity", "llama70b", "separate"): ("0.55/0.99/2.21/2.73/3.78", "0.27/0.44/0.47/0.76/2.49"),
    ("high_heterogeneity", "llama70b", "sp_plus"): ("0.56/1.04/2.22/3.13/4.20", "0.29/0.44/0.57/0.83/2.62"),
}


def load_reference_runs():
    """Our runs of the paper's own simulator: per (run, sub) decode throughput and CPU s."""
    out = {}
    path = SHARED / "reference_results.csv"
    if not path.exists():
        return out
    with open(path) as f:
        for row in csv.DictReader(f):
            cpu = None
            if row.get("user_s"):
                cpu = float(row["user_s"]) + float(row.get("sys_s") or 0)
            out[(row["run"], row["sub"])] = {
                "decode_tp": float(row["decode_tp"]) if row.get("decode_tp") else None,
                "step3": float(row["step3_total_decode_tp"]) if row.get("step3_total_decode_tp") else None,
                "cpu_s": cpu,
                "events": int(row["events"]) if row.get("events") else None,
                "rss_kb": int(row["max_rss_kb"]) if row.get("max_rss_kb") else None,
            }
    return out


def trace_index():
    out = {}
    with open(SHARED / "reference_traces" / "index.csv") as f:
        for row in csv.DictReader(f):
            out[int(row["experiments_json_index"])] = row
    return out


def command(build, index, entry, traces, report):
    exp = ART / entry["experiment"]
    args = [str(Path(build) / "helix"), "simulate",
            "--cluster", str(exp / entry["simulator_cluster_file_name"]),
            "--placement", str(exp / entry["solution_file_name"]),
            "--model", MODELS[entry["model"]],
            "--scheduler", SCHEDULERS[entry["scheduling_method"]],
            "--mode", entry["serving_mode"],
            "--warm-up", str(entry["warm_up_s"]),
            "--duration", str(entry["duration_s"]),
            "--report", str(report), "--samples"]
    if entry["serving_mode"] == "online":
        args += ["--trace", str(SHARED / "reference_traces" / traces[index]["trace_file"])]
    else:
        args += ["--initial-queries", str(entry["initial_feed_num"])]
    return args


def run_all(build, jobs, entries, traces, out_dir):
    """Runs the simulations, `jobs` at a time; returns {index: (report, cpu_s, rss_kb)}."""
    pending = list(entries)
    running = {}
    results = {}
    while pending or running:
        while pending and len(running) < jobs:
            index, entry = pending.pop(0)
            report = out_dir / f"run{index:02d}.json"
            proc = subprocess.Popen(command(build, index, entry, traces, report),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            running[proc.pid] = (proc, index, report, time.time())
        pid, status, usage = os.wait4(-1, 0)
        if pid not in running:
            continue
        proc, index, report, _ = running.pop(pid)
        err = proc.stderr.read().decode()
        if status != 0:
            print(f"run {index} failed: {err.strip()}", file=sys.stderr)
            results[index] = None
            continue
        with open(report) as f:
            data = json.load(f)
        results[index] = (data, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
        print(f"  run {index:2d} done: {usage.ru_utime + usage.ru_stime:6.2f} CPU-s", file=sys.stderr)
    return results


def window_latencies(report, kind):
    s = report["samples"]
    a, b = report["window"]["start_s"], report["window"]["end_s"]
    return [lat for t, lat in zip(s[kind + "_finish_s"], s[kind + "_latency_s"]) if a <= t <= b]


def percentiles(values):
    if not values:
        return "-"
    v = sorted(values)
    return "/".join(f"{v[min(int(len(v) * q), len(v) - 1)]:.2f}" for q in (0.05, 0.25, 0.5, 0.75, 0.95))


def reference_key(entry):
    model = "-" if entry["experiment"] == "high_heterogeneity" else entry["model"]
    return f"{entry['experiment']}_{entry['method']}_{model}_{entry['serving_mode']}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", default="", help="run only experiments whose name contains this")
    parser.add_argument("--out", default=str(ROOT / "build" / "reproduce"))
    args = parser.parse_args()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(ART / "experiments.json") as f:
        experiments = json.load(f)
    traces = trace_index()
    reference = load_reference_runs()
    chosen = [(i, e) for i, e in enumerate(experiments) if args.only in e["experiment"] + e["method"]]
    started = time.time()
    results = run_all(args.build, args.jobs, chosen, traces, out_dir)

    groups = {}
    for index, entry in chosen:
        key = (entry["experiment"], entry["model"], entry["serving_mode"], entry["method"])
        groups.setdefault(key, []).append((index, entry))

    lines = ["| experiment | model | mode | method | runs | helix decode tok/s | paper printed | dev | paper's simulator here | dev | prompt p5/25/50/75/95 (s) | paper | decode p5/25/50/75/95 (s) | paper | helix CPU s | paper sim CPU s | speed-up |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    worst = 0.0
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2] != "offline", k[3])):
        exp, model, mode, method = key
        members = groups[key]
        if any(results.get(i) is None for i, _ in members):
            lines.append(f"| {exp} | {model} | {mode} | {method} | {len(members)} | FAILED | | | | | | | | | | | |")
            continue
        decode = sum(results[i][0]["throughput"]["decode_tps"] for i, _ in members)
        cpu = sum(results[i][1] for i, _ in members)
        prompts = [x for i, _ in members for x in window_latencies(results[i][0], "prompt")]
        decodes = [x for i, _ in members for x in window_latencies(results[i][0], "decode")]
        printed = PUBLISHED.get((exp, model, mode), {}).get(method)
        dev = f"{100 * (decode - printed) / printed:+.1f}%" if printed else "-"
        if printed:
            worst = max(worst, abs(decode - printed) / printed)
        ref_runs = [reference.get((reference_key(e), str(sub))) for sub, (_, e) in enumerate(members)]
        ref_decode = sum(r["decode_tp"] for r in ref_runs) if all(r and r["decode_tp"] is not None for r in ref_runs) else None
        ref_cpu = ref_runs[0]["cpu_s"] if ref_runs and ref_runs[0] and ref_runs[0]["cpu_s"] else None
        ref_dev = f"{100 * (decode - ref_decode) / ref_decode:+.1f}%" if ref_decode else "-"
        lat = PUBLISHED_LAT.get((exp, model, method), ("-", "-")) if mode == "online" else ("-", "-")
        speed = f"{ref_cpu / cpu:.0f}x" if ref_cpu else "-"
        lines.append(
            f"| {exp} | {model} | {mode} | {method} | {len(members)} | {decode:.1f} | {printed if printed else '-'} | {dev} | "
            f"{f'{ref_decode:.1f}' if ref_decode else '-'} | {ref_dev} | {percentiles(prompts) if mode == 'online' else '-'} | {lat[0]} | "
            f"{percentiles(decodes) if mode == 'online' else '-'} | {lat[1]} | {cpu:.1f} | {f'{ref_cpu:.0f}' if ref_cpu else '-'} | {speed} |")
    lines.append("")
    lines.append(f"{len(chosen)} simulations in {time.time() - started:.0f} s wall; largest deviation from a printed number: {100 * worst:.1f}%")
    text = "\n".join(lines)
    (out_dir / "reproduction.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
