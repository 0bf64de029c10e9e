#!/usr/bin/env python3
"""Join benchmark of elastic serving: a fourth worker joins a serving 3-worker
cluster; does measured throughput rise as the re-plan predicts, and how many layers
does the warm re-plan move against a plan made from scratch?

  cluster   LLaMA-1-30B (60 layers, the paper's profiles) on a, b, c = A100, L4x2,
            L4x2 in one region (1 GB/s, 1 ms links), as emulated `helix worker`
            processes behind `helix serve --engine emulated` (runtime_bench.py's
            command lines). Their placement is `helix plan --objective max-flow` of
            the three nodes (a fixed evaluation budget, so it is the same every run).
            The joiner d is an A100 that no cluster file lists: `helix worker --node d
            --gpu A100`, so the coordinator adds it to the cluster and re-plans warm
            from what a, b, c hold (its default move penalty), loading layers while
            the rest serves.
  load      --clients closed-loop clients (each sends its next request when the last
            one ends; seeded Azure-conversation lengths, prompts of i token ids and
            max_tokens o + 1, ignore_eos), running from start to end.
  measured  decode tokens/s (generated tokens after each request's first, from the
            coordinator's /metrics) over --window s, once after --warm-up s on the three
            nodes, once --warm-up s after the joiner's re-plan is applied and every
            node is ready; client errors (must be 0: requests on nodes that reload
            layers move, they are not lost); time from the joiner's start to the
            re-plan and to all-ready.
  predicted (1) the re-plan's max flow before -> after (the coordinator's log; the
            planner's objective, an upper bound on what is served), and (2) `helix
            simulate --runtime helix --mode offline` on the placement before and on the
            one the coordinator applied, with the same clients, lengths, KV settings,
            warm-up and window: the served tokens/s the simulator predicts.
  moves     layers newly loaded by the warm re-plan (the coordinator's log) against
            a plan from scratch of the four nodes (`helix plan` on the same budget,
            no --from), counted from the three nodes' placement in the same way.

Output: a table on stdout and a JSON summary {"format": "helix-join", "version": 1}.
Usage: bench/join.py [--build build] [--clients 96] [--warm-up 60] [--window 120]
                     [--json docs/join.json] [--logs DIR]
"""
import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runtime_bench  # noqa: E402  (cluster launcher, closed loop, /metrics helpers)

ROOT = runtime_bench.ROOT
MODEL = "llama1-30b"
KV_ARGS = ["--kv-hwm", "0.85", "--kv-output-ratio", "1.0"]  # runtime_bench.py's offline mode
CLUSTER = """format: helix-cluster/1
name: {name}
gpu_types:
  A100: {{vram: 40 GB, nic: 10 GB/s, disk: 1 GB/s}}
  L4x2: {{vram: 48 GB, nic: 10 GB/s, disk: 1 GB/s}}
coordinator:
  nic: 10 GB/s
network:
  in_region: {{bandwidth: 1 GB/s, latency: 1 ms}}
nodes:
  - {{name: a, gpu: A100}}
  - {{name: b, gpu: L4x2}}
  - {{name: c, gpu: L4x2}}
"""
JOINER = ("d", "A100")


def run_json(cmd):
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def plan(helix, cluster, out):
    subprocess.run([helix, "plan", "--cluster", cluster, "--model", MODEL, "--objective", "max-flow",
                    "--max-evaluations", "100", "--threads", "1", "-q", "-o", out], check=True, capture_output=True)
    return {n["name"]: (n.get("start"), n.get("end")) for n in json.load(open(out))["nodes"]}


def layers_added(now, nxt):
    """Layers in range `nxt` that range `now` does not hold (None = no layers)."""
    if nxt is None or nxt[0] is None:
        return 0
    if now is None or now[0] is None:
        return nxt[1] - nxt[0]
    return (nxt[1] - nxt[0]) - max(0, min(now[1], nxt[1]) - max(now[0], nxt[0]))


def write_placement(path, cluster_name, ranges, gpus):
    nodes = [{"name": n, "gpu": gpus[n], **({"start": r[0], "end": r[1]} if r else {})} for n, r in ranges.items()]
    with open(path, "w") as f:
        json.dump({"format": "helix-placement", "version": 1, "cluster": cluster_name, "model": MODEL,
                   "num_layers": 60, "method": "applied", "nodes": nodes}, f, indent=1)


def simulate(helix, cluster, placement, clients, warm_up, window):
    d = run_json([helix, "simulate", "--cluster", cluster, "--placement", placement, "--model", MODEL, "--runtime",
                  "helix", "--mode", "offline", "--clients", str(clients), "--warm-up", str(warm_up), "--duration",
                  str(window), "--json"] + KV_ARGS)
    return {"decode_tps": d["throughput"]["decode_tps"], "max_flow_tps": d["max_flow_tps"]}


def admin_nodes(port):
    return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/nodes", timeout=30).read())


def measure(port, seconds):
    m0, t0 = runtime_bench.metrics(port), time.time()
    time.sleep(seconds)
    m1, t1 = runtime_bench.metrics(port), time.time()
    return runtime_bench.window_figures(m0, m1, t1 - t0)["decode_tps"]


def wait_for(what, predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    sys.exit(f"join: timed out waiting for {what}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--clients", type=int, default=96)
    ap.add_argument("--warm-up", type=float, default=60)
    ap.add_argument("--window", type=float, default=120)
    ap.add_argument("--json", help="write the JSON summary here")
    ap.add_argument("--logs", help="folder for the processes' logs (default: a new temporary one)")
    args = ap.parse_args()
    helix = os.path.join(args.build, "helix")
    work = args.logs or tempfile.mkdtemp(prefix="helix-join-")
    os.makedirs(work, exist_ok=True)
    print(f"join: logs in {work}", file=sys.stderr)

    c3, c4 = os.path.join(work, "join3.yaml"), os.path.join(work, "join4.yaml")
    open(c3, "w").write(CLUSTER.format(name="join3"))
    open(c4, "w").write(CLUSTER.format(name="join4") + "  - {name: %s, gpu: %s}\n" % JOINER)
    gpus = {"a": "A100", "b": "L4x2", "c": "L4x2", JOINER[0]: JOINER[1]}
    p3 = os.path.join(work, "placement3.json")
    before_ranges = plan(helix, c3, p3)
    scratch_ranges = plan(helix, c4, os.path.join(work, "placement4-scratch.json"))

    lengths = list(csv.DictReader(open(os.path.join(ROOT, "data", "traces", "length_azure_conv.csv"))))
    pairs = [(int(r["input_tokens"]), int(r["output_tokens"])) for r in lengths]

    def body(rng):
        i, o = rng.choice(pairs)
        return {"model": "m", "prompt": [65 + (k % 26) for k in range(i)], "max_tokens": o + 1, "temperature": 0,
                "ignore_eos": True}

    serve_args = ["--cluster", c3, "--placement", p3, "--engine", "emulated", "--model", MODEL, "--model-id", "m",
                  "--http-threads", str(args.clients + 16)] + KV_ARGS
    run = runtime_bench.Cluster(helix, work, serve_args, ["a", "b", "c"], ["--engine", "emulated"])
    control = next(a for a in run.serve.args if a.startswith("tcp://"))
    joiner = None
    try:
        _, _, errors = runtime_bench.closed_loop(run.port, args.clients, body, float("inf"))
        time.sleep(args.warm_up)
        measured_before = measure(run.port, args.window)
        print(f"join: measured before the join: {measured_before:.1f} decode tokens/s", file=sys.stderr)
        t_join = time.time()
        log = open(os.path.join(work, f"worker-{JOINER[0]}.log"), "w")
        joiner = subprocess.Popen([helix, "worker", "--coordinator", control, "--node", JOINER[0], "--gpu", JOINER[1],
                                   "--engine", "emulated"], stdout=log, stderr=subprocess.STDOUT)
        serve_log = os.path.join(work, "serve.log")
        line = wait_for("the joiner's re-plan", lambda: next(
            (l for l in open(serve_log) if f"re-planned ({JOINER[0]} joined)" in l), None), 300)
        t_replanned = time.time()
        def all_ready():
            nodes = admin_nodes(run.port)["nodes"]
            return len(nodes) == 4 and all(n["state"] == "ready" and n["loaded"] == n["layers"] for n in nodes)
        wait_for("every node ready", all_ready, 300)
        t_ready = time.time()
        nodes = admin_nodes(run.port)
        applied = {n["name"]: (tuple(n["layers"]) if n["layers"] else None) for n in nodes["nodes"]}
        time.sleep(args.warm_up)
        measured_after = measure(run.port, args.window)
        print(f"join: measured after the join: {measured_after:.1f} decode tokens/s", file=sys.stderr)
        client_errors = sum(errors)
        rerouted = admin_nodes(run.port)["requests_rerouted"]
    finally:
        if joiner and joiner.poll() is None:
            joiner.terminate()
            joiner.wait(10)
        run.stop()

    m = re.search(r"(\d+) layers to load, (\d+) released; max flow ([\d.]+) -> ([\d.]+)", line)
    if not m:
        sys.exit(f"join: cannot read the re-plan line: {line}")
    warm_loaded, warm_released = int(m.group(1)), int(m.group(2))
    flow_before, flow_after = float(m.group(3)), float(m.group(4))
    p4 = os.path.join(work, "placement4-applied.json")
    write_placement(p4, "join4", applied, gpus)
    sim_before = simulate(helix, c3, p3, args.clients, args.warm_up, args.window)
    sim_after = simulate(helix, c4, p4, args.clients, args.warm_up, args.window)
    sim_scratch = simulate(helix, c4, os.path.join(work, "placement4-scratch.json"), args.clients, args.warm_up,
                           args.window)
    scratch_loaded = sum(layers_added(before_ranges.get(n), scratch_ranges.get(n)) for n in scratch_ranges)

    def rng_text(r):
        return "none" if not r or r[0] is None else f"[{r[0]}, {r[1]})"

    print(f"join: {MODEL} on a, b, c (A100, L4x2, L4x2) + d (A100, joins live); {args.clients} closed-loop clients,"
          f" windows of {args.window:.0f} s after {args.warm_up:.0f} s warm-up")
    print(f"  node   before     warm re-plan (applied)   from scratch")
    for n in ["a", "b", "c", JOINER[0]]:
        print(f"  {n:5}  {rng_text(before_ranges.get(n)):9}  {rng_text(applied.get(n)):23}  "
              f"{rng_text(scratch_ranges.get(n))}")
    print(f"  layers newly loaded: warm re-plan {warm_loaded} (released {warm_released}), from scratch {scratch_loaded}")
    print(f"  re-plan applied {t_replanned - t_join:.1f} s after the joiner started; all ready after "
          f"{t_ready - t_join:.1f} s")
    print(f"                           before    after   ratio")
    print(f"  max flow (re-plan)     {flow_before:8.1f} {flow_after:8.1f}   {flow_after / flow_before:.2f}")
    print(f"  simulated decode tok/s {sim_before['decode_tps']:8.1f} {sim_after['decode_tps']:8.1f}   "
          f"{sim_after['decode_tps'] / sim_before['decode_tps']:.2f}   (scratch plan: {sim_scratch['decode_tps']:.1f})")
    print(f"  measured decode tok/s  {measured_before:8.1f} {measured_after:8.1f}   "
          f"{measured_after / measured_before:.2f}")
    print(f"  client errors: {client_errors}; requests moved to a new route by the re-plan: {rerouted}")
    summary = {"format": "helix-join", "version": 1, "model": MODEL, "clients": args.clients,
               "warm_up_s": args.warm_up, "window_s": args.window,
               "ranges": {"before": before_ranges, "applied": applied, "scratch": scratch_ranges},
               "layers_loaded": {"warm": warm_loaded, "scratch": scratch_loaded}, "layers_released_warm": warm_released,
               "seconds_to_replan": t_replanned - t_join, "seconds_to_ready": t_ready - t_join,
               "max_flow_tps": {"before": flow_before, "after": flow_after},
               "simulated_decode_tps": {"before": sim_before["decode_tps"], "after": sim_after["decode_tps"],
                                        "scratch": sim_scratch["decode_tps"]},
               "measured_decode_tps": {"before": measured_before, "after": measured_after},
               "client_errors": client_errors, "requests_rerouted": rerouted, "load_avg": os.getloadavg()}
    if args.json:
        json.dump(summary, open(args.json, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
