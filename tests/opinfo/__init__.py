"""The machinery of the op table: Sample, ErrorCase, OpInfo, the tolerances and the sample
helpers every family uses. The table itself is one file per family in this folder
(``tests/opinfo/<family>.py``, each defining ``OPS``), assembled by ``tests/op_db.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
from torch.testing import make_tensor

FLOAT_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)

# (atol, rtol) against the reference evaluated in float64 and rounded to the result dtype.
DEFAULT_TOLERANCES = {
    torch.float64: (1e-12, 1e-12),
    torch.float32: (1e-5, 1e-5),
    torch.float16: (1e-3, 1e-3),
    torch.bfloat16: (1e-2, 1e-2),
}

# The generic properties a family may opt out of, each only with a reason (OpInfo.skips).
PROPERTIES = ("torchscript", "export", "export_dynamic", "export_save_load", "cpu_isa",
              "threads", "threads_bitwise", "opcheck_grad")


@dataclass
class Sample:
    """One call: op(*args, **kwargs). `name` shows up in test ids."""

    name: str
    args: tuple
    kwargs: dict = field(default_factory=dict)

    def tensors(self):
        return [a for a in (*self.args, *self.kwargs.values()) if isinstance(a, torch.Tensor)]

    def has_overlapping_input(self) -> bool:
        """Expanded (0-stride) inputs: fine for the op, not for gradcheck's perturbations."""
        return any(0 in t.stride() and t.numel() > 1 for t in self.tensors())


@dataclass
class ErrorCase:
    name: str
    args: tuple
    exc_type: type
    match: str  # regex fragment the message must contain
    kwargs: dict = field(default_factory=dict)


def _eligible(t, device_type):
    """A tensor torch.autocast may cast (at::autocast::is_eligible): floating point, on the
    autocast's device type, not float64."""
    return (isinstance(t, torch.Tensor) and t.is_floating_point() and t.device.type == device_type
            and t.dtype != torch.float64)


def cast_args(args, dtype, device_type, which=None):
    """args with the eligible tensors at the indices `which` (all when None) cast to dtype."""
    return tuple(a.to(dtype) if _eligible(a, device_type) and (which is None or i in which) else a
                 for i, a in enumerate(args))


@dataclass
class Autocast:
    """How an op behaves under torch.autocast: what its ops/<family>/<family>_autocast.cpp does,
    restated in Python as the tests' oracle (tests/test_autocast.py).

    policy: "x_dtype" (run in the dtype of the tensor argument `x`, the other tensors cast to
    it), "lower_precision" (every tensor cast to the autocast dtype, as at::linear), or "none"
    (a fallthrough: the op keeps its type promotion, as ATen's add/mul; or an internal op only
    autograd calls)."""

    policy: str
    # (args, autocast dtype, device type) -> the args as the autocast kernel passes them on.
    # Default: by policy (x_dtype: every eligible tensor to args[x]'s dtype).
    cast: Callable | None = None
    x: int = 0  # x_dtype: the argument whose dtype the op runs in
    # Indices of the tensor args a user typically has in the autocast dtype (activations coming
    # out of an autocast op such as conv2d); the others stay float32 (parameters).
    low_args: tuple = ()

    def __post_init__(self):
        assert self.policy in ("x_dtype", "lower_precision", "none"), self.policy

    def apply(self, args, dtype, device_type):
        if self.cast is not None:
            return self.cast(args, dtype, device_type)
        if self.policy == "x_dtype":
            return cast_args(args, args[self.x].dtype, device_type)
        if self.policy == "lower_precision":
            return cast_args(args, dtype, device_type)
        return args


@dataclass
class OpInfo:
    name: str
    op: torch._ops.OpOverload          # what is tested: torch.ops.myops.<name>.default
    wrapper: Callable                  # myops.<name>, the Python API
    ref: Callable                      # myops.reference.<name>
    samples: Callable[..., Iterator[Sample]]  # (device, dtype, requires_grad) -> samples
    errors: Callable[..., Iterator[ErrorCase]] = lambda device: iter(())
    dtypes: tuple = FLOAT_DTYPES
    differentiable: bool = True        # gradcheck
    twice_differentiable: bool = True  # gradgradcheck
    out_arg: int | None = None         # mutating op: index of the argument it writes
    tolerances: dict = field(default_factory=lambda: dict(DEFAULT_TOLERANCES))
    # Samples run through torch.compile (static and dynamic) in test_compile.py, and through
    # torch.export in test_export.py.
    compile_samples: tuple = ()
    # (device, n) -> args whose leading size is n, requiring grad: test_compile checks that
    # three values of n run forward + backward with no recompile, test_export exports them
    # with a dynamic dim 0. None: not tested that way.
    resizable_args: Callable | None = None
    # Has samples named "channels_last*" (test_values checks the output keeps the format).
    # False for ops on 2-D tensors only, where memory formats mean nothing.
    memory_formats: bool = True
    # (device, dtype, requires_grad) -> samples too big for gradcheck/opcheck: long enough to
    # run the CPU loops' vector body and scalar tail, and large enough that at::parallel_for
    # splits them across threads. Used by test_cpu_isa.py and test_threads.py only.
    large_samples: Callable[..., Iterator[Sample]] = lambda device, dtype, requires_grad: iter(())
    # Generic properties (opinfo.PROPERTIES) this op opts out of: name -> the reason why.
    skips: dict = field(default_factory=dict)
    # Its torch.autocast policy (every op has one: tests/test_autocast.py checks that).
    autocast: Autocast | None = None
    # The reference as torch.func transforms (grad, jvp, jacfwd, hessian, ...) can see through it
    # (tests/test_func.py); None: `ref`. Needed where `ref` calls torch.autograd.grad (the
    # references of the backward ops), which functorch's levels cannot differentiate.
    func_ref: Callable | None = None
    # Property-based fuzzing (tests/test_fuzz.py): device -> a hypothesis strategy of
    # opinfo._fuzz.FuzzCase (random shapes, strides, dtypes, values and arguments, edges and
    # invalid ones included), written in the family's own file. None: not fuzzed.
    fuzz: Callable | None = None
    # args -> the magnitude of the finite terms summed into each output (float64, broadcastable
    # to it): the reference on |x|, |filters|, |gain|, NaN/inf as 0. A sum's rounding error
    # scales with that, not with its value: where terms cancel (a filter with negative taps,
    # gain 1e6), a float32 result is right to ~eps * magnitude but not within rtol of itself;
    # and where it nears the op-math type's range, a partial sum may overflow (inf, or NaN next
    # to an inf input) although the float64 result does not. test_fuzz.py allows both.
    # None: the value alone (elementwise ops).
    fuzz_magnitude: Callable | None = None
    # differentiable=False ops: a regex of the NotImplementedError every torch.func transform
    # raises (tests/test_func.py), naming the op.
    not_differentiable_error: str | None = None

    def __post_init__(self):
        unknown = set(self.skips) - set(PROPERTIES)
        assert not unknown, f"{self.name}: unknown properties in skips: {unknown}"
        assert all(isinstance(r, str) and r for r in self.skips.values()), f"{self.name}: a skip needs a reason"

    def __str__(self):
        return self.name


# ------------------------------------------------------------------------- sample helpers

def _t(shape, device, dtype, requires_grad, **kw):
    return make_tensor(shape, device=device, dtype=dtype, low=-3, high=3, requires_grad=requires_grad, **kw)


def _layout(t: torch.Tensor, requires_grad: bool) -> torch.Tensor:
    """A leaf with t's (unusual) strides: detach() keeps them."""
    return t.detach().requires_grad_(requires_grad)


def as_tuple(result) -> tuple:
    """An op's result as a tuple of tensors (multi-output ops such as lltm return a tuple)."""
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


def clone_args(args):
    """Deep copies of the tensor arguments, keeping aliasing between them (out is a)."""
    memo = {}

    def copy(x):
        if not isinstance(x, torch.Tensor):
            return x
        if id(x) not in memo:
            memo[id(x)] = x.detach().clone().requires_grad_(x.requires_grad)
        return memo[id(x)]
    return tuple(copy(a) for a in args)
