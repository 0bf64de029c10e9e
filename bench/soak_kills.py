#!/usr/bin/env python3
"""Which kills of a soak run stalled the whole cluster: reads the JSON bench/soak.py
writes and splits its kills into those after which the coordinator still routed (the
other nodes covered the lost node's layers: it logged "routing over N nodes (X lost)",
which soak.py records as the kill's max_flow_after_tps, below the full max flow) and
those of a node that was the only holder of some layers (no route until it was back).
For each group: how many, and the mean decode tokens/s of the 10 s windows the kills
fall in.

Usage: bench/soak_kills.py docs/soak.json [docs/soak-700.json ...]
"""
import json
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        run = json.load(open(path))
        full = run["planned_max_flow_tokens_per_s"]
        windows = run["windows"]
        groups = {"covered by others": [], "only holder of some layers": []}
        for e in run["churn"]:
            if e["action"] != "kill":
                continue
            window = next((w for w in windows if w["start_s"] <= e["t_s"] + 1 < w["end_s"]), None)
            if window is None:
                continue
            covered = 0 < (e.get("max_flow_after_tps") or 0) < full - 0.05
            groups["covered by others" if covered else "only holder of some layers"].append(window["decode_tps"])
        print(path)
        for name, tps in groups.items():
            mean = sum(tps) / len(tps) if tps else float("nan")
            print(f"  kills of a node {name}: {len(tps)}, mean decode tokens/s in their windows {mean:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
