"""lltm: forward + backward (and forward alone, without grad) against the pure-PyTorch
reference in eager mode and under torch.compile. No copy_ baseline: the two products dominate
(compute-bound), so bandwidth is not the yardstick."""

from __future__ import annotations

import torch

import myops
from myops import reference
from common import Case

SIZES = [(64, 32, 128), (1024, 256, 512)]  # (batch B, features F, state S)


def _inputs(device, batch, features, state):
    g = torch.Generator(device="cpu").manual_seed(0)
    k = state + features

    def t(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g) * scale).to(device).requires_grad_()
    return (t(batch, features), t(3 * state, k, scale=k ** -0.5), t(3 * state), t(batch, state), t(batch, state))


def _forward_backward(fn, args, grads):
    def run():
        return torch.autograd.grad(fn(*args), args, grads)  # all five gradients, nothing accumulated
    return run


def _forward(fn, args):
    def run():
        with torch.no_grad():
            return fn(*args)
    return run


def cases(device: str, quick: bool = False):
    for batch, features, state in SIZES[:1] if quick else SIZES:
        args = _inputs(device, batch, features, state)
        grads = (torch.randn(batch, state, device=device), torch.randn(batch, state, device=device))
        compiled = torch.compile(reference.lltm, fullgraph=True)
        label = f"B={batch} F={features} S={state} fp32"
        yield Case("lltm", f"lltm fwd+bwd {label}", _forward_backward(myops.lltm, args, grads),
                   _forward_backward(reference.lltm, args, grads), _forward_backward(compiled, args, grads),
                   device=device)
        compiled_inference = torch.compile(reference.lltm, fullgraph=True)
        yield Case("lltm", f"lltm fwd (no grad) {label}", _forward(myops.lltm, args), _forward(reference.lltm, args),
                   _forward(compiled_inference, args), device=device)
