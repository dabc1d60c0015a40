"""Number arguments of the Python wrappers: Python numbers, numpy scalars (StyleGAN passes
``gain = np.float64(...)``) and 0-d tensors, converted to the Python float/int the op's schema
takes, with a ValueError naming the op and the argument otherwise.

Under torch.compile: a Python number or a numpy scalar that is an input or a constant of the
compiled function converts to a constant (a specialization), so ``fullgraph=True`` works: Python
ints and floats, and np.float64 (a subclass of float). Other numpy scalars (np.float32,
np.int64, ...) and numpy values *computed* inside the compiled function (StyleGAN's ``def_gain *
gain``) are traced by Dynamo as 0-d tensors. A 0-d tensor has a value known only when the graph
runs: ``float()`` of it is a data-dependent (unbacked) SymFloat, and a schema ``float``/``int``
argument must be a concrete number when the op is traced (the dispatcher has no symbolic float,
and an unbacked int cannot be guarded on to check it). So such a value graph-breaks: it works
with ``fullgraph=False`` (the default) and raises under ``fullgraph=True``; there is no way
around that short of the op taking a Tensor.
"""
from __future__ import annotations

import numbers
import operator

import torch
from torch import Tensor
# The wrappers' mode checks, `if not is_scripting(): if not is_dynamo_compiling(): <entry>`,
# bound once here: two calls of the functions themselves per wrapper call, where
# `torch.jit.is_scripting()` and `torch.compiler.is_compiling()` cost three calls and four
# attribute lookups (~0.15-0.3 us a call, most of what the wrapper added to a small mul).
# TorchScript compiles only the is_scripting() branch (it knows the function, by any name);
# Dynamo, and strict torch.export, evaluate is_dynamo_compiling() to True and trace
# torch.ops.myops.<op>. Non-strict torch.export runs the eager branch: the entry calls the op
# through the dispatcher, where export's modes record it (or declines to the overload's entry).
from torch.compiler import is_dynamo_compiling  # noqa: F401  (used by the ops_* modules)
from torch.jit import is_scripting  # noqa: F401

from . import _library


def eager_entry(overload):
    """The eager-mode entry of an op overload (``torch.ops.myops.mul.default``), what the wrappers
    call outside TorchScript and torch.compile (which see ``torch.ops.myops.<op>``).

    With the extension myops._fastcall (python/csrc/fastcall.cpp, built beside libmyops.so): an
    entry that converts the positional arguments straight from the schema's types and calls the
    op through the dispatcher, ~1.2 us a call less than torch's generic op binding (about what
    ``torch.mul``'s generated binding costs). It hands every other call (keywords, numbers that
    are not exactly int/float, tensors with a ``__torch_function__``, an active torch function
    mode) to the overload's own entry, so errors and overrides are the overload's.
    Without it (or with MYOPS_FASTCALL=0): the overload's own C++ entry, ``overload._op``
    (what ``OpOverload.__call__`` calls, without that Python frame and without the overload
    resolution of ``torch.ops.myops.mul(...)``). Either way ``__torch_dispatch__`` subclasses and
    modes (FX tracing, FakeTensor, functorch) are handled inside the dispatcher."""
    fastcall = _library.fastcall_module()
    if fastcall is None:
        return overload._op
    name = overload._overloadname
    return fastcall.entry(overload._schema.name, "" if name == "default" else name, overload._op)


def as_float(value, op: str, name: str) -> float:
    """A Python number, numpy scalar or 0-d tensor -> float."""
    if isinstance(value, float):
        return value
    if type(value) is int:  # (not bool; the common case, without the checks below)
        return float(value)
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ValueError(f"{op}: {name} must be a number, got a tensor of shape {list(value.shape)}")
    if isinstance(value, (str, bytes, bool)) and not isinstance(value, numbers.Number):
        raise ValueError(f"{op}: {name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{op}: {name} must be a number, got {value!r}") from None


def as_optional_float(value, op: str, name: str) -> float | None:
    """None, or :func:`as_float`."""
    return None if value is None else as_float(value, op, name)


def as_int(value, op: str, name: str) -> int:
    """A Python int, numpy integer or integral 0-d tensor -> int (floats, even 2.0, raise)."""
    if isinstance(value, bool):
        raise ValueError(f"{op}: {name} must be an int, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, Tensor):
        if value.ndim == 0 and not value.is_floating_point() and not value.is_complex() \
                and value.dtype != torch.bool:
            return int(value)
        raise ValueError(f"{op}: {name} must be an int, got {value!r}")
    # numpy integers (np.int64, np.uint8; not np.bool_ or np.float64, whose __index__ raises).
    # operator.index, not isinstance(value, np.integer): Dynamo traces a numpy scalar as a 0-d
    # array for which that isinstance is False, while operator.index of it graph-breaks and so
    # runs on the real value (torch 2.11 only got it right by giving up on the whole function
    # at the error message's repr(); torch 2.15 resumes right there and raised).
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{op}: {name} must be an int, got {value!r}") from None


def as_ints(value, op: str, name: str, lengths: tuple[int, ...]) -> list[int]:
    """One int (repeated to lengths[0]) or a list/tuple of one of ``lengths`` ints -> list of ints."""
    if not isinstance(value, (list, tuple)):
        return [as_int(value, op, name)] * lengths[0]
    if len(value) not in lengths:
        shapes = " or ".join(f"{n} ints" for n in lengths)
        raise ValueError(f"{op}: {name} must be an int or a list of {shapes}, got {value!r}")
    return [as_int(v, op, name) for v in value]


def as_padding(value, op: str) -> list[int]:
    """int, [x, y] or [x0, x1, y0, y1] -> [x0, x1, y0, y1] (ints: Python, numpy or 0-d tensors;
    plain Python ints skip the conversion: ~2 us of a small upfirdn2d call went to it)."""
    if type(value) is int:
        return [value, value, value, value]
    if not isinstance(value, (list, tuple)):
        value = [value, value]
    if len(value) not in (2, 4):
        raise ValueError(f"{op}: padding must be an int, [x, y] or [x0, x1, y0, y1] of ints, got {value!r}")
    value = [v if type(v) is int else as_int(v, op, "padding") for v in value]
    return [value[0], value[0], value[1], value[1]] if len(value) == 2 else value
