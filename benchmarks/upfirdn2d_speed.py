"""upfirdn2d speed on the calls a StyleGAN2 network makes, against the best eager compositions,
the machine's memory bandwidth, and a StyleGAN2-like training step (issue 13, item 3):

    python benchmarks/upfirdn2d_speed.py --threads 1          # what the committed results used
    python benchmarks/upfirdn2d_speed.py --threads 1 --quick  # a smoke run (~2 min)
    python benchmarks/upfirdn2d_speed.py                      # all threads, wall-clock time
    ATEN_CPU_CAPABILITY=avx2 python benchmarks/upfirdn2d_speed.py --threads 1   # AVX2 kernels
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python ...   # an AVX2 machine's baselines too
    THP_MEM_ALLOC_ENABLE=1 python benchmarks/upfirdn2d_speed.py --threads 1     # huge pages
    python benchmarks/upfirdn2d_speed.py --threads 1 --dtype bfloat16 --no-step  # x in bfloat16
    python benchmarks/upfirdn2d_speed.py --threads 1 --channels-last              # x channels_last
    python benchmarks/upfirdn2d_speed.py --threads 1 --compile --no-step          # + torch.compile column
    python benchmarks/upfirdn2d_speed.py --threads 1 --channels-last --channel-sweep  # C = 3 ... 72

Timer: with --threads 1, the CPU time of the calling thread (time.thread_time: every op runs
on it), which other processes on a shared machine cannot inflate by preempting it (with two
threads on two busy cores, a parallel op waits a whole scheduler slice, ~16 ms, for a
preempted worker, and wall-clock timings mean little). Otherwise wall-clock time
(torch.utils.benchmark). Page faults on fresh outputs count in both (as system time). Before
anything is timed a 24 MiB block is allocated and freed (settle_allocator), so that every
case runs in the allocator state of a running program, the first one included.

Writes benchmarks/results/upfirdn2d-speed-<isa>[-thp][-<dtype>][-channels-last][-compile][-channel-sweep][-onednn-<isa>][-quick]
.{json,csv,md,png}, with the command, the CPU model, the ISA (ATen's and myops') and the thread count.

ISA: ATEN_CPU_CAPABILITY selects ATen's and myops' kernels (and Inductor's), not oneDNN's: the
convolution baselines keep oneDNN's best kernels for this CPU (on an AVX-512 machine, AVX-512,
and for bfloat16 its AVX512-BF16 / AMX instructions) unless ONEDNN_MAX_CPU_ISA caps them too
(ONEDNN_MAX_CPU_ISA=AVX2: what an AVX2 machine's oneDNN runs; its bfloat16 depthwise
convolutions then take oneDNN's reference kernels, ~160x slower). The header says which.

What is measured (CPU, float32 unless --dtype says otherwise: x and the eager baselines' filter
in that dtype, myops' filter float32 as StyleGAN passes it; with --channels-last x is
channels_last, for myops and the eager baselines alike (oneDNN's convolutions take it
natively), and so are the outputs and gradients; every time a median of blocked runs;
the machine may be shared, so every variant of a case is timed in turn, `--reps` times
interleaved, and the ratio reported is the median over the repeats of baseline / myops):

1. Memory bandwidth, with the same thread count: torch.add(a, b, out=c) on three 64 MiB
   float32 tensors (2 read + 1 written = 192 MiB moved; no allocation, no page faults):
   bytes moved / time. An op's share of it: (bytes of its input + bytes of its output) / its
   time / that bandwidth.
2. Cases: upsample2d (up 2, padding [2, 1]), downsample2d (down 2, padding [1, 1]) and the
   blur of StyleGAN2's downsampling 3x3 conv (up 1, down 1, padding 2: the filter before the
   stride-2 conv; its backward is the same blur with padding 1) with StyleGAN2's 2-D 4x4
   filter ([1, 3, 3, 1] outer product), plus the headline
   downsample [4, 256, 64, 64] with the 1-D (separable) filter, in three modes:
   fwd, fwd+bwd (x's gradient), fwd+bwd+2bwd (the gradient differentiated again, as R1 does).
   Baseline ("best eager"): the fastest of the eager compositions timed for the case:
   down: F.conv2d(x, filter as [C, 1, 4, 4], stride 2, padding 1, groups C) (strided
   depthwise) and the same on F.pad(x) (StyleGAN's reference form; 2-8x slower here: with
   padding= the conv pads inside oneDNN, without a padded copy);
   blur: F.conv2d(x, filter as [C, 1, 4, 4], padding 2, groups C) (depthwise);
   up: F.conv_transpose2d(x, 4 * filter as [C, 1, 4, 4], stride 2, padding 1, groups C) and
   the zero insertion + depthwise conv2d of myops.reference.upfirdn2d.
   With --compile, also torch.compile of myops.reference.upfirdn2d (StyleGAN's pure-PyTorch
   formula, the op's reference: issue 13 target 1 asks for >= 1.0x it), static
   (dynamic=False, fullgraph: one graph per shape, compiled before timing), in the fwd and
   fwd+bwd modes; the double backward is n/a (torch.compile's AOTAutograd does not
   support a backward with create_graph=True).
   With --channel-sweep, instead: up, down and blur of [4, C, 128, 128] for channel counts that
   do not fill a vector's lanes (CHANNEL_SWEEP: RGB's 3, 5, 8, 12, 20, 24, 40, 72), where
   channels_last runs in place with an overlapping or masked last block of channels, or
   through planar copies below half a vector (ops/upfirdn2d/upfirdn2d_cpu_channels_last.h).
3. The training step of benchmarks/stylegan2_step.py (64x64, batch 4): step time with myops
   vs the same networks on myops.reference (StyleGAN's pure-PyTorch formulas), and the
   share of the myops step's time spent in myops ops (torch.profiler: self CPU time of the
   myops:: ops over the wall time of the profiled steps).
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import inductor_cache  # noqa: E402

inductor_cache.use_per_isa_cache()  # before torch is imported (AVX2 runs get their own cache)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torch.utils.benchmark as tbench  # noqa: E402

import myops  # noqa: E402
from common import cpu_model  # noqa: E402
from myops import reference  # noqa: E402

F2 = myops.setup_filter([1, 3, 3, 1])                   # 2-D 4x4, StyleGAN2's default
F1 = myops.setup_filter([1, 3, 3, 1], separable=True)   # 1-D, applied along x then y

# StyleGAN2 at 256x256 (channels min(16384 / res, 512), batch 1..8): the feature maps its
# up/downsampling sees. (kind, [N, C, H, W] of the op's input)
SHAPES = [
    ("up", [8, 512, 4, 4]), ("up", [4, 512, 8, 8]), ("up", [4, 512, 16, 16]), ("up", [4, 256, 64, 64]),
    ("up", [1, 128, 128, 128]),
    ("down", [8, 512, 8, 8]), ("down", [4, 512, 16, 16]), ("down", [4, 512, 32, 32]), ("down", [4, 256, 64, 64]),
    ("down", [2, 128, 128, 128]), ("down", [1, 64, 256, 256]),
    ("blur", [8, 512, 8, 8]), ("blur", [4, 512, 16, 16]), ("blur", [4, 512, 32, 32]), ("blur", [4, 256, 64, 64]),
]
QUICK_SHAPES = [("up", [4, 512, 8, 8]), ("up", [2, 128, 64, 64]), ("down", [4, 512, 16, 16]),
                ("down", [4, 256, 64, 64]), ("blur", [4, 512, 16, 16])]
# --channel-sweep: channel counts that are not whole vectors of lanes (16 float lanes on
# AVX-512, 8 on AVX2), at a plane size past the plane path's.
CHANNEL_SWEEP = (3, 5, 8, 12, 20, 24, 40, 72)
SWEEP_SHAPES = [(kind, [4, c, 128, 128]) for c in CHANNEL_SWEEP for kind in ("up", "down", "blur")]
MODES = ("fwd", "fwd+bwd", "fwd+bwd+2bwd")
COMPILE = "torch.compile(reference)"


def median_seconds(fn, min_run_time: float) -> float:
    if torch.get_num_threads() != 1:
        timer = tbench.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
        return timer.blocked_autorange(min_run_time=min_run_time).median
    # One thread: its CPU time, in blocks of `number` calls (>= min_run_time / 5 each), median.
    number, blocks = 1, []
    while True:
        t0 = time.thread_time()
        for _ in range(number):
            fn()
        elapsed = time.thread_time() - t0
        if elapsed >= min_run_time / 5 or number >= 1 << 16:
            break
        number *= 2 if elapsed * 20 > min_run_time else 8
    blocks.append(elapsed / number)
    for _ in range(4):
        t0 = time.thread_time()
        for _ in range(number):
            fn()
        blocks.append((time.thread_time() - t0) / number)
    return statistics.median(blocks)


def now() -> float:
    """The clock of median_seconds, for the training step."""
    return time.thread_time() if torch.get_num_threads() == 1 else time.perf_counter()


def interleaved(variants: dict, reps: int, min_run_time: float) -> dict:
    """{name: [seconds of each repeat]}, the variants timed in turn, `reps` times."""
    times = {k: [] for k in variants}
    for fn in variants.values():
        fn()  # warm-up (allocator, thread pool)
    for _ in range(reps):
        for k, fn in variants.items():
            times[k].append(median_seconds(fn, min_run_time))
    return times


def ratio(times: dict, base: str, ours: str = "myops") -> float:
    return statistics.median(b / o for b, o in zip(times[base], times[ours]))


# ------------------------------------------------------------------------------ the calls

def myops_call(kind: str, f):
    if kind == "up":
        return lambda x: myops.upsample2d(x, f)
    if kind == "blur":
        return lambda x: myops.upfirdn2d(x, f, padding=2)
    return lambda x: myops.downsample2d(x, f)


def eager_calls(kind: str, f, channels: int, dtype=torch.float32) -> dict:
    """The eager compositions of one call, by name (their filter in x's dtype, as conv2d needs)."""
    w = f if f.ndim == 2 else f[:, None] * f[None, :]  # conv2d needs the 2-D filter
    w = w.flip([0, 1])[None, None].repeat(channels, 1, 1, 1).to(dtype).contiguous()  # true convolution
    if kind == "down":
        return {"strided depthwise conv2d": lambda x: F.conv2d(x, w, stride=2, padding=1, groups=channels),
                "F.pad + strided depthwise conv2d": lambda x: F.conv2d(F.pad(x, [1, 1, 1, 1]), w, stride=2, groups=channels)}
    if kind == "blur":
        return {"depthwise conv2d": lambda x: F.conv2d(x, w, padding=2, groups=channels)}
    w4 = (w * 4).contiguous()
    return {"depthwise conv_transpose2d": lambda x: F.conv_transpose2d(x, w4, stride=2, padding=1, groups=channels),
            "zero insertion + conv2d": lambda x: reference.upfirdn2d(x, f.to(dtype), up=2, padding=[2, 1, 2, 1], gain=4)}


def reference_call(kind: str, f):
    """myops.reference's formula of the call (StyleGAN's pure PyTorch), what --compile compiles."""
    if kind == "up":
        return lambda x: reference.upfirdn2d(x, f, up=2, padding=[2, 1, 2, 1], gain=4)
    if kind == "blur":
        return lambda x: reference.upfirdn2d(x, f, padding=2)
    return lambda x: reference.upfirdn2d(x, f, down=2, padding=[1, 1, 1, 1])


def compiled_reference(kind: str, f):
    """torch.compile of reference_call: static, one graph (the forward, and the joint
    forward + backward graph in fwd+bwd), compiled by the variant's warm-up call."""
    return torch.compile(reference_call(kind, f), fullgraph=True, dynamic=False)


def in_mode(fn, x: torch.Tensor, mode: str):
    """A callable running fn(x) in `mode`: forward only, forward + x's gradient, or forward +
    x's gradient + the gradient of (that gradient . v), as R1 differentiates D twice."""
    if mode == "fwd":
        return lambda: fn(x)
    xg = x.detach().clone().requires_grad_(True)
    gy = torch.randn_like(fn(x))
    if mode == "fwd+bwd":
        def run():
            return torch.autograd.grad(fn(xg), xg, gy)
        return run
    return _double(fn, xg, gy, torch.randn_like(x))


def _double(fn, xg, gy, v):
    """Forward, backward with create_graph, then the backward of (gx . v) with respect to the
    output gradient: for a linear op that is the op's double backward (upfirdn2d again), what
    R1's penalty makes every D op run."""
    gyl = gy.detach().clone().requires_grad_(True)

    def run():
        (gx,) = torch.autograd.grad(fn(xg), xg, gyl, create_graph=True)
        return torch.autograd.grad(gx, gyl, v)
    return run


def case_rows(kind: str, shape: list, f, form: str, reps: int, min_run_time: float, bandwidth: float,
              dtype=torch.float32, memory_format=torch.contiguous_format, compile_reference: bool = False) -> list:
    x = torch.randn(shape).to(dtype).contiguous(memory_format=memory_format)
    ours = myops_call(kind, f)
    eager = eager_calls(kind, f, shape[1], dtype)
    compiled = compiled_reference(kind, f) if compile_reference else None
    y = ours(x)
    tol = {"atol": 1e-4, "rtol": 1e-4} if dtype == torch.float32 else {"atol": 0.05, "rtol": 0.02}
    for name, fn in {**eager, **({COMPILE: compiled} if compiled else {})}.items():  # the baselines compute the same
        torch.testing.assert_close(fn(x), y, **tol, msg=lambda m: f"{name} {shape}: {m}")
    rows = []
    for mode in MODES:
        variants = {"myops": in_mode(ours, x, mode), **{k: in_mode(fn, x, mode) for k, fn in eager.items()}}
        if compiled and mode != "fwd+bwd+2bwd":  # (no double backward through AOTAutograd)
            variants[COMPILE] = in_mode(compiled, x, mode)
        times = interleaved(variants, reps, min_run_time)
        med = {k: statistics.median(v) for k, v in times.items()}
        best = min(eager, key=lambda k: med[k])
        row = {"kind": kind, "filter": form, "shape": "x".join(map(str, shape)), "mode": mode,
               "myops_ms": med["myops"] * 1e3, "best_eager": best, "best_eager_ms": med[best] * 1e3,
               "speedup_vs_best_eager": ratio(times, best),
               **{f"eager[{k}]_ms": med[k] * 1e3 for k in eager}}
        if COMPILE in times:
            row["compile_ms"] = med[COMPILE] * 1e3
            row["speedup_vs_compile"] = ratio(times, COMPILE)
        if mode == "fwd":
            moved = (x.numel() + y.numel()) * x.element_size()
            row["myops_GBps"] = moved / med["myops"] / 1e9
            row["fraction_of_bandwidth"] = row["myops_GBps"] / bandwidth
        rows.append(row)
        print(f"  {kind:4} {form:3} {row['shape']:16} {mode:13} myops {row['myops_ms']:8.3f} ms   "
              f"x{row['speedup_vs_best_eager']:5.2f} vs {best} ({row['best_eager_ms']:.3f} ms)"
              + (f"   x{row['speedup_vs_compile']:5.2f} vs compile ({row['compile_ms']:.3f} ms)" if COMPILE in times else "")
              + (f"   {row['myops_GBps']:.1f} GB/s = {row['fraction_of_bandwidth']:.0%} of bandwidth" if mode == "fwd" else ""),
              flush=True)
    if compiled:
        torch._dynamo.reset()  # (each shape's graphs are used once: free them)
    return rows


def settle_allocator() -> None:
    """Puts glibc's malloc in the state a running program is in before anything is timed. A
    block above its mmap threshold (128 KiB at start) is a fresh mmap whose pages fault on first
    touch; freeing one raises the threshold to its size (at most 32 MiB), and from then on
    blocks up to that size are reused from the heap. Without this, the first case's variants
    ran in the fresh-mmap state (its depthwise conv baseline 2-3x slower) and the later ones in
    the other (docs/performance.md, "A note on timing these calls")."""
    block = torch.empty(24 << 20, dtype=torch.uint8)
    block.fill_(0)
    del block


def bandwidth(reps: int, min_run_time: float) -> dict:
    n = 16 * 2**20  # 64 MiB of float32
    a, b, c = torch.randn(n), torch.randn(n), torch.empty(n)
    src, dst = torch.randn(n), torch.empty(n)
    times = interleaved({"add": lambda: torch.add(a, b, out=c), "copy": lambda: dst.copy_(src)}, reps, min_run_time)
    return {"add_GBps": 3 * n * 4 / statistics.median(times["add"]) / 1e9,
            "copy_GBps": 2 * n * 4 / statistics.median(times["copy"]) / 1e9}


# ------------------------------------------------------------------------------ the training step

def training_step(reps: int, steps: int) -> dict:
    import stylegan2_step

    step = {k: stylegan2_step.setup(k) for k in ("myops", "reference")}
    for fn in step.values():
        fn()  # warm-up
    times = {k: [] for k in step}
    for _ in range(reps):  # interleaved: one batch of steps of each in turn
        for k, fn in step.items():
            t0 = now()
            for _ in range(steps):
                fn()
            times[k].append((now() - t0) / steps)
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            step["myops"]()
        wall = time.perf_counter() - t0
    events = prof.key_averages()
    mine = {e.key: e for e in events if e.key.startswith("myops::")}
    share = {k: e.self_cpu_time_total / 1e6 / wall for k, e in mine.items()}
    convs = sum(e.self_cpu_time_total for e in events if "conv" in e.key and e.key.startswith("aten::")) / 1e6 / wall
    out = {"step_ms_myops": statistics.median(times["myops"]) * 1e3,
           "step_ms_reference": statistics.median(times["reference"]) * 1e3,
           "speedup_vs_reference": statistics.median(r / m for r, m in zip(times["reference"], times["myops"])),
           "myops_share_of_step": sum(share.values()),
           "myops_share_by_op": share,
           "myops_calls_per_step": {k: e.count // steps for k, e in mine.items()},
           "aten_conv_share_of_step": convs}
    print(f"  step: myops {out['step_ms_myops']:.1f} ms, reference {out['step_ms_reference']:.1f} ms, "
          f"x{out['speedup_vs_reference']:.2f}; myops ops {out['myops_share_of_step']:.1%} of the step "
          f"({', '.join(f'{k} {v:.1%}' for k, v in share.items())}), aten conv* {convs:.1%}", flush=True)
    return out


# ------------------------------------------------------------------------------ output

def machine() -> dict:
    lib = ctypes.CDLL(str(myops.library_path()))
    lib.myops_cpu_isa.restype = ctypes.c_char_p
    info = {"torch": torch.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "aten_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "myops_cpu_isa": lib.myops_cpu_isa().decode(), "cpu": cpu_model(),
            "ATEN_CPU_CAPABILITY": os.environ.get("ATEN_CPU_CAPABILITY", ""),
            "THP_MEM_ALLOC_ENABLE": os.environ.get("THP_MEM_ALLOC_ENABLE", ""),
            "ONEDNN_MAX_CPU_ISA": os.environ.get("ONEDNN_MAX_CPU_ISA", os.environ.get("DNNL_MAX_CPU_ISA", "")),
            "MYOPS_LIBRARY": os.environ.get("MYOPS_LIBRARY", ""),
            "timer": "thread CPU time" if torch.get_num_threads() == 1 else "wall clock"}
    try:
        info["loadavg_at_start"] = open("/proc/loadavg").read().split()[:3]
    except OSError:
        pass
    return info


def plot(rows: list, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 0.28 * len(rows) + 1.5))
    colors = {"fwd": "tab:blue", "fwd+bwd": "tab:orange", "fwd+bwd+2bwd": "tab:green"}
    ax.barh(range(len(rows)), [r["speedup_vs_best_eager"] for r in rows], color=[colors[r["mode"]] for r in rows])
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{r['kind']} {r['filter']} {r['shape']} {r['mode']}" for r in rows], fontsize=7)
    ax.invert_yaxis()
    versus_compile = [(i, r["speedup_vs_compile"]) for i, r in enumerate(rows) if "speedup_vs_compile" in r]
    if versus_compile:
        ax.scatter([v for _, v in versus_compile], [i for i, _ in versus_compile], marker="x", color="black", s=18,
                   zorder=3, label="speed-up over torch.compile(reference)")
    ax.axvline(3.0, color="red", linewidth=0.8, label="target 3x")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("speed-up of myops.upfirdn2d over the best eager composition (median of interleaved repeats)")
    from matplotlib.patches import Patch

    # (one patch per mode: empty bars drew every mode's legend entry in the first colour)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + [Patch(color=c, label=mode) for mode, c in colors.items()], fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def markdown(result: dict) -> str:
    m, bw = result["machine"], result["bandwidth"]
    onednn = m.get("ONEDNN_MAX_CPU_ISA") or "its best for this CPU"
    lines = [f"`{result['command']}` — {m['cpu']}, ATen {m['aten_cpu_capability']}, myops {m['myops_cpu_isa']}, "
             f"oneDNN {onednn}, "
             f"{m['threads']} threads ({m['timer']}), torch {m['torch']}, {m['date']}, load average {m.get('loadavg_at_start')}, "
             f"x {result.get('dtype', 'float32')}, {result.get('memory_format', 'contiguous')}", "",
             f"Bandwidth: torch.add(out=) {bw['add_GBps']:.1f} GB/s, copy_ {bw['copy_GBps']:.1f} GB/s", "",
             "| op | filter | input | mode | myops | best eager | speed-up | torch.compile(reference) | speed-up | "
             "GB/s (share of add bw) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        gb = f"{r['myops_GBps']:.1f} ({r['fraction_of_bandwidth']:.0%})" if "myops_GBps" in r else ""
        comp = (f"{r['compile_ms']:.3f} ms | {r['speedup_vs_compile']:.2f}x" if "compile_ms" in r
                else "n/a | " if result.get("compile") else " | ")
        lines.append(f"| {r['kind']} | {r['filter']} | {r['shape']} | {r['mode']} | {r['myops_ms']:.3f} ms | "
                     f"{r['best_eager']} {r['best_eager_ms']:.3f} ms | {r['speedup_vs_best_eager']:.2f}x | {comp} | {gb} |")
    s = result.get("training_step")
    if s:
        lines += ["", f"Training step (benchmarks/stylegan2_step.py, 64x64, batch 4): myops {s['step_ms_myops']:.1f} ms, "
                      f"reference {s['step_ms_reference']:.1f} ms, speed-up {s['speedup_vs_reference']:.2f}x; "
                      f"myops ops {s['myops_share_of_step']:.1%} of the step's time "
                      f"({', '.join(f'{k} {v:.1%}' for k, v in s['myops_share_by_op'].items())}); "
                      f"aten conv* {s['aten_conv_share_of_step']:.1%}"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer shapes, shorter timings")
    parser.add_argument("--reps", type=int, default=None, help="interleaved repeats (default 3, quick 2)")
    parser.add_argument("--no-step", action="store_true", help="skip the training step")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (1: CPU-time timer)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32",
                        help="x's dtype (the training step is float32: skipped for the others)")
    parser.add_argument("--channels-last", action="store_true",
                        help="x in channels_last (the training step is NCHW: skipped)")
    parser.add_argument("--channel-sweep", action="store_true",
                        help="[4, C, 128, 128] for C in CHANNEL_SWEEP instead of StyleGAN2's shapes (no training step)")
    parser.add_argument("--compile", action="store_true",
                        help="also time torch.compile of myops.reference (fwd, fwd+bwd; compiles every shape)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    reps = args.reps or (2 if args.quick else 3)
    t = 0.05 if args.quick else 0.1
    torch.manual_seed(0)

    settle_allocator()
    info = machine()
    print(info, flush=True)
    bw = bandwidth(reps, t)
    print(f"  bandwidth: torch.add(out=) {bw['add_GBps']:.1f} GB/s, copy_ {bw['copy_GBps']:.1f} GB/s", flush=True)
    rows = []
    dtype = getattr(torch, args.dtype)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    if not args.channel_sweep:
        rows += case_rows("down", [1, 64, 64, 64] if args.quick else [4, 256, 64, 64], F1, "sep", reps, t,
                          bw["add_GBps"], dtype, fmt, args.compile)
    for kind, shape in SWEEP_SHAPES if args.channel_sweep else QUICK_SHAPES if args.quick else SHAPES:
        rows += case_rows(kind, shape, F2, "2d", reps, t, bw["add_GBps"], dtype, fmt, args.compile)
    result = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "machine": info, "bandwidth": bw,
              "dtype": args.dtype, "memory_format": "channels_last" if args.channels_last else "contiguous",
              "compile": args.compile, "rows": rows}
    if not args.no_step and args.dtype == "float32" and not args.channels_last and not args.channel_sweep:
        result["training_step"] = training_step(reps=3 if args.quick else 5, steps=1 if args.quick else 2)

    args.out.mkdir(parents=True, exist_ok=True)
    tag = (f"upfirdn2d-speed-{info['myops_cpu_isa'].lower()}-{info['threads']}t" + ("-thp" if info["THP_MEM_ALLOC_ENABLE"] else "")
           + ("" if args.dtype == "float32" else f"-{args.dtype}") + ("-channels-last" if args.channels_last else "")
           + ("-compile" if args.compile else "") + ("-channel-sweep" if args.channel_sweep else "")
           + (f"-onednn-{info['ONEDNN_MAX_CPU_ISA'].lower()}" if info["ONEDNN_MAX_CPU_ISA"] else "")
           + ("-quick" if args.quick else ""))
    (args.out / f"{tag}.json").write_text(json.dumps(result, indent=1))
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(args.out / f"{tag}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    (args.out / f"{tag}.md").write_text(markdown(result))
    plot(rows, args.out / f"{tag}.png")
    print(f"wrote {args.out}/{tag}.{{json,csv,md,png}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
