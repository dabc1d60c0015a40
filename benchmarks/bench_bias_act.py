"""bias_act on StyleGAN's layer shape (x = [8, 512, 64, 64], act='lrelu', clamp=256, b given)
against the eager reference, torch.compile(reference) and copy_ bandwidth: forward in every
float dtype, forward+backward (x and b require grad) in float32."""

from __future__ import annotations

import torch

import myops
from myops import reference
from common import Case

ARGS = dict(dim=1, act="lrelu", clamp=256)


def _forward_backward(fn, x, b, grad):
    def run():
        y = fn(x, b, **ARGS)
        return torch.autograd.grad(y, (x, b), grad)
    return run


def cases(device: str, quick: bool = False):
    shape = (2, 128, 32, 32) if quick else (8, 512, 64, 64)
    label = "x".join(map(str, shape))
    compiled_ref = torch.compile(reference.bias_act, fullgraph=True)
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        dt = str(dtype).replace("torch.", "")
        x = torch.randn(shape, device=device, dtype=dtype)
        b = torch.randn(shape[1], device=device, dtype=dtype)
        size = x.numel() * x.element_size()
        yield Case("bias_act", f"bias_act fwd {dt} {label}", lambda x=x, b=b: myops.bias_act(x, b, **ARGS),
                   lambda x=x, b=b: reference.bias_act(x, b, **ARGS),
                   lambda x=x, b=b: compiled_ref(x, b, **ARGS),
                   bytes_moved=2 * size, device=device)  # read x, write y
    # Forward + backward: y, then dx and db for a given dy (what a training step pays).
    x = torch.randn(shape, device=device, requires_grad=True)
    b = torch.randn(shape[1], device=device, requires_grad=True)
    grad = torch.randn(shape, device=device)
    size = x.numel() * x.element_size()
    # Least traffic: forward reads x and writes y; backward reads dy and x, writes dx, and the
    # db reduction reads dx again.
    yield Case("bias_act", f"bias_act fwd+bwd float32 {label}", _forward_backward(myops.bias_act, x, b, grad),
               _forward_backward(reference.bias_act, x, b, grad),
               _forward_backward(compiled_ref, x, b, grad),
               bytes_moved=6 * size, device=device)
