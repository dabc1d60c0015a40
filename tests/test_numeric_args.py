"""Number arguments of every Python wrapper as Python numbers, numpy scalars and 0-d tensors
(StyleGAN passes ``gain = np.float64(...)``), eager and under torch.compile (dynamic shapes),
compared with the reference. Driven from the op table: each op with a wrapper, on the first of
its compile_samples, with every int/float argument (and every int in an int list) converted.

Under torch.compile, fullgraph=True holds for Python numbers and np.float64 (a float subclass:
a constant of the graph). Other numpy scalars and 0-d tensors are traced by Dynamo as 0-d
tensors whose value is known only at run time, and an op's float/int schema argument must be a
concrete number when it is traced, so they graph-break (fullgraph=False); see myops/_args.py.
"""

import numpy as np
import pytest
import torch

import myops
from op_db import OPS, clone_args, get_sample

CONVERSIONS = {
    "python": lambda v: v,
    "np_float64": lambda v: np.float64(v) if isinstance(v, float) else v,
    "numpy": lambda v: np.float64(v) if isinstance(v, float) else np.int64(v),
    "numpy32": lambda v: np.float32(v) if isinstance(v, float) else np.int32(v),
    "tensor0d": lambda v: torch.tensor(v, dtype=torch.float64 if isinstance(v, float) else torch.int64),
}
FULLGRAPH = {"python", "np_float64"}  # the others graph-break (see the module docstring)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _convert(args, conversion):
    convert = CONVERSIONS[conversion]

    def one(v):
        if _is_number(v):
            return convert(v)
        if isinstance(v, (list, tuple)) and v and all(_is_number(e) for e in v):
            return type(v)(convert(e) for e in v)
        return v
    return tuple(one(a) for a in args)


def _has_numbers(args):
    return any(_is_number(a) or (isinstance(a, (list, tuple)) and any(_is_number(e) for e in a)) for a in args)


def _cases():
    params = []
    for op in OPS:
        # the Python wrappers (internal ops such as bias_act_backward have none)
        if op.name not in myops.__all__ or op.out_arg is not None or not op.compile_samples:
            continue
        sample = get_sample(op, "cpu", torch.float64, op.compile_samples[0])
        if _has_numbers(sample.args):
            params.append(pytest.param(op, sample.name, id=f"{op.name}-{sample.name}"))
    return params


CASES = _cases()


def test_table_has_number_arguments():
    names = {p.values[0].name for p in CASES}
    assert {"muladd", "bias_act", "upfirdn2d", "filtered_lrelu"} <= names, names


@pytest.mark.parametrize("conversion", list(CONVERSIONS))
@pytest.mark.parametrize("op, sample_name", CASES)
def test_eager(op, sample_name, conversion):
    args = get_sample(op, "cpu", torch.float64, sample_name).args
    expected = op.ref(*clone_args(args))
    torch.testing.assert_close(op.wrapper(*_convert(args, conversion)), expected)


@pytest.mark.parametrize("conversion", list(CONVERSIONS))
@pytest.mark.parametrize("op, sample_name", CASES)
def test_compiled(op, sample_name, conversion):
    torch._dynamo.reset()
    args = get_sample(op, "cpu", torch.float64, sample_name).args
    expected = op.ref(*clone_args(args))
    compiled = torch.compile(op.wrapper, backend="aot_eager", dynamic=True, fullgraph=conversion in FULLGRAPH)
    torch.testing.assert_close(compiled(*_convert(args, conversion)), expected)


def test_fullgraph_0d_tensor_is_impossible():
    """Documents the limit: a 0-d tensor's value is data-dependent in the graph."""
    torch._dynamo.reset()
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    compiled = torch.compile(myops.bias_act, backend="aot_eager", dynamic=True, fullgraph=True)
    with pytest.raises(Exception, match="SymFloat|data-dependent|graph break"):
        compiled(x, None, 1, "lrelu", None, torch.tensor(1.5))


# StyleGAN's helpers around upfirdn2d (not table ops): every number argument converted.
def _helper_calls():
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    f = myops.setup_filter([1, 3, 3, 1]).double()
    ref = myops.reference.upfirdn2d
    yield ("upsample2d", lambda up, pad, gain: myops.upsample2d(x, f, up=up, padding=pad, gain=gain),
           ref(x, f, up=2, padding=[3, 2, 3, 2], gain=1.5 * 4))
    yield ("downsample2d", lambda down, pad, gain: myops.downsample2d(x, f, down=down, padding=pad, gain=gain),
           ref(x, f, down=2, padding=[2, 2, 2, 2], gain=1.5))
    yield ("filter2d", lambda _, pad, gain: myops.filter2d(x, f, padding=pad, gain=gain),
           ref(x, f, padding=[3, 2, 3, 2], gain=1.5))
    yield ("setup_filter", lambda _, pad, gain: myops.setup_filter([1, 3, 3, 1], gain=gain).double(),
           myops.setup_filter([1, 3, 3, 1], gain=1.5).double())


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("conversion", list(CONVERSIONS))
@pytest.mark.parametrize("name", [c[0] for c in _helper_calls()])
def test_upfirdn2d_helpers(name, conversion, compiled):
    _, call, expected = next(c for c in _helper_calls() if c[0] == name)
    up, pad, gain = _convert((2, 1, 1.5), conversion)
    if compiled:
        torch._dynamo.reset()
        call = torch.compile(call, backend="aot_eager", dynamic=True, fullgraph=conversion in FULLGRAPH)
    torch.testing.assert_close(call(up, pad, gain), expected)


@pytest.mark.parametrize("bad", ["1.5", [1.5], torch.ones(2)])
def test_bad_numbers_raise(bad):
    x = torch.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="myops.bias_act: gain must be a number"):
        myops.bias_act(x, gain=bad)
    with pytest.raises(ValueError, match="myops.upfirdn2d: up must be an int"):
        myops.upfirdn2d(x, None, up=2.0)
