"""Shared benchmark machinery: every op family's script lists Cases; run.py times them.

Each case is timed side by side in one process (the machine is shared and noisy, so only
ratios measured together mean something): myops, the eager reference, torch.compile of the
reference, and a `copy_` moving the same number of bytes (the memory-bandwidth ceiling).
Timings are medians of torch.utils.benchmark's blocked runs.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.utils.benchmark as tbench


@dataclass
class Case:
    family: str                    # e.g. "elementwise"
    name: str                      # e.g. "muladd fp32 16M"
    ours: Callable[[], object]     # runs the myops op once
    eager: Callable[[], object]    # runs the pure-PyTorch reference once
    compiled: Callable[[], object] | None = None  # torch.compile(reference); None: not measured
    bytes_moved: int = 0           # bytes the op must read + write at least (for GB/s and copy_)
    device: str = "cpu"
    notes: dict = field(default_factory=dict)


def median_seconds(fn: Callable[[], object], min_run_time: float = 1.0) -> float:
    timer = tbench.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def cpu_seconds(fn: Callable[[], object], min_run_time: float) -> float:
    """Median of blocked runs timed with the process's CPU time (not wall time: the machine is
    shared, and a descheduled process does not count)."""
    return tbench.Timer(stmt="fn()", globals={"fn": fn}, timer=time.process_time).blocked_autorange(
        min_run_time=min_run_time).median


def interleaved_cpu_seconds(variants: dict, rounds: int, min_run_time: float) -> dict:
    """{name: [cpu_seconds per round]}, the variants timed one after the other in each round, so
    that the machine's drift hits them alike."""
    samples = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            samples[name].append(cpu_seconds(fn, min_run_time))
    return samples


def rotating_thread_us(variants: dict, rounds: int, calls: int) -> dict:
    """{name: [microseconds per call, one per round]} for calls that take a few us: each round
    times a block of `calls` calls of every variant with the calling thread's CPU time, the
    order rotating from round to round (none always first after another's garbage)."""
    samples = {name: [] for name in variants}
    names = list(variants)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn = variants[name]
            start = time.thread_time()
            for _ in range(calls):
                fn()
            samples[name].append((time.thread_time() - start) / calls * 1e6)
    return samples


def cpu_model() -> str:
    """/proc/cpuinfo's model name; where there is none, what `platform` knows (e.g. "x86_64")."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_tagged_json(folder, stem: str, tag: str, result: dict):
    """Writes result to folder/STEM[-TAG].json (the folder made if missing); returns the path."""
    path = Path(folder) / (stem + (f"-{tag}" if tag else "") + ".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    return path


def median_ratio(samples: dict, base: str, ours: str) -> float:
    """Median over interleaved_cpu_seconds' rounds of base's time / ours' (> 1: ours faster)."""
    return statistics.median(s / m for s, m in zip(samples[base], samples[ours]))


def cpu_run_meta(script: str, args, env_keys=("ATEN_CPU_CAPABILITY",), **extra) -> dict:
    """What a CPU benchmark script records next to its results: the command that reproduces the
    run (the environment variables in env_keys that are set, the script, its --quick, --threads
    and --tag), the CPU model, the ISA ATen and myops picked, threads, torch, date, and `extra`."""
    from myops._cli import selected_cpu_isa

    command = "".join(f"{k}={os.environ[k]} " for k in env_keys if k in os.environ)
    command += f"python benchmarks/{script}"
    command += (" --quick" if args.quick else "") + (f" --threads {args.threads}" if args.threads != 1 else "")
    command += " --compile" if getattr(args, "compile", False) else ""
    command += f" --tag {args.tag}" if args.tag else ""
    return {"command": command, "cpu": cpu_model(),
            "isa": {"aten": torch.backends.cpu.get_cpu_capability(), "myops": selected_cpu_isa()},
            "threads": args.threads, "torch": torch.__version__,
            "date": datetime.datetime.now().isoformat(" ", "minutes"), **extra}


def cpu_run_sentence(meta: dict) -> str:
    """The results page's line on how the numbers were taken (from cpu_run_meta's record)."""
    return (f"`{meta['command']}` on {meta['cpu']} (ATen ISA {meta['isa']['aten']}, myops {meta['isa']['myops']}), "
            f"{meta['threads']} thread(s), torch {meta['torch']}, {meta['date']}. Process CPU time, medians; "
            "ratios > 1: myops faster.")


def copy_baseline(bytes_moved: int, device: str) -> Callable[[], object]:
    """A copy_ that reads and writes bytes_moved bytes in total (half read, half written)."""
    n = max(bytes_moved // 2 // 4, 1)
    src = torch.randn(n, device=device)
    dst = torch.empty_like(src)
    return lambda: dst.copy_(src)


def synchronized(fn: Callable[[], object], device: str) -> Callable[[], object]:
    if device != "cuda":
        return fn

    def run():
        out = fn()
        torch.cuda.synchronize()
        return out
    return run


def measure(case: Case, min_run_time: float = 1.0) -> dict:
    """Times one case; returns a flat row (seconds, ratios, GB/s)."""
    variants = {"ours": case.ours, "eager": case.eager}
    if case.compiled is not None:
        case.compiled()  # compile outside the timing
        variants["compiled"] = case.compiled
    if case.bytes_moved:
        variants["copy"] = copy_baseline(case.bytes_moved, case.device)
    times = {k: median_seconds(synchronized(fn, case.device), min_run_time) for k, fn in variants.items()}
    row = {"family": case.family, "case": case.name, "device": case.device,
           "threads": torch.get_num_threads(), **{f"{k}_s": v for k, v in times.items()}}
    row["speedup_vs_eager"] = times["eager"] / times["ours"]
    if "compiled" in times:
        row["speedup_vs_compiled"] = times["compiled"] / times["ours"]
    if "copy" in times:
        row["ours_GBps"] = case.bytes_moved / times["ours"] / 1e9
        row["copy_GBps"] = case.bytes_moved / times["copy"] / 1e9
        row["fraction_of_copy_bandwidth"] = times["copy"] / times["ours"]
    row.update(case.notes)
    return row


# ------------------------------------------------------------ ops of one image input (x -> y)

def _rss_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def peak_extra_of_call(fn: Callable, x: torch.Tensor) -> int:
    """The peak resident memory of one call fn(x) above what was resident just before it (the
    inputs, torch, the library), the result included. Meant for a fresh process (see
    peak_extra_bytes)."""
    import gc

    fn(x)  # warm-up: one-time allocations (thread pool, ...) are not the op's
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM, the peak resident set
    before = _rss_bytes("VmRSS")
    out = fn(x)
    peak = _rss_bytes("VmHWM")
    del out
    return peak - before


def peak_extra_bytes(module: str, probe_args: str) -> int | None:
    """`module._probe(probe_args)` (a peak_extra_of_call) in a subprocess (Linux only; None
    elsewhere or on failure). glibc's malloc is told to map every block >= 64 KiB on its own
    (MALLOC_MMAP_THRESHOLD_), so freed memory leaves the resident set at once and the peak is
    what the call itself held at one time; torch's CPU allocator keeps no cache of its own."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    if not sys.platform.startswith("linux"):
        return None
    code = f"import {module} as b; print(b._probe({probe_args}))"
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        return None
    return int(result.stdout.strip().splitlines()[-1])


def image_op_cases(family: str, name: str, x: torch.Tensor, ours: Callable, ref: Callable, device: str,
                   tol: float, peak_extra: Callable[[str], int | None] | None = None):
    """The two cases of an op of one image x: forward, and forward + backward (x's gradient for
    a fixed output gradient), each against the eager reference and torch.compile of it. Bytes:
    x read + the output written (twice for forward + backward). The forward row notes the
    output's size and, on the CPU, peak_extra(who) for who in ("ours", "eager")."""
    compiled = torch.compile(ref, fullgraph=True)
    out = ours(x)
    torch.testing.assert_close(out, ref(x), atol=tol, rtol=tol)
    moved = (x.numel() + out.numel()) * x.element_size()
    notes = {"output_MB": out.numel() * out.element_size() / 2**20}
    if device == "cpu" and peak_extra is not None:
        for who in ("ours", "eager"):
            extra = peak_extra(who)
            notes[f"peak_extra_MB_{who}"] = None if extra is None else round(extra / 2**20, 2)
    yield Case(family, f"{name} fwd", lambda: ours(x), lambda: ref(x), lambda: compiled(x),
               bytes_moved=moved, device=device, notes=notes)

    xg = x.detach().clone().requires_grad_()
    g = torch.randn_like(out)

    def fwd_bwd(fn):
        def run():
            xg.grad = None
            fn(xg).backward(g)
        return run
    yield Case(family, f"{name} fwd+bwd", fwd_bwd(ours), fwd_bwd(ref), fwd_bwd(compiled),
               bytes_moved=2 * moved, device=device)
