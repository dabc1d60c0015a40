"""Property-based fuzzing of every op with a strategy in the table (OpInfo.fuzz, drawn in the
family's file under tests/opinfo/): random shapes, strides, dtypes, values (NaN/Inf/denormals)
and arguments, edges and invalid ones included. Each example: the op equals the reference
(float64, the table's tolerances, NaN where the reference has NaN), or it raises a
TypeError/ValueError/RuntimeError/IndexError that the reference raises too (or that the
strategy says these arguments must give); a fifth of the valid examples without NaN/Inf/denormal values also checks the
gradients (float64, against autograd through the reference).

Profiles (HYPOTHESIS_PROFILE): "default" (bounded, derandomized: the same examples in every
run, part of `make test`), "fuzz" (`make fuzz`: MYOPS_FUZZ_EXAMPLES, 10000 by default, per
op, random). The counts per op are printed at the end of the run (conftest.py).
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import torch
from hypothesis import HealthCheck, given, note, settings

from helpers import assert_close_to_reference, call, reference_result
from op_db import OPS, as_tuple, clone_args

FUZZ_OPS = [op for op in OPS if op.fuzz is not None]
ERRORS = (TypeError, ValueError, RuntimeError, IndexError)

_common = dict(deadline=None, print_blob=True, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
settings.register_profile("default", max_examples=int(os.environ.get("MYOPS_FUZZ_EXAMPLES", 100)),
                          derandomize=True, **_common)
# derandomize=False said explicitly: a profile inherits from "default", which the line above
# replaces (derandomized), so `make fuzz` once ran the very same 10,000 examples every time.
settings.register_profile("fuzz", max_examples=int(os.environ.get("MYOPS_FUZZ_EXAMPLES", 10000)),
                          derandomize=False, **_common)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _raises(fn):
    try:
        return fn(), None
    except ERRORS as e:
        return None, e


def check_grads(op, case):
    """Gradients of the op in float64 (each arg widened, same strides when dense) against
    autograd through the reference."""
    args = tuple(a.detach().double().requires_grad_(True) if isinstance(a, torch.Tensor) and not op.name.startswith("add_out")
                 and not _is_filter(op, i) else a for i, a in enumerate(case.args))
    args = tuple(a.double() if isinstance(a, torch.Tensor) and not a.requires_grad else a for a in args)
    outs = as_tuple(op.op(*args))
    inputs = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    if not inputs or all(o.numel() == 0 for o in outs):
        return False
    gen = torch.Generator().manual_seed(0)
    grads = [torch.randn(o.shape, dtype=torch.float64, generator=gen) for o in outs]
    got = torch.autograd.grad(outs, inputs, grads, allow_unused=True)
    ref_args = clone_args(args)
    ref_inputs = [a for a in ref_args if isinstance(a, torch.Tensor) and a.requires_grad]
    want = torch.autograd.grad(as_tuple(op.ref(*ref_args)), ref_inputs, grads, allow_unused=True)
    atol, rtol = op.tolerances[torch.float64]
    for g, w, x in zip(got, want, inputs):
        g = torch.zeros_like(x) if g is None else g
        w = torch.zeros_like(x) if w is None else w
        assert g.shape == x.shape
        torch.testing.assert_close(g, w, atol=atol * 100, rtol=rtol * 100, equal_nan=True)
    return True


def _is_filter(op, i):
    """upfirdn2d(_stacked)'s f, filtered_lrelu's fu/fd: not differentiable (the op raises if they require grad)."""
    return (op.name in ("upfirdn2d", "upfirdn2d_stacked") and i == 1) or (op.name == "filtered_lrelu" and i in (1, 2))


def _assert_close_to_sum(result, want, magnitude, atol, rtol):
    """|result - want| <= atol + rtol * (|want| + magnitude) elementwise (NaN where want has
    NaN, the same inf): the rounding-error bound of a sum whose finite terms add up to
    `magnitude` in absolute value (OpInfo.fuzz_magnitude). Where that magnitude reaches a
    quarter of the op-math type's range, a partial sum may overflow: inf or NaN is right too."""
    got, exp = result.double(), want.to(result.dtype).double()
    magnitude = torch.as_tensor(magnitude, dtype=torch.float64).expand_as(exp)
    opmath = torch.float64 if result.dtype == torch.float64 else torch.float32
    may_overflow = magnitude > torch.finfo(opmath).max / 4
    same = (got == exp) | (got.isnan() & exp.isnan())
    close = (got - exp).abs() <= atol + rtol * (exp.abs() + magnitude)
    bad = ~(same | close | (may_overflow & ~got.isfinite()))
    assert not bad.any(), (f"{int(bad.sum())} of {bad.numel()} elements differ beyond the error bound of a sum: "
                           f"got {got[bad][:4].tolist()}, expected {exp[bad][:4].tolist()}, "
                           f"magnitude {magnitude[bad][:4].tolist()}")


def check_case(op, case, grad: bool) -> str:
    note(repr(case))
    args = case.args
    got, op_error = _raises(lambda: call(op, clone_args(args)))
    if case.error is not None:
        assert op_error is not None, f"{op.name} accepted invalid arguments (expected {case.error.__name__})"
        assert isinstance(op_error, case.error), f"{op.name} raised {op_error!r}, expected {case.error.__name__}"
        return "error"
    expected, ref_error = _raises(lambda: reference_result(op, args))
    if op_error is None and ref_error is not None and all(r.numel() == 0 for r in as_tuple(got)):
        # An empty result where the reference cannot run (conv2d rejects groups=0 for 0
        # channels): nothing to compare, and nothing wrong with the op.
        return "empty"
    if op_error is not None or ref_error is not None:
        assert op_error is not None and ref_error is not None, (
            f"{op.name}: the op raised {op_error!r} but the reference did not raise" if op_error is not None
            else f"{op.name}: the reference raised {ref_error!r} but the op returned a result")
        assert type(op_error) is type(ref_error), f"{op.name}: op raised {op_error!r}, reference {ref_error!r}"
        return "error"
    wide, same_dtype = expected
    for result, want, pt in zip(as_tuple(got), as_tuple(wide), as_tuple(same_dtype)):
        assert result.dtype == pt.dtype and result.shape == pt.shape and result.device == pt.device
        atol, rtol = op.tolerances[result.dtype]
        try:
            if op.fuzz_magnitude is not None:
                _assert_close_to_sum(result, want, op.fuzz_magnitude(*args), atol, rtol)
            else:
                torch.testing.assert_close(result.double(), want.to(result.dtype).double(), atol=atol, rtol=rtol, equal_nan=True)
        except AssertionError:
            # With NaN/Inf/huge values an intermediate may overflow in the op's working dtype
            # (lltm's float32 matrix product: inf - inf = NaN) where float64 does not: then the
            # reference in the inputs' own dtypes (what PyTorch's ops give) is the oracle.
            if not case.specials:
                raise
            torch.testing.assert_close(result.double(), pt.double(), atol=atol * 10, rtol=rtol * 10, equal_nan=True)
    if grad and op.differentiable and not case.specials and check_grads(op, case):
        return "grad"
    return "value"


@pytest.mark.parametrize("op", FUZZ_OPS, ids=str)
def test_fuzz(op, record_property):
    counts = Counter()

    @settings(PROFILE)
    @given(case=op.fuzz("cpu"), grad_pick=__import__("hypothesis").strategies.integers(0, 4))
    def run(case, grad_pick):
        counts[check_case(op, case, grad=grad_pick == 0)] += 1

    run()
    record_property("fuzz_counts", (op.name, dict(counts)))


def test_every_family_has_a_fuzz_strategy():
    fuzzed = {op.name for op in FUZZ_OPS}
    for name in ("muladd", "mul", "add", "add_out", "bias_act", "upfirdn2d", "filtered_lrelu", "lltm"):
        assert name in fuzzed, name


def test_profiles():
    """make test's profile draws the same examples every run; make fuzz's new ones each run."""
    assert settings.get_profile("default").derandomize
    assert not settings.get_profile("fuzz").derandomize
