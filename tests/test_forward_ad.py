"""Forward-mode AD from the op table: torch.autograd.forward_ad dual tensors, torch.func.jvp
and torch.func.jacfwd on every op that has an autograd kernel. The C++ autograd formulas are
reverse mode only, so each of these must raise NotImplementedError naming the op (checked
first in every Autograd kernel, autograd/autograd_utils.h): never a missing (forward_ad) or
zero (jvp, jacfwd) tangent, which is what the ops silently gave before.

An op whose table entry says forward_ad=True instead gives the same tangents as the same
transform applied to its reference."""

import pytest
import torch
import torch.autograd.forward_ad as fwAD

from op_db import OPS, as_tuple, clone_args, get_sample

# Every op with an autograd kernel (the mutating add_out has none, by design: DESIGN.md).
WITH_AUTOGRAD = [op for op in OPS if op.out_arg is None]


def _sample(op, device):
    return get_sample(op, device, torch.float64, op.compile_samples[0])


def _tensor_positions(args):
    return [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.is_floating_point()]


def _as_function(fn, args, positions):
    """fn as a function of the tensors at `positions` (the other arguments fixed)."""
    def f(*tensors):
        full = list(args)
        for i, t in zip(positions, tensors):
            full[i] = t
        return as_tuple(fn(*full))
    return f


def _expect_error(op):
    return pytest.raises(NotImplementedError, match=f"myops.{op.name}: forward-mode AD \\(torch.func.jvp, jacfwd, "
                         "torch.autograd.forward_ad\\) is not supported; use reverse mode \\(grad, vjp, jacrev\\)")


def _params():
    return [pytest.param(op, i, id=f"{op.name}-arg{i}") for op in WITH_AUTOGRAD
            for i in _tensor_positions(_sample(op, "cpu").args)]


@pytest.mark.parametrize("requires_grad", [False, True], ids=["plain", "requires_grad"])
@pytest.mark.parametrize("op, position", _params())
def test_forward_ad_dual(device, op, position, requires_grad):
    """A dual tensor at any one tensor argument (with or without requires_grad)."""
    args = list(clone_args(_sample(op, device).args))
    if requires_grad:
        args = [a.requires_grad_() if isinstance(a, torch.Tensor) else a for a in args]
    with fwAD.dual_level():
        args[position] = fwAD.make_dual(args[position], torch.randn_like(args[position]))
        if op.forward_ad:
            outs = as_tuple(op.op(*args))
            assert all(fwAD.unpack_dual(o).tangent is not None for o in outs)
            return
        with _expect_error(op):
            op.op(*args)


@pytest.mark.parametrize("transform", ["jvp", "jacfwd"])
@pytest.mark.parametrize("op", WITH_AUTOGRAD, ids=str)
def test_func_forward_transforms(device, op, transform):
    """torch.func.jvp and jacfwd with respect to the first tensor argument."""
    args = _sample(op, device).args
    position = _tensor_positions(args)[:1]
    x = args[position[0]]

    def apply(fn):
        f = _as_function(fn, args, position)
        if transform == "jvp":
            return torch.func.jvp(f, (x,), (torch.ones_like(x),))
        return torch.func.jacfwd(f)(x)

    if not op.forward_ad:
        with _expect_error(op):
            apply(op.op)
        return
    torch.testing.assert_close(apply(op.op), apply(op.ref))
