"""Shared benchmark machinery: every op family's script lists Cases; run.py times them.

Each case is timed side by side in one process (the machine is shared and noisy, so only
ratios measured together mean something): myops, the eager reference, torch.compile of the
reference, and a `copy_` moving the same number of bytes (the memory-bandwidth ceiling).
Timings are medians of torch.utils.benchmark's blocked runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
