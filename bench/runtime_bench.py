#!/usr/bin/env python3
"""Benchmarks of the distributed runtime (issue 6), each reported as a ratio to a
baseline measured in the same run:

  engine    end-to-end tokens/s of a 3-worker pipeline (separate processes, ZeroMQ
            between them, HTTP in front) vs single-process `helix generate` on the
            same random-weight model, one request at a time; then 16 concurrent
            clients; coordinator CPU time per generated token (from /proc).
  emulated  the paper's single-24 and high-heterogeneity-42 clusters (LLaMA-2-70B, the
            published Helix MILP placements) as 24 / 42 emulated worker processes,
            offline (a closed loop of clients) and online (Poisson arrivals at the
            paper's rates), against `helix simulate --runtime helix` of the same
            cluster, placement, length dataset, load and window: decode tokens/s
            and mean time between tokens, runtime / model.
  wire      (root: ip netns, tc) a 2-stage pipeline of the `small` model whose
            second worker sits behind a veth shaped to --wire-rate: decode
            tokens/s of 8 closed-loop clients with `--activations f32` and f16,
            alternating, 2 rounds each; the ratio f16 / f32.

Usage: bench/runtime_bench.py [--build build] [--part engine|emulated|wire|all]
                              [--clusters single24,high42] [--modes offline,online]
                              [--emulated-clients 480] [--emulated-clients-42 900]
                              [--warm-up 60] [--window 180] [--wire-rate 2mbit]
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

    def __init__(self, helix, workdir, serve_args, workers, worker_args, control_host="127.0.0.1", worker_cmd=None):
        """`worker_cmd(node, control_port)`, if given, is a worker's whole command line."""
        self.port, control = free_port(), free_port()
        self.logs = []
        self.serve = self._start([helix, "serve", "--listen", f"127.0.0.1:{self.port}", "--control",
                                  f"tcp://{control_host}:{control}"] + serve_args, os.path.join(workdir, "serve.log"))
        self.workers = [self._start(worker_cmd(n, control) if worker_cmd else
                                    [helix, "worker", "--coordinator", f"tcp://127.0.0.1:{control}", "--node", n]
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

ARTIFACT = os.path.join(ROOT, "..", "shared", "data", "helix", "artifact")
# name -> (cluster argument, placement, online rate in tokens/s as the paper's step3 runs)
EMULATED = {
    "single24": ("single24", SINGLE24_PLACEMENT, 700),
    "high42": (os.path.join(ARTIFACT, "high_heterogeneity", "config", "cluster42.ini"),
               os.path.join(ARTIFACT, "high_heterogeneity", "layout_llama70b", "ilp", "ilp_sol.ini"), 2150),
}


def placed_nodes(helix, cluster, placement):
    flow = json.loads(subprocess.run([helix, "flow", "--cluster", cluster, "--placement", placement, "--model",
                                      "llama2-70b", "--json"], check=True, capture_output=True, text=True).stdout)
    return [n["name"] for n in flow["planner"]["nodes"] if "start" in n]


def simulate(helix, cluster, placement, args):
    out = subprocess.run([helix, "simulate", "--cluster", cluster, "--placement", placement, "--model", "llama2-70b",
                          "--runtime", "helix", "--json"] + args, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def poisson_trace(pairs, rate_tps, duration, seed, start):
    """Arrivals at rate_tps offered tokens/s (input + output), as `helix simulate --poisson` draws them."""
    rng = random.Random(seed)
    mean_total = statistics.mean(i + o for i, o in pairs)
    t, out = 0.0, []
    while True:
        t += rng.expovariate(rate_tps / mean_total)
        if t >= duration:
            return out
        i, o = rng.choice(pairs)
        out.append((start + t, i, o))


def window_figures(m0, m1, seconds):
    """Decode tokens/s and mean time between tokens from two /metrics snapshots."""
    gen = m1["helix_coordinator_generated_tokens_total"] - m0["helix_coordinator_generated_tokens_total"]
    ttft = "helix_time_to_first_token_seconds"
    itl = "helix_inter_token_latency_seconds"
    first = m1[ttft + "_count"] - m0.get(ttft + "_count", 0)
    gaps = m1[itl + "_count"] - m0.get(itl + "_count", 0)
    return {"decode_tps": (gen - first) / seconds,
            "mean_decode_latency_s": (m1[itl + "_sum"] - m0.get(itl + "_sum", 0)) / max(1, gaps),
            "mean_prompt_latency_s": (m1[ttft + "_sum"] - m0.get(ttft + "_sum", 0)) / max(1, first)}


def bench_emulated(helix, workdir, name, mode, clients, warm_up, window):
    """One emulated cluster against `helix simulate --runtime helix` on the same
    cluster, placement, length dataset, load and window. A request (i, o) is a
    prompt of i token ids and o decode steps after its first token (max_tokens
    o + 1), as the simulator's query; decode tokens/s counts tokens after each
    request's first, over the window, on both sides."""
    cluster, placement, rate = EMULATED[name]
    lengths = list(csv.DictReader(open(os.path.join(ROOT, "data", "traces", "length_azure_conv.csv"))))
    pairs = [(int(r["input_tokens"]), int(r["output_tokens"])) for r in lengths]
    kv = ["--kv-hwm", "0.85", "--kv-output-ratio", "1.0"] if mode == "offline" else ["--kv-hwm", "0.9",
                                                                                    "--kv-output-ratio", "0.6"]
    if mode == "offline":
        sim = simulate(helix, cluster, placement, ["--mode", "offline", "--clients", str(clients), "--warm-up",
                                                   str(warm_up), "--duration", str(window)] + kv)
        trace = None
    else:
        dry = simulate(helix, cluster, placement, ["--mode", "offline", "--duration", "1"])
        trace = poisson_trace(pairs, rate, window, 1, dry["model_loading_end_s"])
        trace_file = os.path.join(workdir, f"trace-{name}.csv")
        with open(trace_file, "w") as f:
            f.write("query_index,arrival_time_s,input_tokens,output_tokens\n")
            for k, (t, i, o) in enumerate(trace):
                f.write(f"{k},{t!r},{i},{o}\n")
        sim = simulate(helix, cluster, placement, ["--mode", "online", "--trace", trace_file, "--duration",
                                                   str(window)] + kv)
    predicted = {"decode_tps": sim["throughput"]["decode_tps"],
                 "mean_decode_latency_s": sim["latency"]["decode"]["mean_s"],
                 "mean_prompt_latency_s": sim["latency"]["prompt"]["mean_s"],
                 "busy_share_mean": statistics.mean(n["busy_share"] for n in sim["nodes"])}

    threads_needed = (clients if mode == "offline" else len(trace)) + 16
    run = Cluster(helix, workdir, ["--cluster", cluster, "--placement", placement, "--engine", "emulated", "--model",
                                   "llama2-70b", "--model-id", "m", "--http-threads", str(threads_needed)] + kv,
                  placed_nodes(helix, cluster, placement), ["--engine", "emulated"])
    try:
        def body(i, o):
            return {"model": "m", "prompt": [65 + (k % 26) for k in range(i)], "max_tokens": o + 1,
                    "temperature": 0, "ignore_eos": True}

        errors = []
        start = time.time()
        if mode == "offline":
            _, _, errs = closed_loop(run.port, clients, lambda rng: body(*rng.choice(pairs)),
                                     start + warm_up + window)
            time.sleep(warm_up)
            m0, t0 = metrics(run.port), time.time()
            time.sleep(window)
            m1, t1 = metrics(run.port), time.time()
            errors = errs
        else:
            origin = sim["model_loading_end_s"]
            m0, t0 = metrics(run.port), time.time()

            def send(i, o):
                try:
                    post(run.port, body(i, o), timeout=3600)
                except Exception:
                    errors.append(1)

            senders = [threading.Timer(t - origin, send, args=(i, o)) for t, i, o in trace]
            for s in senders:
                s.start()
            time.sleep(max(0.0, t0 + window - time.time()))
            m1, t1 = metrics(run.port), time.time()
            for s in senders:
                s.join()
        measured = window_figures(m0, m1, t1 - t0)
        busy = [(m1[k] - m0.get(k, 0)) / (t1 - t0) for k in m1 if k.startswith("helix_node_busy_seconds_total")]
        measured["busy_share_mean"] = statistics.mean(busy)
        return {"cluster": name, "mode": mode, "clients": clients if mode == "offline" else None,
                "requests": len(trace) if trace else None, "predicted": predicted, "measured": measured,
                "client_errors": sum(errors) if isinstance(errors, list) else errors, "load_avg": os.getloadavg()}
    finally:
        run.stop()


# ------------------------------------------------------------------ wire part

WIRE_NS, WIRE_OUT, WIRE_IN, WIRE_NET = "hxbench-far", "hxbencho", "hxbenchi", "10.232.1"


def shaped_host(rate):
    """A network namespace behind a veth whose two ends are shaped to `rate` (tc tbf)."""
    tbf = f"root tbf rate {rate} burst 4kb latency 400ms"
    for cmd in [f"ip netns add {WIRE_NS}", f"ip link add {WIRE_OUT} type veth peer name {WIRE_IN}",
                f"ip link set {WIRE_IN} netns {WIRE_NS}", f"ip addr add {WIRE_NET}.1/24 dev {WIRE_OUT}",
                f"ip link set {WIRE_OUT} up", f"ip netns exec {WIRE_NS} ip addr add {WIRE_NET}.2/24 dev {WIRE_IN}",
                f"ip netns exec {WIRE_NS} ip link set {WIRE_IN} up", f"ip netns exec {WIRE_NS} ip link set lo up",
                f"tc qdisc add dev {WIRE_OUT} {tbf}", f"ip netns exec {WIRE_NS} tc qdisc add dev {WIRE_IN} {tbf}"]:
        subprocess.run(cmd.split(), check=True)


def cluster_bandwidth(rate):
    """tc's "2mbit" as a cluster file's "2 Mbps"."""
    for unit, name in (("gbit", "Gbps"), ("mbit", "Mbps"), ("kbit", "Kbps")):
        if rate.endswith(unit):
            return f"{rate[:-len(unit)]} {name}"
    sys.exit(f"--wire-rate {rate}: expected a number of kbit, mbit or gbit")


def bench_wire(helix, workdir, rate, clients=8, seconds=20, rounds=2):
    """Decode tokens/s of a pipeline whose hidden states cross a `rate` link, f32 vs f16 activations."""
    model = os.path.join(workdir, "small")
    subprocess.run([helix, "model", "init", "--preset", "small", "--seed", "1", "--out", model], check=True,
                   stdout=subprocess.DEVNULL)
    cluster_file = os.path.join(workdir, "wire.yaml")
    with open(cluster_file, "w") as f:
        f.write("format: helix-cluster/1\nname: wire\ngpu_types:\n  cpu: {vram: 16 GB, memory_bandwidth: 10 GB/s, "
                "peak_flops: 200 GFLOP/s, nic: 10 Gbps, profile: none}\ncoordinator: {nic: 10 Gbps}\nnetwork:\n"
                "  in_region: {bandwidth: 10 Gbps, latency: 0.05 ms}\n  links:\n"
                f"    - {{from: near, to: far, bandwidth: {cluster_bandwidth(rate)}}}\n"
                "nodes:\n  - {name: near, gpu: cpu}\n  - {name: far, gpu: cpu}\n")
    placement = os.path.join(workdir, "wire-pipeline.json")
    json.dump({"format": "helix-placement", "version": 1, "cluster": "wire", "model": "llama", "method": "manual",
               "num_layers": 8, "nodes": [{"name": "near", "gpu": "cpu", "start": 0, "end": 4},
                                          {"name": "far", "gpu": "cpu", "start": 4, "end": 8}]}, open(placement, "w"))

    def worker_cmd(node, control):  # near beside the coordinator; far behind the shaped veth
        if node == "near":
            return [helix, "worker", "--coordinator", f"tcp://127.0.0.1:{control}", "--node", node, "--model", model,
                    "--threads", "1", "--listen", "127.0.0.1"]
        return ["ip", "netns", "exec", WIRE_NS, helix, "worker", "--coordinator", f"tcp://{WIRE_NET}.1:{control}",
                "--node", node, "--model", model, "--threads", "1", "--listen", f"{WIRE_NET}.2", "--insecure"]

    runs = {"f32": [], "f16": []}
    errors = 0
    try:
        shaped_host(rate)
        for _ in range(rounds):
            for activations in ("f32", "f16"):
                cluster = Cluster(helix, workdir, ["--cluster", cluster_file, "--placement", placement, "--model", model,
                                                   "--model-id", "m", "--activations", activations, "--insecure"],
                                  ["near", "far"], [], control_host="0.0.0.0", worker_cmd=worker_cmd)
                try:
                    body = {"model": "m", "prompt": "The quick brown fox jumps over the lazy dog", "max_tokens": 48,
                            "temperature": 0, "ignore_eos": True}
                    post(cluster.port, body)  # warm-up
                    m0, t0 = metrics(cluster.port), time.time()
                    threads, done, failed = closed_loop(cluster.port, clients, lambda rng: body, time.time() + seconds)
                    for th in threads:
                        th.join()
                    errors += sum(failed)
                    m1, elapsed = metrics(cluster.port), time.time() - t0
                    runs[activations].append(window_figures(m0, m1, elapsed)["decode_tps"])
                finally:
                    cluster.stop()
    finally:
        subprocess.run(["ip", "netns", "del", WIRE_NS], stderr=subprocess.DEVNULL)
    f32, f16 = statistics.median(runs["f32"]), statistics.median(runs["f16"])
    return {"rate": rate, "clients": clients, "seconds": seconds, "f32_decode_tps": runs["f32"],
            "f16_decode_tps": runs["f16"], "ratio": f16 / f32, "failed_requests": errors}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--part", default="all", choices=["engine", "emulated", "wire", "all"])
    ap.add_argument("--wire-rate", default="2mbit", help="wire part: the shaped link's rate (tc units)")
    ap.add_argument("--emulated-clients", type=int, default=480, help="offline clients, single24")
    ap.add_argument("--emulated-clients-42", type=int, default=900, help="offline clients, high42")
    ap.add_argument("--clusters", default="single24,high42")
    ap.add_argument("--modes", default="offline,online")
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
            results["emulated"] = []
            for name in args.clusters.split(","):
                for mode in args.modes.split(","):
                    clients = args.emulated_clients if name == "single24" else args.emulated_clients_42
                    print(f"emulated {name} {mode} ...", file=sys.stderr)
                    results["emulated"].append(bench_emulated(helix, workdir, name, mode, clients, args.warm_up,
                                                              args.window))
            print(f"{'cluster':<10}{'mode':<9}{'decode tok/s: runtime':>22}{'model':>9}{'ratio':>7}"
                  f"{'mean decode latency: runtime':>30}{'model':>8}{'ratio':>7}")
            for r in results["emulated"]:
                m, p = r["measured"], r["predicted"]
                print(f"{r['cluster']:<10}{r['mode']:<9}{m['decode_tps']:>22.1f}{p['decode_tps']:>9.1f}"
                      f"{m['decode_tps'] / p['decode_tps']:>7.3f}{m['mean_decode_latency_s']:>28.3f} s"
                      f"{p['mean_decode_latency_s']:>6.3f} s{m['mean_decode_latency_s'] / p['mean_decode_latency_s']:>7.3f}")
        if args.part == "wire" or (args.part == "all" and os.geteuid() == 0):
            r = results["wire"] = bench_wire(helix, workdir, args.wire_rate)
            print(f"pipeline across a {r['rate']} link, {r['clients']} clients: decode tok/s with f32 activations "
                  f"{r['f32_decode_tps']}, f16 {r['f16_decode_tps']}: f16 / f32 = {r['ratio']:.2f}; "
                  f"{r['failed_requests']} failed requests")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
