#!/usr/bin/env python3
"""Benchmarks of the distributed runtime (issue 6), each reported as a ratio to a
baseline measured in the same run:

  engine    end-to-end tokens/s of a 3-worker pipeline (separate processes, ZeroMQ
            between them, HTTP in front) vs single-process `helix generate` on the
            same random-weight model, one request at a time; then 16 concurrent
            clients; coordinator CPU time per generated token (from /proc).
  emulated  the paper's single-24 cluster (LLaMA-2-70B, the published Helix MILP
            placement) as 24 emulated worker processes under a closed-loop load,
            decode tokens/s vs `helix simulate` of the same cluster, placement,
            length dataset, warm-up and window.

Usage: bench/runtime_bench.py [--build build] [--part engine|emulated|all]
                              [--emulated-clients 480] [--warm-up 60] [--window 180]
The machine is shared and noisy: read the ratios, not the absolute numbers.
"""
import argparse
import csv
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SINGLE24_PLACEMENT = os.path.join(ROOT, "..", "shared", "data", "helix", "artifact", "single_cluster",
                                  "layout_llama70b", "ilp", "ilp_sol.ini")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def post(port, body, timeout=600):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def metrics(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


class Cluster:
    """A `helix serve` plus one `helix worker` per node, all on this machine."""

    def __init__(self, helix, workdir, serve_args, workers, worker_args):
        self.port, control = free_port(), free_port()
        self.logs = []
        self.serve = self._start([helix, "serve", "--listen", f"127.0.0.1:{self.port}", "--control",
                                  f"tcp://127.0.0.1:{control}"] + serve_args, os.path.join(workdir, "serve.log"))
        self.workers = [self._start([helix, "worker", "--coordinator", f"tcp://127.0.0.1:{control}", "--node", n]
                                    + worker_args, os.path.join(workdir, f"worker-{n}.log")) for n in workers]
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5).status == 200:
                    return
            except Exception:
                pass
            if self.serve.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        sys.exit("cluster did not become ready; see " + workdir)

    def _start(self, cmd, log):
        f = open(log, "w")
        self.logs.append(f)
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)

    def stop(self):
        for p in [self.serve] + self.workers:
            if p.poll() is None:
                p.terminate()
        for p in [self.serve] + self.workers:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in self.logs:
            f.close()


def closed_loop(port, clients, make_body, until):
    """`clients` threads each sending one request after another until time `until`."""
    done = [0] * clients
    errors = [0] * clients

    def run(i):
        rng = random.Random(i)
        while time.time() < until:
            try:
                r = post(port, make_body(rng))
                done[i] += r["usage"]["completion_tokens"]
            except Exception:
                errors[i] += 1
                time.sleep(0.1)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    return threads, done, errors


# ------------------------------------------------------------------ engine part

def bench_engine(helix, preset, workdir):
    model = os.path.join(workdir, preset)
    subprocess.run([helix, "model", "init", "--preset", preset, "--seed", "1", "--out", model], check=True,
                   stdout=subprocess.DEVNULL)
    layers = json.load(open(os.path.join(model, "config.json")))["num_hidden_layers"]
    prompt, tokens = "The quick brown fox jumps over the lazy dog", 128

    singles = []
    for _ in range(3):
        out = subprocess.run([helix, "generate", "--model", model, "--prompt", prompt, "--max-tokens", str(tokens),
                              "--threads", "1", "--json"], check=True, capture_output=True, text=True).stdout
        j = json.loads(out)
        singles.append(len(j["tokens"]) / (j["prefill_s"] + j["decode_s"]))
    single = statistics.median(singles)

    a, b = layers // 3, 2 * layers // 3
    placement = {"format": "helix-placement", "version": 1, "cluster": "local3", "model": "llama", "method": "manual",
                 "num_layers": layers, "nodes": [
                     {"name": "fast", "gpu": "cpu-fast", "start": 0, "end": a},
                     {"name": "mid", "gpu": "cpu-mid", "start": a, "end": b},
                     {"name": "slow", "gpu": "cpu-slow", "start": b, "end": layers}]}
    pfile = os.path.join(workdir, f"{preset}-pipeline.json")
    json.dump(placement, open(pfile, "w"))
    cluster = Cluster(helix, workdir, ["--cluster", "local3", "--placement", pfile, "--model", model, "--model-id", "m"],
                      ["fast", "mid", "slow"], ["--model", model, "--threads", "1"])
    try:
        body = {"model": "m", "prompt": prompt, "max_tokens": tokens, "temperature": 0, "ignore_eos": True}
        post(cluster.port, body)  # warm-up
        dist = []
        for _ in range(5):
            t = time.time()
            r = post(cluster.port, body)
            dist.append(r["usage"]["completion_tokens"] / (time.time() - t))
        pipeline = statistics.median(dist)

        # 16 clients at once: throughput and the coordinator's CPU per token.
        cpu0, m0, t0 = cpu_seconds(cluster.serve.pid), metrics(cluster.port), time.time()
        threads, done, errors = closed_loop(cluster.port, 16, lambda rng: dict(body, max_tokens=64), time.time() + 15)
        for th in threads:
            th.join()
        elapsed, cpu1, m1 = time.time() - t0, cpu_seconds(cluster.serve.pid), metrics(cluster.port)
        generated = m1["helix_coordinator_generated_tokens_total"] - m0["helix_coordinator_generated_tokens_total"]
        return {"model": preset, "layers": layers, "single_tps": single, "pipeline_tps": pipeline,
                "concurrent_tps": sum(done) / elapsed, "concurrent_errors": sum(errors),
                "coordinator_cpu_us_per_token": 1e6 * (cpu1 - cpu0) / max(1, generated), "tokens": generated}
    finally:
        cluster.stop()


# ------------------------------------------------------------------ emulated part

def bench_emulated(helix, workdir, clients, warm_up, window):
    lengths = list(csv.DictReader(open(os.path.join(ROOT, "data", "traces", "length_azure_conv.csv"))))
    pairs = [(int(r["input_tokens"]), int(r["output_tokens"])) for r in lengths]

    sim = subprocess.run([helix, "simulate", "--cluster", "single24", "--placement", SINGLE24_PLACEMENT, "--mode",
                          "offline", "--lengths", "azure-conv", "--warm-up", str(warm_up), "--duration", str(window),
                          "--json"], check=True, capture_output=True, text=True)
    report = json.loads(sim.stdout)
    predicted = report["throughput"]["decode_tps"]
    sim_busy = [n["busy_share"] for n in report["nodes"]]
    sim_itl = report["latency"]["decode"]["mean_s"]

    cluster = Cluster(helix, workdir, ["--cluster", "single24", "--placement", SINGLE24_PLACEMENT, "--engine", "emulated",
                                       "--model", "llama2-70b", "--model-id", "m", "--kv-hwm", "0.85",
                                       "--kv-output-ratio", "1.0", "--http-threads", str(clients + 16)],
                      [f"ComputeNode-{i}" for i in range(24)], ["--engine", "emulated"])
    try:
        def body(rng):
            i, o = rng.choice(pairs)
            return {"model": "m", "prompt": [65 + (k % 26) for k in range(i)], "max_tokens": o, "temperature": 0,
                    "ignore_eos": True}

        start = time.time()
        threads, done, errors = closed_loop(cluster.port, clients, body, start + warm_up + window)
        time.sleep(warm_up)
        m0, t0, cpu0 = metrics(cluster.port), time.time(), cpu_seconds(cluster.serve.pid)
        time.sleep(window)
        m1, t1, cpu1 = metrics(cluster.port), time.time(), cpu_seconds(cluster.serve.pid)
        print(f"  emulated: {time.time() - start:.0f} s, {m1.get('helix_requests_active', 0):.0f} active", file=sys.stderr)
        key = "helix_coordinator_generated_tokens_total"
        measured = (m1[key] - m0[key]) / (t1 - t0)
        itl = "helix_inter_token_latency_seconds"
        mean_itl = (m1[itl + "_sum"] - m0[itl + "_sum"]) / max(1, m1[itl + "_count"] - m0[itl + "_count"])
        busy = [(m1[k] - m0.get(k, 0)) / (t1 - t0) for k in m1 if k.startswith("helix_node_busy_seconds_total")]
        active = m1.get("helix_requests_active", 0)
        waiting = m1.get("helix_requests_waiting", 0)
        return {"predicted_decode_tps": predicted, "measured_decode_tps": measured, "clients": clients,
                "mean_inter_token_s": mean_itl, "simulated_mean_decode_latency_s": sim_itl,
                "busy_share_mean": statistics.mean(busy), "busy_share_max": max(busy),
                "simulated_busy_share_mean": statistics.mean(sim_busy), "simulated_busy_share_max": max(sim_busy),
                "active_at_end": active, "waiting_at_end": waiting, "client_errors": sum(errors),
                "coordinator_cpu_us_per_token": 1e6 * (cpu1 - cpu0) / max(1, m1[key] - m0[key]),
                "load_avg": os.getloadavg()}
    finally:
        cluster.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--part", default="all", choices=["engine", "emulated", "all"])
    ap.add_argument("--emulated-clients", type=int, default=480)
    ap.add_argument("--warm-up", type=float, default=60)
    ap.add_argument("--window", type=float, default=180)
    args = ap.parse_args()
    helix = os.path.join(args.build, "helix")
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        if args.part in ("engine", "all"):
            results["engine"] = [bench_engine(helix, p, workdir) for p in ("tiny", "small")]
            print(f"{'model':<7}{'single-process':>16}{'3-worker pipeline':>19}{'ratio':>7}"
                  f"{'16 clients':>12}{'ratio':>7}{'coordinator CPU/token':>23}")
            for r in results["engine"]:
                print(f"{r['model']:<7}{r['single_tps']:>12.0f} t/s{r['pipeline_tps']:>15.0f} t/s"
                      f"{r['pipeline_tps'] / r['single_tps']:>7.2f}{r['concurrent_tps']:>8.0f} t/s"
                      f"{r['concurrent_tps'] / r['single_tps']:>7.2f}{r['coordinator_cpu_us_per_token']:>19.1f} us")
        if args.part in ("emulated", "all"):
            r = bench_emulated(helix, workdir, args.emulated_clients, args.warm_up, args.window)
            results["emulated"] = r
            print(f"single-24 emulated: {r['measured_decode_tps']:.1f} decode tok/s measured vs "
                  f"{r['predicted_decode_tps']:.1f} predicted by the simulator: ratio "
                  f"{r['measured_decode_tps'] / r['predicted_decode_tps']:.3f} ({r['clients']} clients, "
                  f"{r['active_at_end']:.0f} routed + {r['waiting_at_end']:.0f} waiting at the end, "
                  f"coordinator {r['coordinator_cpu_us_per_token']:.0f} us CPU per token, load {r['load_avg']})")
            print(f"  mean time between a request's tokens {r['mean_inter_token_s']:.3f} s (simulated "
                  f"{r['simulated_mean_decode_latency_s']:.3f} s); node busy share mean/max "
                  f"{r['busy_share_mean']:.2f}/{r['busy_share_max']:.2f} (simulated "
                  f"{r['simulated_busy_share_mean']:.2f}/{r['simulated_busy_share_max']:.2f})")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
