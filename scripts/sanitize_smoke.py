"""Every myops op on the CPU, driven from the op table (tests/op_db.py): every sample in every
dtype the op takes, forward, backward and double backward (where the op is differentiable
twice), the large samples (the CPU loops' vector body, tail and threads) forward and backward,
and every error case (it must raise its exception type). Values are not compared with the
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
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import myops  # noqa: E402  (loads $MYOPS_LIBRARY)
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


def smoke(op):
    calls = 0
    order = 2 if op.twice_differentiable and op.differentiable else 1 if op.differentiable else 0
    for dtype in op.dtypes:
        for samples in (op.samples, op.large_samples):
            for requires_grad in ((False, True) if order else (False,)):
                for s in samples("cpu", dtype, requires_grad):
                    args = clone_args(s.args) if op.out_arg is not None else s.args
                    run_sample(op, args, order if requires_grad else 0)
                    calls += 1
    for case in op.errors("cpu"):
        try:
            op.op(*case.args, **case.kwargs)
        except case.exc_type:
            calls += 1
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
    failures = 0
    for op in OPS:
        if args.op and op.name not in args.op:
            continue
        start = time.perf_counter()
        try:
            status = f"ok ({smoke(op)} calls)"
        except Exception:  # noqa: BLE001  (report every op, then fail)
            failures += 1
            status = "FAILED\n" + traceback.format_exc()
        print(f"  {op.name:28} {time.perf_counter() - start:6.2f} s  {status}", flush=True)
    print(f"sanitize_smoke: {'all ok' if not failures else f'{failures} FAILED'}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
