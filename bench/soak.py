#!/usr/bin/env python3
"""Soak benchmark of elastic serving: steady load on the paper's single-24 cluster
(LLaMA-2-70B, the published Helix MILP placement) as 24 emulated `helix worker`
processes behind `helix serve` -- the same command lines as
bench/runtime_bench.py's online mode -- while workers are SIGKILLed and restarted.

  load      Poisson arrivals (seeded) at --rate offered tokens/s, prompt + output, as
            `helix simulate --poisson` and runtime_bench.py draw them (default 700 tok/s,
            the paper's online rate for single-24: 54 % of the published placement's
            1289.6 tok/s max flow, about 0.70 requests/s, so the cluster is busy but not
            saturated). Lengths from the Azure conversation dataset
            (data/traces/length_azure_conv.csv); a request (i, o) is a prompt of i token
            ids with max_tokens o + 1 and ignore_eos, streamed ("stream": true), one
            client thread per request.
  churn     every --churn-every seconds (from t = churn-every on) one live worker, drawn
            by a seeded RNG, is SIGKILLed; --down seconds later the same `helix worker`
            command line is started again (it re-joins under its node name). So a kill
            and a restart each happen once per period; kills stop early enough that
            every killed worker is restarted before the load ends.
  counted   sent = refused (HTTP 503 at admission) + admission errors (any other answer
            than 200, or no answer) + accepted (HTTP 200, the stream opened). An accepted
            request is completed (a chunk with finish_reason "length"/"stop" and then
            data: [DONE]), lost (an error event, another finish_reason, a stream that
            ends without [DONE], a broken connection, or no event for --stall seconds),
            or unfinished (still streaming when the drain ended: cut off by the
            benchmark, not by the cluster).
  measured  per --window seconds (10): decode tokens/s the clients received (text chunks
            after each request's first; the coordinator's /metrics gives the same figure
            server-side: generated tokens - first tokens), p99 time between tokens (gaps
            between a request's chunks, by the later chunk's window), p99 end-to-end
            latency (send to [DONE], by completion window), arrivals / completed / lost,
            workers up and routing (from /metrics); membership events from the
            coordinator's log (joined, lost, ready, re-planned, routing over ...). Requests
            last minutes (mean output 232 tokens at ~0.5 s each), so the cluster fills over
            the first minutes: the summary's mean decode tokens/s leaves out --warm-up s.
  output    a text table, an SVG (two panels: throughput and p99 latency over time,
            red lines at kills, green at restarts, dashed green when the coordinator
            logs the node ready again) and a JSON summary {"format": "helix-soak",
            "version": 1, ...}. LOST requests are printed prominently; the exit code is 0
            either way (it is a benchmark), 1 only when the cluster never came up.

After --duration seconds no new requests are sent; in-flight ones get up to --drain
seconds; then the coordinator gets SIGINT and every worker is stopped (also on Ctrl-C,
SIGTERM or an error). Logs of all processes stay in --logs (default: a new temporary
directory, printed).

Usage: bench/soak.py [--build build] [--duration 600] [--rate 700] [--churn-every 20]
                     [--down 10] [--seed 0] [--window 10] [--warm-up 60] [--drain 600] [--stall 120]
                     [--worker-timeout S] [--max-requests N] [--svg docs/soak.svg] [--json docs/soak.json]
                     [--logs DIR]
The machine is shared and noisy: 25 processes on a few cores; compare runs made alike.
"""
import argparse
import csv
import datetime
import http.client
import json
import math
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runtime_bench  # noqa: E402  (the cluster launcher, placements, trace and metrics helpers)

ROOT = runtime_bench.ROOT
# runtime_bench.py's online mode: the router's KV ledger (high-water mark, expected output share)
ONLINE_KV_ARGS = ["--kv-hwm", "0.9", "--kv-output-ratio", "0.6"]
# What the coordinator logs when membership changes (src/helix/runtime/coordinator_*.cpp).
MEMBERSHIP_WORDS = (" joined", "lost ", "dropping worker", " ready", "re-planned", "cannot re-plan", "routing over",
                    "refused", "no route", "draining", "drained")
LOG_LINE = re.compile(r"^\[(\d\d):(\d\d):(\d\d)\.(\d{3})\]\s+(\w+)\s+(.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def percentile(values, q):
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(q / 100.0 * len(s)) - 1)]


# ------------------------------------------------------------------ processes

class SoakCluster(runtime_bench.Cluster):
    """runtime_bench's Cluster (same command lines), with every process it starts
    recorded in `spawned` (so that nothing is left behind even when the start itself
    is interrupted) and a restart of one worker with its original command line. The
    processes get a session of their own: a Ctrl-C in the terminal reaches only this
    script, which cuts the load off first (so that the streams the shutdown ends are
    not counted as lost) and then stops them all."""

    def __init__(self, helix, workdir, serve_args, nodes, worker_args, spawned):
        self.spawned = spawned
        self.workdir = workdir
        self.nodes = list(nodes)
        super().__init__(helix, workdir, serve_args, nodes, worker_args)

    def _start(self, cmd, log):
        f = open(log, "w")
        self.logs.append(f)
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        self.spawned.append(p)
        return p

    def restart(self, node, t_rel):
        """Start the node's `helix worker` command line again; its log is appended to."""
        i = self.nodes.index(node)
        f = open(os.path.join(self.workdir, f"worker-{node}.log"), "a")
        f.write(f"\n===== soak.py: restarted at t={t_rel:.3f} s =====\n")
        f.flush()
        self.logs.append(f)
        p = subprocess.Popen(self.workers[i].args, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        self.spawned.append(p)
        self.workers[i] = p
        return p


def stop_processes(spawned, logs):
    """SIGINT the coordinator, then stop the workers (SIGTERM, SIGKILL after 10 s)."""
    serves = [p for p in spawned if len(p.args) > 1 and p.args[1] == "serve"]
    others = [p for p in spawned if p not in serves]
    for p in serves:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in serves:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    for p in others:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 10
    for p in others:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    for f in logs:
        try:
            f.close()
        except Exception:
            pass


# ------------------------------------------------------------------ load

class Request:
    __slots__ = ("index", "arrival", "prompt_tokens", "max_tokens", "sent", "accepted", "chunks", "finish_reason",
                 "completion_tokens", "error", "status", "reason", "end")

    def __init__(self, index, arrival, i, o):
        self.index, self.arrival, self.prompt_tokens, self.max_tokens = index, arrival, i, o + 1
        self.sent = None
        self.accepted = False
        self.chunks = []  # arrival times of text chunks, relative to the load's start
        self.finish_reason = None
        self.completion_tokens = None
        self.error = None
        self.status = None  # completed | lost | refused | admission_error | unfinished
        self.reason = None
        self.end = None


class Load:
    """Streams requests at their arrival times, one thread each, and classifies them."""

    def __init__(self, port, stall, t0):
        self.port, self.stall, self.t0 = port, stall, t0
        self.lock = threading.Lock()
        self.requests = []
        self.threads = []
        self.cut_at = None

    def now(self):
        return time.monotonic() - self.t0

    def settle(self, r, status, reason=None):
        with self.lock:
            if r.status is None:
                r.status, r.reason, r.end = status, reason, self.now()

    def start(self, r):
        self.requests.append(r)
        t = threading.Thread(target=self.run, args=(r,), daemon=True)
        self.threads.append(t)
        t.start()

    def pending(self):
        with self.lock:
            return sum(1 for r in self.requests if r.status is None)

    def run(self, r):
        body = json.dumps({"model": "m", "prompt": [65 + (k % 26) for k in range(r.prompt_tokens)],
                           "max_tokens": r.max_tokens, "temperature": 0, "ignore_eos": True, "stream": True,
                           "stream_options": {"include_usage": True}}).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.stall)
        r.sent = self.now()
        try:
            try:
                conn.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
            except Exception as e:
                return self.settle(r, "admission_error", f"no answer: {type(e).__name__}: {e}")
            if resp.status != 200:
                try:
                    text = resp.read().decode(errors="replace")
                    message = json.loads(text)["error"]["message"]
                except Exception:
                    message = "?"
                status = "refused" if resp.status == 503 else "admission_error"
                return self.settle(r, status, f"HTTP {resp.status}: {message}")
            r.accepted = True
            self.read_stream(r, resp)
        except socket.timeout:
            self.settle(r, "lost", f"stalled: no event for {self.stall:g} s")
        except Exception as e:
            self.settle(r, "lost", f"connection error: {type(e).__name__}: {e}")
        finally:
            conn.close()

    def read_stream(self, r, resp):
        while True:
            line = resp.readline()
            if not line:
                why = r.error or ("stream ended without [DONE]" + (f" (after finish_reason {r.finish_reason})"
                                                                   if r.finish_reason else ""))
                return self.settle(r, "lost", why)
            line = line.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                if r.error:
                    return self.settle(r, "lost", r.error)
                if r.finish_reason in ("length", "stop"):
                    return self.settle(r, "completed")
                if r.finish_reason:
                    return self.settle(r, "lost", f"finish_reason {r.finish_reason}")
                return self.settle(r, "lost", "[DONE] without a finish_reason")
            t = self.now()
            obj = json.loads(data)
            if "error" in obj:
                e = obj["error"]
                r.error = "error event: " + (e.get("message", "?") if isinstance(e, dict) else str(e))
                continue
            for choice in obj.get("choices") or []:
                if choice.get("text"):
                    r.chunks.append(t)
                if choice.get("finish_reason"):
                    r.finish_reason = choice["finish_reason"]
            if obj.get("usage"):
                r.completion_tokens = obj["usage"].get("completion_tokens")

    def cut_off(self):
        """The drain is over: what is still open is unfinished, or lost when it stalled."""
        t = self.cut_at = self.now()
        with self.lock:
            for r in self.requests:
                if r.status is not None:
                    continue
                last = r.chunks[-1] if r.chunks else (r.sent if r.sent is not None else t)
                if r.accepted and t - last > self.stall:
                    r.status, r.reason = "lost", f"stalled: no event for {self.stall:g} s (at the end)"
                else:
                    r.status, r.reason = "unfinished", "still streaming when the drain ended" if r.accepted \
                        else "not admitted when the drain ended"
                r.end = t


# ------------------------------------------------------------------ churn and metrics

class Churn(threading.Thread):
    """Kills and restarts workers on schedule; notices workers that exit on their own."""

    def __init__(self, cluster, t0, schedule, seed, stop):
        super().__init__(daemon=True)
        self.cluster, self.t0, self.schedule, self.stop = cluster, t0, schedule, stop
        self.rng = random.Random(seed)
        self.events = []  # {"t_s", "action": kill|restart, "node", "pid"}
        self.exits = []  # workers that exited without being killed by us
        self.down = []  # nodes killed and not restarted yet (FIFO)
        self.killed_pids = set()
        self.reported = set()

    def now(self):
        return time.monotonic() - self.t0

    def run(self):
        pending = list(self.schedule)
        while not self.stop.is_set():
            while pending and pending[0][0] <= self.now():
                _, action = pending.pop(0)
                try:
                    self.kill() if action == "kill" else self.restart()
                except Exception as e:  # never let one failed action end the churn
                    print(f"soak: {action} failed: {e}", file=sys.stderr)
            self.watch()
            if not pending and not self.down:
                self.stop.wait(0.5)
            else:
                self.stop.wait(0.1)

    def kill(self):
        alive = [n for n, p in zip(self.cluster.nodes, self.cluster.workers) if p.poll() is None and n not in self.down]
        if not alive:
            print("soak: no live worker to kill", file=sys.stderr)
            return
        node = self.rng.choice(alive)
        p = self.cluster.workers[self.cluster.nodes.index(node)]
        self.killed_pids.add(p.pid)
        p.send_signal(signal.SIGKILL)
        p.wait()
        t = self.now()
        self.down.append(node)
        self.events.append({"t_s": round(t, 3), "action": "kill", "node": node, "pid": p.pid})
        print(f"soak: t={t:6.1f} s  SIGKILL {node} (pid {p.pid})", file=sys.stderr)

    def restart(self):
        if not self.down:
            return
        node = self.down.pop(0)
        t = self.now()
        p = self.cluster.restart(node, t)
        self.events.append({"t_s": round(t, 3), "action": "restart", "node": node, "pid": p.pid})
        print(f"soak: t={t:6.1f} s  restarted {node} (pid {p.pid})", file=sys.stderr)

    def watch(self):
        for node, p in zip(self.cluster.nodes, self.cluster.workers):
            rc = p.poll()
            if rc is None or p.pid in self.killed_pids or p.pid in self.reported:
                continue
            self.reported.add(p.pid)
            restarted = any(e["pid"] == p.pid for e in self.events if e["action"] == "restart")
            t = self.now()
            self.exits.append({"t_s": round(t, 3), "node": node, "pid": p.pid, "rc": rc,
                               "restarted_process": restarted})
            print(f"soak: t={t:6.1f} s  worker {node} (pid {p.pid}{', restarted' if restarted else ''}) exited with "
                  f"rc {rc}; see worker-{node}.log", file=sys.stderr)


def churn_schedule(duration, every, down):
    """Kills at every, 2 every, ... with each restart (down later) before the load ends."""
    out, k = [], 1
    if every <= 0:
        return out
    while k * every + down <= duration:
        out += [(k * every, "kill"), (k * every + down, "restart")]
        k += 1
    return sorted(out, key=lambda e: (e[0], e[1] != "restart"))  # a restart first when both are due


class Sampler(threading.Thread):
    """/metrics at every window boundary (relative times)."""

    def __init__(self, port, t0, window, stop, load, churn):
        super().__init__(daemon=True)
        self.port, self.t0, self.window, self.stop, self.load, self.churn = port, t0, window, stop, load, churn
        self.samples = []  # (t, metrics or None)

    def run(self):
        k = 0
        while not self.stop.is_set():
            t = time.monotonic() - self.t0
            try:
                m = runtime_bench.metrics(self.port)
            except Exception:
                m = None
            self.samples.append((t, m))
            if k > 0:
                self.progress(t, m)
            k += 1
            self.stop.wait(max(0.0, k * self.window - (time.monotonic() - self.t0)))

    def progress(self, t, m):
        with self.load.lock:
            status = [r.status for r in self.load.requests]
        up = "?" if m is None else f"{sum(v for k, v in m.items() if k.startswith('helix_node_up')):.0f}"
        print(f"soak: t={t:6.1f} s  sent {len(status)}  in flight {status.count(None)}  completed "
              f"{status.count('completed')}  lost {status.count('lost')}  refused {status.count('refused')}  "
              f"workers up {up}", file=sys.stderr)


def server_figures(m0, m1, seconds):
    gen, ttft = "helix_coordinator_generated_tokens_total", "helix_time_to_first_token_seconds_count"
    if not m0 or not m1 or gen not in m0 or gen not in m1 or seconds <= 0:
        return None
    return ((m1[gen] - m0[gen]) - (m1.get(ttft, 0) - m0.get(ttft, 0))) / seconds


def membership_events(log_path, wall_t0):
    """Membership lines of the coordinator's log, with times relative to the load's start."""
    out = []
    day0 = datetime.datetime.fromtimestamp(wall_t0)
    try:
        lines = open(log_path, errors="replace").read().splitlines()
    except OSError:
        return out
    for raw in lines:
        m = LOG_LINE.match(ANSI.sub("", raw))
        if not m or not any(w in m.group(6) for w in MEMBERSHIP_WORDS):
            continue
        h, mi, s, ms = (int(x) for x in m.group(1, 2, 3, 4))
        stamp = day0.replace(hour=h, minute=mi, second=s, microsecond=ms * 1000).timestamp()
        if stamp < wall_t0 - 43200:  # past midnight
            stamp += 86400
        out.append({"t_s": round(stamp - wall_t0, 3), "level": m.group(5), "text": m.group(6)})
    return out


# ------------------------------------------------------------------ analysis

def analyse(requests, samples, t_end, window, duration):
    windows = []
    n = max(1, math.ceil(t_end / window - 1e-9))
    if n > 1 and t_end - (n - 1) * window < window / 2:
        n -= 1  # a short tail joins the last window
    for k in range(n):
        a, b = k * window, (k + 1) * window if k < n - 1 else t_end
        windows.append({"start_s": a, "end_s": b, "arrivals": 0, "completed": 0, "lost": 0, "refused": 0,
                        "decode_tokens": 0, "gaps": [], "e2e": []})

    def at(t):
        return windows[min(n - 1, max(0, int(t // window)))] if t is not None and t <= t_end else None

    for r in requests:
        w = at(r.sent)
        if w is not None:
            w["arrivals"] += 1
        for prev, cur in zip(r.chunks, r.chunks[1:]):
            w = at(cur)
            if w is not None:
                w["decode_tokens"] += 1
                w["gaps"].append(cur - prev)
        w = at(r.end)
        if w is not None and r.status in ("completed", "lost", "refused"):
            w[r.status] += 1
            if r.status == "completed":
                w["e2e"].append(r.end - r.sent)
    for w in windows:
        seconds = w["end_s"] - w["start_s"]
        gaps, e2e = w.pop("gaps"), w.pop("e2e")
        w["decode_tps"] = w["decode_tokens"] / seconds if seconds > 0 else None
        w["p50_tbt_s"], w["p99_tbt_s"] = percentile(gaps, 50), percentile(gaps, 99)
        w["p99_e2e_s"] = percentile(e2e, 99)
        w["load"] = w["start_s"] < duration
        # the /metrics samples nearest the window's ends
        s0 = min(samples, key=lambda s: abs(s[0] - w["start_s"]), default=None)
        s1 = min(samples, key=lambda s: abs(s[0] - w["end_s"]), default=None)
        w["server_decode_tps"] = server_figures(s0[1], s1[1], s1[0] - s0[0]) if s0 and s1 and s1[0] > s0[0] else None
        m = s1[1] if s1 else None
        w["workers_up"] = sum(v for key, v in m.items() if key.startswith("helix_node_up")) if m else None
        w["routing"] = m.get("helix_routing") if m else None
        w["requests_active"] = m.get("helix_requests_active") if m else None
        w["requests_waiting"] = m.get("helix_requests_waiting") if m else None
    return windows


def lost_reasons(requests, status):
    out = {}
    for r in requests:
        if r.status == status:
            key = re.sub(r"\d+", "#", r.reason or "?")[:160]
            out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


# ------------------------------------------------------------------ SVG

def nice_step(span, ticks):
    raw = span / max(1, ticks)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for f in (1, 2, 5, 10):
        if f * mag >= raw:
            return f * mag
    return 10 * mag


def fmt_num(v):
    return f"{v:g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.0e}"


def write_svg(path, windows, churn_events, rejoins, load_end, title, subtitle, offered_decode_tps):
    W, left, right = 1200, 72, 28
    pw = W - left - right
    band_top, band_h = 50, 86  # the node-name labels above the first panel
    p1_top, ph, gap = band_top + band_h + 8, 230, 80
    p2_top = p1_top + ph + gap
    H = p2_top + ph + 84
    x_max = max(w["end_s"] for w in windows) if windows else 1.0
    x_max = max(x_max, 1e-9)

    def X(t):
        return left + pw * t / x_max

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="15" font-weight="bold">{escape(title)}</text>',
           f'<text x="{left}" y="38" font-size="11" fill="#333">{escape(subtitle)}</text>']

    xstep = nice_step(x_max, 12)

    def frame(top, label):
        out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
        t = 0.0
        while t <= x_max + 1e-9:
            out.append(f'<line x1="{X(t):.1f}" y1="{top}" x2="{X(t):.1f}" y2="{top + ph}" stroke="#eee"/>')
            out.append(f'<text x="{X(t):.1f}" y="{top + ph + 14}" text-anchor="middle">{fmt_num(t)}</text>')
            t += xstep
        out.append(f'<text x="{left + pw / 2}" y="{top + ph + 30}" text-anchor="middle">time since the load '
                   f'started (s)</text>')
        out.append(f'<text transform="translate(16,{top + ph / 2}) rotate(-90)" text-anchor="middle">'
                   f'{escape(label)}</text>')

    def series(points, Y, color, dash=None, width=1.8):
        segment = []
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        for x, y in points + [(None, None)]:
            if y is None:
                if len(segment) > 1:
                    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in segment)
                    out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{width}"'
                               f'{dash_attr}/>')
                for a, b in segment:
                    out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2" fill="{color}"/>')
                segment = []
            else:
                segment.append((X(x), Y(y)))

    def legend(top, items):
        """One or more rows under the panel's axis title."""
        x, y = left, top + ph + 50
        for text, color, dash in items:
            width = 34 + 6.2 * len(text)
            if x + width > left + pw:
                x, y = left, y + 15
            d = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(f'<line x1="{x:.1f}" y1="{y - 4}" x2="{x + 22:.1f}" y2="{y - 4}" stroke="{color}" '
                       f'stroke-width="2"{d}/>')
            out.append(f'<text x="{x + 28:.1f}" y="{y}">{escape(text)}</text>')
            x += width + 14

    def markers(top):
        for e in churn_events:
            color = "#d62728" if e["action"] == "kill" else "#2ca02c"
            out.append(f'<line x1="{X(e["t_s"]):.1f}" y1="{top}" x2="{X(e["t_s"]):.1f}" y2="{top + ph}" '
                       f'stroke="{color}" stroke-width="1.2" opacity="0.8"/>')
        for t in rejoins:
            out.append(f'<line x1="{X(t):.1f}" y1="{top}" x2="{X(t):.1f}" y2="{top + ph}" stroke="#2ca02c" '
                       f'stroke-width="1" stroke-dasharray="3,3" opacity="0.8"/>')
        if 0 < load_end < x_max:
            out.append(f'<line x1="{X(load_end):.1f}" y1="{top}" x2="{X(load_end):.1f}" y2="{top + ph}" '
                       f'stroke="#777" stroke-width="1.2" stroke-dasharray="6,4"/>')

    # node names of the churn lines, above the first panel (red: killed, green: restarted)
    for e in churn_events:
        color = "#d62728" if e["action"] == "kill" else "#2ca02c"
        x = X(e["t_s"])
        out.append(f'<line x1="{x:.1f}" y1="{band_top + band_h - 4}" x2="{x:.1f}" y2="{p1_top}" stroke="{color}"/>')
        out.append(f'<text transform="translate({x + 3.5:.1f},{band_top + band_h - 4}) rotate(-90)" '
                   f'font-size="9" fill="{color}">{escape(e["node"])}</text>')
    if 0 < load_end < x_max:
        out.append(f'<text transform="translate({X(load_end) + 3.5:.1f},{band_top + band_h - 4}) rotate(-90)" '
                   f'font-size="9" fill="#777">load ends</text>')

    # panel 1: throughput
    frame(p1_top, "decode tokens/s")
    vals = [v for w in windows for v in (w["decode_tps"], w["server_decode_tps"]) if v is not None]
    ymax = max(vals + [offered_decode_tps or 0, 1.0]) * 1.12
    ystep = nice_step(ymax, 5)

    def Y1(v):
        return p1_top + ph - ph * v / ymax

    v = 0.0
    while v <= ymax:
        out.append(f'<line x1="{left}" y1="{Y1(v):.1f}" x2="{left + pw}" y2="{Y1(v):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{Y1(v) + 4:.1f}" text-anchor="end">{fmt_num(v)}</text>')
        v += ystep
    markers(p1_top)
    if offered_decode_tps:
        out.append(f'<line x1="{left}" y1="{Y1(offered_decode_tps):.1f}" x2="{left + pw}" '
                   f'y2="{Y1(offered_decode_tps):.1f}" stroke="#999" stroke-dasharray="1,3" stroke-width="1.5"/>')
    mid = [(w["start_s"] + w["end_s"]) / 2 for w in windows]
    series([(m, w["server_decode_tps"]) for m, w in zip(mid, windows)], Y1, "#aaaaaa", "5,3", 1.4)
    series([(m, w["decode_tps"]) for m, w in zip(mid, windows)], Y1, "#1f77b4")
    for m, w in zip(mid, windows):
        if w["lost"]:
            out.append(f'<text x="{X(m):.1f}" y="{p1_top + ph - 6}" text-anchor="middle" fill="#d62728" '
                       f'font-weight="bold">x{w["lost"]}</text>')
    legend(p1_top, [("decode tok/s received (clients)", "#1f77b4", None),
                    ("decode tok/s (coordinator /metrics)", "#aaaaaa", "5,3"),
                    ("offered decode tok/s (rate x mean output)", "#999", "1,3"),
                    ("xN (red): requests lost in the window", "#d62728", None)])

    # panel 2: p99 latencies, log scale
    frame(p2_top, "p99 latency (s, log scale)")
    lat = [v for w in windows for v in (w["p99_tbt_s"], w["p99_e2e_s"]) if v is not None and v > 0]
    lo = 10 ** math.floor(math.log10(min(lat))) if lat else 0.01
    hi = 10 ** math.ceil(math.log10(max(lat))) if lat else 100.0
    if hi <= lo:
        hi = lo * 10

    def Y2(v):
        v = max(v, lo)
        return p2_top + ph - ph * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    d = lo
    while d <= hi * 1.0001:
        out.append(f'<line x1="{left}" y1="{Y2(d):.1f}" x2="{left + pw}" y2="{Y2(d):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{Y2(d) + 4:.1f}" text-anchor="end">{fmt_num(d)}</text>')
        d *= 10
    markers(p2_top)
    series([(m, w["p99_tbt_s"]) for m, w in zip(mid, windows)], Y2, "#ff7f0e")
    series([(m, w["p99_e2e_s"]) for m, w in zip(mid, windows)], Y2, "#9467bd")
    legend(p2_top, [("p99 time between tokens", "#ff7f0e", None), ("p99 end-to-end (completed)", "#9467bd", None),
                    ("SIGKILL of a worker (named above)", "#d62728", None),
                    ("worker restarted (named above)", "#2ca02c", None),
                    ("coordinator: node ready again", "#2ca02c", "3,3"), ("load ends (drain)", "#777", "6,4")])
    out.append("</svg>")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


# ------------------------------------------------------------------ main

def fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--duration", type=float, default=600, help="seconds of load (default 600)")
    ap.add_argument("--rate", type=float, default=None,
                    help="offered tokens/s, prompt + output (default: the paper's online rate for single-24, 700)")
    ap.add_argument("--churn-every", type=float, default=20, help="seconds between kills (0: no churn)")
    ap.add_argument("--down", type=float, default=10, help="seconds a killed worker stays down before its restart")
    ap.add_argument("--seed", type=int, default=0, help="seeds the arrivals, lengths and the workers killed")
    ap.add_argument("--window", type=float, default=10, help="seconds per reported window")
    ap.add_argument("--warm-up", type=float, default=60,
                    help="seconds of ramp-up left out of the summary's mean decode tokens/s (windows are all shown)")
    # A request decodes at ~2 tokens/s on this cluster and the trace's longest asks for 1,000
    # tokens: 600 s lets every request accepted near the end finish, so that accepted =
    # completed + lost (the drain ends as soon as none is open).
    ap.add_argument("--drain", type=float, default=600, help="seconds in-flight requests get after the load")
    ap.add_argument("--stall", type=float, default=120,
                    help="an accepted stream with no event for this long is lost")
    ap.add_argument("--worker-timeout", type=float, default=None,
                    help="passed to `helix serve --worker-timeout` (default: serve's own, 2 s)")
    ap.add_argument("--max-requests", type=int, default=None,
                    help="passed to `helix serve --max-requests` (default: serve's own, no limit)")
    ap.add_argument("--svg", default=os.path.join("docs", "soak.svg"))
    ap.add_argument("--json", default=os.path.join("docs", "soak.json"))
    ap.add_argument("--logs", default=None, help="directory for the processes' logs (default: a new temporary one)")
    args = ap.parse_args()

    helix = os.path.join(args.build, "helix")
    if not os.access(helix, os.X_OK):
        sys.exit(f"no helix binary at {helix}")
    cluster_arg, placement, paper_rate = runtime_bench.EMULATED["single24"]
    rate = args.rate if args.rate is not None else paper_rate
    lengths = list(csv.DictReader(open(os.path.join(ROOT, "data", "traces", "length_azure_conv.csv"))))
    pairs = [(int(r["input_tokens"]), int(r["output_tokens"])) for r in lengths]
    trace = runtime_bench.poisson_trace(pairs, rate, args.duration, args.seed, 0.0)
    mean_total = statistics.mean(i + o for i, o in pairs)
    offered_decode = rate / mean_total * statistics.mean(o for _, o in pairs)
    nodes = runtime_bench.placed_nodes(helix, cluster_arg, placement)
    logdir = args.logs or tempfile.mkdtemp(prefix="helix-soak-")
    os.makedirs(logdir, exist_ok=True)
    serve_args = ["--cluster", cluster_arg, "--placement", placement, "--engine", "emulated", "--model", "llama2-70b",
                  "--model-id", "m", "--http-threads", str(len(trace) + 16)] + ONLINE_KV_ARGS
    if args.worker_timeout is not None:
        serve_args += ["--worker-timeout", str(args.worker_timeout)]
    if args.max_requests is not None:
        serve_args += ["--max-requests", str(args.max_requests)]
    worker_args = ["--engine", "emulated"]
    schedule = churn_schedule(args.duration, args.churn_every, args.down)
    print(f"soak: {len(nodes)} workers, {len(trace)} requests over {args.duration:g} s at {rate:g} tok/s offered, "
          f"{sum(1 for _, a in schedule if a == 'kill')} kills; logs in {logdir}", file=sys.stderr)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started where SIGINT is ignored
    spawned, stop = [], threading.Event()
    cluster = load = churn = sampler = None
    interrupted, final_metrics, admin_nodes, max_flow = False, None, None, None
    t0 = wall_t0 = final_metrics_t = None
    try:
        cluster = SoakCluster(helix, logdir, serve_args, nodes, worker_args, spawned)
        try:
            max_flow = runtime_bench.metrics(cluster.port).get("helix_planned_max_flow_tokens_per_second")
        except Exception:
            pass
        t0, wall_t0 = time.monotonic(), time.time()
        load = Load(cluster.port, args.stall, t0)
        churn = Churn(cluster, t0, schedule, args.seed, stop)
        sampler = Sampler(cluster.port, t0, args.window, stop, load, churn)
        sampler.start()
        churn.start()
        try:
            for k, (t, i, o) in enumerate(trace):
                delay = t0 + t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                load.start(Request(k, t, i, o))
            time.sleep(max(0.0, t0 + args.duration - time.monotonic()))
            drain_end = time.monotonic() + args.drain
            while load.pending() and time.monotonic() < drain_end:
                time.sleep(0.25)
        except KeyboardInterrupt:
            interrupted = True
            print("soak: interrupted; reporting what was measured", file=sys.stderr)
        load.cut_off()
        try:
            final_metrics_t = load.now()
            final_metrics = runtime_bench.metrics(cluster.port)
            admin_nodes = json.loads(
                urllib.request.urlopen(f"http://127.0.0.1:{cluster.port}/admin/nodes", timeout=30).read())
        except Exception as e:
            print(f"soak: could not read the coordinator's final state: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stop.set()
        for th in (churn, sampler):
            if th is not None and th.is_alive():
                th.join(15)
        stop_processes(spawned, cluster.logs if cluster else [])
    if load is None:
        print("soak: the cluster never served (interrupted or not ready); nothing measured", file=sys.stderr)
        return 1

    # ---------------------------------------------------------------- report
    if load.cut_at is None:  # interrupted before the cut-off
        load.cut_off()
    t_end = load.cut_at
    requests = load.requests
    for r in requests:  # cut off already; ends past t_end cannot be
        if r.end is not None:
            r.end = min(r.end, t_end)
    samples = list(sampler.samples) if sampler else []
    if final_metrics is not None and final_metrics_t is not None:
        samples.append((final_metrics_t, final_metrics))
    windows = analyse(requests, samples, t_end, args.window, args.duration)
    events = membership_events(os.path.join(logdir, "serve.log"), wall_t0)
    churn_events = churn.events if churn else []
    worker_exits = churn.exits if churn else []
    rejoins = []
    for e in churn_events:
        routed = next((m for m in events if m["t_s"] >= e["t_s"] - 0.5
                       and m["text"].startswith("coordinator: routing over") and f"({e['node']} " in m["text"]), None)
        flow = re.search(r"max flow ([0-9.]+) tokens/s", routed["text"]) if routed else None
        e["max_flow_after_tps"] = float(flow.group(1)) if flow else None
        if e["action"] == "kill":
            seen = next((m for m in events if m["t_s"] >= e["t_s"] - 0.5 and m["text"].startswith(
                f"coordinator: lost {e['node']}:")), None)
            e["coordinator_lost_after_s"] = round(seen["t_s"] - e["t_s"], 3) if seen else None
        else:
            ready = next((m for m in events if m["t_s"] >= e["t_s"] and m["text"].startswith(
                f"coordinator: {e['node']} ready")), None)
            e["rejoined_ready_after_s"] = round(ready["t_s"] - e["t_s"], 3) if ready else None
            if ready:
                rejoins.append(ready["t_s"])
    counts = {s: sum(1 for r in requests if r.status == s)
              for s in ("completed", "lost", "unfinished", "refused", "admission_error")}
    accepted = sum(1 for r in requests if r.accepted)
    gaps = [b - a for r in requests for a, b in zip(r.chunks, r.chunks[1:])]
    e2e = [r.end - r.sent for r in requests if r.status == "completed"]
    ttft = [r.chunks[0] - r.sent for r in requests if r.chunks]
    done = [r for r in requests if r.status == "completed"]
    short = sum(1 for r in done if r.completion_tokens is not None and r.completion_tokens < r.max_tokens)
    usage_tokens = sum(r.completion_tokens or 0 for r in done)
    chunk_tokens = sum(len(r.chunks) for r in done)
    mean_from = args.warm_up if args.warm_up + args.window <= args.duration else 0.0
    load_windows = [w for w in windows if w["end_s"] <= args.duration + 1e-6 and w["decode_tps"] is not None
                    and w["start_s"] >= mean_from - 1e-6]
    restarts = [e for e in churn_events if e["action"] == "restart"]
    fm = final_metrics or {}
    summary = {
        "format": "helix-soak", "version": 1,
        "config": {"cluster": "single24", "cluster_arg": cluster_arg, "placement": os.path.normpath(placement),
                   "model": "llama2-70b", "engine": "emulated", "workers": nodes, "duration_s": args.duration,
                   "rate_tokens_per_s": rate, "rate_requests_per_s": rate / mean_total,
                   "offered_decode_tokens_per_s": offered_decode, "lengths": "data/traces/length_azure_conv.csv",
                   "churn_every_s": args.churn_every, "down_s": args.down, "seed": args.seed, "window_s": args.window,
                   "warm_up_s": args.warm_up, "drain_s": args.drain, "stall_s": args.stall,
                   "worker_timeout_s": args.worker_timeout, "max_requests": args.max_requests,
                   "serve_args": serve_args, "worker_args": worker_args, "helix": os.path.abspath(helix),
                   "logs": logdir},
        "planned_max_flow_tokens_per_s": max_flow,
        "interrupted": interrupted,
        "elapsed_s": t_end,
        "totals": {"sent": len(requests), "accepted": accepted, "completed": counts["completed"],
                   "lost": counts["lost"], "unfinished": counts["unfinished"], "refused": counts["refused"],
                   "admission_errors": counts["admission_error"], "completed_short": short,
                   "lost_reasons": lost_reasons(requests, "lost"),
                   "refused_reasons": lost_reasons(requests, "refused"),
                   "admission_error_reasons": lost_reasons(requests, "admission_error"),
                   "decode_tokens_received": len(gaps),
                   "mean_decode_tps_under_load": statistics.mean(w["decode_tps"] for w in load_windows)
                   if load_windows else None,  # the load's windows from mean_from on
                   "mean_decode_tps_from_s": mean_from,
                   "completion_tokens_per_text_chunk": usage_tokens / chunk_tokens if chunk_tokens else None,
                   "p50_tbt_s": percentile(gaps, 50), "p99_tbt_s": percentile(gaps, 99),
                   "max_tbt_s": max(gaps) if gaps else None,
                   "p50_ttft_s": percentile(ttft, 50), "p99_ttft_s": percentile(ttft, 99),
                   "p50_e2e_s": percentile(e2e, 50), "p99_e2e_s": percentile(e2e, 99),
                   "kills": sum(1 for e in churn_events if e["action"] == "kill"), "restarts": len(restarts),
                   "rejoined": sum(1 for e in restarts if e.get("rejoined_ready_after_s") is not None),
                   "worker_exits": len(worker_exits)},
        "coordinator": {k: fm.get(k) for k in ("helix_nodes_lost_total", "helix_requests_rerouted_total",
                                               "helix_replans_total", "helix_router_builds_total", "helix_routing",
                                               "helix_coordinator_generated_tokens_total")},
        "windows": windows,
        "churn": churn_events,
        "worker_exits": worker_exits,
        "membership_events": events,
        "coordinator_events": (admin_nodes or {}).get("events"),
        "load_avg": os.getloadavg(),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    tot = summary["totals"]
    title = (f"helix soak: single-24 LLaMA-2-70B, 24 emulated workers, {rate:g} tok/s offered, SIGKILL every "
             f"{args.churn_every:g} s, restart {args.down:g} s later (seed {args.seed})")
    subtitle = (f"accepted {accepted}, completed {tot['completed']}, LOST {tot['lost']}, unfinished "
                f"{tot['unfinished']}, refused {tot['refused']}; kills {tot['kills']}, rejoined {tot['rejoined']}"
                f"/{tot['restarts']}; p99 TBT {fmt(tot['p99_tbt_s'], '.3f')} s, "
                f"p99 E2E {fmt(tot['p99_e2e_s'], '.1f')} s")
    write_svg(args.svg, windows, churn_events, rejoins, args.duration, title, subtitle, offered_decode)

    # text summary
    marks = {}
    for e in churn_events:
        k = min(len(windows) - 1, int(e["t_s"] // args.window))
        flow = f":{e['max_flow_after_tps']:.0f}" if e.get("max_flow_after_tps") is not None else ""
        marks.setdefault(k, []).append(("-" if e["action"] == "kill" else "+") + e["node"].replace("ComputeNode-", "N")
                                       + flow)
    print(f"{'window s':>11}{'arrived':>8}{'done':>6}{'lost':>6}{'decode t/s':>11}{'server t/s':>11}"
          f"{'p99 TBT s':>10}{'p99 E2E s':>10}{'up':>4}  churn: -killed +restarted :max flow after")
    for k, w in enumerate(windows):
        print(f"{w['start_s']:>5.0f}-{w['end_s']:<5.0f}{w['arrivals']:>8}{w['completed']:>6}"
              f"{w['lost']:>6}{fmt(w['decode_tps'], '.1f'):>11}{fmt(w['server_decode_tps'], '.1f'):>11}"
              f"{fmt(w['p99_tbt_s'], '.3f'):>10}{fmt(w['p99_e2e_s'], '.1f'):>10}{fmt(w['workers_up'], '.0f'):>4}  "
              f"{' '.join(marks.get(k, []))}")
    print()
    print(f"{'sent':>6}{'accepted':>10}{'completed':>11}{'lost':>6}{'unfinished':>12}{'refused':>9}"
          f"{'adm. err':>10}{'decode t/s':>12}{'p99 TBT':>9}{'p99 E2E':>9}{'kills':>7}{'rejoined':>10}")
    print(f"{tot['sent']:>6}{accepted:>10}{tot['completed']:>11}{tot['lost']:>6}{tot['unfinished']:>12}"
          f"{tot['refused']:>9}{tot['admission_errors']:>10}{fmt(tot['mean_decode_tps_under_load'], '.1f'):>12}"
          f"{fmt(tot['p99_tbt_s'], '.2f'):>8}s{fmt(tot['p99_e2e_s'], '.1f'):>8}s{tot['kills']:>7}"
          f"{tot['rejoined']:>6}/{tot['restarts']:<3}")
    print(f"decode t/s: mean of the windows from {mean_from:g} s to {args.duration:g} s; p99s over the whole run")
    print(f"offered {rate:g} tok/s ({rate / mean_total:.2f} req/s, {offered_decode:.0f} decode tok/s)"
          + (f" = {100 * rate / max_flow:.0f} % of the planned max flow {max_flow:.1f} tok/s" if max_flow else ""))
    c = summary["coordinator"]
    print(f"coordinator: nodes lost {fmt(c['helix_nodes_lost_total'], '.0f')}, requests rerouted "
          f"{fmt(c['helix_requests_rerouted_total'], '.0f')}, re-plans {fmt(c['helix_replans_total'], '.0f')}, "
          f"router builds {fmt(c['helix_router_builds_total'], '.0f')}")
    for e in worker_exits:
        print(f"worker exit: t={e['t_s']:.1f} s {e['node']} rc {e['rc']}"
              f"{' (a restarted process)' if e['restarted_process'] else ''}")
    if tot["lost"]:
        print()
        print("!" * 72)
        print(f"!!! LOST: {tot['lost']} of {accepted} accepted requests")
        for reason, n in list(tot["lost_reasons"].items())[:8]:
            print(f"!!!   {n:>5} x {reason}")
        print("!" * 72)
    else:
        print("lost: 0")
    if tot["refused"] or tot["admission_errors"]:
        for reason, n in list({**tot["refused_reasons"], **tot["admission_error_reasons"]}.items())[:5]:
            print(f"not admitted: {n} x {reason}")
    print(f"wrote {args.svg} and {args.json}; logs in {logdir}" + ("; INTERRUPTED" if interrupted else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
