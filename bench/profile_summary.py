"""Summarizes a chrome trace written by `TAILOR_PROFILE_TRACE=FILE tailor run …`: self time per operator.

    python3 bench/profile_summary.py FILE [--top 30]
"""
import argparse
import json
from collections import defaultdict


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()
    text = open(args.trace).read().rstrip().rstrip(",")
    if not text.endswith("]"):
        text += "]"
    events = [e for e in json.loads(text) if e.get("ph") == "X"]
    by_thread = defaultdict(list)
    for e in events:
        by_thread[e["tid"]].append(e)
    self_us, total_us, calls = defaultdict(float), defaultdict(float), defaultdict(int)
    wall = 0.0
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # (end, name)
        for e in evs:
            start, end = e["ts"], e["ts"] + e["dur"]
            while stack and stack[-1][0] <= start:
                stack.pop()
            if stack:
                self_us[stack[-1][1]] -= e["dur"]
            else:
                wall += e["dur"]
            self_us[e["name"]] += e["dur"]
            total_us[e["name"]] += e["dur"]
            calls[e["name"]] += 1
            stack.append((end, e["name"]))
    print(f"top-level operator time {wall / 1e6:.3f} s")
    print(f"{'self s':>8} {'self %':>6} {'total s':>8} {'calls':>6}  operator")
    for name, us in sorted(self_us.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"{us / 1e6:>8.3f} {100 * us / wall:>5.1f}% {total_us[name] / 1e6:>8.3f} {calls[name]:>6}  {name}")


if __name__ == "__main__":
    main()
