"""A small run of every myops op on CUDA: forward and backward in float32, float64, float16 and
bfloat16, each result checked (loosely) against myops.reference evaluated in float64.

Small tensors and few launches, so that it runs in seconds under compute-sanitizer (memcheck,
racecheck, synccheck): scripts/gpu_check.sh does that. Alone:

    python scripts/gpu_smoke.py [--dtype float16 ...] [--op lltm ...] [--device cuda:1]

Calls torch.ops.myops.{muladd,mul,add,add_out,bias_act,bias_act_backward,upfirdn2d,
upfirdn2d_stacked,lltm,lltm_cell,lltm_cell_backward,lltm_gates_backward,filtered_lrelu}; the
backward passes run the registered backward ops (bias_act_backward, upfirdn2d transposed,
lltm_backward, lltm_cell_backward, lltm_cell_double_backward, filtered_lrelu_backward) through
the C++ autograd formulas. Uses the library `import myops` finds
($MYOPS_LIBRARY, or the installed package). Prints one line per op and dtype.
Exit status: 0 all ok, 1 a mismatch or an error, 2 no CUDA device.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

import torch

import myops  # loads libmyops.so ($MYOPS_LIBRARY or the package's own)
from myops import reference

DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}
# (atol, rtol) against the float64 reference: loose on purpose (a smoke test for gross errors;
# the exact tolerances are the test suite's job).
TOLERANCES = {torch.float64: (1e-9, 1e-7), torch.float32: (1e-4, 1e-4), torch.float16: (2e-2, 2e-2),
              torch.bfloat16: (1e-1, 5e-2)}


def rand(*shape, device, dtype, grad=True, scale=1.0):
    x = (torch.randn(*shape, device=device, dtype=torch.float64) * scale).to(dtype)
    return x.requires_grad_(grad)


def check(name, ours, ref, dtype):
    atol, rtol = TOLERANCES[dtype]
    ours = ours if isinstance(ours, (tuple, list)) else (ours,)
    ref = ref if isinstance(ref, (tuple, list)) else (ref,)
    for i, (o, r) in enumerate(zip(ours, ref)):
        if o is None and r is None:
            continue
        assert o is not None and r is not None, f"{name}[{i}]: one side is None"
        torch.testing.assert_close(o.double(), r.double(), atol=atol, rtol=rtol, msg=lambda m: f"{name}[{i}]: {m}")


def fwd_bwd(op, ref_op, inputs, dtype, name, n_outputs=1):
    """Runs op(*inputs) and its backward with random output gradients; compares outputs and
    input gradients with ref_op evaluated on float64 copies."""
    tensors = [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    out = op(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    grads_out = [torch.randn_like(o) for o in outs[:n_outputs]]
    got = torch.autograd.grad(outs[:n_outputs], tensors, grads_out)

    ref_inputs = [t.detach().double().requires_grad_(t.requires_grad) if isinstance(t, torch.Tensor) else t
                  for t in inputs]
    ref_tensors = [t for t in ref_inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    ref_out = ref_op(*ref_inputs)
    ref_outs = ref_out if isinstance(ref_out, tuple) else (ref_out,)
    want = torch.autograd.grad(ref_outs[:n_outputs], ref_tensors, [g.double() for g in grads_out])
    check(f"{name} forward", outs[:n_outputs], ref_outs[:n_outputs], dtype)
    check(f"{name} backward", got, want, dtype)


def smoke_elementwise(device, dtype):
    a = rand(4, 3, 33, device=device, dtype=dtype)
    b = rand(3, 1, device=device, dtype=dtype)
    fwd_bwd(torch.ops.myops.muladd, reference.muladd, (a, b, 0.5), dtype, "muladd")
    fwd_bwd(torch.ops.myops.mul, reference.mul, (a, b), dtype, "mul")
    # a non-contiguous operand
    fwd_bwd(torch.ops.myops.add, reference.add, (a.transpose(1, 2), b.t()), dtype, "add")
    out = torch.empty(4, 3, 33, device=device, dtype=dtype)
    torch.ops.myops.add_out(a.detach(), b.detach(), out)
    check("add_out", out, a.detach().double() + b.detach().double(), dtype)


def smoke_bias_act(device, dtype):
    x = rand(2, 16, 5, 7, device=device, dtype=dtype)
    b = rand(16, device=device, dtype=dtype)
    for act, alpha, gain, clamp in (("lrelu", 0.2, None, None), ("swish", None, None, None),
                                    ("tanh", None, 2.0, 64.0)):
        fwd_bwd(torch.ops.myops.bias_act, reference.bias_act, (x, b, 1, act, alpha, gain, clamp), dtype,
                f"bias_act[{act}]")
    # bias_act_backward directly, order 2 (what double backward runs)
    grad = rand(2, 16, 5, 7, device=device, dtype=dtype, grad=False)
    ours = torch.ops.myops.bias_act_backward(grad, x.detach(), b.detach(), 1, "elu", None, None, None, 2)
    want = reference.bias_act_backward(grad.double(), x.detach().double(), b.detach().double(), 1, "elu",
                                       None, None, None, 2)
    check("bias_act_backward[elu, order 2]", ours, want, dtype)


def smoke_upfirdn2d(device, dtype):
    f_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    f1 = torch.tensor([1.0, 3.0, 3.0, 1.0], device=device, dtype=f_dtype) / 8
    f2 = torch.outer(f1, f1)
    x = rand(2, 3, 9, 10, device=device, dtype=dtype)
    op = torch.ops.myops.upfirdn2d

    def ref(x, f, up, down, padding, flip, gain):
        return reference.upfirdn2d(x, f.double(), up, down, padding, flip, gain)

    fwd_bwd(op, ref, (x, f1, [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0), dtype, "upfirdn2d[up2, 1-D]")
    fwd_bwd(op, ref, (x, f2, [1, 1], [2, 2], [1, 1, 1, 1], True, 1.0), dtype, "upfirdn2d[down2, 2-D]")
    x_cl = rand(2, 3, 9, 10, device=device, dtype=dtype, grad=False).contiguous(memory_format=torch.channels_last)
    fwd_bwd(op, ref, (x_cl.requires_grad_(), f1, [2, 1], [1, 2], [-1, 2, 1, 0], False, 1.0), dtype,
            "upfirdn2d[channels_last, mixed]")
    fs = torch.stack([f2, -f2.t()])  # one filter per entry (upfirdn2d's vmap rule for batched filters)

    def ref_stacked(x, f, *args):
        return reference.upfirdn2d_stacked(x, f.double(), *args)
    fwd_bwd(torch.ops.myops.upfirdn2d_stacked, ref_stacked,
            (torch.stack([x.detach(), -x.detach()]).requires_grad_(), fs, [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0),
            dtype, "upfirdn2d_stacked[up2, 2-D]")


def smoke_lltm(device, dtype):
    batch, features, state = 5, 7, 9
    k = state + features
    inputs = (rand(batch, features, device=device, dtype=dtype),
              rand(3 * state, k, device=device, dtype=dtype, scale=1 / k ** 0.5),
              rand(3 * state, device=device, dtype=dtype, scale=0.5),
              rand(batch, state, device=device, dtype=dtype),
              rand(batch, state, device=device, dtype=dtype))
    fwd_bwd(torch.ops.myops.lltm, reference.lltm, inputs, dtype, "lltm", n_outputs=2)
    # the cell alone (lltm_cell, whose backward is lltm_cell_backward), and the double backward's
    # ops: lltm_cell_backward (and, as its backward, lltm_cell_double_backward)
    cell = (rand(batch, state, device=device, dtype=dtype), rand(batch, state, device=device, dtype=dtype),
            rand(batch, 3 * state, device=device, dtype=dtype), rand(batch, state, device=device, dtype=dtype))
    fwd_bwd(torch.ops.myops.lltm_cell, reference.lltm_cell, cell[2:], dtype, "lltm_cell", n_outputs=2)
    fwd_bwd(torch.ops.myops.lltm_cell_backward, reference.lltm_cell_backward, cell, dtype, "lltm_cell_backward",
            n_outputs=2)
    # lltm_gates_backward (lltm_backward's gate pass; what its vmap rule calls), from a forward's gates
    _, new_cell, gates, _ = torch.ops.myops.lltm_forward(*(t.detach() for t in inputs))
    grads = (rand(batch, state, device=device, dtype=dtype, grad=False),
             rand(batch, state, device=device, dtype=dtype, grad=False))
    ours = torch.ops.myops.lltm_gates_backward(*grads, new_cell, gates)
    want = reference.lltm_gates_backward(*(t.double() for t in (*grads, new_cell, gates)))
    check("lltm_gates_backward", ours, want, dtype)


def smoke_filtered_lrelu(device, dtype):
    f_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    fs = myops.setup_filter([1.0, 3.0, 3.0, 1.0], device=device, separable=True).to(f_dtype)
    f2 = torch.outer(fs, fs)
    x = rand(2, 3, 9, 10, device=device, dtype=dtype)
    b = rand(3, device=device, dtype=dtype)
    op = torch.ops.myops.filtered_lrelu

    def ref(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip):
        fu, fd = (None if f is None else f.double() for f in (fu, fd))
        return reference.filtered_lrelu(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip)

    # StyleGAN3's layer: up 2, down 2, separable filters, bias (backward: filtered_lrelu_backward)
    fwd_bwd(op, ref, (x, fs, fs, b, 2, 2, [2, 1, 2, 1], 2 ** 0.5, 0.2, None, False), dtype,
            "filtered_lrelu[up2 down2, 1-D, b]")
    # 2-D filters, a clamp well above the values (no activation at the clamp's edge), flipped
    fwd_bwd(op, ref, (x, f2, None, b, 2, 1, [1, 2, 2, 1], 1.0, 0.1, 64.0, True), dtype,
            "filtered_lrelu[up2, 2-D, clamp]")


OPS = {"elementwise": smoke_elementwise, "bias_act": smoke_bias_act, "upfirdn2d": smoke_upfirdn2d, "lltm": smoke_lltm,
       "filtered_lrelu": smoke_filtered_lrelu}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dtype", choices=DTYPES, action="append", help="default: all four")
    parser.add_argument("--op", choices=OPS, action="append", help="default: every family")
    parser.add_argument("--device", default="cuda", help="default: cuda (cpu: to check this script itself)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_smoke: no CUDA device: nothing to check", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"gpu_smoke: {name}, torch {torch.__version__}, myops {myops.__version__} ({myops.library_path()})",
          flush=True)
    failures = 0
    for family in args.op or OPS:
        for dtype_name in args.dtype or DTYPES:
            start = time.perf_counter()
            try:
                OPS[family](device, DTYPES[dtype_name])
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                status = "ok"
            except Exception:  # noqa: BLE001  (report every family, then fail)
                failures += 1
                status = "FAILED\n" + traceback.format_exc()
            print(f"  {family:14} {dtype_name:9} {time.perf_counter() - start:6.2f} s  {status}", flush=True)
    print(f"gpu_smoke: {'all ok' if not failures else f'{failures} FAILED'}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
