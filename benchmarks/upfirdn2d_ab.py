"""A/B of two (or more) libmyops.so builds on upfirdn2d's CPU routes, alternating processes.

A kernel change is judged against the library it replaces, on the same machine in the same
minutes: each round runs every library once, each in a fresh process (MYOPS_LIBRARY selects
it), one thread, thread CPU time, the lower quintile of --calls calls per case. The report is
each case's median over the rounds and its ratio to the first library (> 1: faster than it),
with every round's figure, so that the noise can be read beside the ratio (on a shared machine
single rounds move by 10-20%: count nothing under ~10% unless the rounds agree).

The cases cover every route of upfirdn2d_cpu_run.h: NCHW planes (row path, flat blurs, small
planes), channels_last in place (many channels), pixel rows (few channels), separable filters,
and the StyleGAN2 step's own NCHW shapes; float32, bfloat16, float16.

    python benchmarks/upfirdn2d_ab.py --lib main=/tmp/main/libmyops.so --lib new=build/libmyops.so \\
        --rounds 3 --out benchmarks/results/upfirdn2d-ab-<what>-avx512
    (add --isa avx2 for myops' AVX2 kernels: MYOPS_CPU_CAPABILITY=avx2)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (name, shape, channels_last, filter: "2d" 4x4 or "sep" [1, 3, 3, 1], upfirdn2d's keywords)
CASES = [
    ("nchw-blur128", (2, 16, 128, 128), False, "2d", dict(padding=[1, 2, 1, 2])),
    ("nchw-down128", (2, 16, 128, 128), False, "2d", dict(down=2, padding=[1, 1, 1, 1])),
    ("nchw-up64", (2, 16, 64, 64), False, "2d", dict(up=2, padding=[2, 1, 2, 1], gain=4)),
    ("nchw-sepblur128", (2, 16, 128, 128), False, "sep", dict(padding=[1, 2, 1, 2])),
    ("nchw-small16-up", (4, 128, 16, 16), False, "2d", dict(up=2, padding=[2, 1, 2, 1], gain=4)),
    ("nchw-small16-down", (4, 256, 16, 16), False, "2d", dict(down=2, padding=[1, 1, 1, 1])),
    ("cl64-blur", (4, 64, 64, 64), True, "2d", dict(padding=[1, 2, 1, 2])),
    ("cl64-down", (4, 64, 64, 64), True, "2d", dict(down=2, padding=[1, 1, 1, 1])),
    ("cl64-up", (4, 64, 32, 32), True, "2d", dict(up=2, padding=[2, 1, 2, 1], gain=4)),
    ("cl5-blur", (4, 5, 128, 128), True, "2d", dict(padding=[1, 2, 1, 2])),
    ("cl12-blur", (4, 12, 128, 128), True, "2d", dict(padding=[1, 2, 1, 2])),
    ("cl24-blur", (4, 24, 128, 128), True, "2d", dict(padding=[1, 2, 1, 2])),
    ("cl12-down", (4, 12, 128, 128), True, "2d", dict(down=2, padding=[1, 1, 1, 1])),
    ("cl8-up", (4, 8, 64, 64), True, "2d", dict(up=2, padding=[2, 1, 2, 1], gain=4)),
    # images of a few channels (upfirdn2d_few_channels.py's calls: pixel rows)
    ("cl7-blur", (4, 7, 128, 128), True, "2d", dict(padding=2)),
    ("cl7-sepblur", (4, 7, 128, 128), True, "sep", dict(padding=2)),
    ("cl7-down", (4, 7, 128, 128), True, "2d", dict(down=2, padding=[1, 1, 1, 1])),
    ("cl3-sepblur", (4, 3, 128, 128), True, "sep", dict(padding=2)),
    ("cl4-up", (4, 4, 128, 128), True, "2d", dict(up=2, padding=[2, 1, 2, 1], gain=4)),
    ("cl7-up", (4, 7, 128, 128), True, "2d", dict(up=2, padding=[2, 1, 2, 1], gain=4)),
    # The StyleGAN2 step's NCHW calls (benchmarks/stylegan2_step.py), float32 only.
    ("step-blur65p1", (4, 32, 65, 65), False, "2d", dict(padding=[1, 1, 1, 1], gain=4)),
    ("step-blur64p2", (4, 32, 64, 64), False, "2d", dict(padding=[2, 2, 2, 2])),
    ("step-down64", (4, 32, 64, 64), False, "2d", dict(down=2, padding=[1, 1, 1, 1])),
    ("step-blur33p1", (4, 64, 33, 33), False, "2d", dict(padding=[1, 1, 1, 1], gain=4)),
    ("step-crop67", (4, 32, 67, 67), False, "2d", dict(padding=[-2, -2, -2, -2])),
    ("step-up32", (4, 32, 32, 32), False, "2d", dict(up=2, padding=[2, 1, 2, 1], gain=4)),
    ("step-blur17", (4, 128, 17, 17), False, "2d", dict(padding=[1, 1, 1, 1], gain=4)),
    ("step-sep65", (4, 32, 65, 65), False, "sep", dict(padding=[1, 1, 1, 1], gain=4)),
]


def child(dtypes: list, calls: int, cases: list) -> None:
    """Times every case with the library in MYOPS_LIBRARY; prints `dtype/case microseconds`."""
    import torch

    import myops  # (the package installed, or on PYTHONPATH; its library: MYOPS_LIBRARY)

    torch.set_num_threads(1)
    torch.manual_seed(0)
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    filters = {"2d": torch.outer(taps, taps) / 64, "sep": taps / 8}
    for dtype in dtypes:
        for name, shape, channels_last, kind, kwargs in CASES:
            if (name.startswith("step-") and dtype != "float32") or (cases and name not in cases):
                continue
            x = torch.randn(shape).to(getattr(torch, dtype))
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            f = filters[kind]
            for _ in range(2):
                myops.upfirdn2d(x, f, **kwargs)
            times = []
            for _ in range(calls):
                start = time.thread_time_ns()
                myops.upfirdn2d(x, f, **kwargs)
                times.append(time.thread_time_ns() - start)
            times.sort()
            print(f"{dtype}/{name} {times[len(times) // 5] / 1e3:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lib", action="append", default=[], metavar="NAME=PATH",
                        help="a libmyops.so to compare (twice or more; the first is the baseline)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=40, help="calls per case and round")
    parser.add_argument("--dtypes", default="float32,bfloat16,float16")
    parser.add_argument("--cases", default="", help="comma-separated case names (default: every case)")
    parser.add_argument("--isa", default="", help="MYOPS_CPU_CAPABILITY for the children (e.g. avx2)")
    parser.add_argument("--out", help="write OUT.json and OUT.md")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    dtypes = args.dtypes.split(",")
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - {case[0] for case in CASES}
    if unknown:
        parser.error(f"unknown --cases {sorted(unknown)}")
    if args.child:
        child(dtypes, args.calls, cases)
        return
    libs = dict(spec.split("=", 1) for spec in args.lib)
    if len(libs) < 2:
        parser.error("give at least two --lib NAME=PATH")
    env = dict(os.environ)
    if args.isa:
        env["MYOPS_CPU_CAPABILITY"] = args.isa
    samples: dict = {}  # case -> lib -> [microseconds per round]
    for r in range(args.rounds):
        for name, path in libs.items():
            out = subprocess.run([sys.executable, __file__, "--child", "--dtypes", args.dtypes, "--calls", str(args.calls),
                                  "--cases", args.cases],
                                 env={**env, "MYOPS_LIBRARY": path}, check=True, capture_output=True, text=True).stdout
            for line in out.splitlines():
                case, us = line.split()
                samples.setdefault(case, {}).setdefault(name, []).append(float(us))
            print(f"round {r + 1}/{args.rounds}: {name} done", file=sys.stderr, flush=True)
    base = next(iter(libs))
    rows = []
    for case, per_lib in samples.items():
        medians = {name: statistics.median(v) for name, v in per_lib.items()}
        rows.append({"case": case, "us": medians, "rounds": per_lib,
                     "ratio_to_" + base: {name: medians[base] / m for name, m in medians.items()}})
    lines = [f"| case | " + " | ".join(f"{n} µs (× {base})" for n in libs) + " | rounds |", "|---" * (len(libs) + 2) + "|"]
    for row in rows:
        cells = [f"{row['us'][n]:.1f} ({row['ratio_to_' + base][n]:.2f}×)" for n in libs]
        rounds = "; ".join(f"{n}: " + ", ".join(f"{t:.0f}" for t in row["rounds"][n]) for n in libs)
        lines.append(f"| {row['case']} | " + " | ".join(cells) + f" | {rounds} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        sys.path.insert(0, str(HERE))
        from common import cpu_model

        meta = {"command": " ".join([Path(sys.executable).name] + sys.argv), "libs": libs, "rounds": args.rounds,
                "calls": args.calls, "isa": args.isa or "best (AVX-512 where the CPU has it)", "cpu": cpu_model(),
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "timer": "thread CPU time, one thread, lower quintile of the calls; median over rounds"}
        Path(args.out + ".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
        Path(args.out + ".md").write_text(
            f"# upfirdn2d A/B: {', '.join(libs)}\n\n" + "\n".join(f"- {k}: {v}" for k, v in meta.items()) + "\n\n" + table + "\n")


if __name__ == "__main__":
    main()
