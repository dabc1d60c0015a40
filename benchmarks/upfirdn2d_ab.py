"""A/B of two (or more) libmyops.so builds on upfirdn2d's CPU routes (and bias_act's row tails),
alternating processes.

A kernel change is judged against the library it replaces, on the same machine in the same
minutes: each round runs every library once, each in a fresh process (MYOPS_LIBRARY selects
it), one thread, thread CPU time, the lower quintile of --calls calls per case. The report is
each case's median over the rounds and its ratio to the first library (> 1: faster than it),
and the median of the per-round ratios (each round's libraries ran minutes apart at most:
"paired"), with every round's figure, so that the noise can be read beside the ratio (on a
shared machine single rounds move by 10-20%, and an AMD EPYC VM switched between a fast and a
~1.45x slower state for tens of seconds at a time: count nothing under ~10% unless the rounds
and the paired ratio agree).

The cases cover every route of upfirdn2d_cpu_run.h: NCHW planes (row path, flat blurs, small
planes), channels_last in place (many channels), pixel rows (few channels), separable filters,
and the StyleGAN2 step's own NCHW shapes; float32, bfloat16, float16. The tail-* cases are
bias_act (lrelu, b along dim 1) on NCHW planes whose rows end in a partial vector
(cpu_kernel_vec's masked tails, ops/common/cpu_loops.h).

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

# (name, shape, channels_last, filter: "2d" 4x4 or "sep" [1, 3, 3, 1] (or "bias_act": the op instead), keywords)
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
    # few channels in place, each pixel by PartialLanes (up or down on one axis: not pixel rows)
    ("cl7-upx", (4, 7, 128, 128), True, "2d", dict(up=[2, 1], padding=[2, 1, 1, 2], gain=2)),
    ("cl6-downx", (4, 6, 128, 128), True, "sep", dict(down=[2, 1], padding=[1, 1, 1, 2])),
    # The StyleGAN2 step's NCHW calls (benchmarks/stylegan2_step.py), float32 only.
    ("step-blur65p1", (4, 32, 65, 65), False, "2d", dict(padding=[1, 1, 1, 1], gain=4)),
    ("step-blur64p2", (4, 32, 64, 64), False, "2d", dict(padding=[2, 2, 2, 2])),
    ("step-down64", (4, 32, 64, 64), False, "2d", dict(down=2, padding=[1, 1, 1, 1])),
    ("step-blur33p1", (4, 64, 33, 33), False, "2d", dict(padding=[1, 1, 1, 1], gain=4)),
    ("step-crop67", (4, 32, 67, 67), False, "2d", dict(padding=[-2, -2, -2, -2])),
    ("step-up32", (4, 32, 32, 32), False, "2d", dict(up=2, padding=[2, 1, 2, 1], gain=4)),
    ("step-blur17", (4, 128, 17, 17), False, "2d", dict(padding=[1, 1, 1, 1], gain=4)),
    ("step-sep65", (4, 32, 65, 65), False, "sep", dict(padding=[1, 1, 1, 1], gain=4)),
    # bias_act, float32 only: every (n, c) plane a row of 9, 25 or 49 values
    ("tail-ba3", (4, 512, 3, 3), False, "bias_act", dict(act="lrelu")),
    ("tail-ba5", (4, 256, 5, 5), False, "bias_act", dict(act="lrelu")),
    ("tail-ba7", (4, 64, 7, 7), False, "bias_act", dict(act="lrelu")),
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
            if (name.startswith(("step-", "tail-")) and dtype != "float32") or (cases and name not in cases):
                continue
            x = torch.randn(shape).to(getattr(torch, dtype))
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            if kind == "bias_act":
                b = torch.randn(shape[1])
                call = lambda: myops.bias_act(x, b, **kwargs)  # noqa: E731
            else:
                f = filters[kind]
                call = lambda: myops.upfirdn2d(x, f, **kwargs)  # noqa: E731
            for _ in range(2):
                call()
            times = []
            for _ in range(calls):
                start = time.thread_time_ns()
                call()
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
        paired = {name: statistics.median(b / t for b, t in zip(per_lib[base], v)) for name, v in per_lib.items()}
        rows.append({"case": case, "us": medians, "rounds": per_lib,
                     "ratio_to_" + base: {name: medians[base] / m for name, m in medians.items()},
                     "paired_ratio_to_" + base: paired})
    lines = [f"| case | " + " | ".join(f"{n} µs (× {base}; paired ×)" for n in libs) + " | rounds |",
             "|---" * (len(libs) + 2) + "|"]
    for row in rows:
        cells = [f"{row['us'][n]:.1f} ({row['ratio_to_' + base][n]:.2f}×; {row['paired_ratio_to_' + base][n]:.2f}×)"
                 for n in libs]
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
            f"# upfirdn2d / bias_act A/B: {', '.join(libs)}\n\n" + "\n".join(f"- {k}: {v}" for k, v in meta.items()) + "\n\n" + table + "\n")


if __name__ == "__main__":
    main()
