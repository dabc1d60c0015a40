"""muladd / mul / add / add_out against eager PyTorch, torch.compile and copy_ bandwidth, plus
the per-call overhead of the dispatcher path on 1-element tensors."""

from __future__ import annotations

import torch

import myops
from myops import reference
from common import Case


def cases(device: str, quick: bool = False):
    n = (1 << 20) if quick else (1 << 24)  # 16M elements: far beyond the caches
    label = f"{n >> 20}M"
    for dtype in (torch.float32, torch.bfloat16):
        a = torch.randn(n, device=device, dtype=dtype)
        b = torch.randn(n, device=device, dtype=dtype)
        out = torch.empty_like(a)
        size = a.element_size() * n
        dt = str(dtype).replace("torch.", "")
        compiled_muladd = torch.compile(reference.muladd, fullgraph=True)
        yield Case("elementwise", f"muladd {dt} {label}", lambda: myops.muladd(a, b, 0.5),
                   lambda: reference.muladd(a, b, 0.5), lambda: compiled_muladd(a, b, 0.5),
                   bytes_moved=3 * size, device=device)
        if dtype == torch.float32:
            yield Case("elementwise", f"mul {dt} {label}", lambda: myops.mul(a, b), lambda: a * b,
                       bytes_moved=3 * size, device=device)
            yield Case("elementwise", f"add_out {dt} {label}", lambda: myops.add_out(a, b, out),
                       lambda: torch.add(a, b, out=out), bytes_moved=3 * size, device=device)
    # Per-call overhead: what a call costs when there is no work at all. Two baselines: torch.add
    # (ATen's generated Python binding) and torch.ops.aten.add.Tensor, which reaches ATen through
    # the same torch.ops Python path as every custom op, so it isolates our C++ side.
    one_a, one_b = torch.randn(1, device=device), torch.randn(1, device=device)
    ours = torch.ops.myops.add.default
    yield Case("elementwise", "add 1-element vs torch.add", lambda: ours(one_a, one_b),
               lambda: torch.add(one_a, one_b), device=device)
    yield Case("elementwise", "add 1-element vs torch.ops.aten.add", lambda: ours(one_a, one_b),
               lambda: torch.ops.aten.add.Tensor(one_a, one_b), device=device)
