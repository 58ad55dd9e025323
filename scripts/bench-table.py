#!/usr/bin/env python3
"""bench-table.py RESDIR RUNS CONNS PIPELINE TLS [DURABLE_MSGS MEMORY_MSGS]: the Markdown tables of
`make bench` (scripts/bench.sh) from gmq-bench's --json results, one file per
run: RESDIR/<system>-<durability>-<drain|lat>.<run>.json. A cell is the median
of the runs; a cell with a failed run says so. Then the servers' CPU per
message (RESDIR/<cell>.<run>.cpu, µs), then every run's figures."""
import json
import os
import statistics
import sys

resdir, runs, conns, pipeline, tls = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == "1"
durable_msgs = int(sys.argv[6]) if len(sys.argv) > 6 else 0
memory_msgs = int(sys.argv[7]) if len(sys.argv) > 7 else 0
systems = ["gmq", "redis", "bs"] + (["gmqtls"] if tls else [])


def figures(cell, phase, key):
    """the figure of every run (None for a failed one)"""
    out = []
    for run in range(1, runs + 1):
        try:
            with open(os.path.join(resdir, "%s.%d.json" % (cell, run))) as f:
                r = json.load(f)
            out.append(next(p[key] for p in r["phases"] if p["phase"] == phase))
        except (OSError, ValueError, KeyError, StopIteration):
            out.append(None)
    return out


def median(vals):
    return None if not vals or None in vals else statistics.median(vals)


# (label, cell suffix, phase, key, lower is better, target vs Redis / best peer)
ROWS = [
    ("durable push, %s connections, one request each in flight (msgs/s)" % conns,
     "durable-drain", "push", "rate", False, 2.5),
    ("durable pop+ack, %s connections (msgs/s)" % conns, "durable-drain", "popack", "rate", False, 2.5),
    ("in-memory push, %s connections × %s pipelined (msgs/s)" % (conns, pipeline),
     "memory-drain", "push", "rate", False, 0.5),
    ("in-memory pop+ack, %s × %s (msgs/s)" % (conns, pipeline), "memory-drain", "popack", "rate", False, 0.5),
    ("one connection, push p99, durable (µs)", "durable-lat", "push", "p99_us", True, 0.6),
    ("one connection, push p99, in memory (µs)", "memory-lat", "push", "p99_us", True, 0.6),
]


def cell_text(v, latency):
    if v is None:
        return "failed"
    return "%.0f" % v if not latency else ("%.0f" % v if v >= 100 else "%.1f" % v)


def ratio_text(r):
    return "–" if r is None else "%.2f×" % r


print("| workload | gmq | Redis 7 | beanstalkd | ratio | target | met |")
print("|---|---:|---:|---:|---:|---|---|")
for label, suffix, phase, key, lower, target in ROWS:
    g = median(figures("gmq-" + suffix, phase, key))
    r = median(figures("redis-" + suffix, phase, key))
    b = median(figures("bs-" + suffix, phase, key))
    if lower:
        peers = [x for x in (r, b) if x is not None]
        best = min(peers) if len(peers) == 2 else None
        ratio = g / best if g is not None and best else None
        tgt = "gmq/best peer ≤ %.1f×" % target
        met = None if ratio is None else ratio <= target
    else:
        ratio = g / r if g is not None and r else None
        tgt = "gmq/Redis ≥ %.1f×" % target
        met = None if ratio is None else ratio >= target
    print("| %s | %s | %s | %s | %s | %s | %s |" % (
        label, cell_text(g, lower), cell_text(r, lower), cell_text(b, lower), ratio_text(ratio), tgt,
        "–" if met is None else ("yes" if met else "no")))

if tls:
    print()
    print("| gmq with TLS on the TCP port | plaintext | TLS | TLS/plaintext | target | met |")
    print("|---|---:|---:|---:|---|---|")
    for label, suffix, phase, key, lower, _ in ROWS:
        p = median(figures("gmq-" + suffix, phase, key))
        t = median(figures("gmqtls-" + suffix, phase, key))
        ratio = t / p if p and t is not None else None
        # within 30%: a rate at least 0.7 of plaintext, a latency at most 1.3 times
        tgt = "≤ 1.3×" if lower else "≥ 0.7×"
        met = None if ratio is None else (ratio <= 1.3 if lower else ratio >= 0.7)
        print("| %s | %s | %s | %s | %s | %s |" % (
            label, cell_text(p, lower), cell_text(t, lower), ratio_text(ratio), tgt,
            "–" if met is None else ("yes" if met else "no")))


def cpu_per_msg(cell, msgs):
    """the server's CPU µs per message of every run (push + pop+ack of each)"""
    out = []
    for run in range(1, runs + 1):
        try:
            with open(os.path.join(resdir, "%s.%d.cpu" % (cell, run))) as f:
                out.append(int(f.read()) / msgs)
        except (OSError, ValueError):
            out.append(None)
    return out


print()
print("Server CPU per message (the time the server's processes ran, their threads and children")
print("included, from /proc/<pid>/task/<tid>/schedstat; during a drain: a push and a pop+ack")
print("each; median of the runs, µs):")
print()
print("| drain | gmq | Redis 7 | beanstalkd |" + (" gmq TLS |" if tls else ""))
print("|---|---:|---:|---:|" + ("---:|" if tls else ""))
for label, suffix, msgs in (("durable, %s × 1" % conns, "durable-drain", durable_msgs),
                            ("in memory, %s × %s" % (conns, pipeline), "memory-drain", memory_msgs)):
    vals = [median(cpu_per_msg("%s-%s" % (s, suffix), msgs)) for s in systems]
    print("| %s | %s |" % (label, " | ".join("–" if v is None else "%.2f" % v for v in vals)))

print()
print("Every run (in the order they ran; the servers' runs were interleaved):")
print()
for label, suffix, phase, key, lower, _ in ROWS:
    parts = []
    for s in systems:
        vals = figures("%s-%s" % (s, suffix), phase, key)
        parts.append("%s %s" % (s, " / ".join(cell_text(v, lower) for v in vals)))
    print("- %s: %s" % (label, "; ".join(parts)))
