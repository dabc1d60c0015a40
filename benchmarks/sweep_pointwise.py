"""Size sweep of the pointwise ops (mul, add, add_out, muladd, bias_act, bias_act_backward)
against the equivalent eager ATen op(s) and torch.compile of them, from 1K to 64M elements,
float32 and bfloat16, on AVX2 and AVX-512 (one process per ISA: ATEN_CPU_CAPABILITY is read
once, when torch loads; Inductor's generated code follows it too); plus the per-call cost table
(tiny tensors: torch.ops.myops.<op> vs torch.ops.aten.<equivalent>, and what the Python
wrapper adds). One command:

    python benchmarks/sweep_pointwise.py            # full sweep, both ISAs (tens of minutes)
    python benchmarks/sweep_pointwise.py --quick    # 3 sizes, few rounds (a few minutes)
    python benchmarks/sweep_pointwise.py --thp      # THP_MEM_ALLOC_ENABLE=1 in the workers
    python benchmarks/sweep_pointwise.py --threads 1  # on a busy machine (see below)
    python benchmarks/sweep_pointwise.py --threads 1 --cpu-time  # on a very busy one
    python benchmarks/sweep_pointwise.py --percall-only --threads 1 --isa avx2  # the per-call table alone

Writes benchmarks/results/sweep-pointwise[-percall][-thp][-quick].{csv,json,md,png} (the JSON holds the
command, the CPU model, the threads, torch's version and each worker's ISA).

Timing (the machine may be shared and noisy): each case's variants run interleaved, round after
round (a round times one block of calls of every variant, in rotating order); the reported ratio
is the median over rounds of baseline time / myops time within the same round, so slow phases of
the machine hit both sides. torch.compile is static (dynamic=False, one graph per size: the
fastest code Inductor makes); its compile happens before timing. On a machine whose cores are
busy with other work, every multi-threaded run (myops, ATen and Inductor alike: OpenMP forks and
joins at each call) now and then waits a whole scheduler time slice (~10 ms) for a descheduled
thread, which swamps everything below a few MB; --threads 1 avoids that.
With --cpu-time (needs --threads 1) each block is timed with the calling thread's CPU time
(time.thread_time: user + system, page faults included) instead of the wall clock, so the time
the process spends descheduled by other work does not count at all; what other work still
changes (shared caches, memory bandwidth) hits the interleaved variants alike. (Caveat: on a
machine at load ~15 its compile/myops column came out 30-130x at 256K-1M elements, which the
wall clock never showed; not understood yet, so read only aten/myops from such runs.)
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import inductor_cache

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SIZES_FULL = [1 << (10 + 2 * k) for k in range(9)]  # 1K, 4K, ..., 64M elements
SIZES_QUICK = [1 << 10, 1 << 16, 1 << 22]            # 1K, 64K, 4M
OPS = ["mul", "add", "add_out", "muladd", "bias_act", "bias_act_backward"]
ISAS = ["avx2", "avx512"]
BIAS_ACT = dict(act="lrelu", alpha=0.2, gain=math.sqrt(2), clamp=256.0)


# ----------------------------------------------------------------------------- worker side

def _bias_act_shape(n: int) -> tuple:
    """[B, 64, H, H] with n elements: StyleGAN-like images, H up to 256, then batch."""
    c = 64
    h = min(int(math.isqrt(max(n // c, 1))), 256)
    return (max(n // (c * h * h), 1), c, h, h)


def _variants(op: str, n: int, dtype):
    """(myops call, eager ATen call, function to torch.compile, its arguments)."""
    import torch
    import torch.nn.functional as F

    import myops

    g = torch.Generator().manual_seed(0)
    if op.startswith("bias_act"):
        shape = _bias_act_shape(n)
        x = torch.randn(shape, generator=g).to(dtype) * 4
        b = torch.randn(shape[1], generator=g).to(dtype)
        bview = b.view(1, -1, 1, 1)
        alpha, gain, clamp = BIAS_ACT["alpha"], BIAS_ACT["gain"], BIAS_ACT["clamp"]
        if op == "bias_act":
            def eager(x, b):
                return (F.leaky_relu(x + b.view(1, -1, 1, 1), alpha) * gain).clamp(-clamp, clamp)
            return (lambda: myops.bias_act(x, b, 1, **BIAS_ACT)), eager, (x, b)
        grad = torch.randn(shape, generator=g).to(dtype)

        def eager_backward(grad, x, b):
            # What autograd runs for the reference (clamp's mask, the gain, leaky_relu's
            # backward), with v = x + b recomputed as the op does.
            v = x + b.view(1, -1, 1, 1)
            y = F.leaky_relu(v, alpha) * gain
            g = torch.where(y.abs() > clamp, 0, grad) * gain
            return torch.ops.aten.leaky_relu_backward(g, v, alpha, False)
        op_fn = torch.ops.myops.bias_act_backward.default
        del bview
        return ((lambda: op_fn(grad, x, b, 1, "lrelu", alpha, gain, clamp, 1)), eager_backward, (grad, x, b))
    a = torch.randn(n, generator=g).to(dtype)
    b = torch.randn(n, generator=g).to(dtype)
    if op == "mul":
        return (lambda: myops.mul(a, b)), torch.mul, (a, b)
    if op == "add":
        return (lambda: myops.add(a, b)), torch.add, (a, b)
    if op == "muladd":
        return (lambda: myops.muladd(a, b, 0.5)), (lambda a, b: a * b + 0.5), (a, b)
    if op == "add_out":
        out = torch.empty_like(a)
        return (lambda: myops.add_out(a, b, out)), (lambda a, b, out: torch.add(a, b, out=out)), (a, b, out)
    raise ValueError(op)


CLOCK = time.perf_counter  # the worker's clock: time.thread_time under --cpu-time


def _time_block(fn, number: int) -> float:
    t0 = CLOCK()
    for _ in range(number):
        fn()
    return (CLOCK() - t0) / number


def time_interleaved(fns: dict, rounds: int, block_s: float) -> dict:
    """{name: [seconds per call, one per round]}; the variants alternate within each round."""
    for fn in fns.values():  # warm-up (page cache, thread pool, lazy init)
        fn()
        fn()
    numbers = {}
    for name, fn in fns.items():
        once = _time_block(fn, 1)
        numbers[name] = max(1, int(block_s / max(once, 1e-7)))
    times = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(_time_block(fns[name], numbers[name]))
    return times


def paired_ratio(base: list, ours: list) -> float:
    return statistics.median(b / o for b, o in zip(base, ours))


def sweep_rows(sizes, rounds, block_s, ops) -> list:
    import torch

    rows = []
    for op in ops:
        for dtype in (torch.float32, torch.bfloat16):
            for n in sizes:
                ours, eager_fn, args = _variants(op, n, dtype)
                compiled_fn = torch.compile(eager_fn, fullgraph=True, dynamic=False)
                fns = {"myops": ours, "aten": lambda: eager_fn(*args), "compile": lambda: compiled_fn(*args)}
                times = time_interleaved(fns, rounds, block_s)
                row = {"op": op, "dtype": str(dtype).replace("torch.", ""), "numel": n,
                       "shape": list(args[0].shape),
                       **{f"{k}_s": statistics.median(v) for k, v in times.items()},
                       "aten_over_myops": paired_ratio(times["aten"], times["myops"]),
                       "compile_over_myops": paired_ratio(times["compile"], times["myops"])}
                rows.append(row)
                print(f"{op:18} {row['dtype']:9} {n:>9} myops {row['myops_s'] * 1e6:10.1f} us  "
                      f"aten/myops {row['aten_over_myops']:.2f}  compile/myops {row['compile_over_myops']:.2f}",
                      flush=True)
                del fns, ours, eager_fn, args, compiled_fn
                torch._dynamo.reset()
    return rows


def percall_rows(rounds: int) -> list:
    """Tiny tensors: what one call costs. myops through torch.ops (OpOverload, as aten is
    called) vs the closest single ATen op called the same way; and the Python wrapper
    (myops.mul, ...) vs the public torch function a user would call instead (torch.mul, ...,
    whose binding is generated code)."""
    import timeit

    import torch
    import torch.nn.functional as F

    import myops

    a, b, c, out = torch.randn(1), torch.randn(1), torch.randn(1), torch.empty(1)
    x, bias, g = torch.randn(1, 4, 1, 1), torch.randn(4), torch.randn(1, 4, 1, 1)
    my, at = torch.ops.myops, torch.ops.aten
    bview, gain = bias.view(1, -1, 1, 1), math.sqrt(2)  # (bias_act's default gain for lrelu)

    def bias_act_backward_in_aten(g, x, bview):
        # x's gradient as autograd computes it for the reference (eager_backward in _variants)
        v = at.add.Tensor(x, bview)
        y = at.mul.Tensor(at.leaky_relu.default(v, 0.2), gain)
        g = at.mul.Tensor(at.where.ScalarSelf(at.gt.Scalar(at.abs.default(y), 256.0), 0.0, g), gain)
        return at.leaky_relu_backward.default(g, v, 0.2, False)

    cases = [
        # (op, torch.ops.myops call, torch.ops.aten call, Python wrapper call or None,
        #  the public torch function's call or None)
        ("mul", lambda: my.mul.default(a, b), lambda: at.mul.Tensor(a, b), lambda: myops.mul(a, b),
         lambda: torch.mul(a, b)),
        ("add", lambda: my.add.default(a, b), lambda: at.add.Tensor(a, b), lambda: myops.add(a, b),
         lambda: torch.add(a, b)),
        ("add_out", lambda: my.add_out.default(a, b, out), lambda: at.add.out(a, b, out=out),
         lambda: myops.add_out(a, b, out), lambda: torch.add(a, b, out=out)),
        ("muladd", lambda: my.muladd.default(a, b, 0.5), lambda: at.addcmul.default(c, a, b),
         lambda: myops.muladd(a, b, 0.5), lambda: torch.addcmul(c, a, b)),
        ("bias_act", lambda: my.bias_act.default(x, bias, 1, "lrelu", None, None, 256.0),
         lambda: at.leaky_relu.default(x, 0.2), lambda: myops.bias_act(x, bias, 1, "lrelu", clamp=256.0),
         lambda: F.leaky_relu(x, 0.2)),
        ("bias_act_backward", lambda: my.bias_act_backward.default(g, x, bias, 1, "lrelu", None, None, 256.0, 1),
         lambda: at.leaky_relu_backward.default(g, x, 0.2, False), None, None),
        # The same two calls against the ATen calls that compute what they do (leaky_relu alone,
        # above, is the harshest yardstick: one op of two arguments doing part of the work).
        ("bias_act (composition)", lambda: my.bias_act.default(x, bias, 1, "lrelu", None, None, 256.0),
         lambda: at.clamp.default(at.mul.Tensor(at.leaky_relu.default(at.add.Tensor(x, bview), 0.2), gain), -256.0, 256.0),
         None, None),
        ("bias_act_backward (composition)",
         lambda: my.bias_act_backward.default(g, x, bias, 1, "lrelu", None, None, 256.0, 1),
         lambda: bias_act_backward_in_aten(g, x, bview), None, None),
    ]
    aten_names = {"mul": "aten.mul.Tensor", "add": "aten.add.Tensor", "add_out": "aten.add.out",
                  "muladd": "aten.addcmul", "bias_act": "aten.leaky_relu", "bias_act_backward": "aten.leaky_relu_backward",
                  "bias_act (composition)": "aten add, leaky_relu, mul, clamp",
                  "bias_act_backward (composition)": "aten add, leaky_relu, mul, abs, gt, where, mul, leaky_relu_backward"}
    torch_names = {"mul": "torch.mul", "add": "torch.add", "add_out": "torch.add(out=)", "muladd": "torch.addcmul",
                   "bias_act": "F.leaky_relu"}
    rows = []
    for name, ours, aten, wrapper, public in cases:
        fns = {"myops": ours, "aten": aten}
        if wrapper is not None:
            fns["wrapper"] = wrapper
        if public is not None:
            fns["torch"] = public
        number = 2000
        times = {k: [] for k in fns}
        keys = list(fns)
        for r in range(rounds):
            for k in keys[r % len(keys):] + keys[:r % len(keys)]:
                times[k].append(min(timeit.repeat(fns[k], number=number, repeat=3, timer=CLOCK)) / number)
        row = {"op": name, "aten_op": aten_names[name],
               "myops_us": statistics.median(times["myops"]) * 1e6,
               "aten_us": statistics.median(times["aten"]) * 1e6,
               "myops_over_aten": paired_ratio(times["myops"], times["aten"])}
        if wrapper is not None:
            row["wrapper_us"] = statistics.median(times["wrapper"]) * 1e6
            row["wrapper_extra_us"] = statistics.median(w - o for w, o in zip(times["wrapper"], times["myops"])) * 1e6
        if public is not None:
            row["torch_function"] = torch_names[name]
            row["torch_us"] = statistics.median(times["torch"]) * 1e6
            row["wrapper_over_torch"] = paired_ratio(times["wrapper"], times["torch"])
        rows.append(row)
        print(f"per call {name:18} myops {row['myops_us']:.2f} us  {row['aten_op']} {row['aten_us']:.2f} us  "
              f"ratio {row['myops_over_aten']:.2f}  wrapper {row.get('wrapper_us', float('nan')):.2f} us "
              f"(+{row.get('wrapper_extra_us', float('nan')):.2f})  {row.get('torch_function', '-')} "
              f"{row.get('torch_us', float('nan')):.2f} us  ratio {row.get('wrapper_over_torch', float('nan')):.2f}",
              flush=True)
    return rows


def worker(args) -> int:
    global CLOCK
    import torch

    import myops  # noqa: F401

    if args.threads:
        torch.set_num_threads(args.threads)  # before any compile: Inductor bakes it into its loops
    if args.cpu_time:
        CLOCK = time.thread_time
    sizes = SIZES_QUICK if args.quick else SIZES_FULL
    sizes = [n for n in sizes if n >= args.min_numel and (not args.max_numel or n <= args.max_numel)]
    rounds = 5 if args.quick else 11
    result = {"isa": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
              "clock": CLOCK.__name__,
              "sweep": [] if args.percall_only else sweep_rows(sizes, rounds, 0.002 if args.quick else 0.005, args.ops),
              "percall": percall_rows(5 if args.quick else 15)}
    Path(args.worker_out).write_text(json.dumps(result))
    return 0


# ----------------------------------------------------------------------------- parent side

def plot(results: dict, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = list(dict.fromkeys(r["op"] for res in results.values() for r in res["sweep"]))
    cols = 3
    fig, axes = plt.subplots((len(ops) + cols - 1) // cols, cols, figsize=(15, 4.2 * ((len(ops) + cols - 1) // cols)),
                             squeeze=False)
    colors = {("aten", "float32"): "tab:blue", ("aten", "bfloat16"): "tab:cyan",
              ("compile", "float32"): "tab:red", ("compile", "bfloat16"): "tab:orange"}
    styles = {"avx2": "--", "avx512": "-"}
    for ax, op in zip(axes.flat, ops):
        for isa, res in results.items():
            for (base, dtype), color in colors.items():
                rows = [r for r in res["sweep"] if r["op"] == op and r["dtype"] == dtype]
                if rows:
                    ax.plot([r["numel"] for r in rows], [r[f"{base}_over_myops"] for r in rows], styles.get(isa, ":"),
                            color=color, marker="o", markersize=3, label=f"vs {base} {dtype} {isa}")
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_title(op)
        ax.set_xlabel("elements")
        ax.set_ylabel("baseline time / myops time (> 1: myops faster)")
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(ops):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("\n".join(textwrap.wrap(title, 160)), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def markdown(results: dict) -> str:
    lines = []
    for isa, res in results.items():
        lines += [f"### {isa} (worker ISA: {res['isa']}, {res['threads']} threads)", ""]
        if res["sweep"]:
            lines += ["| op | dtype | elements | myops | aten / myops | compile / myops |", "|---|---|---|---|---|---|"]
        for r in res["sweep"]:
            lines.append(f"| {r['op']} | {r['dtype']} | {r['numel']} | {r['myops_s'] * 1e6:.1f} µs | "
                         f"{r['aten_over_myops']:.2f} | {r['compile_over_myops']:.2f} |")
        lines += ["", "Per-call cost (tiny tensors): torch.ops.<ns>.<op>.<overload> against each other, and "
                  "the Python wrapper (myops.<op>) against the public torch function:", "",
                  "| op | myops | aten op | aten | myops / aten | wrapper | wrapper − torch.ops.myops | torch function "
                  "| its time | wrapper / it |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in res["percall"]:
            extra = f"{r['wrapper_extra_us']:.2f} µs" if "wrapper_extra_us" in r else "–"
            wrapper = f"{r['wrapper_us']:.2f} µs" if "wrapper_us" in r else "–"
            public = (f"{r['torch_function']} | {r['torch_us']:.2f} µs | {r['wrapper_over_torch']:.2f}"
                      if "torch_us" in r else "– | – | –")
            lines.append(f"| {r['op']} | {r['myops_us']:.2f} µs | {r['aten_op']} | {r['aten_us']:.2f} µs | "
                         f"{r['myops_over_aten']:.2f} | {wrapper} | {extra} | {public} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 sizes (1K, 64K, 4M), 5 rounds")
    parser.add_argument("--percall-only", action="store_true", help="only the per-call table (no size sweep, no plot)")
    parser.add_argument("--thp", action="store_true", help="THP_MEM_ALLOC_ENABLE=1 in the workers")
    parser.add_argument("--isa", choices=ISAS, action="append", help="default: both")
    parser.add_argument("--op", dest="ops", choices=OPS, action="append", help="default: all")
    parser.add_argument("--min-numel", type=int, default=0, help="skip smaller sizes")
    parser.add_argument("--max-numel", type=int, default=0, help="skip larger sizes (0: none)")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads in the workers (0: torch's default)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the calling thread's CPU time (needs --threads 1)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--tag", default="", help="suffix of the result files' names")
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.ops = args.ops or OPS
    if args.cpu_time and args.threads != 1:
        parser.error("--cpu-time needs --threads 1 (other threads' work would not be counted)")
    if args.worker_out:
        return worker(args)

    results = {}
    for isa in args.isa or ISAS:
        tmp = args.out / f".sweep-{isa}.json"
        args.out.mkdir(parents=True, exist_ok=True)
        # One Inductor cache per ISA (inductor_cache.py: why).
        env = {**os.environ, "ATEN_CPU_CAPABILITY": isa, "TORCHINDUCTOR_CACHE_DIR": inductor_cache.cache_dir(isa),
               "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT / "python"), os.environ.get("PYTHONPATH", "")])}
        if args.thp:
            env["THP_MEM_ALLOC_ENABLE"] = "1"
        cmd = [sys.executable, __file__, "--worker-out", str(tmp), "--max-numel", str(args.max_numel),
               "--min-numel", str(args.min_numel),
               "--threads", str(args.threads)]
        cmd += ["--quick"] if args.quick else []
        cmd += ["--cpu-time"] if args.cpu_time else []
        cmd += ["--percall-only"] if args.percall_only else []
        cmd += [a for op in args.ops for a in ("--op", op)]
        print(f"== ATEN_CPU_CAPABILITY={isa}", flush=True)
        subprocess.run(cmd, env=env, check=True)
        results[isa] = json.loads(tmp.read_text())
        tmp.unlink()

    import torch

    from common import cpu_model

    tag = ("sweep-pointwise" + ("-percall" if args.percall_only else "") + ("-thp" if args.thp else "")
           + ("-quick" if args.quick else "")
           + (f"-t{args.threads}" if args.threads else "") + ("-cpu" if args.cpu_time else "")
           + (f"-{args.tag}" if args.tag else ""))
    meta = {"command": "python benchmarks/sweep_pointwise.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "cpu": cpu_model(), "torch": torch.__version__, "date": datetime.date.today().isoformat(),
            "THP_MEM_ALLOC_ENABLE": "1" if args.thp else os.environ.get("THP_MEM_ALLOC_ENABLE", ""),
            "isas": {isa: res["isa"] for isa, res in results.items()},
            "threads": {isa: res["threads"] for isa, res in results.items()},
            "clock": "time.thread_time" if args.cpu_time else "time.perf_counter",
            # (MYOPS_FASTCALL=0: the wrappers call torch's generic op binding, not myops._fastcall)
            "MYOPS_FASTCALL": os.environ.get("MYOPS_FASTCALL", "")}
    (args.out / f"{tag}.json").write_text(json.dumps({"machine": meta, "results": results}, indent=1))
    rows = [{"isa": isa, **r} for isa, res in results.items() for r in res["sweep"]]
    if rows:
        with open(args.out / f"{tag}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    header = (f"`{meta['command']}` — {meta['cpu']}, torch {meta['torch']}, threads {meta['threads']}, "
              f"clock {meta['clock']}, "
              f"ISA {meta['isas']}, THP_MEM_ALLOC_ENABLE={meta['THP_MEM_ALLOC_ENABLE'] or 'unset'}, "
              f"MYOPS_FASTCALL={meta['MYOPS_FASTCALL'] or 'unset'}, {meta['date']}")
    (args.out / f"{tag}.md").write_text(header + "\n\n" + markdown(results) + "\n")
    if rows:
        plot(results, args.out / f"{tag}.png", header.replace("`", ""))
    print(f"\nwrote {args.out}/{tag}.{{csv,json,md,png}}" if rows else f"\nwrote {args.out}/{tag}.{{json,md}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
