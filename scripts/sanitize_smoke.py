"""Every myops op on the CPU, driven from the op table (tests/op_db.py): every sample in every
dtype the op takes, forward, backward and double backward (where the op is differentiable
twice), the large samples (the CPU loops' vector body, tail and threads) forward and backward,
every error case (it must raise its exception type), and, on the small samples, the C++ vmap
batching rules (torch.vmap with functorch's per-sample fallback off, so that a missing rule
raises; the backward ops are in the table, so their rules too), a backward pass with
autograd.grad(is_grads_batched=True) (which torch 2.11 runs through its legacy vmap prototype:
the backward ops once per sample there, not through their rules), and the forward-mode
tangent formulas (torch.autograd.forward_ad dual inputs; for the ops differentiable twice also
the backward ops' tangents, a backward pass on dual inputs). Values are not compared with the
references (the test suite does that): this script only drives the C++ code, for `make
sanitize`, which runs it under ASan + UBSan with a sanitized libmyops.so:

    LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \\
    MYOPS_LIBRARY=build/sanitize/libmyops.so python scripts/sanitize_smoke.py

A sanitizer finding aborts the process (non-zero exit status, report on stderr).
Exit status: 0 all ran, 1 a Python-level failure (reported per op).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

import torch
import torch.autograd.forward_ad as fwAD

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import myops  # noqa: E402  (loads $MYOPS_LIBRARY)
from helpers import stack_batched  # noqa: E402
from op_db import OPS, as_tuple, clone_args  # noqa: E402


def _grad_inputs(args):
    return [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]


def run_sample(op, args, order):
    """op(*args), then `order` rounds of differentiation (0: forward only)."""
    out = [o for o in as_tuple(op.op(*args)) if isinstance(o, torch.Tensor) and o.is_floating_point()]
    inputs = _grad_inputs(args)
    if order == 0 or not inputs or not any(o.requires_grad for o in out):
        return
    out = [o for o in out if o.requires_grad]
    grads = torch.autograd.grad(out, inputs, [torch.randn_like(o) for o in out], allow_unused=True,
                                create_graph=order > 1)
    if order > 1:
        grads = [g for g in grads if g is not None and g.requires_grad]
        if grads:
            torch.autograd.grad(grads, inputs, [torch.randn_like(g) for g in grads], allow_unused=True)


V = 2  # vmap batch size


def _batched(args, dims):
    """args with the tensors at `dims` (index -> in_dim) stacked V times at that dim (the
    sample's values and their negation), and the in_dims for torch.vmap."""
    return stack_batched(args, dims, lambda a: [a, -a])


def run_vmap(op, args):
    """torch.vmap over the op three times: every tensor batched at dim 0, then only the first
    tensor (and add_out's out) at its last dim, the others shared, then every tensor with an
    empty batch. Returns the calls made."""
    tensors = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)
               and next(j for j, b in enumerate(args) if b is a) == i]
    if not tensors:
        return 0
    fn = op.op
    if op.out_arg is not None:
        def fn(*a):
            op.op(*a)
            return a[op.out_arg]
    first_only = {tensors[0]: -1}
    if op.out_arg is not None:
        out_pos = next(j for j, b in enumerate(args) if b is args[op.out_arg])
        first_only[out_pos] = -1
    for dims in ({i: 0 for i in tensors}, first_only):
        batched, in_dims = _batched(args, dims)
        torch.vmap(fn, in_dims=in_dims)(*batched)
    # An empty batch of every tensor: the rules' stand-ins for one sample (Arg::sample).
    batched, in_dims = _batched(args, {i: 0 for i in tensors})
    torch.vmap(fn, in_dims=in_dims)(*[a.narrow(0, 0, 0) if d is not None else a for a, d in zip(batched, in_dims)])
    return 3


def run_forward_ad(op, args, twice):
    """The op on dual tensors (a tangent at every argument that requires grad); `twice`: the
    same inputs also requiring grad and a backward pass on them, whose backward ops then run
    their own tangent formulas (forward over reverse, as torch.func.hessian). Returns the calls."""
    positions = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.requires_grad]
    if not positions:
        return 0
    calls = 0
    for requires_grad in ((False, True) if twice else (False,)):
        with fwAD.dual_level():
            full = list(args)
            for i in positions:
                primal = args[i].detach().clone().requires_grad_(requires_grad)
                full[i] = fwAD.make_dual(primal, torch.randn_like(primal))
            outs = [o for o in as_tuple(op.op(*full)) if isinstance(o, torch.Tensor) and o.is_floating_point()]
            for o in outs:
                fwAD.unpack_dual(o).tangent  # noqa: B018  (computed by the op; read, not checked)
            if requires_grad and any(o.requires_grad for o in outs):
                outs = [o for o in outs if o.requires_grad]
                inputs = [full[i] for i in positions]
                # create_graph: the backward that hessian's jacrev runs (lltm's differentiable one;
                # without it lltm runs lltm_backward, which has no tangent and says so).
                grads = torch.autograd.grad(outs, inputs, [torch.randn_like(o) for o in outs], allow_unused=True,
                                            create_graph=True)
                for g in grads:
                    if g is not None:
                        fwAD.unpack_dual(g).tangent  # noqa: B018
        calls += 1
    return calls


def run_batched_backward(op, args):
    """autograd.grad(..., is_grads_batched=True) over V output gradients (torch's legacy vmap
    prototype: its per-sample fallback calls the backward ops). Returns the calls made."""
    inputs = _grad_inputs(args)
    outs = [o for o in as_tuple(op.op(*args)) if isinstance(o, torch.Tensor) and o.requires_grad]
    if not inputs or not outs:
        return 0
    torch.autograd.grad(outs, inputs, [torch.randn(V, *o.shape, dtype=o.dtype) for o in outs],
                        is_grads_batched=True, allow_unused=True)
    return 1


def smoke(op):
    """Every call of the op this script makes; returns their count by kind."""
    calls = Counter()
    order = 2 if op.twice_differentiable and op.differentiable else 1 if op.differentiable else 0
    fallback = torch._C._functorch._is_vmap_fallback_enabled()
    for dtype in op.dtypes:
        for samples in (op.samples, op.large_samples):
            for requires_grad in ((False, True) if order else (False,)):
                for s in samples("cpu", dtype, requires_grad):
                    args = clone_args(s.args) if op.out_arg is not None else s.args
                    run_sample(op, args, order if requires_grad else 0)
                    calls["eager"] += 1
                    if samples is op.large_samples:
                        continue
                    # functorch's per-sample fallback off: an op without a batching rule raises.
                    torch._C._functorch._set_vmap_fallback_enabled(False)
                    try:
                        if not requires_grad:
                            calls["vmap"] += run_vmap(op, clone_args(s.args))
                        else:
                            calls["vmap"] += run_batched_backward(op, s.args)
                    finally:
                        torch._C._functorch._set_vmap_fallback_enabled(fallback)
                    if requires_grad:
                        calls["forward_ad"] += run_forward_ad(op, s.args, order == 2)
    for case in op.errors("cpu"):
        try:
            op.op(*case.args, **case.kwargs)
        except case.exc_type:
            calls["errors"] += 1
        else:
            raise AssertionError(f"error case {case.name}: no {case.exc_type.__name__} raised")
    return calls


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--op", action="append", help="default: every op in the table")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    print(f"sanitize_smoke: torch {torch.__version__}, myops {myops.__version__} ({myops.library_path()})",
          flush=True)
    failures, total, ops, dtypes = 0, Counter(), 0, set()
    for op in OPS:
        if args.op and op.name not in args.op:
            continue
        start = time.perf_counter()
        try:
            calls = smoke(op)
            total += calls
            ops += 1
            dtypes.update(op.dtypes)
            status = f"ok ({sum(calls.values())} calls: {', '.join(f'{k} {v}' for k, v in calls.items())})"
        except Exception:  # noqa: BLE001  (report every op, then fail)
            failures += 1
            status = "FAILED\n" + traceback.format_exc()
        print(f"  {op.name:28} {time.perf_counter() - start:6.2f} s  {status}", flush=True)
    print(f"sanitize_smoke: {sum(total.values())} calls ({', '.join(f'{k} {v}' for k, v in total.items())}), "
          f"{ops} ops, {len(dtypes)} dtypes", flush=True)
    print(f"sanitize_smoke: {'all ok' if not failures else f'{failures} FAILED'}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
