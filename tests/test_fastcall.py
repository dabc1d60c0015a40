"""myops._fastcall, the wrappers' eager entries (python/csrc/fastcall.cpp): where the build made
it for this Python, every wrapper uses it; its results and errors are the op overload's own
(``OpOverload._op``, torch's generic binding) on every table sample and error case; and every
call it must not take (keywords, numbers not exactly int/float, odd int lists,
__torch_function__ subclasses and modes) reaches the overload's entry, which then behaves as it
always does."""

import os

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

import myops
from myops import _library
from myops._args import eager_entry
from op_db import OPS, samples

BUILT = _library.build_info().get("python_extension")  # the file name CMake gave it, or None
FASTCALL = _library.fastcall_module()
TURNED_OFF = os.environ.get("MYOPS_FASTCALL") == "0"
needs_fastcall = pytest.mark.skipif(FASTCALL is None, reason="myops._fastcall not in use (see test_built_entry_is_used)")


def _is_entry(f):
    return type(f).__name__ == "Entry" and type(f).__module__ == "myops._fastcall"


def _entry(op):
    return eager_entry(op.op)


# Ops whose schema the entries convert (every argument a Tensor, Tensor?, int, int[N], float,
# float?, str or bool; Tensor returns); the others get their overload's own entry back.
FAST_OPS = [op for op in OPS if _is_entry(_entry(op))]


def test_built_entry_is_used():
    """The build records the module it made; made for this Python, it is loaded (not silently
    dropped) and every wrapper's entry is a fast one. (.ci/run also checks that it was built.)"""
    if TURNED_OFF or BUILT != _library.fastcall_path().name:
        pytest.skip(f"MYOPS_FASTCALL=0, or not built for this Python (the build made: {BUILT})")
    assert FASTCALL is not None
    from myops import ops_bias_act, ops_elementwise, ops_filtered_lrelu, ops_lltm, ops_upfirdn2d
    for entry in (ops_elementwise._MUL, ops_elementwise._ADD, ops_elementwise._ADD_OUT,
                  ops_elementwise._MULADD, ops_bias_act._BIAS_ACT, ops_lltm._LLTM,
                  ops_upfirdn2d._UPFIRDN2D, ops_filtered_lrelu._FILTERED_LRELU):
        assert _is_entry(entry), entry
    assert {op.name for op in OPS} == {op.name for op in FAST_OPS}  # (every schema's types are converted)


@needs_fastcall
def test_unconverted_schema_gets_the_overload_entry():
    """A schema with a type the entries do not convert (aten.sum.dim_IntList: int[1]?, ScalarType?):
    its overload's own entry, unchanged."""
    overload = torch.ops.aten.sum.dim_IntList
    assert eager_entry(overload) is overload._op


def _positional(op, sample):
    """The sample's arguments, all positional (keywords and defaults filled in from the schema),
    so that the entry takes them itself."""
    args = list(sample.args)
    for a in op.op._schema.arguments[len(args):]:
        args.append(sample.kwargs[a.name] if a.name in sample.kwargs else a.default_value)
    return args


def _same(x, y):
    if isinstance(x, (tuple, list)):
        assert type(x) is type(y) and len(x) == len(y)
        for a, b in zip(x, y):
            _same(a, b)
        return
    if x is None:
        assert y is None
        return
    assert x.dtype == y.dtype and x.shape == y.shape and x.stride() == y.stride()
    torch.testing.assert_close(x, y, rtol=0, atol=0, equal_nan=True)


def _sample_params():
    return [pytest.param(op, dtype, id=f"{op.name}-{str(dtype)[6:]}") for op in FAST_OPS for dtype in op.dtypes]


@pytest.mark.parametrize("op, dtype", _sample_params())
@needs_fastcall
def test_same_results_as_the_overload(op, dtype):
    entry = _entry(op)
    for sample in samples(op, "cpu", dtype):
        args = _positional(op, sample)
        # The same tensors for both calls (BLAS may round differently on another buffer), but
        # a copy of them for the written argument (an argument given twice, e.g. add_out into its
        # own input, stays one tensor).
        fast_args, slow_args = args, args
        if op.out_arg is not None:
            clones = {}
            fast_args = [clones.setdefault(id(a), a.clone()) if isinstance(a, torch.Tensor) else a for a in args]
        _same(entry(*fast_args), op.op._op(*slow_args))
        if op.out_arg is not None:  # the written argument, too
            _same(fast_args[op.out_arg], slow_args[op.out_arg])


def _error_params():
    return [pytest.param(op, case, id=f"{op.name}-{case.name}") for op in FAST_OPS for case in op.errors("cpu")]


@pytest.mark.parametrize("op, case", _error_params())
@needs_fastcall
def test_same_errors_as_the_overload(op, case):
    """The same exception type and message, whether the entry takes the call or declines it."""
    with pytest.raises(Exception) as slow:
        op.op._op(*case.args, **case.kwargs)
    with pytest.raises(type(slow.value)) as fast:
        _entry(op)(*case.args, **case.kwargs)
    assert str(fast.value) == str(slow.value)
    assert isinstance(fast.value, case.exc_type)


@needs_fastcall
def test_gradients_through_the_entry():
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    b = torch.nn.Parameter(torch.randn(5, dtype=torch.float64))  # (a Parameter is taken as is)
    y = _entry(next(op for op in OPS if op.name == "bias_act"))(x, b, 1, "swish", None, None, None)
    gx, gb = torch.autograd.grad(y.sum(), (x, b))
    torch.autograd.gradcheck(lambda x, b: myops.bias_act(x, b, 1, "swish"), (x, b))
    ref = myops.reference.bias_act(x, b, 1, "swish")
    rx, rb = torch.autograd.grad(ref.sum(), (x, b))
    torch.testing.assert_close((gx, gb), (rx, rb))


class _Logged(torch.Tensor):
    """A subclass with its own __torch_function__: calls must reach it (torch.ops' behaviour)."""
    calls = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        cls.calls.append(func)
        return super().__torch_function__(func, types, args, kwargs or {})


@needs_fastcall
def test_torch_function_subclass_declined():
    mul = _entry(next(op for op in OPS if op.name == "mul"))
    a, b = torch.randn(4), torch.randn(4)
    _Logged.calls.clear()
    y = mul(a.as_subclass(_Logged), b)
    assert type(y) is _Logged and _Logged.calls  # the subclass's __torch_function__ ran
    torch.testing.assert_close(y.as_subclass(torch.Tensor), a * b)


@needs_fastcall
def test_torch_function_mode_declined():
    seen = []

    class Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            seen.append(func)
            return func(*args, **(kwargs or {}))

    a, b = torch.randn(4), torch.randn(4)
    with Mode():
        y = myops.mul(a, b)
    assert torch.ops.myops.mul.default in seen
    torch.testing.assert_close(y, a * b)


@needs_fastcall
def test_torch_dispatch_mode_sees_the_call():
    """Taken by the entry, the call still goes through the dispatcher's Python key."""
    seen = []

    class Mode(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.append(func)
            return func(*args, **(kwargs or {}))

    a, b = torch.randn(4), torch.randn(4)
    with Mode():
        myops.add(a, b)
    assert torch.ops.myops.add.default in seen


def _same_outcome(fast, slow):
    """fast() and slow() return the same tensors, or raise the same error."""
    try:
        expected = slow()
    except Exception as error:  # noqa: BLE001 (whatever the overload raises)
        with pytest.raises(type(error)) as raised:
            fast()
        assert str(raised.value) == str(error)
        return
    _same(fast(), expected)


@needs_fastcall
def test_declined_arguments_behave_as_the_overload():
    bias_act = _entry(next(op for op in OPS if op.name == "bias_act"))
    overload = torch.ops.myops.bias_act.default
    x = torch.randn(2, 3)
    cases = [
        ((x,), {"act": "lrelu"}),                                  # keywords
        ((x, None, 1, "lrelu", 1, np.float32(2.0), None), {}),     # an int, a numpy float for floats
        ((x, None, True, "linear", None, None, None), {}),          # a bool for the int
        ((x, None, 1.0, "linear", None, None, None), {}),           # a float for the int
        ((x, None, np.int64(1), "linear", None, None, None), {}),   # a numpy int
        ((x, None, 2**70, "linear", None, None, None), {}),         # past int64
        ((x, None, 1, b"linear", None, None, None), {}),            # bytes for the str
        ((x, x[0], 1, "linear", None, None, None), {}),             # a bias of the wrong size
        ((x, 1.0, 1, "linear", None, None, None), {}),              # a number for the Tensor?
        ((x,), {}),                                                  # too few positional
        ((x, None, 1, "linear", None, None, None, None), {}),       # too many
    ]
    for args, kwargs in cases:
        _same_outcome(lambda: bias_act(*args, **kwargs), lambda: overload._op(*args, **kwargs))


@needs_fastcall
def test_declined_int_lists_behave_as_the_overload():
    upfirdn2d = _entry(next(op for op in OPS if op.name == "upfirdn2d"))
    overload = torch.ops.myops.upfirdn2d.default
    x, f = torch.randn(1, 2, 5, 5), torch.ones(3, 3)
    for up, padding in [([2, 2], [1, 1, 1, 1]),           # taken: lists of ints
                        ((2, 2), (1, 1, 1, 1)),           # taken: tuples
                        (2, [1, 1, 1, 1]),                # an int for int[2]
                        ([2, 2], [1, 1]),                 # two ints for int[4]
                        ([2, np.int64(2)], [1, 1, 1, 1]),  # a numpy int in the list
                        ([2, True], [1, 1, 1, 1]),        # a bool in the list
                        ([2, 2.0], [1, 1, 1, 1]),         # a float in the list
                        ([2, 2**70], [1, 1, 1, 1])]:      # past int64
        _same_outcome(lambda: upfirdn2d(x, f, up, [1, 1], padding, False, 1.0),
                      lambda: overload._op(x, f, up, [1, 1], padding, False, 1.0))


@needs_fastcall
def test_returns_tuple_and_none():
    lltm = _entry(next(op for op in OPS if op.name == "lltm"))
    add_out = _entry(next(op for op in OPS if op.name == "add_out"))
    args = [torch.randn(2, 4), torch.randn(3 * 5, 4 + 5), torch.randn(3 * 5), torch.randn(2, 5), torch.randn(2, 5)]
    out = lltm(*args)
    assert isinstance(out, tuple) and len(out) == 2
    _same(out, torch.ops.myops.lltm.default._op(*args))
    a, b, o = torch.randn(3), torch.randn(3), torch.empty(3)
    assert add_out(a, b, o) is None
    torch.testing.assert_close(o, a + b)
